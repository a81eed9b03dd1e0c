"""Seed-aware bootstrap (hand-worked), decoding floor, ground-truth warp, training snapshots."""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

from cmhm.data.crop_shards import CropSet
from cmhm.evaluation.floors import (
    decode_gt,
    decoding_floor,
    floors_table,
    gt_warp_predict,
    gt_warp_predictions,
)
from cmhm.evaluation.metrics import paired_mean_of_bins_diff
from cmhm.geometry.yaw_bins import yaw_bin
from cmhm.landmarks.markups import IBUG68, MENPO84
from cmhm.models.cascade import Cascade, build_stages
from cmhm.models.heatmaps import HeatmapCodec
from cmhm.models.hourglass import ModelConfig
from cmhm.report.seeds import seed_summary
from cmhm.training.batches import TrainData
from cmhm.training.checkpoints import load_stage
from cmhm.training.loop import TrainConfig, train_stage


def test_zero_image_variance_leaves_the_seed_bootstrap() -> None:
    # Every image of a seed has the same error: seed means 1 and 3 (variant b), 0 and 0 (reference a).
    # Resampling 2 seeds gives means 1, 2, 3 with probabilities 1/4, 1/2, 1/4: the 95 % interval is [1, 3].
    strata = np.repeat([0, 1, 2], 4)
    vals = {"a": np.zeros((2, 12)), "b": np.repeat([[1.0], [3.0]], 12, axis=1)}
    r = seed_summary(vals, strata, n_boot=4000, seed=1)
    assert r["b"]["per_seed"] == [1.0, 3.0] and r["b"]["mean"] == 2.0
    assert r["b"]["sd"] == pytest.approx(np.sqrt(2.0)) and (r["b"]["min"], r["b"]["max"]) == (1.0, 3.0)
    assert (r["b"]["diff"], r["b"]["diff_lo"], r["b"]["diff_hi"]) == (2.0, 1.0, 3.0)
    assert (r["a"]["diff"], r["a"]["diff_lo"], r["a"]["diff_hi"]) == (0.0, 0.0, 0.0)


def test_mean_of_bins_per_seed_and_one_seed_is_the_paired_image_bootstrap() -> None:
    # Bins of 1 and 3 images: seed statistic (mean of bin means) = (2 + 5) / 2, not the image mean 4.25.
    r = seed_summary({"a": np.array([[2.0, 4.0, 5.0, 6.0]])}, np.array([0, 1, 1, 1]))
    assert r["a"]["per_seed"] == [3.5] and np.isnan(r["a"]["sd"])
    rng = np.random.default_rng(0)
    yaw = rng.uniform(0, 90, 300)
    ref, other = rng.random(300), rng.random(300) + 0.05
    r = seed_summary({"ref": ref[None], "x": other[None]}, yaw_bin(yaw))
    p = paired_mean_of_bins_diff(other, ref, yaw)
    assert r["x"]["diff"] == pytest.approx(p["diff"], abs=1e-12)
    assert r["x"]["diff_lo"] == pytest.approx(p["lo"], abs=0.01)
    assert r["x"]["diff_hi"] == pytest.approx(p["hi"], abs=0.01)


def test_clusters_resample_whole_videos() -> None:
    # Two videos, errors constant within each: the pooled mean over resampled videos takes the values
    # 0 (both draws video 0), 1/3 or 2/3 with video sizes 1 and 2 ... all within [0, 1].
    vals = {"a": np.array([[0.0, 1.0, 1.0]])}
    r = seed_summary(vals, np.zeros(3), clusters=np.array([0, 1, 1]), n_boot=4000)
    assert r["a"]["mean"] == pytest.approx(2 / 3)
    assert (r["a"]["lo"], r["a"]["hi"]) == (0.0, 1.0)


