"""The one internal sample table that every dataset adapter writes and `crop` reads.

On disk a sample table is a folder holding
  - ``index.csv``: one row per sample, the columns of :data:`INDEX_COLUMNS`;
  - ``labels.npz``: arrays aligned with the rows (see :data:`ARRAY_SPECS`), NaN where a sample
    has no such annotation;
  - the images, at the relative paths named in ``index.csv`` (column ``image``);
  - ``provenance.json``: what made the table (config sub-tree, code version, seed).

Coordinates are image pixels with the origin at the top-left pixel's centre: x to the right,
y down. 3D landmarks hold (x, y) = their projection into the image and z = depth in the same
pixel units (larger z = farther from the camera), so their 2D projection is ``lm3d[..., :2]``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from cmhm.atomic import write_atomic

INDEX_COLUMNS: tuple[str, ...] = (
    "sample_id",  # unique within the table
    "image",  # path relative to the table folder
    "width",
    "height",
    "yaw",  # degrees; positive = the subject turns to their left (we see more of their right cheek)
    "pitch",  # degrees
    "roll",  # degrees
    "box_x0",  # face box (detector-like), pixels
    "box_y0",
    "box_x1",
    "box_y1",
    "view",  # "semifrontal" (68-point 2D annotation) or "profile" (39-point 2D annotation)
    "side",  # facing side of a profile face: "left" or "right" (nose points to image left/right); "" else
    "video",  # video id for tracking sequences, "" for still images
    "frame",  # frame number within the video, -1 for still images
)

# name -> (trailing shape, dtype). Arrays are [N, *shape]. Shapes may use the markup sizes only.
ARRAY_SPECS: dict[str, tuple[tuple[int, ...], str]] = {
    "lm2d": ((68, 2), "float32"),  # semi-frontal 2D annotation (jaw on the visible contour)
    "vis2d": ((68,), "bool"),  # per-landmark visibility of lm2d's points
    "lm2d_profile": ((39, 2), "float32"),  # profile 2D annotation, visible side
    "lm3d_68": ((68, 3), "float32"),  # 3D landmarks, iBUG 68 markup
    "lm3d_84": ((84, 3), "float32"),  # 3D landmarks, Menpo-3D 84 markup
    "vis3d_68": ((68,), "bool"),  # self-occlusion of the 3D landmarks (not occluders)
}
REQUIRED_ARRAYS = ("lm2d", "lm2d_profile", "lm3d_68", "lm3d_84")

# Which markup each label array's points follow: the one table (flips, heads, evaluation read it).
# ``union2d`` is not stored in sample tables: training derives it from lm2d / lm2d_profile through the
# union mapping (cmhm.landmarks.union); its points are the frontal 68.
UNION_ARRAY = "union2d"
ARRAY_MARKUPS: dict[str, str] = {
    "lm2d": "ibug68",
    "vis2d": "ibug68",
    "lm2d_profile": "profile39",
    "lm3d_68": "ibug68",
    "vis3d_68": "ibug68",
    "lm3d_84": "menpo84",
    UNION_ARRAY: "ibug68",
}
# the 3D label array of each 3D markup (what stage 2 and the evaluation project to 2D)
PROJ3D_ARRAYS: dict[str, str] = {ARRAY_MARKUPS[a]: a for a in ("lm3d_68", "lm3d_84")}
VIEWS = ("semifrontal", "profile")


class SampleTableError(ValueError):
    """A sample table on disk is malformed; the message names the file and the problem."""


@dataclass
class SampleTable:
    """An index DataFrame plus label arrays aligned with its rows.

    ``extra`` holds optional arrays beyond :data:`ARRAY_SPECS` (e.g. ``contour3d`` [N, 17, K, 3]:
    3D candidate points along each jaw landmark's horizontal line, used by landmark marching).
    """

    root: Path
    index: pd.DataFrame
    arrays: dict[str, np.ndarray]
    extra: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.index)

    def image_path(self, i: int) -> Path:
        return self.root / str(self.index["image"].iloc[i])

    def boxes(self) -> np.ndarray:
        """[N, 4] face boxes (x0, y0, x1, y1)."""
        return self.index[["box_x0", "box_y0", "box_x1", "box_y1"]].to_numpy(np.float64)


def empty_arrays(n: int) -> dict[str, np.ndarray]:
    """NaN / False filled arrays of :data:`ARRAY_SPECS` for ``n`` samples."""
    out = {}
    for name, (shape, dtype) in ARRAY_SPECS.items():
        fill = False if dtype == "bool" else np.nan
        out[name] = np.full((n, *shape), fill, dtype=dtype)
    return out


def validate(table: SampleTable, where: str) -> None:
    """Raise :class:`SampleTableError` naming ``where`` if ``table`` is inconsistent."""
    missing = [c for c in INDEX_COLUMNS if c not in table.index.columns]
    if missing:
        raise SampleTableError(f"{where}: index is missing columns {missing}")
    n = len(table.index)
    if table.index["sample_id"].duplicated().any():
        dup = table.index["sample_id"][table.index["sample_id"].duplicated()].iloc[0]
        raise SampleTableError(f"{where}: duplicate sample_id {dup!r}")
    bad_view = set(table.index["view"]) - set(VIEWS)
    if bad_view:
        raise SampleTableError(f"{where}: unknown view values {sorted(bad_view)}; expected {VIEWS}")
    for name in REQUIRED_ARRAYS:
        if name not in table.arrays:
            raise SampleTableError(f"{where}: labels are missing array {name!r}")
    for name, arr in {**table.arrays, **table.extra}.items():
        if arr.shape[0] != n:
            raise SampleTableError(f"{where}: array {name!r} has {arr.shape[0]} rows, index has {n}")
        spec = ARRAY_SPECS.get(name)
        if spec and tuple(arr.shape[1:]) != spec[0]:
            raise SampleTableError(f"{where}: array {name!r} has shape {arr.shape}, expected [N, {spec[0]}]")


def write_table(table: SampleTable, root: str | os.PathLike, provenance: dict) -> None:
    """Write index, labels and provenance into ``root`` (images must already be there).

    Files are written under temporary names and renamed, so a crash leaves no half table.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    validate(table, str(root))
    index = table.index[list(INDEX_COLUMNS)]
    write_atomic(root / "index.csv", lambda p: index.to_csv(p, index=False))
    arrays = {**table.arrays, **{f"extra__{k}": v for k, v in table.extra.items()}}
    write_atomic(root / "labels.npz", lambda p: np.savez_compressed(p, **arrays))
    write_atomic(
        root / "provenance.json", lambda p: Path(p).write_text(json.dumps(provenance, indent=2, default=str))
    )


def read_table(root: str | os.PathLike) -> SampleTable:
    """Read a sample table folder written by :func:`write_table` (or by an adapter)."""
    root = Path(root)
    index_path, labels_path = root / "index.csv", root / "labels.npz"
    for p in (index_path, labels_path):
        if not p.is_file():
            raise SampleTableError(f"{p}: missing (expected a sample table folder at {root})")
    try:
        index = pd.read_csv(index_path, keep_default_na=False, dtype={"side": str, "video": str})
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise SampleTableError(f"{index_path}: not a readable CSV ({exc})") from exc
    try:
        with np.load(labels_path, allow_pickle=False) as z:
            loaded = {k: z[k] for k in z.files}
    except (OSError, ValueError) as exc:
        raise SampleTableError(f"{labels_path}: not a readable .npz ({exc})") from exc
    arrays = {k: v for k, v in loaded.items() if not k.startswith("extra__")}
    extra = {k.removeprefix("extra__"): v for k, v in loaded.items() if k.startswith("extra__")}
    table = SampleTable(root=root, index=index, arrays=arrays, extra=extra)
    validate(table, str(root))
    return table


def concat_tables(tables: list[SampleTable], root: Path) -> SampleTable:
    """Stack tables row-wise (image paths are rewritten relative to ``root``); of the extra arrays, those
    every table carries (tables of several datasets: one's own extras, e.g. ``contour3d``, are left out)."""
    frames, arrays, extras = [], {}, {}
    for t in tables:
        idx = t.index.copy()
        idx["image"] = [os.path.relpath(t.root / p, root) for p in idx["image"]]
        frames.append(idx)
    for name in tables[0].arrays:
        arrays[name] = np.concatenate([t.arrays[name] for t in tables])
    for name in (n for n in tables[0].extra if all(n in t.extra for t in tables)):
        extras[name] = np.concatenate([t.extra[name] for t in tables])
    return SampleTable(root=root, index=pd.concat(frames, ignore_index=True), arrays=arrays, extra=extras)
