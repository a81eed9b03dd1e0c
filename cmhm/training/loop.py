"""Training one hourglass stage (resumable, deterministic on CPU).

Files in a stage's output folder: ``checkpoint.pt`` (every ``checkpoint_every`` steps: weights,
optimiser, scheduler, step, RNG states, config, code version, inputs digest; the one before it is
kept as ``checkpoint.prev.pt``), ``log.csv`` (``step,loss,loss_stack0,...,lr,images_per_s`` and, with ``val_size``, ``val_nme``) and, at
the end, ``model.pt`` (weights, config, step, code version, inputs digest, variant, stage, markups).
Rerunning after a kill resumes from the checkpoint and ends with the same weights as an uninterrupted
run; a checkpoint made from other inputs, code or config is not resumed (see :mod:`cmhm.training.checkpoints`).
"""

from __future__ import annotations

import logging
import math
import os
import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from cmhm.models.hourglass import ModelConfig, StackedHourglass, build_hourglass
from cmhm.models.runtime import autocast, parse_amp, resolve_device
from cmhm.training.augment import AugmentConfig
from cmhm.training.batches import Batch, TrainData, make_batch
from cmhm.training.checkpoints import (
    Origin,
    atomic_save,
    kept_snapshot,
    missing_snapshots,
    publish_snapshots,
    readable_checkpoints,
    record,
    save_checkpoint,
    why_not_resume,
)
from cmhm.training.losses import stacked_heatmap_loss
from cmhm.training.monitor import CsvLog, TrainMonitor
from cmhm.training.precision import deterministic_mode, make_scaler, optimizer_step
from cmhm.training.steps import snapshot_steps
from cmhm.training.validation import held_out_rows, validation_nme

log = logging.getLogger(__name__)


class BatchSource(Protocol):
    """What makes a stage's batches in place of :func:`make_batch` (e.g.
    :class:`cmhm.training.batches.CanonicalBatches`)."""

    def __call__(self, rows: np.ndarray, rng: np.random.Generator) -> Batch:
        """The batch of the drawn rows [B]."""

    def unaugmented(self) -> BatchSource:
        """The same source without random augmentation (validation batches)."""