def test_exact_gaussians_decode_within_five_hundredths_of_a_map_pixel() -> None:
    rng = np.random.default_rng(0)
    for crop, hmap in ((64, 16), (128, 32)):
        pts = rng.uniform(0.1 * crop, 0.9 * crop, (20, IBUG68.n_points, 2))
        pts[0, :5] = np.nan
        dec = decode_gt(pts, HeatmapCodec(crop, hmap, sigma=1.0))
        assert np.isnan(dec[0, :5]).all()
        err = np.linalg.norm(dec - pts, axis=-1) * hmap / crop
        assert np.nanmax(err) < 0.05
        floor = decoding_floor(pts, rng.uniform(-90, 90, 20), HeatmapCodec(crop, hmap, 1.0))
        assert floor["max_map_px"] < 0.05 and floor["overall_mean_of_bins"] < 1e-4
        # rounding to the map grid costs on average ~0.38 map px per point: far above the sub-pixel decode
        assert floor["argmax_mean_of_bins"] > 100 * floor["overall_mean_of_bins"]


def test_ground_truth_warp_is_invariant_to_a_shift_of_the_face() -> None:
    torch.manual_seed(0)
    cfg = ModelConfig(in_size=32, n_stacks=1, depth=1, width=8)
    s1, s2 = build_stages("cmhm", cfg, MENPO84)
    rng = np.random.default_rng(0)
    image = np.zeros((32, 32, 3), np.uint8)
    image[8:24, 8:24] = rng.integers(0, 255, (16, 16, 3))
    gt = rng.uniform(10, 22, (IBUG68.n_points, 2))
    gt[:3] = np.nan  # absent points are left out of the fit
    cascade = Cascade([s1, s2], [torch.as_tensor(np.nan_to_num(gt, nan=16.0))])
    shifted = np.roll(image, (3, -2), axis=(0, 1))  # 3 px down, 2 px left
    pred = gt_warp_predict(cascade, np.stack([image, shifted]), np.stack([gt, gt + [-2, 3]]))
    assert pred.shape == (2, MENPO84.n_points, 2)
    np.testing.assert_allclose(pred[1] - pred[0], np.broadcast_to([-2.0, 3.0], pred[0].shape), atol=1e-3)
    with pytest.raises(ValueError, match="two-stage"):
        gt_warp_predict(Cascade([s1]), image[None], gt[None])


def _tiny_data(n: int = 6) -> TrainData:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, size=(n, 32, 32, 3), dtype=np.uint8)
    lm = rng.uniform(4, 28, size=(n, MENPO84.n_points, 3)).astype(np.float32)
    return TrainData(images=images, arrays={"lm3d_84": lm}, side=np.array([""] * n, dtype=object))


def _train(cfg: TrainConfig, out):
    model = ModelConfig(in_size=32, n_stacks=1, depth=1, width=8, n_points=(MENPO84.n_points,))
    return train_stage(_tiny_data(), ("lm3d_84",), model, cfg, out, "v1", progress=False)


def _same_weights(a, b) -> bool:
    sa, sb = (torch.load(p, weights_only=True)["state_dict"] for p in (a, b))
    return all(torch.allclose(sa[k].float(), sb[k].float(), atol=1e-6) for k in sa)


