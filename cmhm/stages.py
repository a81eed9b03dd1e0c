"""The training half of the pipeline, one function per rule: train a variant's stage, prepare stage 2.

Stage 1 of every Table-I variant trains on the training crops; the ``cmhm`` variant then predicts
2D landmarks on those crops, warps each crop by the Procrustes similarity onto the mean 2D shape,
and trains stage 2 on the warped crops (no gradient reaches stage 1: the stages train separately).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from cmhm.crop import transform_landmarks
from cmhm.crops import CropSet, load_crops, write_shard
from cmhm.geometry import compose_affine
from cmhm.markups import Markup, get_markup
from cmhm.models import ModelConfig, stage_plans
from cmhm.train import Origin, StageSpec, TrainConfig, load_stage, predict, train_stage
from cmhm.train_data import TrainData, canonical_frame, canonical_images, from_crops
from cmhm.union import load_mapping, union_targets
from cmhm.warp import mean_shape

log = logging.getLogger(__name__)


def with_fitted_3d(crops: CropSet, labels_path: str | os.PathLike) -> CropSet:
    """Replace the crops' 3D labels by the fitted ones of ``annotations_3d`` (image pixels -> crop pixels)."""
    with np.load(labels_path, allow_pickle=False) as z:
        ids = z["sample_id"]
        fitted = {k: z[k] for k in ("lm3d_68", "lm3d_84")}
    if len(ids) != len(crops) or not np.array_equal(ids, crops.index["sample_id"].to_numpy(str)):
        raise ValueError(f"{labels_path}: fitted labels do not list the same samples, in order, as the crops")
    moved = transform_landmarks(fitted, crops.transforms)
    arrays = {**crops.arrays, **{k: v.astype(np.float32) for k, v in moved.items()}}
    return CropSet(crops.images, crops.transforms, arrays, crops.index, crops.provenance)


def stage1_crops(prefixes: list[str], labels3d_path: str | None) -> CropSet:
    """The training crops (memory-mapped) with the chosen 3D labels: fitted ones when a path is given."""
    crops = load_crops(prefixes)
    return with_fitted_3d(crops, labels3d_path) if labels3d_path else crops


def stage1_data(
    prefixes: list[str], mapping_path: str, labels3d_path: str | None
) -> tuple[CropSet, TrainData]:
    """Training crops with the multi-view union targets (``union2d``) and the chosen 3D labels."""
    crops = stage1_crops(prefixes, labels3d_path)
    a, idx = crops.arrays, crops.index
    pts, mask = union_targets(
        a["lm2d"],
        a["lm2d_profile"],
        idx["view"].to_numpy(),
        idx["side"].to_numpy(),
        load_mapping(mapping_path),
    )
    return crops, from_crops(crops, pts, mask)


def train_variant_stage(
    variant: str,
    stage: int,
    base: ModelConfig,
    markup3d: Markup,
    data: TrainData,
    cfg: TrainConfig,
    out_dir: str | os.PathLike,
    code_version: str,
    inputs: str = "",
    code: str = "",
) -> Path:
    """Train stage ``stage`` (0-based) of ``variant`` on ``data``; returns the final ``model.pt``.

    ``inputs``: digest of the files ``data`` was read from; ``code``: hash of the training code. A
    checkpoint in ``out_dir`` resumes only if both, and the config, are those it was made with.
    """
    plan = stage_plans(variant, base, markup3d)[stage]
    origin = Origin(inputs, code, variant, stage, markup3d.name)
    return train_stage(data, plan.targets, plan.model, cfg, out_dir, code_version, origin=origin)


def canonical_mean_shape(crops: CropSet) -> np.ndarray:
    """[68, 2] mean of the semi-frontal 2D annotations in crop pixels: the stage-2 canonical frame."""
    semi = crops.index["view"].to_numpy() == "semifrontal"
    if not semi.any():
        raise ValueError("no semi-frontal training face: cannot build the canonical mean shape")
    return mean_shape(crops.arrays["lm2d"][semi])


def write_canonical_shard(
    stage1_model: str | os.PathLike,
    crops: CropSet,
    mean: np.ndarray,
    prefix: str | os.PathLike,
    device: str,
    provenance: dict | None = None,
    spec: StageSpec | None = None,
) -> None:
    """Predict stage-1 landmarks, warp every crop onto ``mean`` and write the result as a crop shard.

    The shard's ``transform`` maps original image pixels to canonical pixels, so its labels and any
    stage-2 prediction map back to the image like any crop's; ``provenance`` is stored in the shard;
    ``spec``: what the stage-1 model must be (:func:`cmhm.train.load_stage` refuses another).
    """
    pred = predict(load_stage(stage1_model, spec=spec), crops.images, device=device)
    A, moved = canonical_frame(crops.arrays, pred["points"], pred["confidence"], mean)
    labels = {"transform": compose_affine(A, crops.transforms), **moved}
    size = crops.size
    warped = canonical_images(crops.images, A, size)
    write_shard(prefix, warped, labels, crops.index, (size, size, 3), provenance)


def stage2_data(prefix: str) -> TrainData:
    """Stage-2 training data from a canonical shard written by :func:`write_canonical_shard`."""
    crops = load_crops([prefix])
    return from_crops(crops)


def epochs_to_steps(epochs: list[float], n_train: int, batch_size: int) -> tuple[int, ...]:
    """Steps after ``epochs`` passes over ``n_train`` training crops at ``batch_size`` per step:
    ``round(epoch * n_train / batch_size)``, at least 1 (e.g. the paper's 20 epochs of Menpo's 7,564
    training faces at batch 8: 18,910 steps)."""
    if n_train < 1:
        raise ValueError(f"train.lr_epochs: cannot convert epochs to steps for {n_train} training crops")
    return tuple(max(1, round(e * n_train / batch_size)) for e in epochs)


def run_configs(
    model: dict, train: dict, in_size: int, threads: int, n_train: int | None = None
) -> tuple[ModelConfig, Markup, TrainConfig]:
    """Typed configs from the pipeline's ``model`` and ``train`` sub-trees (plain dicts).

    Learning-rate drops come from ``train.lr_steps`` or from ``train.lr_epochs`` (not both), the
    latter converted by :func:`epochs_to_steps` with the stage's ``n_train`` training crops.
    """
    base = ModelConfig(
        in_size=in_size, n_stacks=model["n_stacks"], depth=model["depth"], width=model["width"]
    )
    train = dict(train)
    epochs = list(train.pop("lr_epochs", None) or [])
    if epochs:
        if train.get("lr_steps"):
            raise ValueError(
                f"train.lr_steps {train['lr_steps']} and train.lr_epochs {epochs} are both set: "
                "give the learning-rate drops in one of them"
            )
        if n_train is None:
            raise ValueError("train.lr_epochs needs the training set size to convert epochs to steps")
        batch = train.get("batch_size", TrainConfig.batch_size)
        train["lr_steps"] = list(epochs_to_steps(epochs, n_train, batch))
        log.info(
            "train.lr_epochs %s of %d crops at batch %d: steps %s", epochs, n_train, batch, train["lr_steps"]
        )
    late = [s for s in train.get("lr_steps", []) if s >= train.get("steps", TrainConfig.steps)]
    if late:
        log.warning("learning-rate drops at steps %s come at or after the last step: they never apply", late)
    return base, get_markup(model["markup3d"]), TrainConfig.from_dict({**train, "num_threads": threads})
