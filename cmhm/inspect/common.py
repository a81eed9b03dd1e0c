"""Shared pieces of ``python -m cmhm inspect``: provenance records, matchers and array summaries."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from cmhm.geometry.yaw_bins import bin_labels, yaw_bin

Inspector = Callable[[Path, "str | None"], list[str]]


def provenance_lines(prov: dict, source: str = "") -> list[str]:
    """Lines showing a provenance record; ``source`` says where it was found when not in the file itself."""
    if not prov:
        return ["provenance: none recorded" + (f" in {source}" if source else "")]
    lines = [f"provenance (from {source}):"] if source else []
    lines.append(f"code version: {prov.get('code_version', '?')}")
    lines += [f"created: {prov['created']}"] if "created" in prov else []
    return lines + ["config: " + json.dumps(prov.get("config", {}), sort_keys=True, default=str)]


def record_provenance(path: Path) -> dict:
    """The provenance a record carries: a sidecar provenance.json, a JSON's or npz's ``provenance`` entry,
    or a checkpoint's config and code version."""
    if path.suffix == ".json":
        obj = json.loads(path.read_text())
        if not isinstance(obj, dict):
            return {}
        return obj if "code_version" in obj else obj.get("provenance", {})  # a sidecar is the record itself
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as z:
            return json.loads(str(z["provenance"])) if "provenance" in z.files else {}
    if path.suffix == ".pt":
        from cmhm.training.checkpoints import load_verified

        state = load_verified(path)
        return {k: state[k] for k in ("code_version", "config") if k in state}
    raise ValueError(f"{path}: not a record that carries provenance")


def sibling_provenance(path: Path, siblings: dict[str, str]) -> list[str]:
    """Provenance of the first existing record among ``siblings`` (paths relative to ``path``'s folder).

    ``siblings`` maps each candidate to how it relates to ``path`` (e.g. "written by the same rule").
    """
    for name, why in siblings.items():
        other = Path(os.path.normpath(path.parent / name))
        if other.is_file():
            lines = ["this file carries no provenance of its own"]
            return lines + provenance_lines(record_provenance(other), f"{other}, {why}")
    return [f"provenance: none in this file, and no sibling record found ({', '.join(siblings)})"]


def csv_columns(path: Path) -> set[str]:
    """Column names of a CSV's header line (empty for anything else)."""
    if path.suffix != ".csv" or not path.is_file():
        return set()
    with path.open() as f:
        return set(pd.read_csv(f, nrows=0).columns)


def csv_with(*columns: str) -> Callable[[Path], bool]:
    """Matcher: a CSV whose header has all of ``columns``."""
    return lambda p: set(columns) <= csv_columns(p)


def json_with(key: str) -> Callable[[Path], bool]:
    """Matcher: a JSON object holding ``key``."""

    def match(p: Path) -> bool:
        if p.suffix != ".json" or not p.is_file():
            return False
        obj = json.loads(p.read_text())
        return isinstance(obj, dict) and key in obj

    return match


def column_lines(legend: dict[str, str]) -> list[str]:
    """One line per column: its name and what it holds."""
    return ["columns:"] + [f"  {name:14s} {meaning}" for name, meaning in legend.items()]


def describe_arrays(arrays: dict[str, np.ndarray]) -> list[str]:
    """One line per array: dtype, shape, and the share of true / annotated rows."""
    out = []
    for name, a in sorted(arrays.items()):
        if a.dtype == bool:
            out.append(f"  {name:14s} {a.dtype} {list(a.shape)} true: {a.mean():.1%}")
        elif np.issubdtype(a.dtype, np.floating):
            rows = np.isfinite(a.reshape(len(a), -1)).any(1).sum() if len(a) else 0
            out.append(f"  {name:14s} {a.dtype} {list(a.shape)} annotated rows: {rows}/{len(a)}")
        else:
            out.append(f"  {name:14s} {a.dtype} {list(a.shape)}")
    return out


def describe_index(index: pd.DataFrame) -> list[str]:
    """Counts of a sample or crop index: samples, views, |yaw| bins, videos."""
    yaw = index["yaw"].to_numpy(np.float64)
    known = np.isfinite(yaw)
    counts = np.bincount(yaw_bin(yaw[known]), minlength=len(bin_labels()))
    bins = ", ".join(f"{label} {c}" for label, c in zip(bin_labels(), counts))
    lines = [
        f"samples: {len(index)}",
        "views: " + ", ".join(f"{k} {v}" for k, v in index["view"].value_counts().items()),
        "|yaw| bins (as Table I bins them): "
        + bins
        + (f", unknown {int((~known).sum())}" if not known.all() else ""),
    ]
    videos = index.loc[index["video"].astype(str) != "", "video"].nunique()
    return lines + ([f"videos: {videos}"] if videos else [])
