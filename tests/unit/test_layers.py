"""Imports flow down the phases only: the layer order of ``cmhm/``, and a check of every module against it.

A rule's code hash is the import closure of its script (:func:`cmhm.pipeline.provenance.import_closure_hash`),
so an import of a higher layer makes a lower phase rerun when a later one changes (editing a metric
re-crops every shard). The order is written here once, and in the README's Layout section.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

import cmhm

# Lowest first. A module may import its own layer and the layers before it, never one after it. A
# layer is a sub-package or a module directly in ``cmhm/``; ``"cmhm"`` is the package's own
# ``__init__.py`` (``cmhm.load``), the top.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("version", "atomic"),  # the version string; atomic file writes
    ("geometry",),  # similarity transforms, warps, yaw bins
    ("detection",),  # face detectors (Haar, MTCNN) and their calibration
    ("landmarks",),  # markups, union mapping, 3D shape model and its fitting
    ("data",),  # datasets -> sample tables (with the fitted 3D labels), crops
    ("pipeline",),  # config check, provenance, code hashes, job logs
    ("synth",),  # the procedural synthetic dataset, written as sample tables
    ("models",),  # blocks, hourglass, cascade, heatmap codec
    ("training",),
    ("evaluation",),  # metrics, prediction, tracking, floors
    ("inference",),  # the model file, cmhm.load, predict, export
    ("report",),
    ("inspect",),
    ("bench",),
    ("cli", "__main__", "cmhm"),
)


@dataclass(frozen=True)
class Upward:
    """One import of a higher layer: ``module`` (line ``line``) imports ``imported``."""

    module: str
    line: int
    imported: str
    module_layer: str
    imported_layer: str

    def __str__(self) -> str:
        return (
            f"{self.module}:{self.line} imports {self.imported}: layer {self.module_layer!r} "
            f"imports the higher layer {self.imported_layer!r}"
        )


def module_name(path: Path, root: Path) -> str:
    """Dotted name of the source file ``path`` of the package folder ``root`` (``__init__`` names its package)."""
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, root: Path) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in ``path``, module level or not, relative ones resolved.

    ``from a import b`` yields ``a.b`` (``b`` may be a submodule); ``importlib.import_module("a")`` with a
    literal name yields ``a``.
    """
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_bytes(), filename=str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            out += [(node.lineno, f"{base}.{a.name}") for a in node.names]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            out.append((node.lineno, node.args[0].value))
    return out


def layer_of(name: str, root: Path) -> str | None:
    """The layer (key of :data:`LAYERS`) of module ``name`` of the package ``root``; None outside the package.

    ``pkg.x.y`` is in layer ``x``; ``pkg`` itself and a name of ``pkg`` that is no file or folder there
    (``from pkg import __version__``) are in layer ``pkg``.
    """
    parts = name.split(".")
    if parts[0] != root.name:
        return None
    if len(parts) > 1 and ((root / parts[1]).is_dir() or (root / f"{parts[1]}.py").is_file()):
        return parts[1]
    return root.name


def upward_imports(root: Path, layers: tuple[tuple[str, ...], ...] = LAYERS) -> list[Upward]:
    """Every import in the package folder ``root`` of a layer after the importing module's own.

    A module in a layer that ``layers`` does not list raises ValueError naming it.
    """
    rank = {layer: i for i, group in enumerate(layers) for layer in group}
    found = []
    for path in sorted(root.rglob("*.py")):
        module = module_name(path, root)
        own = layer_of(module, root)
        if own not in rank:
            raise ValueError(f"{path}: layer {own!r} is not in the layer order; add it to LAYERS")
        for line, imported in imports(path, root):
            other = layer_of(imported, root)
            if other is not None and rank.get(other, len(layers)) > rank[own]:
                found.append(Upward(module, line, imported, own, other))
    return found


PACKAGE = Path(cmhm.__file__).resolve().parent


def test_every_layer_is_a_folder_or_module_of_the_package():
    listed = {layer for group in LAYERS for layer in group} - {PACKAGE.name}
    present = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    present |= {p.stem for p in PACKAGE.glob("*.py") if p.name != "__init__.py"}
    assert listed == present


def test_imports_flow_down_the_layers():
    upward = upward_imports(PACKAGE)
    assert not upward, "imports against the layer order:\n" + "\n".join(map(str, upward))


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)


LOW_HIGH = (("low",), ("high",), ("pkg",))


def test_a_planted_upward_import_is_named(tmp_path):
    root = tmp_path / "pkg"
    _write(
        root,
        {
            "__init__.py": "",
            "low/__init__.py": "",
            "low/a.py": "import os\n\n\ndef f():\n    from pkg.high.b import g\n    return g\n",
            "high/__init__.py": "",
            "high/b.py": "from pkg.low.a import f\n\n\ndef g():\n    return f\n",
        },
    )
    (found,) = upward_imports(root, LOW_HIGH)
    assert (found.module, found.line, found.imported) == ("pkg.low.a", 5, "pkg.high.b.g")
    assert (found.module_layer, found.imported_layer) == ("low", "high")
    assert str(found) == "pkg.low.a:5 imports pkg.high.b.g: layer 'low' imports the higher layer 'high'"


def test_relative_root_and_dynamic_imports_are_caught(tmp_path):
    root = tmp_path / "pkg"
    _write(
        root,
        {
            "__init__.py": "VERSION = '1'\n",
            "low/__init__.py": "",
            "low/a.py": "from .. import VERSION\nfrom ..high import b\n",
            "low/c.py": "import importlib\n\nm = importlib.import_module('pkg.high.b')\n",
            "high/__init__.py": "",
            "high/b.py": "",
        },
    )
    found = {(u.module, u.imported_layer) for u in upward_imports(root, LOW_HIGH)}
    assert found == {("pkg.low.a", "pkg"), ("pkg.low.a", "high"), ("pkg.low.c", "high")}


def test_a_copy_of_the_package_with_planted_imports_fails(tmp_path):
    root = tmp_path / PACKAGE.name
    for path in PACKAGE.rglob("*.py"):
        _write(root, {path.relative_to(PACKAGE).as_posix(): path.read_text()})
    assert upward_imports(root) == []
    plants = {  # one inside a function, one at module level
        "geometry/similarity.py": "\n\ndef _planted():\n    from cmhm.evaluation import metrics\n",
        "data/cropping.py": "\nfrom cmhm.training.stages import run_configs  # noqa\n",
    }
    for rel, text in plants.items():
        (root / rel).write_text((PACKAGE / rel).read_text() + text)
    found = sorted((u.module, u.imported, u.module_layer, u.imported_layer) for u in upward_imports(root))
    assert found == [
        ("cmhm.data.cropping", "cmhm.training.stages.run_configs", "data", "training"),
        ("cmhm.geometry.similarity", "cmhm.evaluation.metrics", "geometry", "evaluation"),
    ]


def test_an_unlisted_layer_is_named(tmp_path):
    root = tmp_path / "pkg"
    _write(root, {"__init__.py": "", "low/__init__.py": "", "extra/__init__.py": ""})
    with pytest.raises(ValueError, match="layer 'extra' is not in the layer order"):
        upward_imports(root, LOW_HIGH)
