"""Inference speed of the Table-I variants and FAN-4, side by side in one process, in several forms.

Forms: ``eager`` (eval + ``no_grad``, the unfused model), ``inference_mode`` (same model, no autograd
bookkeeping), ``fused`` (:func:`fuse_for_inference`), ``fast`` (fused + channels_last) and, at batch > 1,
``fast_chunk1`` (:class:`FastInference` feeding one face per call), and for the cascades ``onnx`` (the
exported graph in ONNX Runtime, :class:`cmhm.inference.onnx_backend.OnnxCascade`). On CUDA (``CUDA_FORMS``): ``eager``,
``fast``, ``fast_bf16`` (``fast`` under bf16 autocast) and ``graph_bf16`` (``fast_bf16`` captured once as a
CUDA graph and replayed: no per-kernel launch cost). Every round times every (model, form, batch) once,
in a rotating order, so that load on a shared machine hits all of them alike; ratios are taken within a
round and summarised over rounds (median, min, max).
"""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
import torch
from torch import nn

from cmhm.bench.fan import Fan
from cmhm.bench.throughput import sync
from cmhm.inference.export import onnx_graph
from cmhm.inference.onnx_backend import OnnxCascade
from cmhm.landmarks.markups import IBUG68, Markup
from cmhm.models.cascade import Cascade, build_stages
from cmhm.models.fuse import FastInference, fuse_for_inference
from cmhm.models.graphs import capture_cuda_graph
from cmhm.models.hourglass import ModelConfig
from cmhm.models.runtime import native_bf16
from cmhm.pipeline.variants import PAPER_VARIANTS

# the cascades with a lighter stage 2 (issue 27: half size; half size and 3/4 or half width)
LIGHT_VARIANTS = ("cmhm_light", "cmhm_mid", "cmhm_slim")
# the Table-I variants in table order, and the lighter cascades; the compact preset is timed at its own
# size (cmhm.bench.presets)
VARIANT_NAMES = (*PAPER_VARIANTS, *LIGHT_VARIANTS)
FORMS = ("eager", "inference_mode", "fused", "fast", "fast_chunk1", "onnx")
BF16_FORM = "bf16"  # timed on a CPU that computes bfloat16 natively (AMX, AVX512-BF16)
CUDA_FORMS = ("eager", "fast", "fast_bf16", "graph_bf16")


def random_cascade(variant: str, base: ModelConfig, markup3d: Markup = IBUG68, seed: int = 0) -> Cascade:
    """An eval-mode cascade of ``variant`` with random weights and mean shapes inside each later stage's
    input (the time is that of a trained model's arithmetic)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    stages = build_stages(variant, base, markup3d)
    means = [
        torch.as_tensor(rng.uniform(0.3, 0.7, (s.n_points[-1], 2)) * stages[i + 1].cfg.in_size)
        for i, s in enumerate(stages[:-1])
    ]
    return Cascade(stages, means).eval()


def bench_models(cfg: ModelConfig, markup3d: Markup = IBUG68, seed: int = 0) -> dict[str, nn.Module]:
    """Randomly initialised eval-mode models: one cascade per Table-I variant, and FAN-4."""
    models: dict[str, nn.Module] = {name: random_cascade(name, cfg, markup3d, seed) for name in VARIANT_NAMES}
    models["fan4"] = Fan(IBUG68.n_points, n_stacks=4, depth=cfg.depth, width=cfg.width).eval()
    return models


@functools.cache
def _onnx_session(model: Cascade, size: int):
    """One ONNX Runtime session per bench cascade (exporting takes seconds), on torch's thread count."""
    return OnnxCascade(onnx_graph(model, size).SerializeToString(), torch.get_num_threads()).session


def make_call(model: nn.Module, form: str, x: torch.Tensor) -> Callable[[], object]:
    """A no-argument call running ``model`` on ``x`` in ``form`` and returning its output (``*_bf16``
    forms: CUDA only; ``bf16``: a cascade's ``fast`` form with its stage networks in bfloat16, as
    ``precision="bf16"`` runs it)."""
    if form == "eager":
        return lambda: run_in(model, x, torch.no_grad)
    if form == "inference_mode":
        return lambda: run_in(model, x, torch.inference_mode)
    if form == "onnx":
        if not isinstance(model, Cascade):
            raise RuntimeError("only a cascade is exported to ONNX")
        run = _onnx_session(model, x.shape[-1])
        feed = {"images": x.cpu().numpy()}
        return lambda: run.run(None, feed)
    if form == "fused":
        fused = fuse_for_inference(model)
        return lambda: run_in(fused, x, torch.inference_mode)
    fast = FastInference(model, channels_last=True, chunk=1 if form == "fast_chunk1" else 0)
    if form == "bf16":  # what `cmhm predict --precision bf16` runs: the stage networks under bf16 autocast
        if not isinstance(model, Cascade):
            raise RuntimeError("only a cascade runs its stage networks in bf16")
        fast.model.net_dtype = torch.bfloat16
        return lambda: run_in(fast, x, torch.inference_mode)
    if form == "fast_bf16":
        return lambda: run_in(fast, x, _bf16)
    if form == "graph_bf16":
        return cuda_graph(fast, x)
    return lambda: run_in(fast, x, torch.inference_mode)


def run_in(model: nn.Module, x: torch.Tensor, mode: Callable = torch.inference_mode) -> object:
    """``model(x)`` under the context ``mode()`` (default: ``torch.inference_mode``)."""
    with mode():
        return model(x)


