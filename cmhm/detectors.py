"""Re-detectors for tracking real videos: a face detector whose boxes are calibrated to the crop boxes.

A detector's box and the box the training crops were centred on (the sample table's ``box_*``:
the landmark box on real data, unless its adapter used a detector) follow different conventions: a
Haar box is a square on the inner face, a landmark box spans the jaw. Fitting from a raw detector box
would give a crop at another scale and offset than every training crop, so the detector's boxes are
mapped first: ``centre += offset * side``, ``side *= scale``, with ``scale`` and ``offset`` the median
ratios measured on training images whose table box is known (:func:`calibrate_detector`).

Detectors are built by one factory, :func:`make_detector` (``haar`` or ``mtcnn``), used by the
adapters' ``box_source: detector`` and the tracker's re-detection. MTCNN's O-Net also judges tracked
fits (the paper's failure check, :func:`onet_check`), its threshold calibrated on training images
(:func:`calibrate_face_score`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from cmhm.geometry import landmark_box
from cmhm.mtcnn import MTCNN
from cmhm.tracking import ClassifierCheck, Detector, HaarDetector, enlarge_box

DETECTORS: tuple[str, ...] = ("haar", "mtcnn")

MIN_CALIBRATION_FACES = 5


def _centre_side(box: np.ndarray) -> tuple[np.ndarray, float]:
    """Centre [2] and longer side of a box (x0, y0, x1, y1), pixel-inclusive like landmark boxes."""
    box = np.asarray(box, dtype=np.float64)
    return (box[:2] + box[2:]) / 2, float(max(box[2] - box[0], box[3] - box[1]) + 1)


@dataclass(frozen=True)
class Calibration:
    """Detector box -> crop-convention box: the side times ``scale``, the centre moved by ``offset`` [2]
    (in units of the detector box's side); ``n`` training faces found out of ``tried``."""

    scale: float
    offset: tuple[float, float]
    n: int
    tried: int

    def apply(self, box: np.ndarray) -> np.ndarray:
        """Box [4] in the crop convention (a square, like the boxes the crops are cut from)."""
        centre, side = _centre_side(box)
        centre = centre + np.asarray(self.offset) * side
        half = (side * self.scale - 1) / 2
        return np.concatenate([centre - half, centre + half])

    def invert(self, box: np.ndarray) -> np.ndarray:
        """Crop-convention box [4] -> the square detector box that :meth:`apply` maps onto it."""
        centre, side = _centre_side(box)
        side = side / self.scale
        centre = centre - np.asarray(self.offset) * side
        return np.concatenate([centre - (side - 1) / 2, centre + (side - 1) / 2])


def calibrate_detector(
    detector: Detector, samples: Iterable[tuple[np.ndarray, np.ndarray]], name: str = "detector"
) -> Calibration:
    """Median box mapping from ``detector``'s boxes to the reference boxes of ``samples``.

    ``samples`` yields (image [H, W, C], reference box [4]); images where the detector finds nothing,
    or whose best box misses the reference box's centre, are skipped. Raises ValueError when fewer than
    :data:`MIN_CALIBRATION_FACES` remain, naming ``name``.
    """
    scales, offsets, tried = [], [], 0
    for image, ref in samples:
        tried += 1
        det = detector.detect(image, 0)
        if det is None:
            continue
        (dc, ds), (rc, rs) = _centre_side(det), _centre_side(ref)
        if not (np.asarray(det[:2]) <= rc).all() or not (rc <= np.asarray(det[2:])).all():
            continue  # another face, or background
        scales.append(rs / ds)
        offsets.append((rc - dc) / ds)
    if len(scales) < MIN_CALIBRATION_FACES:
        raise ValueError(
            f"{name}: found the annotated face in only {len(scales)} of {tried} calibration images "
            f"(at least {MIN_CALIBRATION_FACES} needed); use evaluation.detector: table, or another cascade"
        )
    return Calibration(
        float(np.median(scales)), tuple(np.median(np.array(offsets), axis=0).tolist()), len(scales), tried
    )


@dataclass
class CalibratedDetector:
    """``detector`` with its boxes passed through ``calibration`` (None stays None)."""

    detector: Detector
    calibration: Calibration

    def detect(self, image: np.ndarray, frame: int) -> np.ndarray | None:
        box = self.detector.detect(image, frame)
        return None if box is None else self.calibration.apply(box)


def spread_indices(n: int, k: int) -> np.ndarray:
    """``min(n, k)`` indices spread evenly over ``range(n)`` (deterministic calibration subsets)."""
    return np.unique(np.linspace(0, n - 1, num=min(n, k)).round().astype(int)) if n else np.zeros(0, int)


def calibrated(
    detector: Detector, n: int, load: Callable[[int], tuple[np.ndarray, np.ndarray]], k: int, name: str
) -> CalibratedDetector:
    """``detector`` calibrated on ``k`` of ``n`` samples spread evenly, ``load(i) -> (image, box)``."""
    cal = calibrate_detector(detector, (load(int(i)) for i in spread_indices(n, k)), name)
    return CalibratedDetector(detector, cal)


@lru_cache(maxsize=4)
def make_detector(kind: str, haar_cascade: str | None = None) -> HaarDetector | MTCNN:
    """The face detector named ``kind`` (one of :data:`DETECTORS`), built once per process.

    ``haar_cascade``: cascade XML for ``haar`` (None: OpenCV's bundled frontal-face cascade).
    """
    if kind == "haar":
        return HaarDetector(None if haar_cascade is None else Path(haar_cascade))
    if kind == "mtcnn":
        return MTCNN()
    raise ValueError(f"unknown face detector {kind!r}: expected one of {DETECTORS}")


@dataclass(frozen=True)
class ScoreThreshold:
    """A face-score cut: the threshold, the median score of ``n`` face boxes and of as many background
    boxes (the face box moved off the face in the same image), and the balanced accuracy there."""

    threshold: float
    face_median: float
    background_median: float
    accuracy: float
    n: int


def background_box(box: np.ndarray, width: int) -> np.ndarray:
    """``box`` [4] moved sideways by one box width, towards the wider margin of an image ``width`` wide."""
    box = np.asarray(box, dtype=np.float64)
    w = box[2] - box[0] + 1
    return box + (w if width - 1 - box[2] > box[0] else -w) * np.array([1.0, 0.0, 1.0, 0.0])


def calibrate_face_score(
    score: Callable[[np.ndarray, np.ndarray], float],
    samples: Iterable[tuple[np.ndarray, np.ndarray]],
    name: str = "face score",
) -> ScoreThreshold:
    """The threshold on ``score(image, box)`` that best separates face boxes from background boxes.

    ``samples`` yields (image [H, W, C], face box [4] in the scorer's convention); each gives one face
    score and one background score (:func:`background_box`). The threshold maximises the balanced
    accuracy (the middle best cut, halfway to the next score below). ValueError naming ``name`` with fewer than
    :data:`MIN_CALIBRATION_FACES` samples.
    """
    face, back = [], []
    for image, box in samples:
        face.append(score(image, box))
        back.append(score(image, background_box(box, image.shape[1])))
    if len(face) < MIN_CALIBRATION_FACES:
        raise ValueError(f"{name}: {len(face)} calibration images (at least {MIN_CALIBRATION_FACES} needed)")
    f, b = np.asarray(face), np.asarray(back)
    cuts = np.unique(np.concatenate([f, b, [1.0 + 1e-9]]))
    acc = np.array([((f >= c).mean() + (b < c).mean()) / 2 for c in cuts])
    best = np.flatnonzero(acc == acc.max())
    i = best[len(best) // 2]
    return ScoreThreshold(
        float((cuts[i] + (cuts[i - 1] if i else 0.0)) / 2),
        float(np.median(f)),
        float(np.median(b)),
        float(acc.max()),
        len(f),
    )


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
