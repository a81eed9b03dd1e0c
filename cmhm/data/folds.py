"""Fixed folds of a dataset's split, by sample id: a committed CSV ``image,yaw_bin,fold``.

A fold file turns one split (e.g. AFLW2000-3D's 2,000 test faces) into splits ``fold0``, ``fold1``, ...
that the config can name like any other (``data.train: {dataset: aflw2000_3d, split: fold0}``). The
folds are fixed by id, never by the order of a listing: :func:`assign_folds` orders the ids of each
|yaw| bin by the SHA-256 of the id (a fixed, documented order that does not follow the file numbering,
and needs no random generator) and deals them out in turn, so each bin is split evenly (sizes within
one) and every id is in exactly one fold. :func:`read_folds` refuses a file where an id appears twice,
so two different folds of one file never share a face.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from cmhm.data.common import AdapterError
from cmhm.geometry.yaw_bins import YAW_EDGES, yaw_bin

FOLD_COLUMNS = ("image", "yaw_bin", "fold")
FOLD_SPLIT = re.compile(r"^fold(\d+)$")


def fold_split(fold: int) -> str:
    """The split name of fold ``fold`` (``fold0``, ``fold1``, ...)."""
    return f"fold{int(fold)}"


def fold_index(split: str) -> int | None:
    """The fold number a split name ``foldK`` names; None for any other split."""
    m = FOLD_SPLIT.match(split)
    return None if m is None else int(m[1])


def id_order(sample_id: str) -> str:
    """The key that orders ids within a bin: the hex SHA-256 of the id (UTF-8)."""
    return hashlib.sha256(sample_id.encode("utf-8")).hexdigest()


def assign_folds(
    ids: Sequence[str], yaws: Sequence[float], n_folds: int = 2, edges: tuple[float, ...] = YAW_EDGES
) -> pd.DataFrame:
    """Folds of ``ids`` [N] stratified by the |yaw| bin of ``yaws`` [N] (degrees): a frame ``image,yaw_bin,fold``.

    Within each bin the ids are ordered by :func:`id_order` and get folds 0, 1, ..., n_folds-1, 0, ...
    in turn. Deterministic: the result depends on the set of (id, yaw) pairs only, not on their order.
    """
    ids = [str(i) for i in ids]
    if len(set(ids)) != len(ids):
        raise ValueError("assign_folds: ids must be unique")
    if len(ids) != len(yaws):
        raise ValueError(f"assign_folds: {len(ids)} ids but {len(yaws)} yaws")
    if n_folds < 2:
        raise ValueError(f"assign_folds: need at least 2 folds, got {n_folds}")
    bins = yaw_bin(np.asarray(yaws, dtype=np.float64), edges)
    frame = pd.DataFrame({"image": ids, "yaw_bin": bins, "key": [id_order(i) for i in ids]})
    frame = frame.sort_values(["yaw_bin", "key"], kind="stable").reset_index(drop=True)
    frame["fold"] = frame.groupby("yaw_bin").cumcount() % n_folds
    return frame.drop(columns="key").sort_values("image").reset_index(drop=True)


def write_folds(frame: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write a fold frame as CSV (rows sorted by image id)."""
    frame.loc[:, list(FOLD_COLUMNS)].sort_values("image").to_csv(path, index=False)


def read_folds(path: str | os.PathLike) -> pd.DataFrame:
    """The fold file at ``path``, checked: columns ``image,yaw_bin,fold``, every id once, folds 0..K-1.

    :class:`cmhm.data.common.AdapterError` naming the file and the problem otherwise.
    """
    return _read_folds(os.fspath(path), *_stamp(path)).copy()  # the cached frame stays as read


def _stamp(path: str | os.PathLike) -> tuple[int, int]:
    try:
        st = Path(path).stat()
    except FileNotFoundError:
        raise AdapterError(f"{path}: fold file missing") from None
    return st.st_mtime_ns, st.st_size


@lru_cache(maxsize=8)
def _read_folds(path: str, _mtime: int, _size: int) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path, dtype={"image": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise AdapterError(f"{path}: not a readable CSV ({exc})") from exc
    if list(frame.columns) != list(FOLD_COLUMNS):
        raise AdapterError(f"{path}: columns must be {list(FOLD_COLUMNS)}, found {list(frame.columns)}")
    twice = frame["image"][frame["image"].duplicated()].tolist()
    if twice:
        raise AdapterError(
            f"{path}: {len(twice)} ids appear more than once (each id belongs to one fold), e.g. {twice[:3]}"
        )
    folds = pd.to_numeric(frame["fold"], errors="coerce")
    if folds.isna().any() or (folds % 1 != 0).any():
        row = int(np.flatnonzero(folds.isna() | (folds % 1 != 0))[0]) + 2
        raise AdapterError(f"{path}, line {row}: fold must be an integer")
    present = sorted(set(folds.astype(int)))
    if present != list(range(len(present))) or len(present) < 2:
        raise AdapterError(f"{path}: folds must be 0..K-1 with K >= 2, found {present}")
    return frame.assign(fold=folds.astype(int))


def fold_splits(path: str | os.PathLike) -> list[str]:
    """The split names the fold file at ``path`` defines (``fold0`` ... ``fold{K-1}``)."""
    return [fold_split(k) for k in sorted(read_folds(path)["fold"].unique())]


def fold_ids(path: str | os.PathLike, split: str) -> frozenset[str]:
    """The sample ids of fold split ``split`` (``foldK``) of the fold file at ``path``."""
    k = fold_index(split)
    frame = read_folds(path)
    if k is None or k not in set(frame["fold"]):
        raise AdapterError(f"{path}: no fold split '{split}' (it defines {fold_splits(path)})")
    return frozenset(frame.loc[frame["fold"] == k, "image"])
