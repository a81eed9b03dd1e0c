"""Assemble a trained variant's stages, mean shapes and training-set statistics into one model file."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from cmhm.data.samples import SampleTable
from cmhm.evaluation.evaluate import box_enlargement, failure_check, redetector
from cmhm.inference.model_file import CropConvention, checked_stages, write_cascade
from cmhm.pipeline.provenance import config_digest


def tracking_records(evaluation: dict, train: SampleTable, markup3d: str) -> tuple[dict | None, dict]:
    """The model file's ``detector`` and ``tracking`` records, calibrated on the training images.

    ``evaluation.detector: table`` (the synthetic default: every test image carries its box) gives no
    detector. The O-Net check records the MTCNN box calibration it maps fitted boxes with.
    """
    n = evaluation["calibration_faces"]
    enlarge = box_enlargement(train, markup3d)
    detector = redetector(evaluation["detector"], evaluation.get("haar_cascade"), train, n)
    check, record = failure_check(
        evaluation["failure_check"],
        evaluation["failure_confidence"],
        evaluation["onet_threshold"],
        train,
        markup3d,
        enlarge,
        detector,
        n,
    )
    tracking = {
        "check": record["failure_check"],
        "threshold": float(check.threshold),
        "enlarge": enlarge,
        "onet_calibration": record.get("onet_calibration"),
        "threshold_calibration": record.get("failure_calibration"),
    }
    if detector is None:
        return None, tracking
    det = {
        "name": evaluation["detector"],
        "cascade_path": evaluation.get("haar_cascade"),
        "calibration": vars(detector.calibration),
    }
    return det, tracking


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
    """Write ``cascade.pt`` for ``variant`` from its stages' ``model.pt`` files (in stage order, each
    checked to be that stage of ``variant``) and the mean shapes linking them; the training table gives
    the tracked-box enlargement and the detector's calibration, so evaluation and ``cmhm predict`` need
    nothing from the training data."""
    detector, tracking = tracking_records(evaluation, train, markup3d)
    size = int(crop["size"])
    return write_cascade(
        out,
        variant=variant,
        stages=checked_stages(stage_files, variant, markup3d, size, seed=config.get("train", {}).get("seed")),
        mean_shapes=[torch.as_tensor(np.load(f), dtype=torch.float32) for f in mean_shape_files],
        crop=CropConvention(size=size, box_scale=float(crop["box_scale"])),
        detector=detector,
        tracking=tracking,
        config=config,
        config_digest=config_digest(config),
        code_version=code_version,
    )
