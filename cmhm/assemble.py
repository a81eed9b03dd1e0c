"""Assemble a trained variant's stages, mean shapes and training-set statistics into one model file."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from cmhm.artifact import CropConvention, stage_record, write_cascade
from cmhm.checkpoints import StageSpec
from cmhm.evaluate import box_enlargement, redetector
from cmhm.provenance import config_digest
from cmhm.samples import SampleTable


def detector_record(
    kind: str, cascade_path: str | None, train: SampleTable, n_calibration: int
) -> dict | None:
    """The model file's detector: its name and its calibration to the crop boxes on training images.

    ``table`` (the synthetic default: every test image carries its box) gives None: such a model takes
    boxes from its user.
    """
    det = redetector(kind, cascade_path, train, n_calibration)
    if det is None:
        return None
    return {"name": kind, "cascade_path": cascade_path, "calibration": vars(det.calibration)}


def assemble_cascade(
    out: str | os.PathLike,
    variant: str,
    stage_files: list[str],
    mean_shape_files: list[str],
    train: SampleTable,
    crop: dict,
    evaluation: dict,
    markup3d: str,
    config: dict,
    code_version: str,
) -> Path:
    """Write ``cascade.pt`` for ``variant`` from its stages' ``model.pt`` files (in stage order) and the
    mean shapes linking them; the training table gives the tracked-box enlargement and the detector's
    calibration, so evaluation and ``cmhm predict`` need nothing from the training data."""
    detector = detector_record(
        evaluation["detector"], evaluation.get("haar_cascade"), train, evaluation["calibration_faces"]
    )
    return write_cascade(
        out,
        variant=variant,
        stages=[
            stage_record(f, StageSpec(variant, i, markup3d, int(crop["size"])))
            for i, f in enumerate(stage_files)
        ],
        mean_shapes=[torch.as_tensor(np.load(f), dtype=torch.float32) for f in mean_shape_files],
        crop=CropConvention(
            size=int(crop["size"]),
            box_scale=float(crop["box_scale"]),
            box_enlargement=box_enlargement(train, markup3d),
        ),
        detector=detector,
        tracking={"check": "heatmap", "threshold": float(evaluation["failure_confidence"])},
        config=config,
        config_digest=config_digest(config),
        code_version=code_version,
    )
