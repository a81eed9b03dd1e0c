"""Where a training step's time goes: the phases of :func:`cmhm.training.loop.train_step`, timed apart.

Each step runs the same calls as ``train_step`` with a clock between them: drawing the rows, augmenting
(:func:`augment_batch`), rendering the heatmap targets, the forward pass, the loss, the backward pass and
the optimiser step (Adam, as training). ``other`` is the step's wall time not in a phase (Python, the
scheduler). Stage 2 of the cascade is timed on plain crops, as ``bench_training`` does (in training its
batches are warped by the frozen stage 1, a forward pass of stage 1 more).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from cmhm.bench.throughput import random_data, random_targets, sync
from cmhm.landmarks.markups import IBUG68
from cmhm.models.cascade import stage_plans
from cmhm.models.hourglass import ModelConfig
from cmhm.models.runtime import to_tensor
from cmhm.training.augment import AugmentConfig, augment_batch
from cmhm.training.batches import heatmap_targets
from cmhm.training.loop import TrainConfig, init_state
from cmhm.training.losses import stacked_heatmap_loss

PHASES = ("rows", "augment", "targets", "forward", "loss", "backward", "optimizer", "other")


def _timed_step(st, data, targets, cfg: TrainConfig, device: torch.device) -> dict[str, float]:
    """One training step (``cfg.augment``, plain float32) -> seconds per phase."""
    marks = [("start", time.perf_counter())]

    def mark(name: str) -> None:
        sync(device)
        marks.append((name, time.perf_counter()))

    rows = st.rng.choice(len(data), size=cfg.batch_size, replace=len(data) < cfg.batch_size)
    names = sorted(set(targets))
    images, arrays = np.asarray(data.images[rows]), {n: data.arrays[n][rows] for n in names}
    mark("rows")
    images, arrays, _ = augment_batch(images, arrays, data.perms(names), data.side[rows], cfg.augment, st.rng)
    mark("augment")
    maps, masks = heatmap_targets(arrays, targets, data.size, st.model.cfg.map_size, cfg.sigma)
    x = to_tensor(images).to(device, memory_format=cfg.memory_format)
    maps, masks = [m.to(device) for m in maps], [m.to(device) for m in masks]
    mark("targets")
    preds = st.model(x)
    mark("forward")
    total, _ = stacked_heatmap_loss(preds, maps, masks)
    mark("loss")
    st.opt.zero_grad(set_to_none=True)
    total.backward()
    mark("backward")
    st.opt.step()
    mark("optimizer")
    st.sched.step()
    st.step += 1
    mark("end")
    out = {name: t - prev for (_, prev), (name, t) in zip(marks, marks[1:]) if name != "end"}
    out["other"] = marks[-1][1] - marks[0][1] - sum(out.values())
    return out


def profile_training(
    model: ModelConfig, variants: Sequence[str], steps: int, batch: int = 8, device: str = "cpu"
) -> pd.DataFrame:
    """Per variant and stage, per phase: ms per step (median over ``steps`` steps after one warm-up step)
    and its share of the step (``share``; the phases' medians summed make ``total``)."""
    dev = torch.device(device)
    cfg = TrainConfig(steps=steps, batch_size=batch, augment=AugmentConfig())
    data = random_data(4 * batch, model.in_size)
    rows = []
    for name in variants:
        for stage, plan in enumerate(stage_plans(name, model, IBUG68)):
            st = init_state(plan.model, cfg, dev)
            st.model.train()
            targets = random_targets(plan.targets)
            _timed_step(st, data, targets, cfg, dev)
            timed = pd.DataFrame([_timed_step(st, data, targets, cfg, dev) for _ in range(steps)])
            ms = 1000 * timed.median()
            for phase in PHASES:
                rows.append({"variant": name, "stage": stage + 1, "phase": phase, "ms_per_step": ms[phase]})
    df = pd.DataFrame(rows)
    totals = df.groupby(["variant", "stage"])["ms_per_step"].transform("sum")
    df["share"] = df["ms_per_step"] / totals
    return df


def profile_table(df: pd.DataFrame) -> pd.DataFrame:
    """One row per variant and stage, one column per phase (ms per step), and the total."""
    wide = df.pivot_table(index=["variant", "stage"], columns="phase", values="ms_per_step", sort=False)
    wide = wide[list(PHASES)]
    wide["total"] = wide.sum(axis=1)
    return wide.reset_index()
