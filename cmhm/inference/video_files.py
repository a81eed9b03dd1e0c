"""Videos for ``cmhm predict``: one face tracked through the frames (box propagation, failure check,
re-detection), ``<stem>/<frame>.pts`` per frame with a fit, a JSON line per frame and, with ``overlay``,
``<stem>.mp4`` (see :mod:`cmhm.inference.predict_files`)."""

from __future__ import annotations

import errno
import json
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from cmhm.atomic import write_atomic
from cmhm.data.pts import write_pts
from cmhm.inference.api import Face, FaceAligner
from cmhm.inference.predict_files import draw_faces, face_record


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
