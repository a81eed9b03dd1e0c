"""Read and write iBUG ``.pts`` landmark files.

Format (version 1)::

    version: 1
    n_points: 68
    {
    x1 y1
    ...
    }

Each point row holds 2 (x, y) or 3 (x, y, z) numbers; all rows of a file hold the same count.

Coordinate convention: iBUG ``.pts`` files (300-W, 300VW, Menpo) are annotated in Matlab's 1-based
pixel coordinates, where the centre of the top-left pixel is (1, 1). This package uses 0-based
coordinates with the top-left pixel's centre at (0, 0) (see :mod:`cmhm.data.samples`), so
:func:`read_pts` subtracts 1 from x and y (``one_based=True``, the default) and :func:`write_pts`
adds it back. A third coordinate (depth) is never shifted. A point at exactly (0, 0) in a 1-based file would
become (-1, -1), outside the image: it marks a 0-based export or a missing point, and is refused by line.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from cmhm.atomic import write_text_atomic


class PtsFormatError(ValueError):
    """A ``.pts`` file is malformed; the message names the file and the line."""


def _is_version_one(value: str | None) -> bool:
    """Whether a header's version field reads 1 (some releases write ``1.0``)."""
    try:
        return value is not None and float(value) == 1.0
    except ValueError:
        return False


def _header(lines: list[str], path: Path) -> tuple[int, int]:
    """Parse the header up to ``{``: returns (n_points, index of the first point line)."""
    fields: dict[str, str] = {}
    for i, raw in enumerate(lines):
        line = raw.strip()
        if not line:
            continue
        if line == "{":
            if not _is_version_one(fields.get("version")):
                raise PtsFormatError(
                    f"{path}: expected 'version: 1' in the header, got {fields.get('version')!r}"
                )
            if "n_points" not in fields:
                raise PtsFormatError(f"{path}: header has no 'n_points:' line")
            try:
                n = int(fields["n_points"])
            except ValueError:
                raise PtsFormatError(f"{path}: n_points {fields['n_points']!r} is not an integer") from None
            if n < 1:
                raise PtsFormatError(f"{path}: n_points must be positive, got {n}")
            return n, i + 1
        key, sep, value = line.partition(":")
        if not sep:
            raise PtsFormatError(f"{path}:{i + 1}: expected 'key: value' or '{{' in the header, got {line!r}")
        fields[key.strip()] = value.strip()
    raise PtsFormatError(f"{path}: no '{{' opening the point list")


def read_pts(path: str | os.PathLike, one_based: bool = True) -> np.ndarray:
    """Points [N, D] (float64, D = 2 or 3) of an iBUG ``.pts`` file, in 0-based pixel coordinates.

    ``one_based``: the file uses 1-based (Matlab) coordinates, as iBUG files do; x and y are shifted
    by -1. Raises ``FileNotFoundError`` or :class:`PtsFormatError` naming the file.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError as exc:
        raise PtsFormatError(f"{path}: not a text file ({exc})") from exc
    n, start = _header(lines, path)
    rows: list[list[float]] = []
    line_of: list[int] = []
    for i in range(start, len(lines)):
        line = lines[i].strip()
        if not line:
            continue
        if line == "}":
            break
        try:
            rows.append([float(v) for v in line.split()])
            line_of.append(i + 1)
        except ValueError:
            raise PtsFormatError(f"{path}:{i + 1}: not a row of numbers: {line!r}") from None
    else:
        raise PtsFormatError(f"{path}: no '}}' closing the point list")
    if len(rows) != n:
        raise PtsFormatError(f"{path}: header says n_points {n} but the file lists {len(rows)} points")
    widths = {len(r) for r in rows}
    if len(widths) != 1 or widths.pop() not in (2, 3):
        raise PtsFormatError(
            f"{path}: every point needs 2 or 3 coordinates, found widths {sorted({len(r) for r in rows})}"
        )
    pts = np.asarray(rows, dtype=np.float64)
    if not np.isfinite(pts).all():
        raise PtsFormatError(f"{path}: holds non-finite coordinates")
    if one_based:
        at_origin = np.flatnonzero((pts[:, 0] == 0) & (pts[:, 1] == 0))
        if len(at_origin):
            k = int(at_origin[0])
            raise PtsFormatError(
                f"{path}:{line_of[k]}: point {k + 1} is at (0, 0), which a 1-based file never holds (its "
                "top-left pixel centre is (1, 1)): a 0-based export, or a placeholder for a missing point"
            )
        pts[:, :2] -= 1.0
    return pts


def write_pts(path: str | os.PathLike, pts: np.ndarray, one_based: bool = True) -> None:
    """Write points [N, 2 or 3] (0-based pixels) as an iBUG ``.pts`` file (1-based if ``one_based``).

    Written under a temporary name and renamed, so a failure leaves no partial file.
    """
    path = Path(path)
    pts = np.array(pts, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] not in (2, 3) or len(pts) == 0:
        raise ValueError(f"{path}: write_pts takes points [N, 2] or [N, 3], got {pts.shape}")
    if not np.isfinite(pts).all():
        raise ValueError(f"{path}: write_pts cannot store non-finite points")
    if one_based:
        pts[:, :2] += 1.0
    body = "\n".join(" ".join(f"{v:.6f}" for v in row) for row in pts)
    text = f"version: 1\nn_points: {len(pts)}\n{{\n{body}\n}}\n"
    write_text_atomic(path, text, encoding="utf-8")
