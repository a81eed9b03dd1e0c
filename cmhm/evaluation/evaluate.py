"""Evaluation of trained variants: still-image predictions (Table I) and video tracking (Table II)."""

from __future__ import annotations

import os
import time
from dataclasses import replace

import numpy as np
import pandas as pd
import torch

from cmhm.atomic import write_atomic
from cmhm.data.crop_shards import CropSet
from cmhm.data.cropping import read_image
from cmhm.data.samples import PROJ3D_ARRAYS, SampleTable
from cmhm.detection.detectors import (
    CalibratedDetector,
    Detector,
    OracleJitterDetector,
    calibrate_face_score,
    calibrated,
    make_detector,
    spread_indices,
)
from cmhm.detection.mtcnn import MTCNN
from cmhm.evaluation.metrics import aflw_table, nme_box, tracking_summary
from cmhm.evaluation.track_labels import TrackLabels, tracking_labels
from cmhm.evaluation.tracking import (
    FailureCheck,
    FitFn,
    PeakConfidence,
    TrackPolicy,
    onet_check,
    track_video,
)
from cmhm.geometry.similarity import landmark_box
from cmhm.models.cascade import Cascade
from cmhm.models.in_boxes import predict_in_boxes
from cmhm.models.runtime import predict, resolve_device, to_tensor


@torch.no_grad()
def response_maps(cascade: Cascade, images: np.ndarray, device: str) -> dict[str, np.ndarray]:
    """For figures: per stage ``i``, the summed last-stack response map ``response_stage{i}`` [N, h, w] and
    the image that stage saw, ``input_stage{i}`` uint8 [N, s, s, 3]: the model's own input tensor (later
    stages: the crop through the model's warp, not a re-warp)."""
    out = cascade(to_tensor(images).to(device))
    maps = {
        f"response_stage{i}": hm[-1].clamp(min=0).sum(1).cpu().numpy() for i, hm in enumerate(out["heatmaps"])
    }
    inputs = {
        f"input_stage{i}": x.mul(255.0)
        .round_()
        .clamp_(0, 255)
        .to(torch.uint8)
        .permute(0, 2, 3, 1)
        .cpu()
        .numpy()
        for i, x in enumerate(out["inputs"])
    }
    return {**maps, **inputs}


def predict_images(cascade: Cascade, crops: CropSet, markup3d: str, device: str, n_examples: int) -> dict:
    """Predict every test crop; returns arrays in image pixels plus ground truth and a few response maps."""
    dev = str(resolve_device(device))
    pred = predict(cascade, crops.images, device=dev)
    gt = crops.to_image(crops.arrays[PROJ3D_ARRAYS[markup3d]][..., :2])
    keep = np.arange(min(n_examples, len(crops)))
    maps = response_maps(cascade, np.asarray(crops.images[keep]), dev)
    return {
        "sample_id": crops.index["sample_id"].to_numpy(str),
        "yaw": crops.index["yaw"].to_numpy(np.float64),
        "view": crops.index["view"].to_numpy(str),
        "points": crops.to_image(pred["points"]),
        "confidence": pred["confidence"],
        "gt": gt,
        "example_images": np.asarray(crops.images[keep]),
        "example_points_crop": pred["points"][keep],
        **{f"example_{k}": v for k, v in maps.items()},
    }


def image_metrics(pred: dict) -> tuple[pd.DataFrame, dict]:
    """AFLW2000-3D protocol on predictions: per-image NME (box-normalised) and the yaw-bin table."""
    nme = nme_box(pred["points"], pred["gt"])
    per_image = pd.DataFrame(
        {"sample_id": pred["sample_id"], "yaw": pred["yaw"], "view": pred["view"], "nme": nme}
    )
    return per_image, aflw_table(nme, pred["yaw"])


def box_enlargement(table: SampleTable, markup3d: str) -> float:
    """Median ratio of the detector box's longer side to the ground-truth landmark box's: how much a
    tracked landmark box must grow to look like a detection (so tracked crops match training crops)."""
    lm = landmark_box(table.arrays[PROJ3D_ARRAYS[markup3d]][..., :2])
    boxes = table.boxes()
    det = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    land = np.maximum(lm[:, 2] - lm[:, 0], lm[:, 3] - lm[:, 1])
    ok = np.isfinite(land) & (land > 0)
    return float(np.median(det[ok] / land[ok]))


