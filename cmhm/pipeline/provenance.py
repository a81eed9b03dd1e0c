"""Provenance: the code version and the record stored beside (or inside) every artifact."""

from __future__ import annotations

import ast
import hashlib
import importlib.metadata
import json
import os
import platform
import subprocess
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

from cmhm.atomic import json_default
from cmhm.version import __version__

PACKAGE_DIR = Path(__file__).resolve().parents[1]  # the cmhm package (this file is in cmhm/pipeline/)


@lru_cache(maxsize=None)
def source_hash(*parts: str) -> str:
    """SHA-256 (first 12 hex digits) over the package's Python sources, path and content.

    ``parts`` restricts the hash to those modules or subpackages (e.g. ``"synth", "samples.py"``),
    so that a rule can rerun when, and only when, the code it calls changes.
    """
    roots = [PACKAGE_DIR / p for p in parts] if parts else [PACKAGE_DIR]
    files = set()
    for root in roots:
        if not root.exists():
            raise FileNotFoundError(f"source_hash: {root} is not part of the cmhm package")
        files.update(root.rglob("*.py") if root.is_dir() else [root])
    h = hashlib.sha256()
    for path in sorted(files):
        h.update(path.relative_to(PACKAGE_DIR).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:12]


def _module_file(name: str) -> Path | None:
    """Source file of module ``cmhm.a.b`` (``a/b.py`` or ``a/b/__init__.py``), None if not one of ours."""
    parts = name.split(".")
    if parts[0] != PACKAGE_DIR.name:
        return None
    base = PACKAGE_DIR.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if parts[1:] and candidate.is_file():
            return candidate
    return PACKAGE_DIR / "__init__.py" if not parts[1:] else None


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE_DIR.parent).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def _imported_modules(path: Path) -> set[str]:
    """Names of the modules ``path`` imports anywhere in its body (and every package above them)."""
    package = _module_name(path) if path.is_relative_to(PACKAGE_DIR) else ""
    if package and path.name != "__init__.py":
        package = package.rpartition(".")[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_bytes(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            names.add(base)
            names.update(f"{base}.{a.name}" for a in node.names)  # `from pkg import submodule`
    parents = {".".join(n.split(".")[:i]) for n in names for i in range(1, n.count(".") + 1)}
    return names | parents


def _closure(script: Path) -> list[Path]:
    """``script`` and the ``cmhm`` source files it imports, recursively, sorted."""
    seen: set[Path] = set()
    todo = [script.resolve()]
    while todo:
        path = todo.pop()
        if path not in seen:
            seen.add(path)
            todo += [f for f in map(_module_file, _imported_modules(path)) if f is not None]
    return sorted(seen, key=lambda p: p.as_posix())


def import_closure(script_path: str | os.PathLike) -> list[str]:
    """The ``cmhm`` source files (relative to the package) a script imports, directly or not."""
    files = _closure(Path(script_path))
    return [p.relative_to(PACKAGE_DIR).as_posix() for p in files if p.is_relative_to(PACKAGE_DIR)]


@lru_cache(maxsize=None)
def import_closure_hash(script_path: str | os.PathLike) -> str:
    """SHA-256 (first 12 hex digits) of ``script_path`` and every ``cmhm`` module it imports, recursively.

    Static: imports are read with :mod:`ast` (anywhere in a module, function-level ones included),
    nothing is imported (so no torch). A package's ``__init__.py`` counts: importing a submodule runs
    it. A rule's ``code`` param: the rule reruns when, and only when, code its script can run changes.
    """
    h = hashlib.sha256()
    for path in _closure(Path(script_path)):
        name = path.relative_to(PACKAGE_DIR).as_posix() if path.is_relative_to(PACKAGE_DIR) else path.name
        h.update(name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:12]


@lru_cache(maxsize=1)
def git_describe() -> str:
    """``git describe --always --dirty`` of the checkout holding the package, or "" outside git."""
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--abbrev=12"],
            cwd=PACKAGE_DIR,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def code_version() -> str:
    """A string that changes whenever the package's code changes: ``<version>+src.<hash>[.git.<describe>]``."""
    v = f"{__version__}+src.{source_hash()}"
    g = git_describe()
    return f"{v}.git.{g}" if g else v


# Libraries whose version can change a number (OpenCV 4.x and 5.x warp differently, for one).
LIBRARIES = ("torch", "numpy", "scipy", "opencv-python-headless", "pandas")


@lru_cache(maxsize=1)
def library_versions() -> dict[str, str | None]:
    """Installed versions of :data:`LIBRARIES` (None for one that is not installed)."""
    out = {}
    for name in LIBRARIES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def provenance(config: dict, code: str | None = None, **extra) -> dict:
    """The provenance record: config sub-tree, code version, time, host, library versions and ``extra``."""
    return {
        "code_version": code or code_version(),
        "config": config,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "host": platform.node(),
        "python": platform.python_version(),
        "libraries": library_versions(),
        **extra,
    }


def config_digest(config: dict) -> str:
    """SHA-256 (first 12 hex digits) of ``config`` as canonical JSON: equal configs, equal digests."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), default=json_default)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


FIGURE_KEY = "cmhm-provenance"  # PNG text chunk holding a figure's provenance JSON (PDF: /Subject)


def figure_provenance(config: dict | None = None, note: str = "") -> dict:
    """The record stamped into a figure's metadata: code version, config and its digest, footnote.

    No time stamp, so that re-rendering with the same code and config gives the same PNG bytes.
    """
    return {
        "code_version": code_version(),
        "config_digest": config_digest(config) if config is not None else None,
        "config": config,
        "note": note,
    }


def files_digest(paths: list[str | os.PathLike], chunk: int = 1 << 20) -> str:
    """SHA-256 (first 16 hex digits) over the content of ``paths``, in the order given, read in chunks.

    Each file contributes its name (not its folder), its size and its bytes, so that equal digests
    mean the same files with the same content. A missing file raises FileNotFoundError naming it.
    """
    h = hashlib.sha256()
    for p in map(Path, paths):
        h.update(f"{p.name}\0{p.stat().st_size}\0".encode())
        with p.open("rb") as f:
            while block := f.read(chunk):
                h.update(block)
    return h.hexdigest()[:16]