class _bf16:
    """``inference_mode`` + bf16 autocast on CUDA, as one context manager."""

    def __enter__(self) -> None:
        self._ctx = (torch.inference_mode(), torch.autocast("cuda", torch.bfloat16))
        for c in self._ctx:
            c.__enter__()

    def __exit__(self, *exc) -> None:
        for c in reversed(self._ctx):
            c.__exit__(*exc)


def cuda_graph(model: nn.Module, x: torch.Tensor, warmup: int = 3) -> Callable[[], object]:
    """``model(x)`` under bf16 autocast captured once as a CUDA graph; the call replays it and returns
    the graph's output buffers (same input buffer, same output buffers: what a server feeding
    fixed-size batches would do)."""
    return capture_cuda_graph(model, x.clone(), warmup, context=_bf16)


def time_rounds(
    calls: dict[tuple, Callable[[], None]], rounds: int, device: torch.device | None = None, inner: int = 1
) -> pd.DataFrame:
    """Seconds of each call in each round (one warm-up call each first), in a rotating order; each
    timing is the mean of ``inner`` back-to-back calls (on CUDA, synchronised before and after). Keys
    are (model, form, batch); ``ms_per_face`` is the timing per item of the batch."""
    device = device or torch.device("cpu")
    keys = list(calls)
    for k in keys:
        calls[k]()
    sync(device)
    rows = []
    for r in range(rounds):
        for k in keys[r % len(keys) :] + keys[: r % len(keys)]:
            sync(device)
            t0 = time.perf_counter()
            for _ in range(inner):
                calls[k]()
            sync(device)
            rows.append((*k, r, (time.perf_counter() - t0) / inner))
    t = pd.DataFrame(rows, columns=["model", "form", "batch", "round", "seconds"])
    t["ms_per_face"] = 1000 * t["seconds"] / t["batch"]
    return t


def native_bf16_forms() -> tuple[str, ...]:
    """``(BF16_FORM,)`` where the CPU computes bfloat16 natively (AMX, AVX512-BF16), else ``()``: elsewhere
    bf16 is emulated, slower than float32, and not timed."""
    return (BF16_FORM,) if native_bf16(torch.device("cpu")) else ()


def cpu_forms() -> tuple[str, ...]:
    """The CPU forms: :data:`FORMS`, and :data:`BF16_FORM` where the CPU computes bfloat16 natively."""
    return FORMS + native_bf16_forms()


def bench_inference(
    cfg: ModelConfig,
    batches: tuple[int, ...] = (1, 8),
    rounds: int = 3,
    forms: tuple[str, ...] | None = None,
    device: torch.device | str = "cpu",
    inner: int = 1,
) -> pd.DataFrame:
    """Every timing (model, form, batch, round, seconds, ms_per_face). On a CPU the intermediate forms
    ('inference_mode', 'fused') run at batch 1 for the variants only, and multiview (inception's
    architecture) at batch 1 only, to keep the bench short. A form that cannot be built (a CUDA graph
    capture that fails, say) is named on stderr and left out."""
    device = torch.device(device)
    forms = forms or (CUDA_FORMS if device.type == "cuda" else cpu_forms())
    models = {k: m.to(device) for k, m in bench_models(cfg).items()}
    calls = {}
    for b in batches:
        x = torch.rand(b, 3, cfg.in_size, cfg.in_size, device=device)
        for name, model in models.items():
            for form in forms:
                skip_b1 = form == "fast_chunk1" and b == 1
                skip_mv = name == "multiview" and b > 1  # the inception architecture with other head widths
                skip_light = name in LIGHT_VARIANTS and form in ("inference_mode", "fused")
                skip_fan = name == "fan4" and form in ("onnx", BF16_FORM)  # a reference model, no cascade
                if (
                    skip_b1
                    or skip_mv
                    or skip_light
                    or skip_fan
                    or (b > 1 or name == "fan4")
                    and form in ("inference_mode", "fused")
                ):
                    continue
                try:
                    calls[(name, form, b)] = make_call(model, form, x)
                except (RuntimeError, AssertionError) as exc:
                    print(
                        f"bench: {name} {form} batch {b} not timed: {type(exc).__name__}: {exc}",
                        file=sys.stderr,
                    )
    return time_rounds(calls, rounds, device, inner)


def summarise(times: pd.DataFrame) -> pd.DataFrame:
    """ms/face per (model, form, batch): median, min, max over rounds."""
    g = times.groupby(["model", "form", "batch"])["ms_per_face"]
    return g.agg(ms_median="median", ms_min="min", ms_max="max").reset_index()


def per_round(times: pd.DataFrame, key: tuple) -> pd.Series:
    """ms/face of the (model, form, batch) ``key`` in each round, indexed by round."""
    m, f, b = key
    sel = times[(times["model"] == m) & (times["form"] == f) & (times["batch"] == b)]
    return sel.set_index("round")["ms_per_face"]


def ratio(times: pd.DataFrame, num: tuple, den: tuple) -> tuple[float, float, float, float]:
    """Within-round ratio of two (model, form, batch) timings: median, min, max over rounds, and the
    ratio of the two fastest times (the least disturbed by other load on a shared machine)."""
    a, b = per_round(times, num), per_round(times, den)
    r = a / b
    return float(r.median()), float(r.min()), float(r.max()), float(a.min() / b.min())