MODEL, LOG = "model.pt", "log.csv"
LR_SCHEDULES = ("step", "cosine")
RUN_KEYS = ("seeds",)  # keys of the train block that choose which runs exist, not how one run trains


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation of one stage. ``lr_steps``: steps at which the learning rate is multiplied by
    ``lr_gamma`` (``lr_schedule`` 'step'), or the rate follows a half cosine from ``lr`` down to
    ``lr * lr_gamma`` at the last step (``lr_schedule`` 'cosine'); either after ``warmup_steps`` of a
    linear rise from ``lr / warmup_steps``; ``channels_last``: weights and images in NHWC memory
    order (same arithmetic; oneDNN's faster convolutions on a CPU); ``sigma``: target Gaussian std in map pixels; ``device``: 'auto' (CUDA when
    available), 'cpu' or 'cuda'; ``amp``: autocast on CUDA, 'bf16', 'fp16' (with a gradient scaler) or
    'off' (booleans mean 'bf16'/'off'; :mod:`cmhm.training.precision`); ``deterministic``: deterministic kernels,
    ops without one logged; ``num_threads``: 0 keeps torch's.; ``tensorboard``: also write
    the log rows as TensorBoard scalars (``<out>/tensorboard``); ``val_size``: training crops held out
    (never drawn for a batch; 0: none) whose NME (:func:`cmhm.training.validation.validation_nme`) is logged as ``val_nme``
    every ``val_every`` steps and at the end."""

    steps: int = 1000
    batch_size: int = 8
    lr: float = 1e-4
    lr_steps: tuple[int, ...] = ()
    lr_gamma: float = 0.1
    lr_schedule: str = "step"
    warmup_steps: int = 0
    channels_last: bool = True
    sigma: float = 1.0
    checkpoint_every: int = 500
    log_every: int = 10
    seed: int = 0
    device: str = "auto"
    amp: str = "bf16"
    deterministic: bool = True
    num_threads: int = 0
    tensorboard: bool = False
    val_size: int = 0
    val_every: int = 100
    snapshots: tuple[float, ...] = ()
    augment: AugmentConfig | None = field(default_factory=AugmentConfig)

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        """Build from plain types (as in a config file or ``asdict``); ``augment: null`` disables augmentation.
        :data:`RUN_KEYS` (``seeds``: the workflow sets each run's ``seed``) are not part of one run's config."""
        d = {k: v for k, v in d.items() if k not in RUN_KEYS}
        aug = d.get("augment", {})
        augment = None if aug is None else AugmentConfig(**aug)
        tuples = {k: tuple(d.get(k, ())) for k in ("lr_steps", "snapshots")}
        return cls(**{**d, **tuples, "augment": augment})

    def __post_init__(self) -> None:
        object.__setattr__(self, "amp", parse_amp(self.amp))
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"train.lr_schedule {self.lr_schedule!r}: one of {LR_SCHEDULES}")

    def lr_factor(self, step: int) -> float:
        """The learning rate at optimiser step ``step`` (0-based) as a multiple of ``lr``."""
        warm = min(1.0, (step + 1) / self.warmup_steps) if self.warmup_steps else 1.0
        if self.lr_schedule == "cosine":
            t = min(1.0, step / max(1, self.steps - 1))
            return warm * (self.lr_gamma + (1 - self.lr_gamma) * 0.5 * (1 + math.cos(math.pi * t)))
        return warm * self.lr_gamma ** sum(step >= s for s in self.lr_steps)

    @property
    def memory_format(self) -> torch.memory_format:
        return torch.channels_last if self.channels_last else torch.contiguous_format


def run_config(model_cfg: ModelConfig, cfg: TrainConfig, targets: Sequence[str]) -> dict:
    """The config dict stored in checkpoints (plain types, loadable with ``weights_only=True``)."""
    return {"model": asdict(model_cfg), "train": asdict(cfg), "targets": list(targets)}


def _rng_state(rng: np.random.Generator) -> dict:
    return {"numpy": rng.bit_generator.state, "torch": torch.get_rng_state(), "python": random.getstate()}


def _set_rng_state(rng: np.random.Generator, state: dict) -> None:
    rng.bit_generator.state = state["numpy"]
    torch.set_rng_state(state["torch"])
    random.setstate(tuple(tuple(x) if isinstance(x, list) else x for x in state["python"]))


def _try_resume(out: Path, now: dict, steps: int, st: TrainState, device) -> int:
    """Restore the newest checkpoint of ``out`` made from the same inputs, code and config (a
    :func:`cmhm.training.checkpoints.record`) and not past ``steps``; return its step, or 0 (logged why)."""
    for path, state in readable_checkpoints(out, device):
        why = why_not_resume(state, now, steps)
        if why:
            log.warning("%s is not resumed: %s", path, why)
            continue
        st.model.load_state_dict(state["state_dict"])
        st.opt.load_state_dict(state["optimizer"])
        st.sched.load_state_dict(state["scheduler"])
        _set_rng_state(st.rng, state["rng"])
        log.info("resuming from step %d of %s (same inputs, code and config)", state["step"], path)
        return int(state["step"])
    log.info("training %s from step 0 (no checkpoint of these inputs, code and config)", out)
    return 0


def train_stage(
    data: TrainData,
    targets: Sequence[str],
    model_cfg: ModelConfig,
    cfg: TrainConfig,
    out_dir: str | os.PathLike,
    code_version: str,
    progress: bool = True,
    origin: Origin | None = None,
    batches: BatchSource | None = None,
) -> Path:
    """Train one stacked hourglass, stack ``s`` supervised by label array ``targets[s]``; returns ``model.pt``.

    ``origin`` (inputs digest, code hash, variant, stage) is recorded and decides, with the config,
    whether an existing checkpoint may resume. ``batches`` makes the batch of the drawn rows (default:
    :func:`make_batch` with ``cfg.augment``); stage 2 of a cascade passes a
    :class:`cmhm.training.batches.CanonicalBatches`.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    device = resolve_device(cfg.device)
    stamp = record(origin or Origin(), code_version, run_config(model_cfg, cfg, targets))
    prev_det, prev_threads = torch.are_deterministic_algorithms_enabled(), torch.get_num_threads()
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    try:
        with deterministic_mode(cfg.deterministic):
            return _train(data, targets, model_cfg, cfg, out, stamp, device, progress, batches)
    finally:
        torch.use_deterministic_algorithms(prev_det)
        torch.set_num_threads(prev_threads)


@dataclass
class TrainState:
    """Everything a checkpoint restores: model, Adam, its learning-rate schedule, the sampling RNG and the step count."""

    model: StackedHourglass
    opt: torch.optim.Optimizer
    sched: torch.optim.lr_scheduler.LRScheduler
    rng: np.random.Generator
    step: int = 0
    scaler: torch.amp.GradScaler | None = None
    pool: np.ndarray | None = None  # rows batches are drawn from (None: all; else all but the held-out ones)

    def checkpoint(self, stamp: dict) -> dict:
        """The resumable state plus ``stamp`` (a :func:`cmhm.training.checkpoints.record`: config, code, inputs)."""
        return {
            "state_dict": self.model.state_dict(),
            "optimizer": self.opt.state_dict(),
            "scheduler": self.sched.state_dict(),
            "step": self.step,
            "rng": _rng_state(self.rng),
            **stamp,
        }


def init_state(model_cfg: ModelConfig, cfg: TrainConfig, device: torch.device) -> TrainState:
    """A fresh, seeded training state (the start of :func:`train_stage`; also what ``make bench`` times)."""
    torch.manual_seed(cfg.seed)
    model = build_hourglass(model_cfg).to(device, memory_format=cfg.memory_format)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, cfg.lr_factor)
    return TrainState(model, opt, sched, np.random.default_rng(cfg.seed), scaler=make_scaler(cfg.amp, device))


