"""Re-detectors for tracking real videos: a face detector whose boxes are calibrated to the crop boxes.

A detector's box and the box the training crops were centred on (the sample table's ``box_*``:
the landmark box on real data, unless its adapter used a detector) follow different conventions: a
Haar box is a square on the inner face, a landmark box spans the jaw. Fitting from a raw detector box
would give a crop at another scale and offset than every training crop, so the detector's boxes are
mapped first: ``centre += offset * side``, ``side *= scale``, with ``scale`` and ``offset`` the median
ratios measured on training images whose table box is known (:func:`calibrate_detector`).

This is the one module of face detection: the :class:`Detector` protocol, :class:`HaarDetector`,
:class:`OracleJitterDetector` (the synthetic data's stored boxes), MTCNN (network in
:mod:`cmhm.detection.mtcnn`) and its calibration. Detectors are built by one factory,
:func:`make_detector` (``haar`` or ``mtcnn``), used by the
adapters' ``box_source: detector`` and the tracker's re-detection. MTCNN's O-Net also judges tracked
fits (the paper's failure check, :func:`cmhm.evaluation.tracking.onet_check`), its threshold calibrated on training images
(:func:`calibrate_face_score`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from cmhm.detection.mtcnn import MTCNN

DETECTORS: tuple[str, ...] = ("haar", "mtcnn")
HAAR_FRONTAL = "haarcascade_frontalface_default.xml"

MIN_CALIBRATION_FACES = 5


class Detector(Protocol):
    """A face detector: the box (x0, y0, x1, y1) of the face in ``image`` [H, W, C], or None.

    ``frame`` is the frame's index in its video (detectors that look only at pixels ignore it).
    """

    def detect(self, image: np.ndarray, frame: int) -> np.ndarray | None: ...


class HaarDetector:
    """OpenCV's bundled Viola-Jones frontal-face cascade; returns the largest detection or None.

    The bundled file is ``cv2.data.haarcascades`` / :data:`HAAR_FRONTAL`; opencv-python-headless 5.0
    wheels ship none, hence the project's ``<5`` pin. Boxes use the landmark-box convention of
    :func:`cmhm.data.common.detector_box`: (x0, y0, x1, y1) are the first and last pixels covered.
    """

    def __init__(
        self,
        cascade_path: str | Path | None = None,
        scale_factor: float = 1.1,
        min_neighbors: int = 4,
        min_size: int = 0,
    ):
        path = Path(cascade_path) if cascade_path else _bundled_cascade()
        if not path.is_file():
            raise FileNotFoundError(f"HaarDetector: cascade file {path} does not exist")
        try:
            self._cascade = cv2.CascadeClassifier(str(path))
        except (cv2.error, SystemError) as exc:  # a malformed XML: OpenCV's message names no file
            first = (str(exc.__cause__ or exc).strip().splitlines() or [""])[-1]
            raise ValueError(
                f"{path}: not a readable OpenCV cascade XML (truncated or malformed: {first})"
            ) from None
        if self._cascade.empty():
            raise ValueError(f"{path}: OpenCV could not load this cascade XML (not a Haar cascade?)")
        self.scale_factor, self.min_neighbors, self.min_size = scale_factor, min_neighbors, min_size

    def detect(self, image: np.ndarray, frame: int) -> np.ndarray | None:
        """Box [4] (x0, y0, x1, y1) of the largest face in ``image`` [H, W] or [H, W, 3] (RGB), or None."""
        gray = image if image.ndim == 2 else cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY)
        faces = self._cascade.detectMultiScale(
            gray, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors, minSize=(self.min_size,) * 2
        )
        if len(faces) == 0:
            return None
        x, y, w, h = max(faces, key=lambda f: f[2] * f[3])
        return np.array([x, y, x + w - 1, y + h - 1], dtype=np.float64)


def _bundled_cascade() -> Path:
    data = getattr(cv2, "data", None)
    if data is None or not hasattr(data, "haarcascades"):
        raise RuntimeError(
            "HaarDetector: this OpenCV build has no cv2.data (no bundled Haar cascades); install the "
            "project's pinned opencv-python-headless<5 or pass cascade_path= to a " + HAAR_FRONTAL
        )
    path = Path(data.haarcascades) / HAAR_FRONTAL
    if not path.is_file():
        raise FileNotFoundError(
            f"HaarDetector: {path} is missing from this OpenCV install (opencv-python-headless 5.x wheels "
            "ship no cascades; the project pins <5); pass cascade_path= explicitly"
        )
    return path


class OracleJitterDetector:
    """The synthetic dataset's "detector": returns the stored detector-like box of the asked frame.

    ``boxes`` [T, 4] are the sample table's ``box_*`` columns of one video, in frame order; a row of
    NaN means the detector finds nothing on that frame.
    """

    def __init__(self, boxes: np.ndarray):
        self.boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)

    def detect(self, image: np.ndarray, frame: int) -> np.ndarray | None:
        if not 0 <= frame < len(self.boxes):
            raise IndexError(f"OracleJitterDetector: no box for frame {frame} ({len(self.boxes)} boxes)")
        box = self.boxes[frame]
        return box.copy() if np.isfinite(box).all() else None


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
