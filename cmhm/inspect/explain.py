"""`python -m cmhm inspect PATH`: say what an intermediate artifact is, where it came from, and summarise it.

:data:`KINDS` is the one table of what cmhm recognises, by name or content; the first match explains
the file. Each explanation names the rule that writes the artifact, what its columns or arrays hold, a
summary, and its provenance (config + code version): stored in the file, in a record beside it, or in
the metadata of a figure.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from cmhm.inspect import data_files, result_files
from cmhm.inspect.common import Inspector, csv_with, json_with, provenance_lines
from cmhm.inspect.figures import figure

NOT_ARTIFACTS = {  # suffix -> what such a file is, for a clear "not an artifact"
    ".tsv": "a Snakemake benchmark (wall time, memory, I/O of one job; benchmarks/<rule>/...)",
    ".log": "a job's log (logs/<rule>/...)",
}


def _json(path: Path, png: str | None) -> list[str]:
    """Any other JSON record (metrics, fit report, timing): its body and ``provenance`` entry."""
    obj = json.loads(path.read_text())
    prov = obj.pop("provenance", {}) if isinstance(obj, dict) else {}
    body = json.dumps(obj, indent=2)[:3000]
    return [f"{path}: JSON record", body] + provenance_lines(prov)


def _not_artifact(path: Path, png: str | None) -> list[str]:
    """Benchmarks and logs: say what they are and that they carry no provenance."""
    raise ValueError(
        f"{path}: {NOT_ARTIFACTS[path.suffix]}, not an artifact cmhm writes: it has no provenance; "
        "inspect the rule's outputs instead"
    )


def _sample_index(path: Path, png: str | None) -> list[str]:
    return data_files.sample_table(path.parent, png)


def _suffix(*suffixes: str) -> Callable[[Path], bool]:
    return lambda p: p.is_file() and p.suffix.lower() in suffixes


class Kind(NamedTuple):
    """One kind of artifact: a name, how to recognise it, and how to explain it."""

    name: str
    match: Callable[[Path], bool]
    explain: Inspector


KINDS: tuple[Kind, ...] = (
    Kind("sample table", data_files.is_sample_table, data_files.sample_table),
    Kind(
        "sample table index",
        lambda p: p.name == "index.csv" and data_files.is_sample_table(p.parent),
        _sample_index,
    ),
    Kind("sample image", data_files.is_sample_image, data_files.sample_image),
    Kind(
        "crop shard", lambda p: p.is_file() and data_files.crop_prefix(p) is not None, data_files.crop_shard
    ),
    Kind("union mapping (JSON)", json_with("mapping"), data_files.union_mapping),
    Kind(
        "union mapping (CSV)",
        csv_with("side", "profile_index", "frontal_index"),
        data_files.union_mapping_csv,
    ),
    Kind("held-out 3D fit", csv_with("fit_ok", "nme2d_68"), data_files.heldout_fit),
    Kind("per-image NME", csv_with("sample_id", "yaw", "nme"), result_files.per_image),
    Kind("per-frame tracking", csv_with("video", "frame", "nme_diag"), result_files.per_frame),
    Kind("training log", csv_with("step", "loss", "lr", "images_per_s"), result_files.training_log),
    Kind("table (CSV)", csv_with("method", "source"), result_files.paper_table),
    Kind("table (LaTeX)", result_files.is_paper_table_tex, result_files.paper_table_tex),
    Kind("checkpoint", _suffix(".pt"), result_files.checkpoint),
    Kind("stage-2 mean shape", lambda p: p.is_file() and p.name == "mean_shape.npy", data_files.mean_shape),
    Kind("figure", _suffix(".png", ".pdf", ".svg"), figure),
    Kind("JSON record", _suffix(".json"), _json),
    Kind("array bundle", _suffix(".npz"), data_files.npz),
    Kind("benchmark or log", _suffix(*NOT_ARTIFACTS), _not_artifact),
)


def kind_of(path: str | Path) -> Kind | None:
    """The first :data:`KINDS` entry that recognises ``path``, or None."""
    return next((k for k in KINDS if k.match(Path(path))), None)


def inspect_path(path: str | Path, png: str | None = None) -> str:
    """A human-readable description of the artifact at ``path`` (and a PNG preview where one makes sense)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    kind = kind_of(path)
    if kind is None:
        known = ", ".join(k.name for k in KINDS[:-1])
        raise ValueError(f"{path}: not an artifact cmhm knows (it knows: {known})")
    return "\n".join(kind.explain(path, png))