def test_snapshots_at_their_steps_and_resume_unaffected(tmp_path, caplog) -> None:
    cfg = TrainConfig(steps=8, batch_size=2, checkpoint_every=3, device="cpu", amp=False, num_threads=1)
    snap = replace(cfg, snapshots=(0.25, 0.5, 1.0))
    a = _train(snap, tmp_path / "a")
    assert sorted(p.name for p in (tmp_path / "a").glob("model_step*.pt")) == [
        "model_step2.pt",
        "model_step4.pt",
    ]
    assert torch.load(tmp_path / "a" / "model_step4.pt", weights_only=True)["step"] == 4
    load_stage(tmp_path / "a" / "model_step2.pt")  # a snapshot loads like a model
    # a run killed after step 6: its outputs deleted (as a workflow does), the newest checkpoint lost
    b = _train(snap, tmp_path / "b")
    for name in ("model.pt", "model_step2.pt", "model_step4.pt", "checkpoint.pt"):
        (tmp_path / "b" / name).unlink()
    with caplog.at_level(logging.INFO, logger="cmhm.training.loop"):
        b = _train(snap, tmp_path / "b")
    assert "resuming from step 6" in caplog.text  # a snapshot list does not block resuming
    assert _same_weights(a, b)
    assert _same_weights(tmp_path / "a" / "model_step4.pt", tmp_path / "b" / "model_step4.pt")
    # resuming past a snapshot step that was never written would lose it: start again instead
    _train(replace(cfg, steps=3), tmp_path / "c")
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="cmhm.training.loop"):
        c = _train(snap, tmp_path / "c")
    assert "snapshots of steps [2] are missing" in caplog.text and _same_weights(a, c)
    with pytest.raises(ValueError, match="train.snapshots"):
        _train(replace(cfg, snapshots=(1.5,)), tmp_path / "d")


def _crops(n: int = 6, size: int = 32) -> CropSet:
    rng = np.random.default_rng(1)
    lm = np.concatenate(
        [rng.uniform(6, size - 6, (n, IBUG68.n_points, 2)), np.zeros((n, IBUG68.n_points, 1))], -1
    )
    index = pd.DataFrame(
        {"sample_id": [f"s{i}" for i in range(n)], "yaw": np.linspace(-85, 85, n), "view": "x"}
    )
    T = np.tile(np.array([[2.0, 0, 5], [0, 2.0, 7]]), (n, 1, 1))  # image -> crop
    images = rng.integers(0, 255, (n, size, size, 3), dtype=np.uint8)
    return CropSet(images, T, {"lm3d_68": lm.astype(np.float32)}, index)


def test_floors_table_rows_and_ground_truth_warp_predictions() -> None:
    crops = _crops()
    heldout = pd.DataFrame(
        {
            "yaw": [10.0, 40.0, 70.0, 80.0],
            "fit_ok": [True, True, True, False],
            "nme2d_68": [0.01, 0.02, 0.03, 0.5],
        }
    )
    arm = [pd.DataFrame({"yaw": [10.0, 40.0, 70.0], "nme": [0.01 * k] * 3}) for k in (1, 3)]
    codec = HeatmapCodec(128, 32, 1.0)  # a model file's: the floor also at the default 64 px crops
    df = floors_table(crops, "ibug68", codec, heldout, {"cmhm, ground-truth warp": arm})
    assert list(df["floor"]) == [
        "decoding floor 64 px",
        "decoding floor 128 px",
        "label floor (3D fit, held out)",
        "cmhm, ground-truth warp",
    ]
    assert (df["Mean"].iloc[:2] < 0.01).all() and "integer map pixel alone" in df["note"].iloc[0]
    assert df["Mean"].iloc[2] == pytest.approx(2.0) and df["n"].iloc[2] == 3  # the failed fit is left out
    assert df["Mean"].iloc[3] == pytest.approx(2.0) and df["Mean sd (seeds)"].iloc[3] == pytest.approx(
        np.sqrt(2)
    )
    torch.manual_seed(0)
    s1, s2 = build_stages("cmhm", ModelConfig(in_size=32, n_stacks=1, depth=1, width=8), IBUG68)
    mean = torch.as_tensor(crops.arrays["lm3d_68"][0, :, :2])
    pred = gt_warp_predictions(Cascade([s1, s2], [mean]), crops, "ibug68")
    assert pred["points"].shape == (6, IBUG68.n_points, 2) and str(pred["warp_from"]) == "lm3d_68"
    np.testing.assert_allclose(pred["gt"][0, 0], (crops.arrays["lm3d_68"][0, 0, :2] - [5, 7]) / 2, atol=1e-5)
