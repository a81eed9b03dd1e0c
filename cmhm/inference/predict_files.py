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
import io
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
from tqdm import tqdm

from cmhm.atomic import write_atomic
from cmhm.data.bad import BadSampleError, check_image
from cmhm.data.pts import write_pts
from cmhm.inference.api import Face, FaceAligner
from cmhm.inference.boxes import GivenBoxes, check_boxes_overlap, read_boxes

if TYPE_CHECKING:
    from cmhm.inference.predict_pool import PredictPool

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


def align_file(run, aligner: FaceAligner, path: Path, *args) -> tuple[int | None, str, str | None]:
    """``run`` (:func:`predict_image` or :func:`predict_video`) on one input file (:func:`run_predict` has
    named a missing one): (faces or frames with a fit, their JSON lines, None), or (None, "", reason) when
    it is unreadable, holds no face, or a given box misses it."""
    jsonl = io.StringIO()
    try:
        return run(aligner, path, str(path), *args, jsonl), jsonl.getvalue(), None
    except ValueError as exc:
        return None, "", str(exc)


def align_image(
    aligner: FaceAligner, path: Path, out: Path, boxes: GivenBoxes | None, overlay: bool
) -> tuple[int | None, str, str | None]:
    """:func:`align_file` of one image (what each worker of :mod:`cmhm.inference.predict_pool` runs)."""
    return align_file(predict_image, aligner, path, out, boxes, overlay)


def run_predict(
    aligner: FaceAligner | None,
    inputs: list[str],
    out: str | os.PathLike,
    boxes_file: str | None = None,
    overlay: bool = False,
    progress: bool = True,
    pool: PredictPool | None = None,
) -> PredictReport:
    """Align every input (see the module docstring); failures are reported, listed and counted.

    ``pool``: images go to its worker processes (videos stay here, with ``aligner``, which may then be
    None when no input is a video); the output files are those of a one-process run."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    boxes = read_boxes(boxes_file) if boxes_file else None
    paths = expand_inputs(inputs)
    done: dict[int, tuple[int | None, str, str | None]] = {}  # input index -> (faces, JSON lines, failure)
    tasks: dict[int, tuple] = {}
    bar = tqdm(total=len(paths), desc="predict", disable=not progress or len(paths) < 2)
    for i, path in enumerate(paths):
        if not path.is_file():
            done[i] = _reported(path, (None, "", "no such file"), bar)
        elif path.suffix.lower() not in VIDEO_SUFFIXES:
            try:
                tasks[i] = (path, out, _box_for(boxes, path, str(path)), overlay)
            except ValueError as exc:
                done[i] = _reported(path, (None, "", str(exc)), bar)
    images = pool.map(tasks.values()) if pool else (align_image(aligner, *t) for t in tasks.values())
    for i, result in zip(tasks, images):
        done[i] = _reported(paths[i], result, bar)
    from cmhm.inference.video_files import predict_video

    for i, path in enumerate(paths):
        if i not in done:  # a video: tracked here, frame after frame
            done[i] = _reported(path, align_file(predict_video, aligner, path, out, overlay), bar)
    bar.close()
    report = PredictReport()
    for i in sorted(done):
        n, _, reason = done[i]
        if reason is None:
            report.faces[str(paths[i])] = n
        else:
            report.failures.append((str(paths[i]), reason))
    text = "".join(done[i][1] for i in sorted(done))  # written through a temporary name: never partial
    write_atomic(out / "predictions.jsonl", lambda tmp: tmp.write_text(text))
    write_atomic(out / "failures.csv", lambda tmp: _write_csv(tmp, [["input", "reason"], *report.failures]))
    report.seconds = time.perf_counter() - t0
    return report


def _reported(path: Path, result: tuple, bar) -> tuple:
    """``result`` of one input, its failure (if any) said on stderr as it comes."""
    if result[2] is not None:
        print(f"cmhm predict: {path}: {result[2]}", file=sys.stderr)
    bar.update()
    return result


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
