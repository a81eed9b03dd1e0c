"""Hourglass shapes, block costs, complexity counting, variants and the cascade's stop-gradient."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from cmhm.evaluation.evaluate import response_maps
from cmhm.geometry.warp import apply_affine_torch, fit_to_means, invert_affine_torch, warp_images
from cmhm.landmarks.markups import IBUG68, MENPO84
from cmhm.models.blocks import BLOCKS, Bottleneck, InceptionResNet
from cmhm.models.cascade import Cascade, build_stages, stage_plans
from cmhm.models.complexity import count_complexity
from cmhm.models.heatmaps import crop_to_map, decode_heatmaps, map_to_crop, render_heatmaps
from cmhm.models.hourglass import ModelConfig, build_hourglass
from cmhm.models.runtime import to_tensor
from cmhm.pipeline.variants import VARIANTS
from cmhm.training.losses import stacked_heatmap_loss

TINY = ModelConfig(in_size=64, n_stacks=2, depth=2, width=16)


@pytest.mark.parametrize("block", sorted(BLOCKS))
@pytest.mark.parametrize("markup", [IBUG68, MENPO84], ids=lambda m: m.name)
def test_output_shapes(block: str, markup) -> None:
    torch.manual_seed(0)
    cfg = ModelConfig(in_size=64, n_stacks=2, depth=2, width=16, block=block)
    out = build_hourglass(replace(cfg, n_points=(markup.n_points,) * cfg.n_stacks))(torch.rand(2, 3, 64, 64))
    assert len(out) == 2
    assert all(o.shape == (2, markup.n_points, cfg.map_size, cfg.map_size) for o in out)


def test_heads_may_differ_per_stack() -> None:
    out = build_hourglass(replace(TINY, n_points=(IBUG68.n_points, MENPO84.n_points)))(
        torch.rand(1, 3, 64, 64)
    )
    assert [o.shape[1] for o in out] == [IBUG68.n_points, MENPO84.n_points]


def test_bad_size_rejected() -> None:
    with pytest.raises(ValueError):
        build_hourglass(ModelConfig(in_size=60, depth=2, width=16, n_points=(5, 5)))


def test_conv_macs_hand_count() -> None:
    conv = torch.nn.Conv2d(3, 6, 3, stride=2, padding=1, bias=False)
    lin = torch.nn.Linear(6 * 4 * 4, 5)
    c = count_complexity(torch.nn.Sequential(conv, torch.nn.Flatten(), lin), 8, batch=2)
    assert c.macs == 4 * 4 * 6 * 3 * 9 + 5 * 96
    assert c.params == 6 * 3 * 9 + 5 * 96 + 5


@pytest.mark.parametrize("width", [16, 64, 256])
def test_inception_block_not_costlier(width: int) -> None:
    def macs(block):
        return count_complexity(torch.nn.Sequential(torch.nn.Conv2d(3, width, 1), block), 8).macs

    assert macs(InceptionResNet(width, width)) <= macs(Bottleneck(width, width))


def test_inception_model_not_costlier() -> None:
    c = {
        b: count_complexity(build_hourglass(ModelConfig(64, 2, 2, 32, b, n_points=(68, 68))), 64)
        for b in BLOCKS
    }
    assert c["inception_resnet"].macs <= c["bottleneck"].macs


def test_variants_are_plans() -> None:
    plans = {v: stage_plans(v, TINY, MENPO84) for v in VARIANTS}
    assert [p.targets for p in plans["baseline"]] == [("lm3d_84", "lm3d_84")]
    assert plans["inception"][0].model.block == "inception_resnet"
    assert plans["multiview"][0].model.n_points == (IBUG68.n_points, MENPO84.n_points)
    assert [p.targets for p in plans["cmhm"]] == [("union2d",), ("lm3d_84",)]


def test_cascade_stage2_loss_does_not_reach_stage1() -> None:
    torch.manual_seed(0)
    s1, s2 = build_stages("cmhm", TINY, MENPO84)
    mean = torch.rand(IBUG68.n_points, 2) * 40 + 12
    model = Cascade([s1, s2], [mean])
    images = torch.rand(2, 3, 64, 64)
    out = model(images)
    assert out["transforms"][0].shape == (2, 2, 3)
    assert out["points"][1].shape == (2, MENPO84.n_points, 2)
    hm = out["heatmaps"][1][0]
    pts = crop_to_map(torch.rand(2, MENPO84.n_points, 2) * 64, 64, hm.shape[-1])
    target = render_heatmaps(pts, hm.shape[-1], 1.0)
    loss, _ = stacked_heatmap_loss([hm], [target], [torch.ones(2, MENPO84.n_points, dtype=torch.bool)])
    loss.backward()
    assert all(p.grad is None or not p.grad.any() for p in s1.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in s2.parameters())


def test_single_stage_cascade_matches_hourglass() -> None:
    torch.manual_seed(0)
    (net,) = build_stages("baseline", TINY, IBUG68)
    net.eval()
    x = torch.rand(1, 3, 64, 64)
    out = Cascade([net])(x)
    assert torch.equal(out["heatmaps"][0][-1], net(x)[-1])
    assert np.isfinite(out["points"][0].numpy()).all()


def test_figure_stage_inputs_are_the_models_own_warp() -> None:
    """response_maps shows each stage the tensor the cascade fed it: the crop for stage 1, and for
    stage 2 the crop through the cascade's own transform (torch warp), not a cv2 re-warp."""
    torch.manual_seed(0)
    s1, s2 = build_stages("cmhm", TINY, MENPO84)
    mean = torch.rand(IBUG68.n_points, 2) * 40 + 12
    model = Cascade([s1, s2], [mean]).eval()
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (2, 64, 64, 3), dtype=np.uint8)
    maps = response_maps(model, images, "cpu")
    np.testing.assert_array_equal(maps["input_stage0"], images)
    with torch.no_grad():
        A = model(to_tensor(images))["transforms"][0]
        warped = warp_images(to_tensor(images), A, 64)
    expected = (warped * 255).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
    np.testing.assert_array_equal(maps["input_stage1"], expected)
    assert maps["response_stage1"].shape == (2, 16, 16)


def test_one_stage_link_is_the_former_inline_warp_bit_for_bit() -> None:
    """Cascade.link / run_stage (used by forward, the floors' ground-truth warp and, through forward's
    ``inputs``, the figures) give to the bit what forward computed inline before they existed: fit stage
    1's points to the mean shapes, warp the crop, decode stage 2, map back through the inverse."""
    torch.manual_seed(0)
    s1, s2 = build_stages("cmhm", TINY, MENPO84)
    mean = torch.rand(IBUG68.n_points, 2) * 40 + 12
    model = Cascade([s1, s2], [mean]).eval()
    images = torch.rand(3, 3, 64, 64)
    with torch.no_grad():
        out = model(images)
        p1, c1 = decode_heatmaps(s1(images)[-1].float())
        p1 = map_to_crop(p1, 64, 16)
        A, _ = fit_to_means(p1, c1, model.mean_shape(0))
        x2 = warp_images(images, A, 64)
        p2, c2 = decode_heatmaps(s2(x2)[-1].float())
        p2 = apply_affine_torch(invert_affine_torch(A), map_to_crop(p2, 64, 16))
    assert torch.equal(out["transforms"][0], A) and torch.equal(out["inputs"][1], x2)
    assert torch.equal(out["points"][1], p2) and torch.equal(out["confidence"][1], c2)
    assert torch.equal(out["points"][0], p1)
