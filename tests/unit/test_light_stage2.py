"""The lighter cascades of issue 27: ``cmhm_light`` (stage 2 at half the crop size), ``cmhm_mid`` and
``cmhm_slim`` (stage 2 also at 3/4 and at half the width) and ``cmhm_compact`` (cmhm_light at half the
width). Stage 2 still sees the Procrustes-normalised face, at a quarter of the pixels."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from cmhm.landmarks.markups import MENPO84
from cmhm.models.cascade import Cascade, build_stages, stage_plans
from cmhm.models.hourglass import ModelConfig
from cmhm.pipeline.config_check import ConfigError, check_config, load_yaml, merge
from cmhm.training.augment import AugmentConfig
from cmhm.training.batches import CanonicalBatches, TrainData
from cmhm.training.checkpoints import StageSpec, load_stage
from cmhm.training.loop import TrainConfig
from cmhm.training.reuse import expected_record
from cmhm.training.stages import train_variant_stage, variant_train_config

REPO = Path(__file__).resolve().parents[2]
SIZE = 32
BASE = ModelConfig(in_size=SIZE, n_stacks=2, depth=1, width=8)


def test_the_light_variants_shrink_stage_2_and_keep_stage_1() -> None:
    base = replace(BASE, width=16)
    full, light, mid, slim, compact = (
        stage_plans(v, base, MENPO84) for v in ("cmhm", "cmhm_light", "cmhm_mid", "cmhm_slim", "cmhm_compact")
    )
    assert light[0] == full[0] == mid[0] == slim[0]  # the same stage 1: the rows differ in stage 2 only
    assert [p.model.in_size for p in light] == [p.model.in_size for p in slim] == [SIZE, SIZE // 2]
    assert [p.model.width for p in light] == [16, 16]
    assert [p.model.width for p in mid] == [16, 12]
    assert [p.model.width for p in slim] == [16, 8]
    for narrow, width in ((mid, 12), (slim, 8)):
        assert narrow[1] == replace(light[1], model=replace(light[1].model, width=width))
    assert [p.model.in_size for p in compact] == [SIZE, SIZE // 2]
    assert [p.model.width for p in compact] == [8, 8]
    assert [p.targets for p in light] == [p.targets for p in full] == [p.targets for p in compact]
    # below 8 channels the inception stem cannot split its first block: refused by the width rule, named
    with pytest.raises(ValueError, match=r"width 8 x 0.5 leaves fewer than 8 channels"):
        stage_plans("cmhm_slim", BASE, MENPO84)


def _data(n: int = 6) -> tuple[TrainData, np.ndarray]:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, size=(n, SIZE, SIZE, 3), dtype=np.uint8)
    lm3d = rng.uniform(8, SIZE - 8, size=(n, MENPO84.n_points, 3)).astype(np.float32)
    mean = rng.uniform(8, SIZE - 8, size=(68, 2)).astype(np.float32)
    return TrainData(images, {"lm3d_84": lm3d}, np.array([""] * n, dtype=object)), np.stack(
        [mean, mean[:, ::-1]]
    )


def _batches(data, means, stage1, out_size, sigma):
    return CanonicalBatches(
        data,
        stage1,
        torch.from_numpy(means),
        ("lm3d_84",),
        out_size // 4,
        sigma,
        AugmentConfig(),
        out_size=out_size,
    )


def test_a_half_size_stage_2_batch_is_the_full_size_batch_at_half_scale() -> None:
    """Mean shapes at half scale give the canonical warp at half scale: the same face, a quarter of the
    pixels, labels halved, targets of the same relative width (sigma halved with the maps)."""
    data, means = _data()
    torch.manual_seed(0)
    stage1 = build_stages("cmhm", BASE, MENPO84)[0]
    rows = np.array([0, 2, 3, 5])
    full = _batches(data, means, stage1, SIZE, 2.0)
    half = _batches(data, means * 0.5, stage1, SIZE // 2, 1.0)
    f_img, f_maps, _ = full(rows, np.random.default_rng(1))
    h_img, h_maps, _ = half(rows, np.random.default_rng(1))
    assert h_img.shape == (4, 3, SIZE // 2, SIZE // 2) and h_maps[0].shape == (4, 84, SIZE // 8, SIZE // 8)
    np.testing.assert_allclose(half.last["A_aug"], full.last["A_aug"])
    np.testing.assert_allclose(half.last["A"], 0.5 * full.last["A"], atol=1e-5)
    np.testing.assert_allclose(
        half.last["arrays"]["lm3d_84"][..., :2], 0.5 * full.last["arrays"]["lm3d_84"][..., :2], atol=1e-3
    )
    # the half-size image is the full-size one down-sampled (2x2 means), up to resampling differences
    pooled = torch.nn.functional.avg_pool2d(f_img, 2)
    assert (h_img - pooled).abs().mean() < 0.05


@pytest.mark.parametrize("variant", ["cmhm_light", "cmhm_mid", "cmhm_slim"])
def test_a_light_cascade_trains_stage_2_and_runs(tmp_path, variant: str) -> None:
    base = replace(BASE, width=16)  # cmhm_slim's stage 2 at 8 channels: the fewest an inception stem takes
    data, means = _data()
    torch.manual_seed(0)
    stages = build_stages(variant, base, MENPO84)
    cfg = TrainConfig(steps=2, batch_size=4, checkpoint_every=2, log_every=1, device="cpu", num_threads=1)
    means_half = (means * 0.5).astype(np.float32)
    batches = _batches(data, means_half, stages[0], SIZE // 2, 1.0)
    path = train_variant_stage(variant, 1, base, MENPO84, data, cfg, tmp_path, "v1", batches=batches)
    # the model file's checks know the stage's size and width from the variant, with or without the run's
    for spec in (StageSpec(variant, 1, "menpo84", SIZE, width=16), StageSpec(variant, 1, "menpo84")):
        stage2 = load_stage(path, spec=spec)
        assert stage2.cfg.in_size == SIZE // 2 and stage2.cfg.width == stages[1].cfg.width
    with pytest.raises(ValueError, match=r"architecture in_size 16, expected 32"):
        load_stage(path, spec=StageSpec("cmhm", 1, "menpo84", SIZE))
    # the full-size trainer refuses the half-size stage on full-size crops, naming both sizes
    with pytest.raises(ValueError, match=r"training images are 32px, the model expects 16px"):
        train_variant_stage(variant, 1, base, MENPO84, data, cfg, tmp_path / "x", "v1")
    cascade = Cascade([stages[0], stage2], [torch.from_numpy(means_half)]).eval()
    with torch.no_grad():
        out = cascade(torch.rand(3, 3, SIZE, SIZE))
    assert out["inputs"][1].shape == (3, 3, SIZE // 2, SIZE // 2)
    assert out["points"][1].shape == (3, 84, 2) and torch.isfinite(out["points"][1]).all()


def test_a_stage_size_the_hourglass_cannot_take_is_named_by_the_config_check() -> None:
    base = load_yaml(REPO / "config.yaml")
    schema = REPO / "rules/schemas/config.schema.yaml"
    ok = {"crop": {"size": 64}, "model": {"depth": 2}, "variants": ["cmhm", "cmhm_light", "cmhm_compact"]}
    check_config(merge(base, ok), schema)
    bad = {"crop": {"size": 32}, "model": {"depth": 1}, "variants": ["cmhm", "cmhm_light"]}
    check_config(merge(base, bad), schema)  # 16 px is divisible by 4 x 2^1
    with pytest.raises(
        ConfigError,
        match=r"variants: cmhm_light.s stage 2 takes 0.5 x crop.size 32 = 16 px, not divisible by 32",
    ):
        check_config(merge(base, {**bad, "model": {"depth": 3}}), schema)


def test_the_compact_cascade_trains_at_its_variants_multiple_of_train_lr(tmp_path) -> None:
    """``lr_scale`` (4 for cmhm_compact, chosen on val_nme) multiplies train.lr in what trains and in what
    the model file records; the full cascade keeps train.lr."""
    data, means = _data()
    cfg = TrainConfig(steps=2, batch_size=4, checkpoint_every=2, log_every=1, device="cpu", num_threads=1)
    assert variant_train_config("cmhm", cfg) is cfg
    assert variant_train_config("cmhm_compact", cfg).lr == pytest.approx(4 * cfg.lr, rel=1e-12)
    base = replace(BASE, width=16)  # the compact's half width still splits into four branches
    for variant, scale, size in (("cmhm", 1, SIZE), ("cmhm_compact", 4, SIZE // 2)):
        torch.manual_seed(0)
        stage1 = build_stages(variant, base, MENPO84)[0]
        batches = _batches(data, (means * size / SIZE).astype(np.float32), stage1, size, 1.0)
        out = tmp_path / variant
        path = train_variant_stage(variant, 1, base, MENPO84, data, cfg, out, "v1", batches=batches)
        state = torch.load(path, map_location="cpu", weights_only=True)
        assert state["config"]["train"]["lr"] == pytest.approx(scale * cfg.lr, rel=1e-12), variant
        header, first = (tmp_path / variant / "log.csv").read_text().splitlines()[:2]
        logged = float(first.split(",")[header.split(",").index("lr")])
        assert logged == pytest.approx(scale * cfg.lr, rel=1e-5), variant
    # stage-1 reuse (train.stage1_from) expects the rate the variant trains at, not train.lr itself
    for variant, scale in (("cmhm", 1), ("cmhm_compact", 4)):
        want = expected_record(
            variant,
            {"depth": 1, "width": 16, "markup3d": "menpo84"},
            {"lr": 1e-3, "steps": 2},
            SIZE,
            1,
            6,
            "",
            "",
        )
        assert want["config"]["train"]["lr"] == pytest.approx(scale * 1e-3, rel=1e-12), variant
