"""The training half of the pipeline, one function per rule: train a variant's stage, prepare stage 2.

Stage 1 of every Table-I variant trains on the training crops; the ``cmhm`` variant then predicts
2D landmarks on those crops, warps each crop by the Procrustes similarity onto the mean 2D shape,
and trains stage 2 on the warped crops (no gradient reaches stage 1: the stages train separately).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from cmhm.crop import transform_landmarks
from cmhm.crops import CropSet, load_crops, write_shard
from cmhm.geometry import compose_affine
from cmhm.markups import Markup, get_markup
from cmhm.models import ModelConfig, stage_plans
from cmhm.train import TrainConfig, load_stage, predict, train_stage
from cmhm.train_data import TrainData, canonical_frame, canonical_images, from_crops
from cmhm.union import load_mapping, union_targets
from cmhm.warp import mean_shape


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
) -> Path:
    """Train stage ``stage`` (0-based) of ``variant`` on ``data``; returns the final ``model.pt``."""
    plan = stage_plans(variant, base, markup3d)[stage]
    return train_stage(data, plan.targets, plan.model, cfg, out_dir, code_version)


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
) -> None:
    """Predict stage-1 landmarks, warp every crop onto ``mean`` and write the result as a crop shard.

    The shard's ``transform`` maps original image pixels to canonical pixels, so its labels and any
    stage-2 prediction map back to the image like any crop's; ``provenance`` is stored in the shard.
    """
    pred = predict(load_stage(stage1_model), crops.images, device=device)
    A, moved = canonical_frame(crops.arrays, pred["points"], pred["confidence"], mean)
    labels = {"transform": compose_affine(A, crops.transforms), **moved}
    size = crops.size
    warped = canonical_images(crops.images, A, size)
    write_shard(prefix, warped, labels, crops.index, (size, size, 3), provenance)


def stage2_data(prefix: str) -> TrainData:
    """Stage-2 training data from a canonical shard written by :func:`write_canonical_shard`."""
    crops = load_crops([prefix])
    return from_crops(crops)


def run_configs(
    model: dict, train: dict, in_size: int, threads: int
) -> tuple[ModelConfig, Markup, TrainConfig]:
    """Typed configs from the pipeline's ``model`` and ``train`` sub-trees (plain dicts)."""
    # stacks per stage are the variant's (stage_plans), not a config key
    base = ModelConfig(in_size=in_size, depth=model["depth"], width=model["width"])
    return base, get_markup(model["markup3d"]), TrainConfig.from_dict({**train, "num_threads": threads})
