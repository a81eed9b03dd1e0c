"""Face boxes given to ``cmhm predict --boxes``: a CSV (``image,x0,y0,x1,y1``) or a JSON object
``{image: [[x0, y0, x1, y1], ...]}``, each bad row or box named by file, line (JSON: image and box
index) and column."""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import numpy as np

BOX_COLUMNS = ("x0", "y0", "x1", "y1")


class GivenBoxes(NamedTuple):
    """One image's boxes from a ``--boxes`` file: ``boxes`` [F, 4] and, per box, where it was given."""

    boxes: np.ndarray
    where: list[str]


def _box(values, where: str) -> list[float]:
    """A box [x0, y0, x1, y1] of four finite numbers with positive width and height; ValueError at ``where``."""
    if not isinstance(values, list) or len(values) != 4:
        raise ValueError(f"{where}: a box is 4 numbers [x0, y0, x1, y1], got {values!r}")
    for col, v in zip(BOX_COLUMNS, values):
        if isinstance(v, bool) or not isinstance(v, int | float) or not np.isfinite(v):
            raise ValueError(f"{where}, column {col}: not a finite number: {v!r}")
    if values[2] <= values[0] or values[3] <= values[1]:
        raise ValueError(f"{where}: box {values} has zero area (x1 <= x0 or y1 <= y0)")
    return [float(v) for v in values]


def _csv_boxes(path: Path) -> Iterator[tuple[str, list[float], str]]:
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        missing = {"image", *BOX_COLUMNS} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: missing columns {sorted(missing)} (need image,x0,y0,x1,y1)")
        for row in reader:
            where = f"{path}, line {reader.line_num}"
            if None in row:
                raise ValueError(f"{where}: more fields than the header's columns: {row[None]}")
            values = []
            for col in BOX_COLUMNS:
                if row[col] is None or not row[col].strip():
                    raise ValueError(f"{where}, column {col}: missing (a short row?)")
                try:
                    values.append(float(row[col]))
                except ValueError:
                    raise ValueError(f"{where}, column {col}: not a number: {row[col]!r}") from None
            yield row["image"], _box(values, where), where


def _json_boxes(path: Path) -> Iterator[tuple[str, list[float], str]]:
    try:
        raw = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"{path}, line {exc.lineno}, column {exc.colno}: not valid JSON ({exc.msg})"
        ) from None
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a JSON object {{image: [[x0, y0, x1, y1], ...]}}")
    for name, boxes in raw.items():
        if not isinstance(boxes, list):
            raise ValueError(f"{path}: {name!r}: expected a list of boxes [[x0, y0, x1, y1], ...]")
        for i, b in enumerate(boxes):
            where = f"{path}, {name!r} box {i}"
            yield name, _box(b, where), where


def read_boxes(path: str | os.PathLike) -> dict[str, GivenBoxes]:
    """Given face boxes: a CSV with columns ``image,x0,y0,x1,y1`` (one row per face) or a JSON object
    ``{image: [[x0, y0, x1, y1], ...]}``; ``image`` is the input's file name or path as given. A bad
    row or box is a ValueError naming the file, the line (JSON: the image and box index) and the column."""
    path = Path(path)
    rows = _json_boxes(path) if path.suffix.lower() == ".json" else _csv_boxes(path)
    found: dict[str, tuple[list, list]] = {}
    for name, box, where in rows:
        found.setdefault(name, ([], []))
        found[name][0].append(box)
        found[name][1].append(where)
    return {k: GivenBoxes(np.asarray(b, dtype=np.float64).reshape(-1, 4), w) for k, (b, w) in found.items()}


def check_boxes_overlap(given: GivenBoxes, image: np.ndarray) -> None:
    """ValueError naming the box's file and row for a box that does not overlap the image [H, W, 3]."""
    h, w = image.shape[:2]
    for box, where in zip(given.boxes, given.where):
        if box[2] <= 0 or box[3] <= 0 or box[0] >= w or box[1] >= h:
            raise ValueError(f"box {box.tolist()} ({where}) does not overlap the {w}x{h} image")
