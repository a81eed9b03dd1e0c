"""Frame-by-frame landmark tracking with failure detection and re-detection (paper Sec. IV-C).

Each frame is fitted from the box of the previous frame's landmarks, enlarged about its centre. When
a failure check judges the fit a failure (not a face, or lost), the face detector is run on that
frame and the fit repeated from the detected box; the first frame always comes from the detector.

Three pluggable parts, all plain callables or small objects:
  - ``fit(image, box) -> (points [K, 2] image px, confidence [K])``: the landmark model (crop ->
    predict -> uncrop); ``box`` is (x0, y0, x1, y1) image pixels.
  - a :class:`cmhm.detection.detectors.Detector`: ``detect(image, frame) -> box [4] or None``;
  - a :class:`FailureCheck`: ``is_failure(image, box, points, confidence) -> bool``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from cmhm.detection.detectors import Calibration, Detector
from cmhm.detection.mtcnn import MTCNN
from cmhm.geometry.similarity import enlarge_box, landmark_box

FitFn = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


class FailureCheck(Protocol):
    """Decides whether a fit is a failure (the fitted region is not a face or the fit is lost)."""

    def is_failure(
        self, image: np.ndarray, box: np.ndarray, points: np.ndarray, confidence: np.ndarray
    ) -> bool: ...


@dataclass(frozen=True)
class PeakConfidence:
    """Failure when the mean per-landmark heatmap peak value is below ``threshold`` (or points are not finite)."""

    threshold: float = 0.3

    def is_failure(
        self, image: np.ndarray, box: np.ndarray, points: np.ndarray, confidence: np.ndarray
    ) -> bool:
        conf = np.asarray(confidence, dtype=np.float64)
        if not np.isfinite(points).all() or not np.isfinite(conf).any():
            return True
        return bool(np.nanmean(conf) < self.threshold)


@dataclass(frozen=True)
class ClassifierCheck:
    """Failure when a face/non-face ``score(image, box) -> float`` falls below ``threshold``.

    ``box`` is ``to_box(points [K, 2])``, by default the fitted landmarks' box; the paper's check is
    MTCNN's O-Net on the fitted box in the detector's convention (:func:`onet_check`).
    """

    score: Callable[[np.ndarray, np.ndarray], float]
    threshold: float = 0.5
    to_box: Callable[[np.ndarray], np.ndarray] = landmark_box

    def is_failure(
        self, image: np.ndarray, box: np.ndarray, points: np.ndarray, confidence: np.ndarray
    ) -> bool:
        if not np.isfinite(points).all():
            return True
        return bool(self.score(image, self.to_box(points)) < self.threshold)


def onet_check(
    detector: MTCNN, calibration: Calibration, enlarge: float, threshold: float
) -> ClassifierCheck:
    """The paper's failure check: O-Net's face score of the fitted box below ``threshold``.

    The fitted box is the box the next frame would be fitted from (the landmarks' box enlarged by
    ``enlarge``, crop convention) mapped back into MTCNN's convention by ``calibration``.
    """

    def to_box(points: np.ndarray) -> np.ndarray:
        return calibration.invert(enlarge_box(landmark_box(points), enlarge))

    return ClassifierCheck(detector.face_score, threshold, to_box)


@dataclass(frozen=True)
class TrackPolicy:
    """How a frame is initialised: ``enlarge`` scales the previous landmarks' box about its centre."""

    failure: FailureCheck = field(default_factory=PeakConfidence)
    enlarge: float = 1.2


@dataclass
class TrackResult:
    """Per-frame output of :func:`track_video` (T frames, K points; NaN where a frame has no fit).

    ``points`` [T, K, 2], ``confidence`` [T, K], ``boxes`` [T, 4] the box the kept fit started from,
    ``redetected`` [T] the detector was called on the frame, ``failed`` [T] the kept fit was judged a
    failure (or there was no box to fit from), so the next frame starts from the detector.
    """

    points: np.ndarray
    confidence: np.ndarray
    boxes: np.ndarray
    redetected: np.ndarray
    failed: np.ndarray

    def __len__(self) -> int:
        return len(self.boxes)


@dataclass
class FrameResult:
    """One frame's tracking output; ``points`` [K, 2] and ``confidence`` [K] are None without a fit."""

    points: np.ndarray | None
    confidence: np.ndarray | None
    box: np.ndarray | None
    redetected: bool
    failed: bool


def _fit_checked(
    image: np.ndarray, box: np.ndarray, fit: FitFn, policy: TrackPolicy
) -> tuple[np.ndarray, np.ndarray, bool]:
    pts, conf = fit(image, box)
    pts, conf = np.asarray(pts, dtype=np.float64), np.asarray(conf, dtype=np.float64)
    return pts, conf, policy.failure.is_failure(image, box, pts, conf)


def track_frame(
    image: np.ndarray, t: int, prev: FrameResult | None, fit: FitFn, detector: Detector, policy: TrackPolicy
) -> FrameResult:
    """One tracking step on frame ``t`` given the previous frame's result (None for the first).

    If the detector finds nothing after a failed tracked fit, the failed fit is kept (flagged).
    """
    tracked = None
    if prev is not None and not prev.failed:
        box = enlarge_box(landmark_box(prev.points), policy.enlarge)
        pts, conf, failed = _fit_checked(image, box, fit, policy)
        if not failed:
            return FrameResult(pts, conf, box, redetected=False, failed=False)
        tracked = FrameResult(pts, conf, box, redetected=True, failed=True)
    det = detector.detect(image, t)
    if det is None:
        return tracked or FrameResult(None, None, None, redetected=True, failed=True)
    det = np.asarray(det, dtype=np.float64)
    pts, conf, failed = _fit_checked(image, det, fit, policy)
    return FrameResult(pts, conf, det, redetected=True, failed=failed)


def track_video(
    frames: Iterable[np.ndarray], fit: FitFn, detector: Detector, policy: TrackPolicy | None = None
) -> TrackResult:
    """Track landmarks through ``frames`` (images [H, W, C], any iterable, consumed once)."""
    policy = policy or TrackPolicy()
    out: list[FrameResult] = []
    prev = None
    for t, image in enumerate(frames):
        prev = track_frame(image, t, prev, fit, detector, policy)
        out.append(prev)
    return _stack(out)


def _stack(frames: list[FrameResult]) -> TrackResult:
    k = next((len(f.points) for f in frames if f.points is not None), 0)
    n = len(frames)
    points, conf, boxes = np.full((n, k, 2), np.nan), np.full((n, k), np.nan), np.full((n, 4), np.nan)
    for i, f in enumerate(frames):
        if f.points is not None:
            points[i], conf[i], boxes[i] = f.points, f.confidence, f.box
    return TrackResult(
        points=points,
        confidence=conf,
        boxes=boxes,
        redetected=np.array([f.redetected for f in frames], dtype=bool),
        failed=np.array([f.failed for f in frames], dtype=bool),
    )
