"""Bad samples of a real dataset: what counts as one, and the ``data.on_bad_sample`` policy.

A *bad sample* is one sample whose files or labels cannot be trusted: an image that does not
decode to its end (a decoder warning counts), an empty or truncated annotation file, landmarks
or pose that are NaN or infinite, landmarks collapsed to a zero-area box or lying outside the
image by more than :data:`OUTSIDE_MARGIN`, a 39-point profile annotation on a face whose known
yaw is below :data:`PROFILE_MIN_YAW`, a sample id that occurs twice, a gap in a video (frames
or annotations missing), or a point group annotated in reverse order
(:func:`cmhm.landmarks.markups.reversed_groups`). The checks raise :class:`BadSampleError` naming the file and the problem.

:class:`BadSamples` applies the policy of one adapter run: ``"fail"`` re-raises the error;
``"skip"`` logs a warning, leaves the sample out and lists it. The list is written beside the
sample table as :data:`SKIPPED_FILE` (columns :data:`SKIPPED_COLUMNS`; a header only when nothing
was skipped) and its count goes into the table's ``provenance.json`` (key ``bad_samples``).
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd
from PIL import Image

from cmhm.atomic import write_atomic
from cmhm.data.pts import PtsFormatError
from cmhm.landmarks.markups import Markup, contour_reach, reversed_groups

log = logging.getLogger(__name__)
T = TypeVar("T")

POLICIES: tuple[str, ...] = ("fail", "skip")
SKIPPED_FILE = "skipped.csv"
SKIPPED_COLUMNS: tuple[str, ...] = ("sample_id", "file", "reason")
OUTSIDE_MARGIN = 0.25  # landmarks may lie outside the image by this fraction of its larger side
PROFILE_MIN_YAW = 30.0  # degrees: a 39-point profile face with a known |yaw| below this is not a profile
JPEG_SUFFIXES = (".jpg", ".jpeg")
JPEG_END = b"\xff\xd9"


class AdapterError(ValueError):
    """A source dataset file is missing or malformed; the message names the file."""


class BadSampleError(AdapterError):
    """One sample is unusable; ``file`` names the file at fault, ``reason`` what is wrong with it."""

    def __init__(self, file: str | os.PathLike, reason: str) -> None:
        self.file, self.reason = str(file), reason
        super().__init__(f"{file}: {reason}")


class BadSamples:
    """The ``data.on_bad_sample`` policy of one adapter run (``where`` names it) and what it skipped."""

    def __init__(self, policy: str, where: str) -> None:
        if policy not in POLICIES:
            raise ValueError(f"data.on_bad_sample must be one of {POLICIES}, got {policy!r}")
        self.policy, self.where = policy, where
        self.skipped: list[dict[str, str]] = []

    def handle(self, sample_id: str, file: str | os.PathLike, reason: str) -> None:
        """Raise (policy fail) or log and list (policy skip) the bad sample ``sample_id``."""
        if self.policy == "fail":
            raise BadSampleError(
                file, f"{reason} [sample {sample_id}; data.on_bad_sample is 'fail', 'skip' would list it]"
            )
        log.warning("%s: skipping sample %s: %s: %s", self.where, sample_id, file, reason)
        self.skipped.append({"sample_id": sample_id, "file": str(file), "reason": reason})

    def run(self, sample_id: str, file: str | os.PathLike, build: Callable[[], T]) -> T | None:
        """``build()``, or None after :meth:`handle` if it raises a bad-sample error.

        ``file`` names the sample's annotation for errors that do not carry their own file; a ``.pts``
        error keeps its ``path:line``.
        """
        try:
            return build()
        except BadSampleError as exc:
            self.handle(sample_id, exc.file, exc.reason)
        except PtsFormatError as exc:
            where, _, reason = str(exc).partition(": ")  # "path[:line]: what is wrong"
            self.handle(sample_id, where if reason else file, reason or where)
        return None

    def record(self) -> dict:
        """What goes into the table's provenance: the policy and the skipped count."""
        return {"policy": self.policy, "skipped": len(self.skipped), "list": SKIPPED_FILE}


def write_skipped(out_dir: Path, skipped: list[dict[str, str]]) -> None:
    """Write ``skipped`` as ``out_dir/skipped.csv`` (through a temporary name)."""
    frame = pd.DataFrame(skipped, columns=list(SKIPPED_COLUMNS))
    write_atomic(Path(out_dir) / SKIPPED_FILE, lambda tmp: frame.to_csv(tmp, index=False))


def read_skipped(table_dir: str | os.PathLike) -> pd.DataFrame | None:
    """The skipped-sample list of a sample table folder; None if it has none (synthetic or older tables)."""
    path = Path(table_dir) / SKIPPED_FILE
    if not path.is_file():
        return None
    return pd.read_csv(path, keep_default_na=False, dtype=str)


