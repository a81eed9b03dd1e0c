"""`make bench`: inference, training and loader throughput on this machine, ratios first.

Writes ``{out}/inference.csv`` (every timing, per round), ``{out}/training.csv``, ``{out}/loader.csv``
and ``{out}/bench.md`` (the machine, the ratios against the goals of issue 13, and per-model ms/face).
Speed targets live here, not in unit tests. Absolute times mean something only on the named machine.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from cmhm.landmarks.markups import IBUG68
from cmhm.models.cascade import stage_plans
from cmhm.models.complexity import count_complexity
from cmhm.models.hourglass import ModelConfig, build_hourglass
from cmhm.models.runtime import resolve_device
from cmhm.pipeline.provenance import code_version
from cmhm.training.augment import AugmentConfig
from cmhm.training.batches import TrainData, make_batch
from cmhm.training.loop import TrainConfig, init_state, train_step


def sync(device: torch.device | None) -> None:
    """Wait for ``device``'s queued work (CUDA runs asynchronously; a timing must include it)."""
    if device is not None and device.type == "cuda":
        torch.cuda.synchronize(device)


def items_per_s(fn: Callable[[], int], repeats: int, device: torch.device | None = None) -> float:
    """Items per second of ``fn`` (which returns how many items it processed), after one warm-up call."""
    fn()
    sync(device)
    t0, n = time.perf_counter(), 0
    for _ in range(repeats):
        n += fn()
    sync(device)
    return n / (time.perf_counter() - t0)


def random_data(n: int, size: int, seed: int = 0) -> TrainData:
    """Random crops with plausible landmark arrays, for throughput only."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 255, (n, size, size, 3), dtype=np.uint8)
    pts = rng.uniform(0.2 * size, 0.8 * size, (n, IBUG68.n_points, 3)).astype(np.float32)
    arrays = {"lm3d_68": pts, "union2d": pts[..., :2].copy()}
    return TrainData(images, arrays, np.array([""] * n, dtype=object))


def random_targets(targets: Sequence[str]) -> list[str]:
    """The :func:`random_data` arrays a stage's stacks train on (``targets``: the stage plan's)."""
    return ["union2d" if t == "union2d" else "lm3d_68" for t in targets]


def bench_training(
    model: ModelConfig,
    variants: Sequence[str],
    steps: int,
    batch: int = 8,
    device: str | torch.device = "auto",
    amp: str | None = None,
) -> pd.DataFrame:
    """Training images/s of every stage of ``variants`` (random crops, full augmentation, the default
    ``train.amp`` unless ``amp`` is given), and the arithmetic rate it implies (3 x the forward MACs x 2
    FLOPs per image)."""
    cfg = TrainConfig(steps=steps, batch_size=batch)
    cfg = replace(cfg, amp=amp) if amp else cfg
    data = random_data(4 * batch, model.in_size)
    dev = resolve_device(device) if isinstance(device, str) else device
    rows = []
    for name in variants:
        for stage, plan in enumerate(stage_plans(name, model, IBUG68)):
            with torch.device("meta"):
                macs = count_complexity(build_hourglass(plan.model), model.in_size).macs
            st = init_state(plan.model, cfg, dev)
            targets = random_targets(plan.targets)
            rate = items_per_s(lambda: (train_step(st, data, targets, cfg, dev), batch)[1], steps, dev)
            rows.append(
                {
                    "variant": name,
                    "stage": stage + 1,
                    "amp": cfg.amp if dev.type == "cuda" else "off (CPU)",
                    "images_per_s": rate,
                    "s_per_step": batch / rate,
                    "TFLOPS": 6 * macs * rate / 1e12,
                }
            )
    return pd.DataFrame(rows)


def bench_loader(model: ModelConfig, steps: int, batch: int = 8) -> float:
    """Images/s of one data-loading process (augmentation + heatmap targets) at ``model``'s sizes."""
    data, rng, aug = random_data(64, model.in_size), np.random.default_rng(0), AugmentConfig()

    def load() -> int:
        make_batch(data, rng.choice(64, batch), ["lm3d_68"], model.map_size, 1.0, aug, rng)
        return batch

    return items_per_s(load, steps)


def dry_run_seconds(configfile: str, timeout: int = 300) -> float:
    """Wall time of ``snakemake -n --configfile configfile`` in the current directory (NaN if it fails)."""
    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", "snakemake", "-n", "--quiet", "--configfile", configfile]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if res.returncode:
        print(f"bench: {' '.join(cmd)} failed:\n{res.stderr[-2000:]}", file=sys.stderr)
        return float("nan")
    return time.perf_counter() - t0


def _cpuinfo(field: str) -> str | None:
    """The first ``field`` of ``/proc/cpuinfo`` ('' if absent), None where that file cannot be read."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None
    return next((ln.split(":", 1)[1].strip() for ln in info.splitlines() if ln.startswith(field)), "")


def cpu_flags() -> set[str]:
    """The CPU's feature flags (``/proc/cpuinfo``; empty elsewhere)."""
    return set((_cpuinfo("flags") or "").split())


def cpu_name() -> str:
    """The CPU's model name and widest vector extension (``/proc/cpuinfo``; the platform's name elsewhere):
    timings and float rounding differ between AVX-512 and AVX2-only CPUs."""
    name = _cpuinfo("model name")
    if name is None:
        return platform.processor() or platform.machine()
    flags = cpu_flags()
    wide = (("avx512f", "AVX-512"), ("avx2", "AVX2"), ("avx", "AVX"))
    isa = next((label for flag, label in wide if flag in flags), "no AVX")
    return f"{name or platform.machine()} ({isa})"


def machine(device: torch.device | None = None, malloc: str = "untouched") -> str:
    """One line naming the machine, the code and the settings that change CPU timings (and the GPU, on
    CUDA); ``malloc``: what :func:`cmhm.inference.allocator.keep_freed_memory` did."""
    omp = os.environ.get("OMP_WAIT_POLICY", "unset")
    gpu = (
        f"{torch.cuda.get_device_name(device)}, CUDA {torch.version.cuda}, "
        if device and device.type == "cuda"
        else ""
    )
    return gpu + (
        f"{cpu_name()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, OMP_WAIT_POLICY={omp}, malloc thresholds: {malloc}, load average {os.getloadavg()[0]:.1f}; "
        f"code {code_version()}"
    )
