"""Face alignment on one's own images from Python: ``fa = cmhm.load("cascade.pt"); fa.predict(image)``."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch

from cmhm.artifact import CascadeFile, read_cascade
from cmhm.crop import crop_image
from cmhm.detectors import CalibratedDetector, Calibration
from cmhm.geometry import apply_affine, box_to_crop_affine, invert_affine
from cmhm.tracking import Detector, HaarDetector
from cmhm.train import predict, resolve_device


@dataclass
class Face:
    """One aligned face: ``landmarks`` [K, 2] image pixels (0-based, pixel centres), ``confidence`` [K]
    (heatmap peak values), ``box`` [4] (x0, y0, x1, y1) the crop was cut around, ``score`` the
    detector's face score (None for a detector without one, or a given box)."""

    landmarks: np.ndarray
    confidence: np.ndarray
    box: np.ndarray
    score: float | None = None


def detector_from_record(record: dict | None) -> Detector | None:
    """The detector a model file names, calibrated to its crop boxes (None when the file names none)."""
    if record is None:
        return None
    name = record.get("name")
    if name == "haar":
        base = HaarDetector(record.get("cascade_path"))
    else:
        raise ValueError(f"model file names detector {name!r}; this code builds: haar")
    cal = record.get("calibration")
    if cal is None:
        return base
    return CalibratedDetector(base, Calibration(cal["scale"], tuple(cal["offset"]), cal["n"], cal["tried"]))


def detect_faces(detector: Detector, image: np.ndarray) -> list[tuple[np.ndarray, float | None]]:
    """Every face ``detector`` finds in ``image`` as (box [4], score or None), largest first."""
    if hasattr(detector, "detect_all"):
        return list(detector.detect_all(image))
    box = detector.detect(image, 0)
    return [] if box is None else [(np.asarray(box, dtype=np.float64), None)]


class FaceAligner:
    """A trained cascade ready for images of any size: detect (or take boxes), crop, predict, uncrop."""

    def __init__(self, model: CascadeFile, device: str = "auto", batch_size: int = 16) -> None:
        self.model = model
        self.device = str(resolve_device(device))
        self.model.cascade.to(self.device)
        self.batch_size = batch_size
        self.detector = detector_from_record(model.detector)

    @property
    def markup(self) -> str:
        return self.model.markup

    def find_faces(self, image: np.ndarray) -> list[tuple[np.ndarray, float | None]]:
        """Boxes (and scores) of the faces in ``image`` by the model's calibrated detector."""
        if self.detector is None:
            raise ValueError("this model file names no face detector: pass boxes=")
        return detect_faces(self.detector, image)

    def predict(self, image: np.ndarray, boxes: np.ndarray | None = None) -> list[Face]:
        """Landmarks of every face in ``image`` (RGB uint8 [H, W, 3]).

        ``boxes`` [F, 4] (x0, y0, x1, y1, in the crop convention of the model file); None runs the
        detector. Returns one :class:`Face` per box, in the order of the boxes (detections: largest first).
        """
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"predict takes an RGB uint8 image [H, W, 3], got {image.dtype} {image.shape}")
        if boxes is None:
            found = self.find_faces(image)
            boxes_arr = np.array([b for b, _ in found], dtype=np.float64).reshape(-1, 4)
            scores = [s for _, s in found]
        else:
            boxes_arr = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
            scores = [None] * len(boxes_arr)
        if len(boxes_arr) == 0:
            return []
        crop = self.model.crop
        A = box_to_crop_affine(boxes_arr, crop.size, crop.box_scale)
        crops = np.stack([crop_image(image, a, crop.size) for a in A])
        with torch.inference_mode():
            pred = predict(self.model.cascade, crops, batch_size=self.batch_size, device=self.device)
        pts = apply_affine(invert_affine(A), pred["points"])
        return [Face(pts[i], pred["confidence"][i], boxes_arr[i], scores[i]) for i in range(len(boxes_arr))]


def load(path: str | os.PathLike, device: str = "auto", batch_size: int = 16) -> FaceAligner:
    """Load a model file (``cascade.pt``) for face alignment; refuses a file that is not a cascade."""
    return FaceAligner(read_cascade(path), device=device, batch_size=batch_size)
