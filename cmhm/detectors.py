"""Re-detectors for tracking real videos: a face detector whose boxes are calibrated to the crop boxes.

A detector's box and the box the training crops were centred on (the sample table's ``box_*``:
the landmark box on real data, unless its adapter used a detector) follow different conventions: a
Haar box is a square on the inner face, a landmark box spans the jaw. Fitting from a raw detector box
would give a crop at another scale and offset than every training crop, so the detector's boxes are
mapped first: ``centre += offset * side``, ``side *= scale``, with ``scale`` and ``offset`` the median
ratios measured on training images whose table box is known (:func:`calibrate_detector`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from cmhm.tracking import Detector

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
