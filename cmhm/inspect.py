"""`python -m cmhm inspect PATH`: say what an intermediate artifact is, where it came from, and summarise it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

Inspector = Callable[[Path, "str | None"], list[str]]
_INSPECTORS: list[tuple[Callable[[Path], bool], Inspector]] = []


def inspector(match: Callable[[Path], bool]):
    """Register an inspector for paths that ``match`` (first match wins, in registration order)."""

    def wrap(fn: Inspector) -> Inspector:
        _INSPECTORS.append((match, fn))
        return fn

    return wrap


def inspect_path(path: str | Path, png: str | None = None) -> str:
    """A human-readable description of the artifact at ``path`` (and a PNG preview where one makes sense)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    for match, fn in _INSPECTORS:
        if match(path):
            return "\n".join(fn(path, png))
    raise ValueError(f"{path}: not an artifact cmhm knows (sample table, crop shard, mapping, PDM, JSON)")


def _provenance_lines(prov: dict) -> list[str]:
    if not prov:
        return ["provenance: none recorded"]
    lines = [f"code version: {prov.get('code_version', '?')}", f"created: {prov.get('created', '?')}"]
    lines.append("config: " + json.dumps(prov.get("config", {}), sort_keys=True))
    return lines


def _describe_arrays(arrays: dict[str, np.ndarray]) -> list[str]:
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


def _describe_index(index: pd.DataFrame) -> list[str]:
    yaw = index["yaw"].abs()
    bins = pd.cut(yaw, [-0.001, 30, 60, 180], labels=["[0,30]", "(30,60]", "(60,90]"]).value_counts(
        sort=False
    )
    lines = [
        f"samples: {len(index)}",
        "views: " + ", ".join(f"{k} {v}" for k, v in index["view"].value_counts().items()),
    ]
    lines.append("|yaw| bins: " + ", ".join(f"{k} {v}" for k, v in bins.items()))
    videos = index.loc[index["video"].astype(str) != "", "video"].nunique()
    if videos:
        lines.append(f"videos: {videos}")
    return lines


@inspector(lambda p: p.is_dir() and (p / "index.csv").is_file() and (p / "labels.npz").is_file())
def _sample_table(path: Path, png: str | None) -> list[str]:
    from cmhm.samples import read_table

    t = read_table(path)
    prov = json.loads((path / "provenance.json").read_text()) if (path / "provenance.json").is_file() else {}
    lines = [f"{path}: sample table (index.csv + labels.npz + images), read by rule crop"]
    lines += _describe_index(t.index) + ["arrays:"] + _describe_arrays({**t.arrays, **t.extra})
    return lines + _provenance_lines(prov)


def _crop_prefix(p: Path) -> str | None:
    for suffix in (".images.npy", ".labels.npz", ".csv"):
        if p.name.endswith(suffix) and Path(str(p)[: -len(suffix)] + ".images.npy").is_file():
            return str(p)[: -len(suffix)]
    return None


@inspector(lambda p: p.is_file() and _crop_prefix(p) is not None)
def _crop_shard(path: Path, png: str | None) -> list[str]:
    from cmhm.crops import load_crops
    from cmhm.plots import contact_sheet

    prefix = _crop_prefix(path)
    crops = load_crops([prefix], mmap=True)
    scale = crops.index["crop_scale"]
    lines = [f"{prefix}.*: crop shard ({len(crops)} crops of {crops.size}x{crops.size}, uint8 RGB)"]
    lines += _describe_index(crops.index)
    lines.append(f"crop scale (crop px per image px): {scale.min():.3f} .. {scale.max():.3f}")
    lines += ["arrays (crop pixels):"] + _describe_arrays(crops.arrays)
    if png:
        contact_sheet(crops, min(16, len(crops)), [png])
        lines.append(f"contact sheet written to {png}")
    return lines


@inspector(lambda p: p.suffix == ".pt")
def _checkpoint(path: Path, png: str | None) -> list[str]:
    import torch

    state = torch.load(path, map_location="cpu", weights_only=True)
    params = sum(v.numel() for v in state.get("state_dict", {}).values())
    kind = "resumable training checkpoint" if "optimizer" in state else "trained weights"
    lines = [
        f"{path}: {kind} (PyTorch, load with weights_only=True), step {state.get('step', '?')}",
        f"parameters: {params:,}",
        "config: " + json.dumps(state.get("config", {}), sort_keys=True, default=str),
    ]
    return lines + [f"code version: {state.get('code_version', '?')}"]


@inspector(lambda p: p.suffix == ".json" and "mapping" in json.loads(p.read_text()))
def _union_mapping(path: Path, png: str | None) -> list[str]:
    from cmhm.markups import IBUG68, PROFILE39
    from cmhm.union import read_union_mapping

    um, prov = read_union_mapping(path)
    lines = [f"{path}: multi-view union mapping (39 profile points -> 68 frontal points), read by training"]
    fg = IBUG68.group_of()
    for side in ("right", "left"):
        lines.append(f"profile facing {side}:")
        for group, idx in PROFILE39.groups.items():
            targets = um.mapping[side][list(idx)]
            lines.append(f"  {group:11s} -> {sorted(set(fg[targets]))} {targets.tolist()}")
    if png:
        from cmhm.plots import plot_union_mapping

        plot_union_mapping(um, [png])
        lines.append(f"figure written to {png}")
    return lines + _provenance_lines(prov)


@inspector(lambda p: p.suffix == ".json")
def _json(path: Path, png: str | None) -> list[str]:
    obj = json.loads(path.read_text())
    prov = obj.pop("provenance", {}) if isinstance(obj, dict) else {}
    body = json.dumps(obj, indent=2)[:3000]
    return [f"{path}: JSON record", body] + _provenance_lines(prov)


@inspector(lambda p: p.suffix == ".npz")
def _npz(path: Path, png: str | None) -> list[str]:
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    prov = {}
    if "provenance" in arrays:
        prov = json.loads(str(arrays.pop("provenance")))
    return [f"{path}: array bundle"] + _describe_arrays(arrays) + _provenance_lines(prov)