def check_image(path: Path) -> tuple[int, int]:
    """(width, height) of an image decoded to its last pixel; :class:`BadSampleError` otherwise.

    Pillow decodes the whole image and raises on truncated data; its warnings count as failures;
    a JPEG must also end with the end-of-image marker (trailing zero padding allowed).
    """
    if not path.is_file():
        raise BadSampleError(path, "image missing")
    if path.stat().st_size == 0:
        raise BadSampleError(path, "image file is empty (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with Image.open(path) as im:
                im.verify()
            with Image.open(path) as im:
                im.load()
                size = im.size
    except (OSError, SyntaxError, ValueError, Warning, Image.DecompressionBombError) as exc:
        raise BadSampleError(path, f"image does not decode completely ({exc})") from exc
    if path.suffix.lower() in JPEG_SUFFIXES:
        with open(path, "rb") as f:
            f.seek(max(0, path.stat().st_size - 4096))
            tail = f.read().rstrip(b"\x00")
        if not tail.endswith(JPEG_END):
            raise BadSampleError(path, "JPEG lacks its end-of-image marker (truncated)")
    return int(size[0]), int(size[1])


def check_box(box: np.ndarray, file: str | os.PathLike) -> None:
    """:class:`BadSampleError` unless ``box`` [4] (x0, y0, x1, y1) is finite with positive width and height."""
    box = np.asarray(box, dtype=np.float64)
    if not np.isfinite(box).all():
        raise BadSampleError(file, f"face box is not finite ({box.tolist()})")
    if box[2] <= box[0] or box[3] <= box[1]:
        raise BadSampleError(file, f"face box has zero area ({box.tolist()})")


def check_points(pts: np.ndarray, size: tuple[int, int], file: str | os.PathLike, what: str) -> None:
    """Check landmarks [K, D] (x, y first) of an image of ``size`` (width, height).

    Bad: any non-finite x or y; a zero-area (collapsed) landmark box; a point farther outside the
    image than :data:`OUTSIDE_MARGIN` times its larger side.
    """
    xy = np.asarray(pts, dtype=np.float64)[:, :2]
    if not np.isfinite(xy).all():
        raise BadSampleError(file, f"{what}: NaN or infinite landmark coordinates")
    lo, hi = xy.min(0), xy.max(0)
    if (hi - lo <= 0).any():
        raise BadSampleError(file, f"{what}: landmarks collapse to a zero-area box ({(hi - lo).tolist()} px)")
    w, h = size
    beyond = float(max(-lo[0], -lo[1], hi[0] - (w - 1), hi[1] - (h - 1)))
    margin = OUTSIDE_MARGIN * max(w, h)
    if beyond > margin:
        raise BadSampleError(
            file, f"{what}: landmarks lie {beyond:.0f} px outside the {w}x{h} image (margin {margin:.0f} px)"
        )


def check_pose(pose: dict[str, float], file: str | os.PathLike) -> None:
    """:class:`BadSampleError` if any of yaw, pitch, roll (degrees) is NaN or infinite."""
    bad = {k: v for k, v in pose.items() if not np.isfinite(v)}
    if bad:
        raise BadSampleError(file, f"NaN or infinite pose {bad}")


def check_profile(view: str, yaw: float, file: str | os.PathLike) -> None:
    """:class:`BadSampleError` if a profile (39-point) face has a known |yaw| below :data:`PROFILE_MIN_YAW`."""
    if view == "profile" and np.isfinite(yaw) and abs(yaw) < PROFILE_MIN_YAW:
        raise BadSampleError(
            file,
            f"39-point profile annotation, but |yaw| = {abs(yaw):.1f} deg < {PROFILE_MIN_YAW} (not a profile)",
        )


REVERSED_REASON = "reversed point group"


def check_group_order(pts: np.ndarray, markup: Markup, file: str | os.PathLike) -> None:
    """:class:`BadSampleError` if a point group of ``pts`` [K, 2] in ``markup`` runs in reverse order."""
    groups = reversed_groups(pts, markup)
    if groups:
        raise BadSampleError(
            file,
            f"{REVERSED_REASON} {groups} in the {markup.name} annotation (order: cmhm.landmarks.markups)",
        )


# A 39-point profile annotation whose contour comes nearer the nose tip than this (fraction of the face's
# landmark box diagonal; positive: past it) is a semi-frontal face in the profile markup. On real faces
# (cmhm.landmarks.markups.contour_reach) every profile with |yaw| in [45, 90] deg stays at or below -0.14,
# and 97.9 % of near-frontal faces put in the markup lie above -0.08; the gap leaves room for annotators.
PROFILE_CONTOUR_REACH = -0.08


def check_profile_shape(pts: np.ndarray, file: str | os.PathLike) -> None:
    """:class:`BadSampleError` if a 39-point profile annotation ``pts`` [39, 2] has the shape of a
    semi-frontal face: its contour reaches the nose tip (:data:`PROFILE_CONTOUR_REACH`)."""
    reach = contour_reach(pts)
    if reach > PROFILE_CONTOUR_REACH:
        raise BadSampleError(
            file,
            f"39-point profile annotation on a face that is not a profile by its points: the contour reaches "
            f"{reach:+.2f} of the face size past the nose tip (a profile's lies behind it, <= "
            f"{PROFILE_CONTOUR_REACH}); a semi-frontal face takes the 68-point markup",
        )