def crop_fit(cascade: Cascade, size: int, box_scale: float, device: str):
    """``fit(image, box)`` for the tracker: crop around ``box`` as the training crops were, predict, uncrop
    (:func:`cmhm.models.in_boxes.predict_in_boxes`)."""
    dev = str(resolve_device(device))

    def fit(image: np.ndarray, box: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pts, conf = predict_in_boxes(
            lambda crops: predict(cascade, crops, device=dev), image, box, size, box_scale
        )
        return pts[0], conf[0]

    return fit


def redetector(
    kind: str, cascade_path: str | None, train: SampleTable, n_calibration: int
) -> CalibratedDetector | None:
    """The tracker's re-detector: None for ``table`` (each frame's stored box, see :func:`track_table`);
    for ``haar`` / ``mtcnn`` that detector (:func:`cmhm.detection.detectors.make_detector`) with its boxes
    calibrated to the crop boxes on ``n_calibration`` training images (:mod:`cmhm.detection.detectors`)."""
    if kind == "table":
        return None
    boxes = train.boxes()
    return calibrated(
        make_detector(kind, cascade_path),
        len(train),
        lambda i: (read_image(train.image_path(i)), boxes[i]),
        n_calibration,
        f"{kind} detector on the training images of {train.root}",
    )


def failure_check(
    kind: str,
    peak_threshold: float,
    onet_threshold: float | None,
    train: SampleTable,
    markup3d: str,
    enlarge: float,
    detector: CalibratedDetector | None,
    n: int,
) -> tuple[FailureCheck, dict]:
    """The tracker's failure check and its record for tracking_metrics.json.

    ``heatmap``: mean heatmap peak below ``peak_threshold``. ``onet`` (the paper's): MTCNN's O-Net score
    of the fitted box below ``onet_threshold`` (:func:`cmhm.evaluation.tracking.onet_check`), boxes mapped by
    ``detector``'s calibration when it is the MTCNN re-detector (else MTCNN is calibrated here on ``n``
    training images); ``onet_threshold`` None calibrates the cut on ``n`` training images (the box of
    their ground-truth landmarks, mapped as the tracker maps a fit, against a background box).
    """
    if kind == "heatmap":
        return PeakConfidence(peak_threshold), {"failure_check": kind, "failure_threshold": peak_threshold}
    if kind != "onet":
        raise ValueError(f"evaluation.failure_check: unknown {kind!r}, expected 'onet' or 'heatmap'")
    if not (detector and isinstance(detector.detector, MTCNN)):
        detector = redetector("mtcnn", None, train, n)
    cal, gt = detector.calibration, train.arrays[PROJ3D_ARRAYS[markup3d]][..., :2]
    check = onet_check(detector.detector, cal, enlarge, 0.0 if onet_threshold is None else onet_threshold)
    record = {"failure_check": kind, "failure_threshold": onet_threshold, "onet_calibration": vars(cal)}
    if onet_threshold is None:
        samples = (
            (read_image(train.image_path(i)), check.to_box(gt[i])) for i in spread_indices(len(train), n)
        )
        cut = calibrate_face_score(
            check.score, samples, f"O-Net score on the training images of {train.root}"
        )
        check = replace(check, threshold=cut.threshold)
        record = {**record, "failure_threshold": cut.threshold, "failure_calibration": vars(cut)}
    return check, record


def track_table(
    cascade: Cascade,
    table: SampleTable,
    markup3d: str,
    size: int,
    box_scale: float,
    enlarge: float,
    failure: FailureCheck,
    device: str,
    detector: Detector | None = None,
    labels: TrackLabels | None = None,
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Track every video of ``table`` with ``cascade``; per-frame errors (box-diagonal NME) and the raw tracks.

    ``detector`` None re-detects with each frame's stored box (the synthetic data's simulated detector;
    on real data the adapter's box, an oracle); else the given detector is run on the frame.
    ``failure`` judges each fit (:func:`failure_check`). ``labels``: what the error is measured
    against, None = chosen from the table's labels (:func:`cmhm.evaluation.track_labels.tracking_labels`).
    """
    fit = crop_fit(cascade, size, box_scale, device)
    policy = TrackPolicy(failure=failure, enlarge=enlarge)
    return track_fitted(fit, table, labels or tracking_labels(table, markup3d), policy, detector)


def track_fitted(
    fit: FitFn, table: SampleTable, labels: TrackLabels, policy: TrackPolicy, detector: Detector | None = None
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """:func:`track_table` with any ``fit(image, box) -> (points [K, 2], confidence [K])``."""
    frames, tracks = [], {"points": [], "redetected": [], "sample_id": []}
    for video, rows in table.index.groupby("video", sort=True):
        rows = rows.sort_values("frame")
        idx = rows.index.to_numpy()
        images = (read_image(table.image_path(i)) for i in idx)
        det = detector or OracleJitterDetector(table.boxes()[idx])
        res = track_video(images, fit, det, policy)
        fitted = np.isfinite(res.points).all(axis=(1, 2))
        err = np.full(len(idx), np.inf)  # a frame with no fit: no result (a failure in AUC / FR)
        err[fitted] = labels.nme(res.points[fitted], idx[fitted])
        frames.append(
            pd.DataFrame(
                {
                    "video": video,
                    "frame": rows["frame"].to_numpy(),
                    "nme_diag": err,
                    "redetected": res.redetected,
                    "failed": res.failed,
                }
            )
        )
        tracks["points"].append(res.points)
        tracks["redetected"].append(res.redetected)
        tracks["sample_id"].append(rows["sample_id"].to_numpy(str))
    return pd.concat(frames, ignore_index=True), {k: np.concatenate(v) for k, v in tracks.items()}


def tracking_metrics(per_frame: pd.DataFrame, threshold: float) -> dict:
    """Table II numbers: AUC and failure rate of the per-frame errors at ``threshold``, and re-detections."""
    out = tracking_summary(per_frame["nme_diag"].to_numpy(), threshold)
    out["redetections"] = int(per_frame["redetected"].sum())
    return out


def save_npz(path: str | os.PathLike, arrays: dict) -> None:
    """``np.savez`` through a temporary name (``path`` ends in ``.npz``)."""
    write_atomic(path, lambda tmp: np.savez(tmp, **arrays))


@torch.no_grad()
def time_inference(cascade: Cascade, in_size: int, device: str, repeats: int = 20, batch: int = 1) -> dict:
    """Milliseconds per face to produce the response maps (whole cascade, warps included); median of runs."""
    dev = resolve_device(device)
    cascade = cascade.to(dev).eval()
    x = torch.rand(batch, 3, in_size, in_size, device=dev)
    times = []
    for i in range(repeats + 3):
        if dev.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        cascade(x)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        if i >= 3:
            times.append((time.perf_counter() - t0) * 1000 / batch)
    return {
        "ms_per_face": float(np.median(times)),
        "device": str(dev),
        "threads": torch.get_num_threads(),
        "batch": batch,
        "repeats": repeats,
    }
