"""menpo's landmark JSON (``.ljson``): versions 1, 2 and 3 as menpo reads them, ``null`` -> NaN.

menpo stores image points in (row, column) = (y, x) order, 0-based; :func:`read_ljson` swaps them to
(x, y). Used by the Menpo-3D tracking adapter (:mod:`cmhm.data.video`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from cmhm.data.common import AdapterError

LJSON_LAYOUTS: dict[int, str] = {
    1: '{"version": 1, "groups": [{"label": ..., "landmarks": [{"point": [y, x]}, ...]}, ...]} (one group)',
    2: '{"version": 2, "landmarks": {"points": [[y, x], ...]}, "labels": [...]} (one group)',
    3: '{"version": 3, "groups": {name: {"landmarks": {"points": [[y, x], ...]}, "labels": [...]}}}',
}
LJSON_GROUP = "LJSON"  # menpo's name for the single group of a version 1 or 2 file


def _ljson_points(rows: list, path: Path, group: str) -> np.ndarray:
    """[K, D] float array of LJSON point rows, ``null`` -> NaN."""
    pts = np.asarray([[np.nan if v is None else v for v in row] for row in rows], dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] not in (2, 3):
        raise AdapterError(
            f"{path}: group {group!r} has points of shape {pts.shape}, expected [K, 2] or [K, 3]"
        )
    return pts


def ljson_groups(path: Path) -> dict[str, np.ndarray]:
    """Every landmark group of a menpo ``.ljson`` file (versions :data:`LJSON_LAYOUTS`), points as stored.

    A file without a ``version`` key is read as version 2 (the layout this project wrote before).
    """
    data, version = None, None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        version = data.get("version", 2)
        if version == 1:
            rows = [p["point"] for g in data["groups"] for p in g["landmarks"]]
            return {LJSON_GROUP: _ljson_points(rows, path, LJSON_GROUP)}
        if version == 2:
            return {LJSON_GROUP: _ljson_points(data["landmarks"]["points"], path, LJSON_GROUP)}
        if version == 3:
            return {k: _ljson_points(g["landmarks"]["points"], path, k) for k, g in data["groups"].items()}
    except FileNotFoundError:
        raise AdapterError(f"{path}: missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise AdapterError(f"{path}: not valid JSON ({exc})") from exc
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        layout = LJSON_LAYOUTS.get(version, "") if isinstance(version, int) else ""
        raise AdapterError(
            f"{path}: not LJSON{f' version {version}: expected {layout}' if layout else ''} ({exc!r})"
        ) from exc
    raise AdapterError(f"{path}: LJSON version {version!r}, expected one of {sorted(LJSON_LAYOUTS)}")


def read_ljson(path: Path, group: str | None = None) -> np.ndarray:
    """Points [K, D] (x, y[, z]) of group ``group`` of a menpo ``.ljson`` file (None: its only group),
    (y, x) swapped to (x, y); ``null`` coordinates are NaN."""
    groups = ljson_groups(path)
    if group is None and len(groups) != 1:
        raise AdapterError(f"{path}: {len(groups)} landmark groups {sorted(groups)}; name the one to read")
    name = next(iter(groups)) if group is None else group
    if name not in groups:
        raise AdapterError(f"{path}: no landmark group {name!r} (it has {sorted(groups)})")
    pts = groups[name].copy()
    pts[:, [0, 1]] = pts[:, [1, 0]]
    return pts
