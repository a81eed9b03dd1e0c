"""Helpers shared by the dataset adapters: image sizes, face boxes, poses and table assembly.

Every adapter builds one row dict per sample (keys of :data:`cmhm.samples.INDEX_COLUMNS`; missing
keys take the defaults of :data:`ROW_DEFAULTS`) plus the label arrays, and hands both to
:func:`finish_table`, which writes the table with :func:`cmhm.samples.write_table`. Images are
never copied: the ``image`` column is the source path relative to the table folder.
"""

from __future__ import annotations

import logging
import os
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from cmhm.detectors import DETECTORS, make_detector
from cmhm.samples import INDEX_COLUMNS, SampleTable, write_table
from cmhm.tracking import Detector

log = logging.getLogger(__name__)

IMAGE_SUFFIXES: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".ppm")
BOX_SOURCES: tuple[str, ...] = ("landmarks", "detector")
ROW_DEFAULTS: dict[str, object] = {
    "yaw": np.nan,
    "pitch": np.nan,
    "roll": np.nan,
    "view": "semifrontal",
    "side": "",
    "video": "",
    "frame": -1,
}


class AdapterError(ValueError):
    """A source dataset file is missing or malformed; the message names the file."""


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) of an image file; :class:`AdapterError` naming it if it cannot be decoded."""
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise AdapterError(f"{path}: missing or not a decodable image")
    return int(img.shape[1]), int(img.shape[0])


def find_image(stem_path: Path) -> Path:
    """The image beside ``stem_path`` (same name, any suffix of :data:`IMAGE_SUFFIXES`)."""
    for suffix in IMAGE_SUFFIXES:
        for cand in (stem_path.with_suffix(suffix), stem_path.with_suffix(suffix.upper())):
            if cand.is_file():
                return cand
    raise AdapterError(f"{stem_path}: no image beside this annotation (tried {', '.join(IMAGE_SUFFIXES)})")


def landmark_box(*point_sets: np.ndarray) -> np.ndarray:
    """[4] tight box (x0, y0, x1, y1) of the finite points of all ``point_sets`` ([K, >=2] each)."""
    pts = np.concatenate([np.asarray(p, dtype=np.float64)[:, :2] for p in point_sets])
    pts = pts[np.isfinite(pts).all(-1)]
    if len(pts) == 0:
        raise AdapterError("landmark_box: no finite landmark")
    return np.concatenate([pts.min(0), pts.max(0)])


def wrap_degrees(angle: np.ndarray | float) -> np.ndarray:
    """Wrap angles in degrees into (-180, 180]."""
    a = np.mod(np.asarray(angle, dtype=np.float64), 360.0)
    return np.where(a > 180.0, a - 360.0, a)


def facing_side(tip_x: float, back_x: np.ndarray) -> str:
    """Facing side of a profile face: "right" if the nose tip's x exceeds the mean of ``back_x``, else "left".

    ``back_x`` are x coordinates of points behind the nose tip (e.g. the face contour).
    """
    return "right" if tip_x > float(np.nanmean(back_x)) else "left"


@lru_cache(maxsize=4)
def _detector(kind: str, cascade_path: str | None) -> Detector | None:
    """The face detector ``kind`` of :func:`cmhm.detectors.make_detector` (built once per process);
    None (warned once) if it cannot be built, e.g. the Haar cascade file is missing or unreadable."""
    try:
        return make_detector(kind, cascade_path)
    except (FileNotFoundError, RuntimeError, ValueError) as e:
        log.warning("no usable %s face detector (%s); every face box falls back to the landmark box", kind, e)
        return None


def detector_box(
    image_path: Path, fallback: np.ndarray, cascade_path: Path | None, detector: str = "mtcnn"
) -> np.ndarray:
    """Face box from the face detector ``detector`` (:data:`cmhm.detectors.DETECTORS`, the tracker's
    re-detectors, same settings): the largest detection; ``fallback`` (logged) if none.

    ``cascade_path`` (Haar only) None means OpenCV's bundled frontal-face cascade; when it does not
    exist (the opencv-python-headless 5.0 wheels ship none, hence the project's ``<5`` pin) every image
    falls back, with a warning. The choice among detections never uses the landmarks.
    """
    if detector not in DETECTORS:
        raise ValueError(f"detector must be one of {DETECTORS}, got {detector!r}")
    found = _detector(detector, None if cascade_path is None else str(cascade_path))
    if found is None:
        return fallback
    image = cv2.imread(str(image_path), cv2.IMREAD_COLOR)
    if image is None:
        raise AdapterError(f"{image_path}: missing or not a decodable image")
    box = found.detect(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), 0)
    if box is None:
        log.warning("%s: the %s face detector found no face; using the landmark box", image_path, detector)
        return fallback
    return box


def face_box(
    image_path: Path,
    pts: np.ndarray,
    box_source: str,
    cascade_path: Path | None = None,
    detector: str = "mtcnn",
) -> np.ndarray:
    """[4] face box: tight box of ``pts`` ("landmarks") or a ``detector`` box ("detector")."""
    if box_source not in BOX_SOURCES:
        raise ValueError(f"box_source must be one of {BOX_SOURCES}, got {box_source!r}")
    box = landmark_box(pts)
    return box if box_source == "landmarks" else detector_box(image_path, box, cascade_path, detector)


def relative_image(image: Path, out_dir: Path) -> str:
    """Path of ``image`` relative to the table folder ``out_dir`` (POSIX separators)."""
    return Path(os.path.relpath(os.path.abspath(image), os.path.abspath(out_dir))).as_posix()


def finish_table(
    rows: list[dict], arrays: dict[str, np.ndarray], out_dir: Path, provenance: dict, where: str
) -> SampleTable:
    """Fill defaults, check, write and return the table of ``rows`` / ``arrays`` at ``out_dir``."""
    if not rows:
        raise AdapterError(f"{where}: found no samples")
    full = [{**ROW_DEFAULTS, **r} for r in rows]
    missing = sorted(set(INDEX_COLUMNS) - set(full[0]))
    if missing:
        raise AdapterError(f"{where}: rows lack columns {missing}")
    index = pd.DataFrame(full, columns=list(INDEX_COLUMNS))
    table = SampleTable(root=Path(out_dir), index=index, arrays=arrays)
    write_table(table, out_dir, provenance)
    log.info("%s: wrote %d samples to %s", where, len(index), out_dir)
    return table


def image_row(sample_id: str, image: Path, out_dir: Path, box: np.ndarray) -> dict:
    """The index fields every row has: id, relative image path, size and face box."""
    w, h = image_size(image)
    return {
        "sample_id": sample_id,
        "image": relative_image(image, out_dir),
        "width": w,
        "height": h,
        "box_x0": float(box[0]),
        "box_y0": float(box[1]),
        "box_x1": float(box[2]),
        "box_y1": float(box[3]),
    }
