"""Numeric modes of training: the fp16 gradient scaler and deterministic kernels (``train.deterministic``);
autocast (``train.amp``, shared with inference) is :func:`cmhm.models.runtime.autocast`.

Autocast applies on CUDA only: on a CPU every mode runs in float32, so CPU results do not depend on
``train.amp``. ``fp16`` pairs float16 autocast with a :class:`torch.amp.GradScaler` (float16 gradients
underflow without one); ``bf16`` needs no scaler (Ampere or newer cards).
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Iterator

import torch
import torch.utils.deterministic

from cmhm.models.runtime import parse_amp

log = logging.getLogger(__name__)
CUBLAS_WORKSPACE = ":4096:8"


def make_scaler(amp: str | bool, device: torch.device) -> torch.amp.GradScaler:
    """A gradient scaler, enabled only for fp16 on CUDA (a disabled one passes losses and steps through)."""
    return torch.amp.GradScaler(device.type, enabled=parse_amp(amp) == "fp16" and device.type == "cuda")


def optimizer_step(loss: torch.Tensor, opt: torch.optim.Optimizer, scaler: torch.amp.GradScaler) -> None:
    """Zero the gradients, back-propagate the (scaled) loss and step; a step with inf/NaN gradients is skipped."""
    opt.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    scaler.step(opt)
    scaler.update()


@contextlib.contextmanager
def deterministic_mode(enabled: bool) -> Iterator[None]:
    """While active (if ``enabled``): deterministic kernels, and each op without one is logged by name.

    Sets ``CUBLAS_WORKSPACE_CONFIG`` (unless the environment already does; cuBLAS reads it when CUDA
    starts) and ``torch.use_deterministic_algorithms(True, warn_only=True)``, without its filling of
    every new tensor with NaN (``torch.utils.deterministic.fill_uninitialized_memory``): a guard against
    reading memory no op wrote, which no result depends on, and which cost 17 % of a CPU training step
    (11,000 fills per step at 128 px; README, Performance). "Deterministic" means the
    same results on one machine with the same library versions.
    """
    if not enabled:
        yield
        return
    prev = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    fill = torch.utils.deterministic.fill_uninitialized_memory
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.utils.deterministic.fill_uninitialized_memory = False
    with warnings.catch_warnings():
        warnings.filterwarnings("always", message=".*deterministic.*")
        shown = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
            if "deterministic" in str(message):
                log.warning("not deterministic: %s", message)
            else:
                shown(message, category, filename, lineno, file, line)

        warnings.showwarning = show
        try:
            yield
        finally:
            torch.use_deterministic_algorithms(prev[0], warn_only=prev[1])
            torch.utils.deterministic.fill_uninitialized_memory = fill
