"""Inference forms equal the trained forms (BN folding, merged 1x1s, channels_last) and the inception
block's compute-matched width rule matches the bottleneck's MACs."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from torch import nn

from cmhm.landmarks.markups import IBUG68, MENPO84
from cmhm.models.blocks import Bottleneck, InceptionResNet, bottleneck_macs, inception_macs, matched_widths
from cmhm.models.cascade import Cascade, build_stages
from cmhm.models.complexity import count_complexity
from cmhm.models.fuse import FastInference, FusedBottleneck, FusedInception, fuse_for_inference
from cmhm.models.hourglass import ModelConfig, build_hourglass


def randomise_bn(model: nn.Module, seed: int = 0) -> nn.Module:
    """Non-trivial BN statistics and affine parameters, so that folding has something to fold."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=g) * 0.5)
            m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(n, generator=g) * 0.2)
    return model.eval()


@pytest.mark.parametrize("rule", ["paper", "matched"])
@pytest.mark.parametrize(("c_in", "c_out"), [(16, 16), (8, 16), (16, 32)])
def test_fused_blocks_equal_unfused(rule: str, c_in: int, c_out: int) -> None:
    torch.manual_seed(0)
    x = torch.randn(2, c_in, 12, 12)
    for block in (Bottleneck(c_in, c_out), InceptionResNet(c_in, c_out, rule)):
        randomise_bn(block)
        fused = fuse_for_inference(block)
        assert isinstance(fused[0], (FusedBottleneck, FusedInception))
        assert sum(isinstance(m, nn.BatchNorm2d) for m in fused.modules()) == 1  # only the block's leading BN
        with torch.no_grad():
            torch.testing.assert_close(fused(x), block(x), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(("c_in", "c_out"), [(16, 16), (8, 16)])
def test_fused_blocks_write_only_their_own_tensors(c_in: int, c_out: int) -> None:
    """The fused blocks build their output in place (tails over the merged 1x1's slices, the skip added
    into it): the input, which the hourglass reuses, stays as it was, channels_last or not, and under
    bf16 autocast the output has the unfused block's dtype and values. Tolerance: both run the same bf16
    convolutions, but the folded weights carry the BN scale before they are rounded to bf16, the unfused
    ones after; so an output (bf16, |value| up to ~5 here) can land a step or two of bf16's spacing away
    (2^-8 to 2^-7 of the value: 0.031 at 4-5; 0.016 measured). rtol 5e-2 is several such steps anywhere;
    atol 5e-2 covers the outputs near zero, where a relative bound alone would not."""
    torch.manual_seed(0)
    for block in (Bottleneck(c_in, c_out), InceptionResNet(c_in, c_out)):
        randomise_bn(block)
        for channels_last in (False, True):
            fused = fuse_for_inference(block, channels_last=channels_last)
            x = torch.randn(2, c_in, 12, 12)
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            before = x.clone()
            with torch.no_grad():
                fused(x)
            assert torch.equal(x, before)
        with torch.no_grad(), torch.autocast("cpu", torch.bfloat16):
            got, want = fuse_for_inference(block)(x), block(x)
        assert got.dtype == want.dtype
        torch.testing.assert_close(got.float(), want.float(), atol=5e-2, rtol=5e-2)


def test_fused_inception_has_one_1x1_for_all_branches() -> None:
    block = InceptionResNet(32, 32)
    fused = fuse_for_inference(block)[0]
    convs_1x1 = [m for m in fused.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1)]
    assert convs_1x1 == [fused.reduce] and fused.reduce.out_channels == 32


@pytest.mark.parametrize("block", ["bottleneck", "inception_resnet"])
@pytest.mark.parametrize("channels_last", [False, True])
def test_fused_hourglass_equals_unfused(block: str, channels_last: bool) -> None:
    torch.manual_seed(0)
    cfg = ModelConfig(in_size=64, n_stacks=2, depth=2, width=16, block=block)
    net = randomise_bn(build_hourglass(replace(cfg, n_points=(IBUG68.n_points,) * cfg.n_stacks))).double()
    fused = fuse_for_inference(net, channels_last=channels_last)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fused.stem[0].modules())
    x = torch.rand(2, 3, 64, 64, dtype=torch.float64)
    xf = x.to(memory_format=torch.channels_last) if channels_last else x
    with torch.no_grad():
        for got, want in zip(fused(xf), net(x)):
            torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


def test_fused_cascade_equals_unfused() -> None:
    torch.manual_seed(0)
    cfg = ModelConfig(in_size=64, depth=2, width=16)
    stages = [randomise_bn(s, i) for i, s in enumerate(build_stages("cmhm", cfg, MENPO84))]
    model = Cascade(stages, [torch.rand(IBUG68.n_points, 2) * 40 + 12]).double().eval()
    x = torch.rand(2, 3, 64, 64, dtype=torch.float64)
    with torch.no_grad():
        want, got = model(x), fuse_for_inference(model)(x)
    for key in ("points", "transforms"):
        for g, w in zip(got[key], want[key]):
            torch.testing.assert_close(g, w, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(got["heatmaps"][1][0], want["heatmaps"][1][0], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("width", [16, 32, 64, 128, 256])
def test_matched_block_rule_within_5_percent(width: int) -> None:
    for c_in, c_out in ((width, width), (width // 4, width // 2), (width // 2, width)):
        widths = matched_widths(c_in, c_out)
        assert sum(widths) == c_out and min(widths) >= 1
        assert abs(inception_macs(c_in, widths) / bottleneck_macs(c_in, c_out) - 1) <= 0.05


@pytest.mark.parametrize(("size", "width", "depth"), [(64, 16, 2), (64, 64, 3), (256, 256, 4)])
def test_matched_model_within_5_percent_paper_form_cheaper(size: int, width: int, depth: int) -> None:
    def macs(block: str, rule: str = "paper") -> int:
        cfg = ModelConfig(size, 2, depth, width, block, inception_width=rule)
        with torch.device("meta"):
            return count_complexity(
                build_hourglass(replace(cfg, n_points=(IBUG68.n_points,) * cfg.n_stacks)), size
            ).macs

    base = macs("bottleneck")
    assert abs(macs("inception_resnet", "matched") / base - 1) <= 0.05
    assert macs("inception_resnet", "paper") / base < 0.95  # the paper's form stays the cheaper Table I arm


def test_unknown_width_rule_named() -> None:
    with pytest.raises(KeyError, match="inception width 'wide'"):
        build_hourglass(
            ModelConfig(64, 2, 2, 16, "inception_resnet", inception_width="wide", n_points=(5, 5))
        )


def test_fast_inference_chunks_equal_whole_batch() -> None:
    torch.manual_seed(0)
    cfg = ModelConfig(in_size=64, depth=2, width=16)
    stages = [randomise_bn(s, i) for i, s in enumerate(build_stages("cmhm", cfg, MENPO84))]
    model = Cascade(stages, [torch.rand(IBUG68.n_points, 2) * 40 + 12]).double().eval()
    x = torch.rand(3, 3, 64, 64, dtype=torch.float64)
    with torch.inference_mode():
        want, got = model(x), FastInference(model, channels_last=True, chunk=1)(x)
    assert got["points"][1].shape == want["points"][1].shape == (3, MENPO84.n_points, 2)
    torch.testing.assert_close(got["points"][1], want["points"][1], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(got["heatmaps"][0][0], want["heatmaps"][0][0], atol=1e-5, rtol=1e-5)
