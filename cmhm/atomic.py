"""Atomic file writes: a file is written under a temporary name beside it and renamed, so a reader (or a
rerun after a crash) never sees a partial file. The lowest layer: any module may write through it."""

from __future__ import annotations

import json
import os
from pathlib import Path


def json_default(o):
    """``json.dumps``'s ``default`` for arrays (``tolist``) and paths (``str``); TypeError for anything else."""
    if hasattr(o, "tolist"):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def write_json_atomic(path: str | os.PathLike, obj) -> None:
    """Write ``obj`` as indented JSON through a temporary file and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(json.dumps(obj, indent=2, default=json_default) + "\n")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
