"""Training images/s before and after issue 25's per-step changes, side by side in one run.

Three modes per variant stage, each timing ``train_step`` (augmented random crops, deterministic mode as
training runs it):

- ``before``: as training ran until issue 25: NCHW tensors, deterministic mode filling every new tensor
  with NaN (``torch.utils.deterministic.fill_uninitialized_memory``), one job of ``threads`` threads;
- ``after, one job``: channels_last, no NaN fill, one job of ``threads`` threads;
- ``after, N jobs of one thread``: the same step in ``threads`` processes of one thread each, started
  together (what ``rules/train.smk``'s ``threads: 1`` gives Snakemake on ``--cores threads``): images/s
  summed over the processes.
"""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Sequence
from dataclasses import replace

import pandas as pd
import torch
import torch.utils.deterministic

from cmhm.bench.throughput import items_per_s, random_data, random_targets
from cmhm.landmarks.markups import IBUG68
from cmhm.models.cascade import stage_plans
from cmhm.models.hourglass import ModelConfig
from cmhm.models.runtime import resolve_device
from cmhm.training.loop import TrainConfig, init_state, train_step
from cmhm.training.precision import deterministic_mode

BEFORE, ONE_JOB, JOBS = "before", "after, one job", "after, jobs of one thread"


def _rate(
    plan_model: ModelConfig, targets: list[str], cfg: TrainConfig, steps: int, fill: bool, device
) -> float:
    """Images/s of ``steps`` training steps after two warm-up steps, in deterministic mode (``fill``:
    with the NaN fill of new tensors, as before issue 25)."""
    data = random_data(4 * cfg.batch_size, plan_model.in_size)
    with deterministic_mode(True):
        torch.utils.deterministic.fill_uninitialized_memory = fill
        st = init_state(plan_model, cfg, device)
        step = lambda: (train_step(st, data, targets, cfg, device), cfg.batch_size)[1]  # noqa: E731
        step()  # the first warm-up step; items_per_s runs the second
        return items_per_s(step, steps, device)


def _worker(args: tuple) -> float:
    """One process of the ``jobs`` mode: one thread, wait for the others, then time."""
    plan_model, targets, cfg, steps, barrier = args
    torch.set_num_threads(1)
    barrier.wait()
    return _rate(plan_model, targets, cfg, steps, False, torch.device("cpu"))


def _parallel_rate(
    plan_model: ModelConfig, targets: list[str], cfg: TrainConfig, steps: int, jobs: int
) -> float:
    """Summed images/s of ``jobs`` one-thread processes training at once."""
    ctx = mp.get_context("spawn")
    with ctx.Manager() as manager:
        barrier = manager.Barrier(jobs)
        with ctx.Pool(jobs) as pool:
            return float(sum(pool.map(_worker, [(plan_model, targets, cfg, steps, barrier)] * jobs)))


def bench_train_modes(
    model: ModelConfig, variants: Sequence[str], steps: int, threads: int = 2, device: str = "cpu"
) -> pd.DataFrame:
    """Images/s of every stage of ``variants`` in the three modes (module docstring), with
    ``after / before`` ratios. On CUDA only the two one-job modes run (one job owns the card)."""
    dev = resolve_device(device)
    after = TrainConfig(steps=steps, channels_last=True)
    before = replace(after, channels_last=False)
    torch.set_num_threads(threads)  # the one-job modes (the jobs mode's processes set one thread each)
    rows = []
    for name in variants:
        for stage, plan in enumerate(stage_plans(name, model, IBUG68)):
            targets = random_targets(plan.targets)
            rates = {
                BEFORE: _rate(plan.model, targets, before, steps, True, dev),
                ONE_JOB: _rate(plan.model, targets, after, steps, False, dev),
            }
            if dev.type == "cpu" and threads > 1:
                rates[JOBS] = _parallel_rate(plan.model, targets, after, steps, threads)
            row = {"variant": name, "stage": stage + 1, **{f"{k} img/s": v for k, v in rates.items()}}
            row.update({f"{k} / before": v / rates[BEFORE] for k, v in rates.items() if k != BEFORE})
            rows.append(row)
    return pd.DataFrame(rows)
