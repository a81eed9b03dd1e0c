"""Tiny training runs for the fault-injection tests: real training on a few random crops, in seconds."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from cmhm.landmarks.markups import IBUG68, MENPO84, get_markup
from cmhm.models.hourglass import ModelConfig
from cmhm.pipeline.provenance import files_digest
from cmhm.training.batches import TrainData
from cmhm.training.loop import TrainConfig
from cmhm.training.stages import train_variant_stage

SIZE = 32
BASE = ModelConfig(in_size=SIZE, n_stacks=2, depth=1, width=8)


def train_cfg(steps: int, **changes) -> TrainConfig:
    """Six-ish CPU steps of a width-8 model: a checkpoint every 3 steps, a learning-rate drop at step 4."""
    cfg = TrainConfig(
        steps=steps,
        batch_size=4,
        lr=1e-3,
        lr_steps=(4,),
        checkpoint_every=3,
        log_every=1,
        seed=3,
        device="cpu",
        num_threads=1,
    )
    return replace(cfg, **changes)


def write_data(folder: Path, seed: int = 0, n: int = 6) -> list[Path]:
    """Random crops and labels saved as the files a training rule reads; returns their paths."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {
        "images": rng.integers(0, 255, size=(n, SIZE, SIZE, 3), dtype=np.uint8),
        "union2d": rng.uniform(4, SIZE - 4, size=(n, IBUG68.n_points, 2)).astype(np.float32),
        "lm3d_84": rng.uniform(4, SIZE - 4, size=(n, MENPO84.n_points, 3)).astype(np.float32),
        "lm3d_68": rng.uniform(4, SIZE - 4, size=(n, IBUG68.n_points, 3)).astype(np.float32),
    }
    np.save(folder / "train.images.npy", arrays.pop("images"))
    np.savez(folder / "train.labels.npz", **arrays)
    return [folder / "train.images.npy", folder / "train.labels.npz"]


def read_data(paths: list[Path]) -> TrainData:
    images = np.load(paths[0])
    with np.load(paths[1]) as z:
        arrays = {k: z[k] for k in z.files}
    return TrainData(images=images, arrays=arrays, side=np.array([""] * len(images), dtype=object))


def train(
    out: Path,
    paths: list[Path],
    cfg: TrainConfig,
    code: str = "code-1",
    variant: str = "multiview",
    stage: int = 0,
    markup3d: str = "menpo84",
    base: ModelConfig = BASE,
) -> Path:
    """One stage trained as rule train_stage1 does: inputs digested from the files, the rule's code hash."""
    return train_variant_stage(
        variant,
        stage,
        base,
        get_markup(markup3d),
        read_data(paths),
        cfg,
        out,
        "cmhm-test",
        inputs=files_digest(paths),
        code=code,
    )


def weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=True)["state_dict"]


def same_weights(a: Path, b: Path) -> bool:
    wa, wb = weights(a), weights(b)
    return wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


def cascade_file(root: Path, steps: int = 2) -> Path:
    """A one-stage ``baseline`` model file (``cascade.pt``) trained ``steps`` steps; it names no detector
    (predict takes boxes), as the synthetic default's."""
    from cmhm.inference.model_file import CropConvention, checked_stages, write_cascade

    stage = train(root / "stage1", write_data(root / "data"), train_cfg(steps), variant="baseline")
    return write_cascade(
        root / "cascade.pt",
        variant="baseline",
        stages=checked_stages([str(stage)], "baseline", "menpo84", SIZE),
        mean_shapes=[],
        crop=CropConvention(SIZE, 1.3),
        detector=None,
        tracking={"check": "heatmap", "threshold": 0.3, "enlarge": 1.2, "onet_calibration": None},
        config={"crop": {"size": SIZE}},
        config_digest="test",
        code_version="test",
    )
