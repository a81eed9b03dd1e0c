"""Helpers shared by the dataset adapters: image sizes, face boxes, poses and table assembly.

Every adapter builds one row dict per sample (keys of :data:`cmhm.data.samples.INDEX_COLUMNS`; missing
keys take the defaults of :data:`ROW_DEFAULTS`) plus the label arrays, and hands both to
:func:`finish_table`, which writes the table with :func:`cmhm.data.samples.write_table`. Images are
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

from cmhm.data.bad import (
    AdapterError,
    BadSampleError,
    BadSamples,
    check_box,
    check_image,
    check_profile,
    write_skipped,
)
from cmhm.data.samples import INDEX_COLUMNS, SampleTable, write_table
from cmhm.detection.detectors import DETECTORS, Detector, make_detector
from cmhm.geometry.similarity import landmark_box

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


__all__ = ["AdapterError"]  # defined in cmhm.data.bad, re-exported here for the adapters


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) of an image file, decoded completely (:func:`cmhm.data.bad.check_image`)."""
    return check_image(path)


def find_image(stem_path: Path) -> Path:
    """The image beside ``stem_path`` (same name, any suffix of :data:`IMAGE_SUFFIXES`)."""
    for suffix in IMAGE_SUFFIXES:
        for cand in (stem_path.with_suffix(suffix), stem_path.with_suffix(suffix.upper())):
            if cand.is_file():
                return cand
    raise BadSampleError(stem_path, f"no image beside this annotation (tried {', '.join(IMAGE_SUFFIXES)})")


def annotation_box(*point_sets: np.ndarray) -> np.ndarray:
    """[4] tight box (x0, y0, x1, y1) of the points of all ``point_sets`` ([K, >=2] each) whose x and y
    are both finite (:func:`cmhm.geometry.similarity.landmark_box`); AdapterError when there is none."""
    pts = np.concatenate([np.asarray(p, dtype=np.float64)[:, :2] for p in point_sets])
    pts = pts[np.isfinite(pts).all(-1)]
    if len(pts) == 0:
        raise AdapterError("annotation_box: no finite landmark")
    return landmark_box(pts)


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
    """The face detector ``kind`` of :func:`cmhm.detection.detectors.make_detector` (built once per process);
    None (warned once) if it cannot be built, e.g. the Haar cascade file is missing or unreadable."""
    try:
        return make_detector(kind, cascade_path)
    except (FileNotFoundError, RuntimeError, ValueError) as e:
        log.warning("no usable %s face detector (%s); every face box falls back to the landmark box", kind, e)
        return None


def detector_box(
    image_path: Path, fallback: np.ndarray, cascade_path: Path | None, detector: str = "mtcnn"
) -> np.ndarray:
    """Face box from the face detector ``detector`` (:data:`cmhm.detection.detectors.DETECTORS`, the tracker's
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
    box = annotation_box(pts)
    return box if box_source == "landmarks" else detector_box(image_path, box, cascade_path, detector)


def relative_image(image: Path, out_dir: Path) -> str:
    """Path of ``image`` relative to the table folder ``out_dir`` (POSIX separators)."""
    return Path(os.path.relpath(os.path.abspath(image), os.path.abspath(out_dir))).as_posix()


def finish_table(
    rows: list[dict | None],
    arrays: dict[str, np.ndarray],
    out_dir: Path,
    provenance: dict,
    where: str,
    bad: BadSamples | None = None,
) -> SampleTable:
    """Fill defaults, check, write and return the table of ``rows`` / ``arrays`` at ``out_dir``.

    ``rows[i]`` None: sample ``i`` was skipped (its array rows are dropped). Rows sharing a sample id
    are bad samples, all of them (which copy is right?), and so is a profile row whose known yaw says
    it is no profile (:func:`cmhm.data.bad.check_profile`). ``bad``'s list goes to ``skipped.csv`` and
    its count into the provenance (key ``bad_samples``).
    """
    bad = bad or BadSamples("fail", where)
    _drop_duplicates(rows, Path(out_dir), bad)
    for i, r in enumerate(rows):
        if r is not None and not _view_ok(r, Path(out_dir), bad):
            rows[i] = None
    keep = [i for i, r in enumerate(rows) if r is not None]
    if not keep:
        raise AdapterError(f"{where}: found no usable samples ({len(bad.skipped)} skipped)")
    full = [{**ROW_DEFAULTS, **rows[i]} for i in keep]
    missing = sorted(set(INDEX_COLUMNS) - set(full[0]))
    if missing:
        raise AdapterError(f"{where}: rows lack columns {missing}")
    index = pd.DataFrame(full, columns=list(INDEX_COLUMNS))
    arrays = {k: v[keep] for k, v in arrays.items()}
    table = SampleTable(root=Path(out_dir), index=index, arrays=arrays)
    write_table(table, out_dir, {**provenance, "bad_samples": bad.record()})
    write_skipped(Path(out_dir), bad.skipped)
    log.info("%s: wrote %d samples to %s (%d skipped)", where, len(index), out_dir, len(bad.skipped))
    return table


def _view_ok(row: dict, out_dir: Path, bad: BadSamples) -> bool:
    """Whether ``row`` passes :func:`cmhm.data.bad.check_profile`; a failure goes to ``bad``."""
    try:
        check_profile(str(row.get("view", "")), float(row.get("yaw", np.nan)), out_dir / row["image"])
    except BadSampleError as exc:
        bad.handle(row["sample_id"], exc.file, exc.reason)
        return False
    return True


def _drop_duplicates(rows: list[dict | None], out_dir: Path, bad: BadSamples) -> None:
    """Hand every row whose sample id occurs more than once to ``bad`` and set it to None."""
    ids = pd.Series([None if r is None else r["sample_id"] for r in rows])
    dup = ids.notna() & ids.duplicated(keep=False)
    for i in np.flatnonzero(dup.to_numpy()):
        sid = rows[i]["sample_id"]
        others = [str(out_dir / rows[j]["image"]) for j in np.flatnonzero((ids == sid).to_numpy()) if j != i]
        bad.handle(sid, out_dir / rows[i]["image"], f"duplicate sample id {sid!r} (also {others})")
    for i in np.flatnonzero(dup.to_numpy()):
        rows[i] = None


def image_row(sample_id: str, image: Path, out_dir: Path, box: np.ndarray) -> dict:
    """The index fields every row has: id, relative image path, size and face box.

    :class:`cmhm.data.bad.BadSampleError` if the image does not decode completely or the box has zero area.
    """
    w, h = image_size(image)
    check_box(box, image)
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
