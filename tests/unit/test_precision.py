"""``precision="bf16"`` (``cmhm predict --precision bf16``): only the stage networks compute in bfloat16;
decoding, the Procrustes fit and the warp between stages stay float32, and the model file's cascade is
never changed."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch

from cmhm.bench.inference import random_cascade
from cmhm.bench.throughput import cpu_flags
from cmhm.inference.api import FaceAligner
from cmhm.models.cascade import Cascade
from cmhm.models.fuse import fuse_for_inference
from cmhm.models.hourglass import ModelConfig
from cmhm.models.runtime import native_bf16

from .model_files import bare_model_file

SMALL = ModelConfig(in_size=32, width=16, depth=2)
DEVICES = [
    "cpu",
    pytest.param(
        "cuda",
        marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (GPU machine)"),
    ),
]


@pytest.fixture
def fused() -> Cascade:
    return fuse_for_inference(random_cascade("cmhm", SMALL, seed=5), channels_last=True)


@pytest.mark.parametrize("device", DEVICES)
def test_bf16_runs_the_networks_in_bf16_and_returns_float32(fused: Cascade, device: str) -> None:
    fused = fused.to(device)
    x = torch.rand(2, 3, SMALL.in_size, SMALL.in_size, generator=torch.Generator().manual_seed(0)).to(device)
    with torch.inference_mode():
        ref = fused(x)["heatmaps"][0][-1]
        fused.net_dtype = torch.bfloat16
        out = fused(x)
    got = out["heatmaps"][0][-1]
    assert all(v.dtype == torch.float32 for k in out for part in out[k] for v in _tensors(part))
    # Stage 1 sees the same crop in both runs. bfloat16 keeps 8 significant bits (each rounding within
    # 2^-9 relative) and oneDNN accumulates in float32, so through this net's ~20 convolutions the maps
    # stay within a few per cent of their range; float32 and bf16 kernels cannot agree exactly.
    scale = ref.abs().max()
    assert 0 < (got - ref).abs().max() <= 0.05 * scale


@pytest.mark.parametrize("device", DEVICES)
def test_the_fit_between_stages_is_float32_under_bf16(fused: Cascade, device: str) -> None:
    """The transform stage 2 gets is the float32 Procrustes fit of stage 1's (bf16-computed) points: the
    same fit outside autocast gives it exactly (under autocast its matrix products would run in bf16)."""
    fused = fused.to(device)
    fused.net_dtype = torch.bfloat16
    x = torch.rand(2, 3, SMALL.in_size, SMALL.in_size, generator=torch.Generator().manual_seed(1)).to(device)
    with torch.inference_mode():
        out = fused(x)
        want = Cascade.canonical_fit(out["points"][0], out["confidence"][0], fused.mean_shape(0))
    assert out["transforms"][0].dtype == torch.float32
    torch.testing.assert_close(out["transforms"][0], want, rtol=0, atol=0)


@pytest.mark.parametrize("fast", [True, False])
def test_a_bf16_aligner_leaves_the_model_files_cascade_float32(fast: bool) -> None:
    model = bare_model_file(random_cascade("cmhm", SMALL, seed=6), SMALL.in_size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # no native bf16 on some CPUs: its own test
        fa = FaceAligner(model, device="cpu", fast=fast, precision="bf16")
    assert (
        fa.net.net_dtype == torch.bfloat16 and model.cascade.net_dtype is None and fa.net is not model.cascade
    )
    # on a CPU float32 runs one face per call (fast), bf16 many (batched bf16 paid in make bench)
    assert fa.net_batch == 16
    plain = FaceAligner(model, device="cpu", fast=fast)
    assert plain.net.net_dtype is None and plain.net_batch == (1 if fast else 16)
    with pytest.raises(ValueError, match=r"precision must be one of \['bf16', 'float32'\]; got 'fp16'"):
        FaceAligner(model, device="cpu", precision="fp16")


@pytest.mark.skipif(
    not Path("/proc/cpuinfo").is_file(), reason="reads the CPU's flags from /proc/cpuinfo (Linux)"
)
def test_native_bf16_follows_the_cpu_flags_and_the_aligner_warns_without_it() -> None:
    native = bool(cpu_flags() & {"avx512_bf16", "amx_bf16"})
    assert native_bf16(torch.device("cpu")) is native
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        FaceAligner(
            bare_model_file(random_cascade("cmhm", SMALL, seed=7), SMALL.in_size),
            device="cpu",
            precision="bf16",
        )
    assert any("no native bfloat16" in str(w.message) for w in caught) is not native


def _tensors(part) -> list[torch.Tensor]:
    return [part] if isinstance(part, torch.Tensor) else [t for p in part for t in _tensors(p)]
