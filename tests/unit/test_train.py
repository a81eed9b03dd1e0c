"""Augmentation geometry, resumable deterministic training, prediction and the torch/cv2 warps."""

from __future__ import annotations

import logging
import shutil
from dataclasses import asdict, replace

import numpy as np
import pytest
import torch

from cmhm.geometry.image_warp import warp_crops
from cmhm.geometry.warp import warp_images
from cmhm.landmarks.markups import IBUG68, MENPO84, PROFILE39
from cmhm.models.cascade import Cascade
from cmhm.models.hourglass import ModelConfig, build_hourglass
from cmhm.models.runtime import predict
from cmhm.training.augment import AugmentConfig, augment_batch, flip_side
from cmhm.training.batches import TrainData, make_batch
from cmhm.training.checkpoints import load_stage
from cmhm.training.loop import LOG, TrainConfig, train_stage
from cmhm.training.losses import stacked_heatmap_loss

from .known_transforms import similarity_matrix

SIZE = 32
MODEL = ModelConfig(
    in_size=SIZE,
    n_stacks=2,
    depth=1,
    width=8,
    block="inception_resnet",
    n_points=(IBUG68.n_points, MENPO84.n_points),
)


def _data(n: int = 6, seed: int = 0) -> TrainData:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 255, size=(n, SIZE, SIZE, 3), dtype=np.uint8)
    union = rng.uniform(4, SIZE - 4, size=(n, IBUG68.n_points, 2)).astype(np.float32)
    union[0, :30] = np.nan  # a profile-like sample: only some channels supervised
    lm3d = rng.uniform(4, SIZE - 4, size=(n, MENPO84.n_points, 3)).astype(np.float32)
    side = np.array(["right", ""] * (n // 2), dtype=object)
    return TrainData(images=images, arrays={"union2d": union, "lm3d_84": lm3d}, side=side)


def test_augmented_dot_follows_its_landmark() -> None:
    n, size = 8, 64
    rng = np.random.default_rng(0)
    pts = rng.uniform(24, 40, size=(n, 1, 2))
    yy, xx = np.mgrid[0:size, 0:size]
    blob = np.exp(-((xx - pts[:, 0, 0, None, None]) ** 2 + (yy - pts[:, 0, 1, None, None]) ** 2) / 8.0)
    images = np.repeat((blob * 255).astype(np.uint8)[..., None], 3, -1)
    perm = {"p": np.zeros(1, dtype=np.int64)}
    out, arrays, _ = augment_batch(images, {"p": pts}, perm, np.array([""] * n), AugmentConfig(), rng)
    w = out[..., 0].astype(np.float64)
    centroid = np.stack([(w * xx).sum((1, 2)), (w * yy).sum((1, 2))], -1) / w.sum((1, 2))[:, None]
    assert np.abs(centroid - arrays["p"][:, 0]).max() < 0.3


def test_flip_relabels_points_and_sides() -> None:
    size, rng = 64, np.random.default_rng(1)
    frontal = np.stack([np.linspace(10, 53, IBUG68.n_points), rng.uniform(10, 53, IBUG68.n_points)], -1)[None]
    lm3d = np.concatenate([frontal, rng.uniform(0, 5, size=(1, IBUG68.n_points, 1))], -1)
    profile = rng.uniform(10, 53, size=(1, PROFILE39.n_points, 2))
    arrays = {"lm2d": frontal, "lm3d_68": lm3d, "lm2d_profile": profile}
    data = TrainData(np.zeros((1, size, size, 3), np.uint8), arrays, np.array(["left"], dtype=object))
    cfg = AugmentConfig(max_rotation_deg=0, scale_min=1, scale_max=1, max_translation=0, flip_prob=1)
    _, out, side = augment_batch(data.images, arrays, data.perms(list(arrays)), data.side, cfg, rng)
    perm = IBUG68.flip_permutation()
    mirrored = np.stack([size - 1 - frontal[0, :, 0], frontal[0, :, 1]], -1)
    np.testing.assert_allclose(out["lm2d"][0], mirrored[perm])
    np.testing.assert_allclose(out["lm3d_68"][0, :, 2], lm3d[0, perm, 2])  # depth moves with its label
    np.testing.assert_allclose(out["lm2d_profile"][0, :, 0], size - 1 - profile[0, :, 0])  # order kept
    assert list(side) == ["right"] and list(flip_side(np.array(["right", ""]), np.array([True, True]))) == [
        "left",
        "",
    ]
    jaw = IBUG68.groups["jaw"]  # labels keep their meaning: the subject's right jaw end stays on image left
    assert (out["lm2d"][0, jaw[0], 0] < out["lm2d"][0, jaw[-1], 0]) == (
        frontal[0, jaw[0], 0] < frontal[0, jaw[-1], 0]
    )
    assert np.array_equal(perm[perm], np.arange(IBUG68.n_points))


def test_batch_masks_follow_nan_labels() -> None:
    data = _data()
    images, maps, masks = make_batch(
        data, np.arange(2), ("union2d", "lm3d_84"), SIZE // 4, 1.0, None, np.random.default_rng(0)
    )
    assert images.shape == (2, 3, SIZE, SIZE) and images.min() >= 0 and images.max() <= 1
    assert [m.shape for m in maps] == [(2, 68, 8, 8), (2, 84, 8, 8)]
    assert not masks[0][0, :30].any() and masks[0][0, 30:].all() and masks[1].all()
    assert maps[0][0, :30].abs().sum() == 0


def _train_cfg(steps: int) -> TrainConfig:
    return TrainConfig(
        steps=steps,
        batch_size=4,
        lr=1e-3,
        lr_steps=(4,),
        checkpoint_every=3,
        log_every=1,
        seed=3,
        device="cpu",
        num_threads=1,
    )


def test_resume_after_kill_matches_uninterrupted(tmp_path, caplog) -> None:
    data = _data()
    full = train_stage(
        data, ("union2d", "lm3d_84"), MODEL, _train_cfg(6), tmp_path / "a", "v1", progress=False
    )
    train_stage(data, ("union2d", "lm3d_84"), MODEL, _train_cfg(3), tmp_path / "b", "v1", progress=False)
    with caplog.at_level(logging.INFO, logger="cmhm.training.loop"):
        resumed = train_stage(
            data, ("union2d", "lm3d_84"), MODEL, _train_cfg(6), tmp_path / "b", "v1", progress=False
        )
    assert "resuming from step 3" in caplog.text
    a, b = (torch.load(p, weights_only=True) for p in (full, resumed))
    assert a["step"] == b["step"] == 6 and b["code_version"] == "v1"
    for k, v in a["state_dict"].items():
        assert torch.allclose(v.float(), b["state_dict"][k].float(), atol=1e-6), k
    rows = (tmp_path / "b" / LOG).read_text().splitlines()
    assert rows[0] == "step,loss,loss_stack0,loss_stack1,lr,images_per_s"
    assert [int(r.split(",")[0]) for r in rows[1:]] == [1, 2, 3, 4, 5, 6]
    assert float(rows[-1].split(",")[-2]) == 1e-4  # dropped x0.1 at step 4


def test_configs_round_trip_through_dicts() -> None:
    cfg = _train_cfg(5)
    assert TrainConfig.from_dict(asdict(cfg)) == cfg
    assert TrainConfig.from_dict({**asdict(cfg), "augment": None}).augment is None
    assert ModelConfig.from_dict(asdict(MODEL)) == MODEL


def test_predict_and_canonicalise(tmp_path) -> None:
    data = _data()
    path = train_stage(data, ("union2d", "lm3d_84"), MODEL, _train_cfg(2), tmp_path, "v1", progress=False)
    pred = predict(load_stage(path), data.images, batch_size=4, device="cpu")
    assert pred["points"].shape == (6, 84, 2) and pred["confidence"].shape == (6, 84)
    assert pred["stage0_points"].shape == (6, 84, 2)
    stage1 = build_hourglass(replace(MODEL, n_stacks=1, n_points=(IBUG68.n_points,)))
    mean68 = torch.rand(IBUG68.n_points, 2) * SIZE / 2 + SIZE / 4
    two = predict(Cascade([stage1, load_stage(path)], [mean68]), data.images, batch_size=4, device="cpu")
    assert two["stage0_points"].shape == (6, IBUG68.n_points, 2) and two["points"].shape == (6, 84, 2)
    views = torch.stack([mean68, mean68 + 1.0])  # per-view mean shapes: [V, K, 2]
    three = predict(Cascade([stage1, load_stage(path)], [views]), data.images, batch_size=4, device="cpu")
    assert three["points"].shape == (6, 84, 2)


def test_torch_warp_agrees_with_the_cv2_warp() -> None:
    images = _data().images
    A = np.stack([similarity_matrix(1.0 + 0.05 * i, 0.1 * i, i, -i) for i in range(len(images))])
    warped = warp_images(
        torch.from_numpy(images).permute(0, 3, 1, 2).float(), torch.from_numpy(A).float(), SIZE
    )
    one = warped.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
    # the same bilinear warp as the cv2 one used elsewhere: on noise (steps up to 255 / px in x and in y)
    # cv2 4.x's 1/32 px position rounding moves a value by at most (1/64 + 1/1024) * 2 * 255, plus
    # rounding to uint8 on both sides
    diff = np.abs(one.astype(float) - warp_crops(images, A, SIZE))
    assert diff.max() <= (1 / 64 + 1 / 1024) * 2 * 255 + 1 and diff.mean() < 1.0


def test_validation_nme_is_zero_for_the_targets_and_scales_with_a_shift() -> None:
    from cmhm.models.heatmaps import render_heatmaps  # noqa: PLC0415
    from cmhm.training.validation import validation_nme  # noqa: PLC0415

    pts = torch.tensor([[[4.0, 4.0], [12.0, 4.0], [4.0, 12.0], [12.0, 12.0]]])  # an 8 x 8 map-pixel box
    mask = torch.ones(1, 4, dtype=torch.bool)
    maps = render_heatmaps(pts, 16, 1.0, mask)

    class Shifted(torch.nn.Module):
        def __init__(self, dx: float) -> None:
            super().__init__()
            self.dx = dx

        def forward(self, x):
            return [render_heatmaps(pts + torch.tensor([self.dx, 0.0]), 16, 1.0, mask)]

    batch = (torch.zeros(1, 3, 64, 64), [maps], [mask])
    assert validation_nme(Shifted(0.0), batch, torch.device("cpu")) < 0.05
    assert validation_nme(Shifted(2.0), batch, torch.device("cpu")) == pytest.approx(100 * 2 / 8, abs=0.1)
    model = Shifted(1.0).train()
    validation_nme(model, batch, torch.device("cpu"))
    assert model.training  # put back as it was


def test_held_out_rows_are_never_trained_on_and_logged_as_val_nme(tmp_path, monkeypatch) -> None:
    import cmhm.training.loop as train_mod  # noqa: PLC0415
    from cmhm.training.validation import held_out_rows  # noqa: PLC0415

    data = _data(n=8)
    cfg = replace(_train_cfg(6), val_size=2, val_every=4, log_every=5)
    held = held_out_rows(8, 2, seed=cfg.seed)
    assert len(set(held)) == 2 and (held == held_out_rows(8, 2, seed=cfg.seed)).all()
    drawn: list[int] = []
    real = train_mod.make_batch

    def spy(d, rows, *args):
        if args[-2] is not None:  # augmented: a training batch (the validation batch is unaugmented)
            drawn.extend(int(r) for r in rows)
        return real(d, rows, *args)

    monkeypatch.setattr(train_mod, "make_batch", spy)
    train_stage(data, ("union2d", "lm3d_84"), MODEL, cfg, tmp_path, "v1", progress=False)
    assert drawn and not set(drawn) & set(held.tolist())
    rows = (tmp_path / LOG).read_text().splitlines()
    assert rows[0].endswith(",val_nme")
    by_step = {int(r.split(",")[0]): r.split(",")[-1] for r in rows[1:]}
    assert sorted(by_step) == [4, 5, 6]  # a row at each validation (4, the end) and each log step (5)
    assert by_step[5] == "" and float(by_step[4]) >= 0 and float(by_step[6]) >= 0
    with pytest.raises(ValueError, match="val_size 4 holds out half"):
        held_out_rows(8, 4, seed=0)


def test_validation_does_not_change_the_weights_or_resuming(tmp_path) -> None:
    """Validating (eval mode, no RNG draw) leaves training as it was: a run killed half-way and resumed
    equals an uninterrupted one, with the same val_nme rows."""
    data = _data(n=8)
    cfg = replace(_train_cfg(6), val_size=2, val_every=2)
    full = train_stage(data, ("union2d", "lm3d_84"), MODEL, cfg, tmp_path / "a", "v1", progress=False)
    train_stage(
        data, ("union2d", "lm3d_84"), MODEL, replace(cfg, steps=3), tmp_path / "b", "v1", progress=False
    )
    resumed = train_stage(data, ("union2d", "lm3d_84"), MODEL, cfg, tmp_path / "b", "v1", progress=False)
    a, b = (torch.load(p, weights_only=True) for p in (full, resumed))
    for k, v in a["state_dict"].items():
        assert torch.allclose(v.float(), b["state_dict"][k].float(), atol=1e-6), k
    val = [
        {int(r.split(",")[0]): r.split(",")[-1] for r in (d / LOG).read_text().splitlines()[1:]}
        for d in (tmp_path / "a", tmp_path / "b")
    ]
    # the same validations at steps 2, 4, 6 (the 3-step run also validated at its own end, step 3)
    assert [val[0][k] for k in (2, 4, 6)] == [val[1][k] for k in (2, 4, 6)]
    assert all(val[0][k] != "" for k in (2, 4, 6)) and val[0][3] == "" and val[1][3] != ""


def test_learning_rate_schedules_step_cosine_and_warmup() -> None:
    step = TrainConfig(steps=10, lr=1.0, lr_steps=(4, 8), lr_gamma=0.1)
    assert [round(step.lr_factor(s), 12) for s in (0, 3, 4, 7, 8, 9)] == [1, 1, 0.1, 0.1, 0.01, 0.01]
    # the same rates as torch's MultiStepLR, which the step schedule replaced
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    multi = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[4, 8], gamma=0.1)
    for s in range(10):
        assert step.lr_factor(s) == pytest.approx(multi.get_last_lr()[0], rel=1e-12), s
        opt.step()
        multi.step()
    cos = TrainConfig(steps=11, lr_schedule="cosine", lr_gamma=0.01)
    assert cos.lr_factor(0) == 1 and cos.lr_factor(10) == pytest.approx(0.01)
    assert cos.lr_factor(5) == pytest.approx(0.505)  # half-way: the mean of the two ends
    warm = TrainConfig(steps=10, warmup_steps=4, lr_steps=(6,))
    assert [warm.lr_factor(s) for s in (0, 1, 3, 5, 6)] == pytest.approx([0.25, 0.5, 1, 1, 0.1])
    with pytest.raises(ValueError, match="lr_schedule"):
        TrainConfig(lr_schedule="onecycle")


def test_resume_with_warmup_and_cosine_matches_uninterrupted(tmp_path, caplog) -> None:
    data, targets = _data(), ("union2d", "lm3d_84")
    cfg = replace(_train_cfg(6), lr_schedule="cosine", warmup_steps=2, lr_steps=())
    full = train_stage(data, targets, MODEL, cfg, tmp_path / "a", "v1", progress=False)
    # a run of 3 steps is not the first half of a 6-step cosine run (its rates fall faster): not resumed
    train_stage(data, targets, MODEL, replace(cfg, steps=3), tmp_path / "c", "v1", progress=False)
    with caplog.at_level(logging.WARNING, logger="cmhm.training.loop"):
        train_stage(data, targets, MODEL, cfg, tmp_path / "c", "v1", progress=False)
    assert "config differs (train.steps)" in caplog.text
    # killed after its checkpoint at step 3: the 6-step run resumes and ends as the uninterrupted one
    (tmp_path / "b").mkdir()
    shutil.copy(tmp_path / "a" / "checkpoint.prev.pt", tmp_path / "b" / "checkpoint.pt")
    resumed = train_stage(data, targets, MODEL, cfg, tmp_path / "b", "v1", progress=False)
    a, b = (torch.load(p, weights_only=True)["state_dict"] for p in (full, resumed))
    assert all(torch.equal(a[k], b[k]) for k in a)
    lrs = [float(r.split(",")[-2]) for r in (tmp_path / "a" / LOG).read_text().splitlines()[1:]]
    want = [cfg.lr * cfg.lr_factor(s) for s in range(1, 7)]
    assert lrs == pytest.approx(want, rel=1e-5)  # log.csv keeps 6 digits


def test_channels_last_computes_the_same_loss_and_gradients_within_float_rounding() -> None:
    """NHWC only reorders memory: the same weights and batch give the same loss and gradients up to
    float32 rounding (oneDNN sums in another order: ~1e-7 relative per sum, a few layers deep), bounded
    here at 1e-4 of the largest gradient. Weights after several Adam steps are not compared: Adam turns
    the rounding noise of a gradient that is zero in theory (a conv bias before BatchNorm) into a
    full-size step."""
    data, targets = _data(), ("union2d", "lm3d_84")
    images, maps, masks = make_batch(
        data, np.arange(4), targets, MODEL.map_size, 1.0, None, np.random.default_rng(0)
    )
    grads, losses = [], []
    for fmt in (torch.contiguous_format, torch.channels_last):
        torch.manual_seed(0)
        model = build_hourglass(MODEL).to(memory_format=fmt)
        total, _ = stacked_heatmap_loss(model(images.contiguous(memory_format=fmt)), maps, masks)
        total.backward()
        losses.append(float(total))
        grads.append({k: p.grad.clone() for k, p in model.named_parameters()})
    assert losses[0] == pytest.approx(losses[1], rel=1e-5)
    scale = max(g.abs().max() for g in grads[0].values())
    for k, g in grads[0].items():
        assert (g - grads[1][k]).abs().max() <= 1e-4 * scale, k


def test_deterministic_mode_keeps_new_tensors_unfilled_and_restores_the_setting() -> None:
    from cmhm.training.precision import deterministic_mode  # noqa: PLC0415

    before = torch.utils.deterministic.fill_uninitialized_memory
    with deterministic_mode(True):
        assert torch.are_deterministic_algorithms_enabled()
        assert torch.utils.deterministic.fill_uninitialized_memory is False
    assert torch.utils.deterministic.fill_uninitialized_memory is before
