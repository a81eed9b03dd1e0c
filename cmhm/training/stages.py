"""The training half of the pipeline, one function per rule: train a variant's stage, its mean shapes.

Stage 1 of every Table-I variant trains on the training crops. For the ``cmhm`` variant, the
canonical mean 2D shapes (one per view) come from the training labels, and stage 2 trains on batches
made online: each augmented crop goes through the frozen stage 1, whose prediction is Procrustes-fitted
to a mean shape, and the stored crop is warped once by augmentation and fit composed (no gradient
reaches stage 1: the stages train separately).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from cmhm.data.crop_shards import CropSet, load_crops
from cmhm.geometry.similarity import procrustes
from cmhm.geometry.warp import affine_scale, fit_to_means
from cmhm.geometry.yaw_bins import bin_labels, yaw_bin
from cmhm.landmarks.markups import Markup, get_markup
from cmhm.landmarks.union import load_mapping, procrustes_mean, union_targets
from cmhm.models.cascade import stage_plans
from cmhm.models.hourglass import ModelConfig
from cmhm.models.runtime import resolve_device
from cmhm.pipeline.variants import get_variant
from cmhm.training.batches import CanonicalBatches, TrainData, from_crops
from cmhm.training.checkpoints import Origin, StageSpec, load_stage
from cmhm.training.loop import BatchSource, TrainConfig, train_stage

MEAN_SHAPE_VIEWS = ("semifrontal", "profile_left", "profile_right")

log = logging.getLogger(__name__)


def stage1_data(prefixes: list[str], mapping_path: str) -> tuple[CropSet, TrainData]:
    """Training crops (memory-mapped; their 3D labels are the fitted ones when the run trains on fitted
    labels, joined when the crops were cut) with the multi-view union targets (``union2d``)."""
    crops = load_crops(prefixes)
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
    batches: BatchSource | None = None,
) -> Path:
    """Train stage ``stage`` (0-based) of ``variant`` on ``data`` (batches from ``batches`` if given);
    returns the final ``model.pt``.

    ``inputs``: digest of the files ``data`` was read from; ``code``: hash of the training code. A
    checkpoint in ``out_dir`` resumes only if both, and the config, are those it was made with.
    """
    plan = stage_plans(variant, base, markup3d)[stage]
    origin = Origin(inputs, code, variant, stage, markup3d.name)
    return train_stage(
        data,
        plan.targets,
        plan.model,
        variant_train_config(variant, cfg),
        out_dir,
        code_version,
        origin=origin,
        batches=batches,
    )


def variant_train_config(variant: str, cfg: TrainConfig) -> TrainConfig:
    """``cfg`` as ``variant`` trains with it: ``train.lr`` times the variant's ``lr_scale`` (the compact
    cascade's larger rate, :mod:`cmhm.pipeline.variants`); ``cfg`` itself where the scale is 1."""
    scale = get_variant(variant).lr_scale
    return cfg if scale == 1 else replace(cfg, lr=cfg.lr * scale)


def mean_shape_views(index: pd.DataFrame) -> np.ndarray:
    """[N] view of each crop for the canonical mean shapes: 'semifrontal', 'profile_left' or 'profile_right'."""
    view = index["view"].to_numpy(str)
    side = index["side"].fillna("").to_numpy(str)
    return np.where(view == "profile", np.char.add("profile_", side), view)


def _scaled_mean(points: np.ndarray) -> np.ndarray:
    """Generalised-Procrustes mean of crop-pixel shapes [N, K, 2] at their average size, orientation and
    centroid (size = RMS distance of a face's points from their centroid); NaN where never annotated."""
    seen = np.isfinite(points).all(-1).any(0)
    pts = points[:, seen]
    gpa = procrustes_mean(pts)  # unit RMS radius, centred, orientation of an arbitrary member
    plain = np.nanmean(pts, axis=0)
    A = procrustes(gpa, plain)
    rotation = A[:, :2] / np.sqrt(abs(np.linalg.det(A[:, :2])))
    centred = pts - np.nanmean(pts, axis=1, keepdims=True)
    size = np.nanmean(np.sqrt(np.nanmean((centred**2).sum(-1), axis=1)))
    out = np.full(points.shape[1:], np.nan)
    out[seen] = size * gpa @ rotation.T + plain.mean(0)
    return out


