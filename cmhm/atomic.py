"""Atomic file writes: a file is written under a temporary name beside it and renamed, so a reader (or a
rerun after a crash) never sees a partial file. The lowest layer: any module may write through it."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path


def json_default(o):
    """``json.dumps``'s ``default`` for arrays (``tolist``) and paths (``str``); TypeError for anything else."""
    if hasattr(o, "tolist"):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def write_atomic(path: str | os.PathLike, write: Callable[[Path], object]) -> None:
    """``write(tmp)``, then rename ``tmp`` onto ``path`` (its folder is created); ``tmp`` is removed if it fails,
    and an ``OSError`` (a full disk) names ``path``.

    ``tmp`` is ``.<name>.tmp<suffix>`` beside ``path``: hidden, and ending in ``path``'s suffix, for writers
    that choose the format by it or append it (``savefig``, ``np.savez``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{path.suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    except OSError as e:  # a full disk, a quota: name the file being written, not the temporary one
        raise OSError(e.errno, f"cannot write {path} ({e.strerror or e})") from e
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text_atomic(path: str | os.PathLike, text: str, encoding: str | None = None) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename (:func:`write_atomic`)."""
    write_atomic(path, lambda tmp: tmp.write_text(text, encoding=encoding))


def write_json_atomic(path: str | os.PathLike, obj) -> None:
    """Write ``obj`` as indented JSON through a temporary file and a rename."""
    write_text_atomic(path, json.dumps(obj, indent=2, default=json_default) + "\n")
