"""Stage 2 of the cascade: online batches through the frozen stage 1, one resampling, per-view mean shapes."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from cmhm.data.crop_shards import CropSet
from cmhm.data.cropping import transform_landmarks
from cmhm.geometry.similarity import apply_affine, box_to_crop_affine, compose_affine
from cmhm.geometry.warp import fit_to_means, warp_images
from cmhm.inspect.explain import inspect_path
from cmhm.landmarks.markups import IBUG68, MENPO84
from cmhm.landmarks.union import mapping_from_tables, union_targets
from cmhm.models.cascade import Cascade, stage_plans
from cmhm.models.hourglass import ModelConfig, build_hourglass
from cmhm.synth import SynthConfig, generate_images
from cmhm.training.augment import AugmentConfig
from cmhm.training.batches import CanonicalBatches, TrainData, from_crops
from cmhm.training.loop import TrainConfig
from cmhm.training.stages import (
    canonical_mean_shapes,
    canonical_scale,
    mean_shape_views,
    train_variant_stage,
    write_mean_shapes,
)

from .known_transforms import similarity_matrix

SIZE = 32
BASE = ModelConfig(in_size=SIZE, n_stacks=2, depth=1, width=8)


def _stage1() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_hourglass(stage_plans("cmhm", BASE, MENPO84)[0].model)


def _data(n: int = 6) -> tuple[TrainData, np.ndarray]:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, size=(n, SIZE, SIZE, 3), dtype=np.uint8)
    lm3d = rng.uniform(8, SIZE - 8, size=(n, MENPO84.n_points, 3)).astype(np.float32)
    mean = rng.uniform(8, SIZE - 8, size=(IBUG68.n_points, 2)).astype(np.float32)
    views = np.stack([mean, mean[:, ::-1].copy()])  # two "views" [V, K, 2]
    return TrainData(images, {"lm3d_84": lm3d}, np.array([""] * n, dtype=object)), views


def _batches(data: TrainData, means: np.ndarray, stage1: torch.nn.Module, jitter: float = 0.0):
    return CanonicalBatches(
        data, stage1, torch.from_numpy(means), ("lm3d_84",), SIZE // 4, 1.0, AugmentConfig(), jitter
    )


def test_online_batch_is_the_frozen_stage1_fit_on_the_augmented_crop() -> None:
    data, means = _data()
    batches = _batches(data, means, _stage1())
    rows = np.array([0, 2, 3, 5])
    images, maps, masks = batches(rows, np.random.default_rng(1))
    last = batches.last
    crops = torch.from_numpy(data.images[rows]).permute(0, 3, 1, 2).float() / 255
    # stage 1 saw the augmented crop, and A_can is the cascade's fit of its prediction on that image
    seen = warp_images(crops, torch.from_numpy(last["A_aug"]).float(), SIZE)
    np.testing.assert_allclose(last["stage1_input"], seen.numpy(), atol=1e-6)
    assert not np.allclose(last["A_aug"], np.eye(2, 3))
    with torch.no_grad():
        hms = batches.stage1(seen)
    pts, conf = Cascade.decode(batches.stage1, hms[-1])
    A_fit, _ = fit_to_means(pts, conf, torch.from_numpy(means))
    np.testing.assert_allclose(last["A_can"], A_fit.double().numpy(), atol=1e-5)
    # one resampling of the stored crop by the composed affine; labels move with it
    A = compose_affine(last["A_can"], last["A_aug"])
    np.testing.assert_allclose(last["A"], A, atol=1e-9)
    np.testing.assert_allclose(images.numpy(), warp_images(crops, torch.from_numpy(A).float(), SIZE).numpy())
    lm = data.arrays["lm3d_84"][rows]
    moved = apply_affine(A, lm[..., :2])
    flipped = np.linalg.det(A[:, :, :2]) < 0
    moved[flipped] = moved[flipped][:, MENPO84.flip_permutation()]
    np.testing.assert_allclose(last["arrays"]["lm3d_84"][..., :2], moved, atol=1e-3)
    assert images.shape == (4, 3, SIZE, SIZE) and maps[0].shape == (4, MENPO84.n_points, SIZE // 4, SIZE // 4)


def test_jitter_is_a_shift_after_the_canonical_warp() -> None:
    data, means = _data()
    rows = np.arange(4)
    a, b = _batches(data, means, _stage1()), _batches(data, means, _stage1(), jitter=40.0)
    a(rows, np.random.default_rng(2)), b(rows, np.random.default_rng(2))
    np.testing.assert_allclose(a.last["A_can"], b.last["A_can"], atol=1e-6)
    shift = b.last["A"][:, :, 2] - a.last["A"][:, :, 2]
    np.testing.assert_allclose(b.last["A"][:, :, :2], a.last["A"][:, :, :2], atol=1e-9)
    assert 0 < np.abs(shift).max() <= 40.0 * SIZE / 256 + 1e-9


def test_stage2_training_leaves_stage1_untouched(tmp_path) -> None:
    data, means = _data()
    stage1 = _stage1()
    before = {k: v.clone() for k, v in stage1.state_dict().items()}
    cfg = TrainConfig(steps=2, batch_size=4, checkpoint_every=2, log_every=1, device="cpu", num_threads=1)
    batches = _batches(data, means, stage1)
    path = train_variant_stage("cmhm", 1, BASE, MENPO84, data, cfg, tmp_path, "v1", batches=batches)
    assert torch.load(path, weights_only=True)["step"] == 2
    for k, v in stage1.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert not any(p.requires_grad for p in stage1.parameters()) and not stage1.training


def test_composed_warp_equals_two_warps_on_a_smooth_image() -> None:
    size = 64
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    smooth = (
        0.5
        + 0.25 * np.sin(xx / 7.0) * np.cos(yy / 9.0)
        + 0.2 * np.exp(-((xx - 30) ** 2 + (yy - 34) ** 2) / 200)
    )
    image = torch.from_numpy(np.stack([smooth] * 3))[None]
    c = (size - 1) / 2
    A1 = similarity_matrix(1.1, 0.3, 0, 0)
    A1[:, 2] = [c, c] - A1[:, :2] @ [c, c] + [2.0, -1.5]
    A2 = similarity_matrix(0.9, -0.2, 0, 0)
    A2[:, 2] = [c, c] - A2[:, :2] @ [c, c] + [-1.0, 3.0]
    t = lambda A: torch.from_numpy(A[None]).float()  # noqa: E731
    two = warp_images(warp_images(image, t(A1), size), t(A2), size)[0]
    one = warp_images(image, t(compose_affine(A2, A1)), size)[0]
    inner = slice(16, 48)  # away from the zero border the first warp brings in
    diff = (two - one)[:, inner, inner].abs()
    assert diff.max() < 5e-3 and diff.mean() < 1e-3


@pytest.fixture(scope="module")
def synth_crops(tmp_path_factory) -> tuple[CropSet, np.ndarray]:
    """Rendered synthetic faces over all |yaw| bins as 64 px crop labels, with the stage-1 union targets."""
    out = tmp_path_factory.mktemp("synth")
    cfg = SynthConfig(image_size=64, occluder_prob=0.0)
    bins = [[0, 30, 0.4], [30, 60, 0.3], [60, 90, 0.3]]
    table = generate_images(out, n=90, seed=5, shard=0, n_shards=1, cfg=cfg, yaw_bins=bins, prefix="train")
    A = box_to_crop_affine(table.boxes(), 64, 1.3)
    arrays = transform_landmarks(table.arrays, A)
    um = mapping_from_tables([table], frontal_max_yaw=20, profile_min_yaw=55)
    idx = table.index
    pts, mask = union_targets(
        arrays["lm2d"], arrays["lm2d_profile"], idx["view"].to_numpy(), idx["side"].to_numpy(), um.mapping
    )
    crops = CropSet(np.zeros((len(idx), 64, 64, 3), np.uint8), A, arrays, idx)
    return crops, np.where(mask[..., None], pts, np.nan)


def test_canonical_scale_per_yaw_bin_with_ground_truth_points(synth_crops, tmp_path) -> None:
    crops, pts = synth_crops
    views = mean_shape_views(crops.index)
    means, names = canonical_mean_shapes(pts, views)
    assert names == ["semifrontal", "profile_left", "profile_right"] and means.shape == (
        3,
        IBUG68.n_points,
        2,
    )
    yaw = np.abs(crops.index["yaw"].to_numpy(float))
    bins = [(0, 30), (30, 60), (60, 90)]
    scale = canonical_scale(pts, means)
    per_bin = [scale[(yaw > lo) & (yaw <= hi)].mean() for lo, hi in bins]
    assert min(per_bin) >= 0.9 and max(per_bin) <= 1.1, per_bin
    # the measurement can fail: the old frame, one plain mean of semi-frontal labels, shrinks profiles
    plain = np.nanmean(pts[views == "semifrontal"], axis=0)[None]
    old = canonical_scale(pts, plain)
    assert old[(yaw > 60) & (yaw <= 90)].mean() < 0.85
    # the rule's report and inspect show the same numbers
    data = from_crops(crops, pts)
    record = {"code_version": "v-ms", "config": {}}
    npy, report = tmp_path / "mean_shape.npy", tmp_path / "mean_shape.json"
    out = write_mean_shapes("cmhm", BASE, MENPO84, (crops, data), npy, report, record)
    assert json.loads(report.read_text()) == out and np.load(npy).shape == (3, IBUG68.n_points, 2)
    assert [b["mean"] for b in out["canonical_scale_by_yaw"].values()] == pytest.approx(per_bin)
    text = inspect_path(npy)
    assert "profile_right: " in text and "code version: v-ms" in text
    assert f"mean {per_bin[2]:.3f}" in text


def test_mean_shape_views_name_unknown_views() -> None:
    index = pd.DataFrame({"view": ["semifrontal", "profile", "frontal"], "side": [None, "left", None]})
    views = mean_shape_views(index)
    assert list(views[:2]) == ["semifrontal", "profile_left"]
    with pytest.raises(ValueError, match="frontal"):
        canonical_mean_shapes(np.zeros((3, 4, 2)), views)


def test_fit_to_means_picks_the_view_the_points_come_from() -> None:
    rng = np.random.default_rng(3)
    means = rng.uniform(0, 64, size=(3, 20, 2))
    means[1, :8] = np.nan  # a view without some points
    A_true = np.stack([similarity_matrix(0.8 + 0.1 * v, 0.2 * v, v, -v) for v in range(3)])
    inv = np.linalg.inv(np.concatenate([A_true, np.tile([[[0, 0, 1.0]]], (3, 1, 1))], 1))[:, :2]
    pts = apply_affine(inv, np.nan_to_num(means))  # view v's shape, seen through the inverse of A_true[v]
    pts[1, :8] = np.nan
    A, choice = fit_to_means(
        torch.from_numpy(pts), torch.ones(3, 20, dtype=torch.float64), torch.from_numpy(means)
    )
    assert choice.tolist() == [0, 1, 2]
    np.testing.assert_allclose(A.numpy(), A_true, atol=1e-9)
