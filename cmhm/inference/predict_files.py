"""``python -m cmhm predict``: align every face in image files, folders and videos with a model file.

Per input image ``<stem>``, in the output folder: ``<stem>.pts`` (the first face; further faces
``<stem>_1.pts``, ``<stem>_2.pts``, ... in detection order, largest first), one JSON line per face in
``predictions.jsonl`` and, with ``overlay``, ``<stem>.png`` with the points drawn. A video ``<stem>`` is
tracked (box propagation, failure check, re-detection): ``<stem>/<frame>.pts`` per frame with a fit, a
JSON line per frame and, with ``overlay``, ``<stem>.mp4``. An input that cannot be read or holds no face
is reported on stderr (file and reason), listed in ``failures.csv``, and the run goes on.
"""

from __future__ import annotations

import csv
import errno
import io
import json
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from cmhm.atomic import write_atomic
from cmhm.data.bad import BadSampleError, check_image
from cmhm.data.pts import write_pts
from cmhm.inference.api import Face, FaceAligner
from cmhm.inference.boxes import GivenBoxes, check_boxes_overlap, read_boxes

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v")


@dataclass
class PredictReport:
    """What a predict run did: faces written per input, and the inputs that failed with their reason."""

    faces: dict[str, int] = field(default_factory=dict)
    failures: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0  # wall time of the whole run (reading, detecting, aligning, writing)

    def rate(self) -> str:
        """'<inputs>/s, <faces>/s' over the run's wall time."""
        n, t = len(self.faces) + len(self.failures), max(self.seconds, 1e-9)
        return f"{n / t:.2f} inputs/s, {sum(self.faces.values()) / t:.2f} faces/s"


def expand_inputs(inputs: list[str]) -> list[Path]:
    """Files as given, folders as their image and video files (sorted, not recursive)."""
    out = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            out += sorted(f for f in p.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES + VIDEO_SUFFIXES)
        else:
            out.append(p)
    return out


def face_record(source: str, face: Face, index: int, markup: str, frame: int | None = None) -> dict:
    """One JSON line: the input, the face's index (and frame), box, score, landmarks and confidence."""
    return {
        "input": source,
        **({"frame": frame} if frame is not None else {}),
        "face": index,
        "markup": markup,
        "box": [round(float(v), 3) for v in face.box],
        "score": None if face.score is None else float(face.score),
        "landmarks": np.round(face.landmarks, 3).tolist(),
        "confidence": np.round(face.confidence, 4).tolist(),
    }


def draw_faces(image: np.ndarray, faces: list[Face]) -> np.ndarray:
    """A BGR copy of ``image`` (RGB) with each face's box and landmarks drawn."""
    out = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2BGR)
    r = max(1, round(max(image.shape[:2]) / 300))
    for f in faces:
        x0, y0, x1, y1 = (int(round(v)) for v in f.box)
        cv2.rectangle(out, (x0, y0), (x1, y1), (255, 160, 0), r)
        for x, y in f.landmarks:
            if np.isfinite([x, y]).all():
                cv2.circle(out, (int(round(x)), int(round(y))), r + 1, (0, 255, 0), -1, cv2.LINE_AA)
    return out


def read_rgb(path: Path) -> np.ndarray:
    """An image file as RGB uint8; ValueError if OpenCV cannot decode it, or if it does not decode to its
    end (a decoder warning counts, as for the adapters: :func:`cmhm.data.bad.check_image`)."""
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError("not a readable image")
    try:
        check_image(path)  # OpenCV returns half a JPEG with a libjpeg warning that names no file
    except BadSampleError as exc:
        raise ValueError(exc.reason) from None
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def video_frames(path: Path) -> Iterator[np.ndarray]:
    """RGB frames of a video file; ValueError if OpenCV cannot open it."""
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise ValueError("not a readable video")
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                return
            yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    finally:
        cap.release()


def _box_for(boxes: dict[str, GivenBoxes] | None, path: Path, given: str) -> GivenBoxes | None:
    if boxes is None:
        return None
    for key in (given, path.name, str(path)):
        if key in boxes:
            return boxes[key]
    raise ValueError("no box given for it in the boxes file")


def predict_image(
    aligner: FaceAligner, path: Path, given: str, out: Path, boxes: GivenBoxes | None, overlay: bool, jsonl
) -> int:
    """Align the faces of one image file; returns how many; ValueError when none is found or a given box
    does not overlap the image."""
    image = read_rgb(path)
    if boxes is not None:
        check_boxes_overlap(boxes, image)
    faces = aligner.predict(image, None if boxes is None else boxes.boxes)
    if not faces:
        raise ValueError("no face found")
    for i, face in enumerate(faces):
        write_pts(out / (f"{path.stem}.pts" if i == 0 else f"{path.stem}_{i}.pts"), face.landmarks)
        jsonl.write(json.dumps(face_record(given, face, i, aligner.markup)) + "\n")
    if overlay:
        write_atomic(out / f"{path.stem}.png", lambda tmp: _imwrite(tmp, draw_faces(image, faces)))
    return len(faces)


def _imwrite(path: Path, image: np.ndarray) -> None:
    if not cv2.imwrite(str(path), image):  # OpenCV reports a failed write by its return value only
        raise OSError(f"OpenCV could not write {path.name}")


class _FirstFace:
    """The aligner's detector as the tracker's single-face :class:`cmhm.evaluation.tracking.Detector`."""

    def __init__(self, aligner: FaceAligner) -> None:
        self.aligner = aligner

    def detect(self, image: np.ndarray, frame: int) -> np.ndarray | None:
        found = self.aligner.find_faces(image)
        return found[0][0] if found else None