def canonical_mean_shapes(points: np.ndarray, views: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Per view present in ``views`` [N], the scaled GPA mean of its ``points`` [N, K, 2] -> ([V, K, 2], names).

    These are the cascade's canonical frames (paper: "mean 2D shapes"): one per view so that a profile's
    visible points are not fitted onto a frontal face's layout, which would shrink it.
    """
    names = [v for v in MEAN_SHAPE_VIEWS if np.any(views == v)]
    unknown = sorted(set(views.tolist()) - set(MEAN_SHAPE_VIEWS))
    if unknown or not names:
        raise ValueError(f"canonical mean shapes: views {unknown or 'none'} (expected {MEAN_SHAPE_VIEWS})")
    return np.stack([_scaled_mean(points[views == v]) for v in names]).astype(np.float32), names


def canonical_scale(points: np.ndarray, means: np.ndarray) -> np.ndarray:
    """[N] scale of the canonical warp of each face whose stage-1 points are ``points`` [N, K, 2] (NaN =
    not predicted, weight 0 else 1): canonical face size / crop face size, the cascade's own fit."""
    pts = torch.as_tensor(points, dtype=torch.float64)
    A, _ = fit_to_means(
        pts, torch.isfinite(pts).all(-1).double(), torch.as_tensor(means, dtype=torch.float64)
    )
    return affine_scale(A).numpy()


def mean_shape_report(points: np.ndarray, yaw: np.ndarray, means: np.ndarray, names: list[str]) -> dict:
    """Canonical scale (mean, min) per |yaw| bin with ground-truth stage-1 ``points`` [N, K, 2]; unknown
    yaws are counted, not binned."""
    known = np.isfinite(yaw)
    scale = canonical_scale(points[known], means)
    b = yaw_bin(yaw[known])
    bins = {
        label: {
            "n": int((b == i).sum()),
            "mean": float(scale[b == i].mean()),
            "min": float(scale[b == i].min()),
        }
        for i, label in enumerate(bin_labels())
        if (b == i).any()
    }
    return {"views": names, "canonical_scale_by_yaw": bins, "unknown_yaw": int((~known).sum())}


def write_mean_shapes(
    variant: str,
    base: ModelConfig,
    markup3d: Markup,
    stage1: tuple[CropSet, TrainData],
    npy: str | os.PathLike,
    report: str | os.PathLike,
    record: dict,
) -> dict:
    """Mean shapes [V, K, 2] of ``variant``'s stage-1 last-stack target (``stage1``: crops and their
    :func:`stage1_data`), in stage 2's input pixels, to ``npy``; their scale report and ``record`` (provenance) to the JSON ``report``."""
    crops, data = stage1
    plans = stage_plans(variant, base, markup3d)
    target = plans[0].targets[-1]
    pts = data.arrays[target][..., :2]
    means, names = canonical_mean_shapes(pts, mean_shape_views(crops.index))
    yaw = crops.index["yaw"].to_numpy(np.float64)
    # the scale report in crop pixels (comparable across variants); the stored means in stage 2's pixels
    to_stage2 = plans[1].model.in_size / base.in_size
    out = {
        "target": target,
        **mean_shape_report(pts, yaw, means, names),
        "stage2_size_over_crop": to_stage2,
        "provenance": record,
    }
    np.save(npy, (means * to_stage2).astype(np.float32))
    Path(report).write_text(json.dumps(out, indent=2) + "\n")
    return out


def train_cascade_stage2(
    variant: str,
    configs: tuple[ModelConfig, Markup, TrainConfig],
    crops: CropSet,
    stage1_model: str | os.PathLike,
    means_path: str | os.PathLike,
    jitter: float,
    out_dir: str | os.PathLike,
    code_version: str,
    inputs: str = "",
    code: str = "",
) -> Path:
    """Train stage 2 of ``variant`` on ``crops`` with :class:`CanonicalBatches` through the frozen stage 1
    (on the training device) and the mean shapes at ``means_path``; returns the final ``model.pt``.

    ``inputs`` (digest of every input file, the stage-1 model and mean shapes included) and ``code``
    decide with the config whether a checkpoint resumes (:func:`train_variant_stage`). A stage 2 smaller
    than the crop (``cmhm_light``) trains with ``train.sigma`` scaled by its size over the crop's, so that
    its targets cover the same part of the face."""
    base, markup3d, cfg = configs
    plan = stage_plans(variant, base, markup3d)[1]
    # train.sigma is in map px at the crop's size: a smaller stage 2 keeps the Gaussian's size on the face
    cfg = replace(cfg, sigma=cfg.sigma * plan.model.in_size / base.in_size)
    device = resolve_device(cfg.device)
    data = from_crops(crops)
    batches = CanonicalBatches(
        data,
        load_stage(stage1_model, str(device), spec=StageSpec(variant, 0, markup3d.name, base.in_size)),
        torch.as_tensor(np.load(means_path, allow_pickle=False)),
        plan.targets,
        plan.model.map_size,
        cfg.sigma,
        cfg.augment,
        jitter,
        device,
        out_size=plan.model.in_size,
    )
    return train_variant_stage(
        variant,
        1,
        base,
        markup3d,
        data,
        cfg,
        out_dir,
        code_version,
        inputs=inputs,
        code=code,
        batches=batches,
    )


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
    """Typed configs from the pipeline's ``model`` and ``train`` sub-trees (plain dicts); the stacks per
    stage are the variant's (:func:`cmhm.models.stage_plans`), not a config key.

    Learning-rate drops come from ``train.lr_steps`` or from ``train.lr_epochs`` (not both), the
    latter converted by :func:`epochs_to_steps` with the stage's ``n_train`` training crops.
    """
    base = ModelConfig(
        in_size=in_size,
        depth=model["depth"],
        width=model["width"],
        inception_width=model.get("inception_width", "paper"),
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