def train_step(
    st: TrainState,
    data: TrainData,
    targets: Sequence[str],
    cfg: TrainConfig,
    device: torch.device,
    batches: BatchSource | None = None,
) -> torch.Tensor:
    """One optimiser step on a fresh batch of random rows (from ``batches``, default an augmented
    :func:`make_batch`); returns [1 + n_stacks] losses (total first)."""
    n = len(data) if st.pool is None else len(st.pool)
    rows = st.rng.choice(n, size=cfg.batch_size, replace=n < cfg.batch_size)
    rows = rows if st.pool is None else st.pool[rows]
    if batches is None:
        images, maps, masks = make_batch(
            data, rows, targets, st.model.cfg.map_size, cfg.sigma, cfg.augment, st.rng
        )
    else:
        images, maps, masks = batches(rows, st.rng)
    with autocast(cfg.amp, device):
        preds = st.model(images.to(device, memory_format=cfg.memory_format))
    total, per_stack = stacked_heatmap_loss(
        [p.float() for p in preds], [m.to(device) for m in maps], [m.to(device) for m in masks]
    )
    optimizer_step(total, st.opt, st.scaler or make_scaler(cfg.amp, device))
    st.sched.step()
    st.step += 1
    return torch.cat([total.detach()[None], per_stack]).cpu()


def _validation_batch(data, targets, model_cfg, cfg, batches, rows) -> Batch:
    """The held-out rows as one batch, unaugmented (stage 2: warped to the canonical frame by stage 1)."""
    if batches is None:
        return make_batch(data, rows, targets, model_cfg.map_size, cfg.sigma, None, np.random.default_rng(0))
    return batches.unaugmented()(rows, np.random.default_rng(0))


def _train(data, targets, model_cfg, cfg, out, stamp, device, progress, batches=None) -> Path:
    if len(targets) != model_cfg.n_stacks:
        raise ValueError(f"{len(targets)} targets for {model_cfg.n_stacks} stacks")
    size = getattr(batches, "out_size", None) or data.size  # stage 2: the canonical images' side
    if size != model_cfg.in_size:
        raise ValueError(f"training images are {size}px, the model expects {model_cfg.in_size}px")
    st, snapshots = init_state(model_cfg, cfg, device), snapshot_steps(cfg.snapshots, cfg.steps)
    st.step = _try_resume(out, stamp, cfg.steps, st, device)
    if st.step and (lost := missing_snapshots(out, snapshots, stamp, st.step)):
        log.warning("not resuming at step %d: snapshots of steps %s are missing; from step 0", st.step, lost)
        st = init_state(model_cfg, cfg, device)
    val = None
    if cfg.val_size:
        held = held_out_rows(len(data), cfg.val_size, cfg.seed)
        st.pool = np.setdiff1d(np.arange(len(data)), held)
        val = _validation_batch(data, targets, model_cfg, cfg, batches, held)
        log.info("validation: %d training crops held out, NME every %d steps", len(held), cfg.val_every)
    n = model_cfg.n_stacks
    columns = ["step", "loss", *[f"loss_stack{s}" for s in range(n)], "lr", "images_per_s"]
    csv = CsvLog(out / LOG, columns + ["val_nme"] * (val is not None), st.step)
    st.model.train()
    monitor = TrainMonitor(out, st.step, cfg.steps, progress, cfg.tensorboard)
    acc, t0, n_acc = torch.zeros(n + 1), time.perf_counter(), 0
    for _ in range(st.step, cfg.steps):
        acc, n_acc = acc + train_step(st, data, targets, cfg, device, batches), n_acc + 1
        monitor.advance()
        last = st.step == cfg.steps
        validate = val is not None and (st.step % cfg.val_every == 0 or last)
        if st.step % cfg.log_every == 0 or last or validate:
            mean, rate = (acc / n_acc).tolist(), n_acc * cfg.batch_size / (time.perf_counter() - t0)
            row = {
                "step": st.step,
                "loss": mean[0],
                **{f"loss_stack{s}": mean[s + 1] for s in range(n)},
                "lr": st.sched.get_last_lr()[0],
                "images_per_s": rate,
            }
            if val is not None:
                row["val_nme"] = validation_nme(st.model, val, device) if validate else ""
            csv.write(row)
            monitor.row(row)
            acc, t0, n_acc = torch.zeros(n + 1), time.perf_counter(), 0
        if st.step % cfg.checkpoint_every == 0 or last:
            save_checkpoint(st.checkpoint(stamp), out)
        if st.step in snapshots:
            atomic_save(st.checkpoint(stamp), kept_snapshot(out, snapshots[st.step]))
    monitor.close()
    atomic_save({"state_dict": st.model.state_dict(), "step": st.step, **stamp}, out / MODEL)
    publish_snapshots(out, snapshots)
    return out / MODEL