def predict_video(aligner: FaceAligner, path: Path, given: str, out: Path, overlay: bool, jsonl) -> int:
    """Track one face through a video; returns the number of frames with a fit. The overlay is written
    through a temporary name (a failure or a full disk leaves no partial ``.mp4``)."""
    if not overlay:
        return _track(aligner, path, given, out, jsonl, None)
    n_fit: list[int] = []
    write_atomic(
        out / f"{path.stem}.mp4", lambda tmp: n_fit.append(_track(aligner, path, given, out, jsonl, tmp))
    )
    return n_fit[0]


def _track(aligner: FaceAligner, path: Path, given: str, out: Path, jsonl, video: Path | None) -> int:
    from cmhm.evaluation.tracking import TrackPolicy, track_frame
    from cmhm.inference.api import failure_from_record

    policy = TrackPolicy(failure_from_record(aligner.model.tracking), aligner.model.tracking["enlarge"])
    detector = _FirstFace(aligner)

    def fit(image: np.ndarray, box: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        face = aligner.predict(image, box[None])[0]
        return face.landmarks, face.confidence

    frames_dir, writer, n_fit, prev = out / path.stem, None, 0, None
    frames_dir.mkdir(parents=True, exist_ok=True)
    n_total = int(cv2.VideoCapture(str(path)).get(cv2.CAP_PROP_FRAME_COUNT)) or None
    for t, image in enumerate(tqdm(video_frames(path), total=n_total, desc=path.name, leave=False)):
        prev = track_frame(image, t, prev, fit, detector, policy)
        faces = []
        if prev.points is not None and np.isfinite(prev.points).all():
            face = Face(prev.points, prev.confidence, prev.box)
            faces, n_fit = [face], n_fit + 1
            write_pts(frames_dir / f"{t:06d}.pts", face.landmarks)
            jsonl.write(json.dumps(face_record(given, face, 0, aligner.markup, frame=t)) + "\n")
        if video is not None:
            if writer is None:
                h, w = image.shape[:2]
                writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 25, (w, h))
                if not writer.isOpened():
                    raise OSError(errno.EIO, "OpenCV could not open an mp4v video writer")
            writer.write(draw_faces(image, faces))
    if writer is not None:
        writer.release()
        _check_video(video, t + 1)
    if prev is None:
        raise ValueError("no frame could be read")
    if n_fit == 0:
        raise ValueError("no face found in any frame")
    return n_fit


def _check_video(video: Path, n_frames: int) -> None:
    """OSError unless ``video`` reads back with ``n_frames`` frames: OpenCV's writer reports no failed write
    (a full disk leaves a short or unreadable file without a word), so the file is counted."""
    capture, n = cv2.VideoCapture(str(video)), 0
    while capture.grab():
        n += 1
    capture.release()
    if n != n_frames:
        raise OSError(
            errno.EIO, f"the overlay video reads back with {n} of its {n_frames} frames (a full disk?)"
        )


def run_predict(
    aligner: FaceAligner,
    inputs: list[str],
    out: str | os.PathLike,
    boxes_file: str | None = None,
    overlay: bool = False,
    progress: bool = True,
) -> PredictReport:
    """Align every input (see the module docstring); failures are reported, listed and counted."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    boxes = read_boxes(boxes_file) if boxes_file else None
    report = PredictReport()
    paths = expand_inputs(inputs)
    jsonl = io.StringIO()  # written at the end through a temporary name: never a partial file
    for path in tqdm(paths, desc="predict", disable=not progress or len(paths) < 2):
        given = str(path)
        try:
            if not path.is_file():
                raise ValueError("no such file")
            if path.suffix.lower() in VIDEO_SUFFIXES:
                report.faces[given] = predict_video(aligner, path, given, out, overlay, jsonl)
            else:
                b = _box_for(boxes, path, given)
                report.faces[given] = predict_image(aligner, path, given, out, b, overlay, jsonl)
        except ValueError as exc:
            report.failures.append((given, str(exc)))
            print(f"cmhm predict: {given}: {exc}", file=sys.stderr)
    write_atomic(out / "predictions.jsonl", lambda tmp: tmp.write_text(jsonl.getvalue()))
    write_atomic(out / "failures.csv", lambda tmp: _write_csv(tmp, [["input", "reason"], *report.failures]))
    report.seconds = time.perf_counter() - t0
    return report


def _write_csv(path: Path, rows: list) -> None:
    with path.open("w", newline="") as f:
        csv.writer(f).writerows(rows)


def predict_demo(
    aligner: FaceAligner, sample_dirs: list[str], n: int, out: str | os.PathLike
) -> PredictReport:
    """``cmhm predict`` on the first ``n`` images of test sample tables, with their stored boxes (the
    synthetic detector's) as ``--boxes``: what ``make run`` shows in report.html."""
    from cmhm.data.samples import read_table

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows, paths = [], []
    for d in sample_dirs:
        table = read_table(d)
        boxes = table.boxes()
        for i in range(min(n - len(paths), len(table))):
            path = table.image_path(i)
            paths.append(str(path))
            rows.append([str(path), *boxes[i].tolist()])
    boxes_csv = out / "boxes.csv"
    with boxes_csv.open("w", newline="") as f:
        csv.writer(f).writerows([["image", "x0", "y0", "x1", "y1"], *rows])
    return run_predict(aligner, paths, out, str(boxes_csv), overlay=True, progress=False)
