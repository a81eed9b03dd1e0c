"""Running a trained model: device choice, the input tensor, autocast, and prediction of crops.

What training, evaluation and ``cmhm.load`` share at run time, below all of them: evaluation and the
Python API predict without importing the training loop (so editing it reruns no evaluation).

Autocast applies on CUDA only: on a CPU every mode runs in float32, so CPU results do not depend on
``train.amp``.
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch

from cmhm.models.cascade import Cascade
from cmhm.models.hourglass import ModelConfig, StackedHourglass, build_hourglass

AMP_DTYPES: dict[str, torch.dtype | None] = {"bf16": torch.bfloat16, "fp16": torch.float16, "off": None}


def parse_amp(value: str | bool) -> str:
    """``train.amp`` as one of :data:`AMP_DTYPES`; the booleans of older configs mean 'bf16' / 'off'."""
    if isinstance(value, bool):
        return "bf16" if value else "off"
    if value not in AMP_DTYPES:
        raise ValueError(f"train.amp: {value!r} is not one of {sorted(AMP_DTYPES)} (or true/false)")
    return value


def autocast(amp: str | bool, device: torch.device) -> contextlib.AbstractContextManager:
    """The autocast context of ``amp`` on ``device`` (disabled off CUDA and for 'off')."""
    dtype = AMP_DTYPES[parse_amp(amp)]
    enabled = dtype is not None and device.type == "cuda"
    return torch.autocast(device.type, dtype=dtype or torch.bfloat16, enabled=enabled)


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` computes bfloat16 natively: CUDA's own answer; on a CPU, AVX512-BF16 or AMX
    (without them oneDNN emulates bf16, slower than float32)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, p, lambda: False)() for p in probes)


def resolve_device(name: str) -> torch.device:
    """'auto' (CUDA when available, else the CPU), 'cpu' or 'cuda' as a device."""
    return (
        torch.device("cuda" if torch.cuda.is_available() else "cpu") if name == "auto" else torch.device(name)
    )


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 [B, S, S, 3] -> float32 [B, 3, S, S] in [0, 1] (a read-only batch, e.g. a memory-map slice, is copied)."""
    batch = np.require(images, requirements=("C", "W"))
    return torch.from_numpy(batch).permute(0, 3, 1, 2).float().div_(255.0)


def stage_from_state(state: dict, device: str | torch.device = "cpu") -> StackedHourglass:
    """The stage a training ``model.pt`` / ``checkpoint.pt`` state holds (its ``config["model"]`` and
    ``state_dict``), in evaluation mode on ``device``."""
    model = build_hourglass(ModelConfig.from_dict(state["config"]["model"]))
    model.load_state_dict(state["state_dict"])
    return model.to(device).eval()


@torch.inference_mode()
def predict(
    model: Cascade | StackedHourglass,
    images: np.ndarray,
    batch_size: int = 16,
    device: str = "auto",
    amp: str | bool = "off",
) -> dict:
    """Landmarks of crops uint8 [N, S, S, 3], in crop pixels (``amp``: autocast as in training, CUDA only).

    Returns numpy arrays: ``points`` [N, K, 2] and ``confidence`` [N, K] (the last stage's last
    stack) and, per stage ``i``, ``stage{i}_points`` / ``stage{i}_confidence``.
    """
    cascade = Cascade([model]) if isinstance(model, StackedHourglass) else model
    dev = resolve_device(device)
    cascade = cascade.to(dev).eval()
    parts: dict[str, list[np.ndarray]] = {}
    for lo in range(0, len(images), batch_size):
        with autocast(amp, dev):
            res = cascade(to_tensor(np.asarray(images[lo : lo + batch_size])).to(dev))
        for i, (p, c) in enumerate(zip(res["points"], res["confidence"])):
            parts.setdefault(f"stage{i}_points", []).append(p.cpu().numpy())
            parts.setdefault(f"stage{i}_confidence", []).append(c.cpu().numpy())
    out = {k: np.concatenate(v) for k, v in parts.items()}
    last = len(cascade.stages) - 1
    out["points"], out["confidence"] = out[f"stage{last}_points"], out[f"stage{last}_confidence"]
    return out
