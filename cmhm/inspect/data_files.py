"""``inspect`` for the data half: sample tables, crop shards, the union mapping, 3D fits, array bundles."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from cmhm.inspect.common import (
    column_lines,
    describe_arrays,
    describe_index,
    provenance_lines,
    sibling_provenance,
)


def is_sample_table(p: Path) -> bool:
    """A sample table folder (index.csv + labels.npz + images/)."""
    return p.is_dir() and (p / "index.csv").is_file() and (p / "labels.npz").is_file()


def sample_table(path: Path, png: str | None) -> list[str]:
    """Counts by view, |yaw| bin and video; the arrays; the sidecar provenance.json."""
    from cmhm.data.samples import read_table

    t = read_table(path)
    prov = json.loads((path / "provenance.json").read_text()) if (path / "provenance.json").is_file() else {}
    lines = [f"{path}: sample table (index.csv + labels.npz + images), read by rule crop"]
    lines += describe_index(t.index) + ["arrays:"] + describe_arrays({**t.arrays, **t.extra})
    return lines + skipped_lines(path) + provenance_lines(prov)


def skipped_lines(table: Path, shown: int = 5) -> list[str]:
    """The bad samples the adapter skipped (``skipped.csv`` of sample table folder ``table``): count and first few."""
    from cmhm.data.bad import SKIPPED_FILE, read_skipped

    skipped = read_skipped(table)
    if skipped is None:
        return [
            f"skipped samples: no {SKIPPED_FILE} in {table} (synthetic data, or written before the policy)"
        ]
    lines = [f"skipped samples: {len(skipped)} (data.on_bad_sample: skip; list: {table / SKIPPED_FILE})"]
    lines += [f"  {r.sample_id}: {r.file}: {r.reason}" for r in skipped.head(shown).itertuples()]
    return lines + ([f"  ... and {len(skipped) - shown} more"] if len(skipped) > shown else [])


def is_sample_image(p: Path) -> bool:
    """An image file in a sample table's ``images/`` folder."""
    return p.is_file() and p.parent.name == "images" and is_sample_table(p.parent.parent)


def sample_image(path: Path, png: str | None) -> list[str]:
    """The image's row of its sample table's index, and the table's provenance."""
    table = path.parent.parent
    index = pd.read_csv(table / "index.csv", keep_default_na=False)
    row = index[index["image"] == f"images/{path.name}"]
    lines = [f"{path}: an image of sample table {table} (rule synthesize_* or adapt)"]
    lines += (
        [f"  {k:10s} {v}" for k, v in row.iloc[0].items()] if len(row) else ["  (not listed in index.csv)"]
    )
    prov_path = table / "provenance.json"
    return lines + provenance_lines(json.loads(prov_path.read_text()) if prov_path.is_file() else {})


def crop_prefix(p: Path) -> str | None:
    """The shard prefix of one of a crop shard's files (``<prefix>.images.npy|.labels.npz|.csv``)."""
    for suffix in (".images.npy", ".labels.npz", ".csv"):
        if p.name.endswith(suffix) and Path(str(p)[: -len(suffix)] + ".images.npy").is_file():
            return str(p)[: -len(suffix)]
    return None


def crop_shard(path: Path, png: str | None) -> list[str]:
    """Crop count and size, crop scale range, the arrays; ``png``: a contact sheet."""
    from cmhm.data.crop_shards import load_crops
    from cmhm.report.plots_data import contact_sheet

    prefix = crop_prefix(path)
    crops = load_crops([prefix], mmap=True)
    scale = crops.index["crop_scale"]
    lines = [f"{prefix}.*: crop shard ({len(crops)} crops of {crops.size}x{crops.size}, uint8 RGB)"]
    lines += describe_index(crops.index)
    lines.append(f"crop scale (crop px per image px): {scale.min():.3f} .. {scale.max():.3f}")
    lines += ["arrays (crop pixels):"] + describe_arrays(crops.arrays)
    if (crops.provenance[0] or {}).get("labels3d"):
        lines.append(f"3D labels (lm3d_*): {crops.provenance[0]['labels3d']}")
    shard_dir = Path(prefix).parent.parent.parent / "samples" / Path(prefix).parent.name / Path(prefix).name
    lines += skipped_lines(shard_dir) if shard_dir.is_dir() else []
    if png:
        contact_sheet(crops, min(16, len(crops)), [png])
        lines.append(f"contact sheet written to {png}")
    if crops.provenance[0]:
        return lines + provenance_lines(crops.provenance[0])
    source = Path("..", "..", "samples", Path(prefix).parent.name, Path(prefix).name, "provenance.json")
    why = "the sample table rule crop cut it from (this shard predates recorded crop provenance)"
    return lines + sibling_provenance(Path(prefix), {str(source): why})


def union_mapping(path: Path, png: str | None) -> list[str]:
    """Per side and profile group, the frontal groups and points it maps to; ``png``: paper Fig. 3."""
    from cmhm.landmarks.markups import IBUG68, PROFILE39
    from cmhm.landmarks.union import read_union_mapping

    um, prov = read_union_mapping(path)
    lines = [f"{path}: multi-view union mapping (39 profile points -> 68 frontal points), read by training"]
    fg = IBUG68.group_of()
    for side in ("right", "left"):
        lines.append(f"profile facing {side}:")
        for group, idx in PROFILE39.groups.items():
            targets = um.mapping[side][list(idx)]
            lines.append(f"  {group:11s} -> {sorted(set(fg[targets]))} {targets.tolist()}")
    if png:
        from cmhm.report.plots_data import plot_union_mapping

        plot_union_mapping(um, [png])
        lines.append(f"figure written to {png}")
    return lines + provenance_lines(prov)


UNION_CSV_COLUMNS = {
    "side": "which way the profile faces (right / left)",
    "profile_index": "profile (39-point) landmark",
    "profile_group": "its facial part",
    "frontal_index": "the frontal (68-point) landmark it is mapped to",
    "frontal_group": "that point's facial part",
    "distance": "distance between the two in the Procrustes-aligned mean shapes",
}


def union_mapping_csv(path: Path, png: str | None) -> list[str]:
    """The mapping per side as ``profile -> frontal`` lists, and the mean matching distance."""
    df = pd.read_csv(path)
    lines = [
        f"{path}: multi-view union mapping as a table (rule union_mapping; its JSON twin is what training reads)"
    ]
    lines += column_lines(UNION_CSV_COLUMNS)
    for side, rows in df.groupby("side", sort=False):
        rows = rows.sort_values("profile_index")
        lines.append(f"profile facing {side} (mean distance {rows['distance'].mean():.3f}):")
        for group, g in rows.groupby("profile_group", sort=False):
            pairs = " ".join(f"{p}->{f}" for p, f in zip(g["profile_index"], g["frontal_index"]))
            lines.append(f"  {group:11s} -> {sorted(set(g['frontal_group']))} {pairs}")
    return lines + sibling_provenance(path, {path.with_suffix(".json").name: "written by the same rule"})


HELDOUT_COLUMNS = {
    "sample_id": "held-out face",
    "view": "semifrontal / profile",
    "yaw": "ground-truth yaw (degrees)",
    "fit_ok": "the 3D shape-model fit converged",
    "nme2d_68": "NME of the fitted 68 landmarks, x, y, / sqrt(w*h) of the ground-truth box",
    "nme3d_68": "same in 3D (z centred per set)",
    "nme2d_84": "the 84-point markup, 2D",
    "nme3d_84": "the 84-point markup, 3D",
}


def heldout_fit(path: Path, png: str | None) -> list[str]:
    """Fits that failed, and the mean of each NME column over converged fits, by view (as heldout_report.json)."""
    df = pd.read_csv(path)
    ok = df[df["fit_ok"].astype(bool)]
    cols = [c for c in df.columns if c.startswith("nme")]
    lines = [f"{path}: accuracy of the 3D shape-model fit on held-out faces (rule heldout_fit)"]
    lines += column_lines({c: HELDOUT_COLUMNS.get(c, "") for c in df.columns})
    lines.append(f"faces: {len(df)}, fits failed: {len(df) - len(ok)}")
    lines.append("mean NME (%) of converged fits  " + "  ".join(f"{c:>9s}" for c in cols))
    groups = [("all", ok)] + [(str(v), g) for v, g in ok.groupby("view")]
    for name, g in groups:
        means = "  ".join(f"{100 * g[c].mean():9.3f}" for c in cols)
        lines.append(f"  {name:12s} (n={len(g):4d})           {means}")
    return lines + sibling_provenance(path, {"heldout_report.json": "written by the same rule"})


def _scale_lines(report: dict) -> list[str]:
    """The canonical-scale table of a ``mean_shape.json`` report (rule mean_shapes)."""
    lines = [
        "canonical scale (face size after the warp / before, ground-truth stage-1 points; >= 0.9 wanted):"
    ]
    for label, b in report.get("canonical_scale_by_yaw", {}).items():
        lines.append(f"  |yaw| {label:10s} n={b['n']:5d}  mean {b['mean']:.3f}  min {b['min']:.3f}")
    return lines + [f"  faces without a yaw (not binned): {report.get('unknown_yaw', 0)}"]


def mean_shape(path: Path, png: str | None) -> list[str]:
    """The stage-2 canonical mean shapes [V, K, 2] (or one [K, 2]) in crop pixels, and their canonical scale."""
    a = np.load(path, allow_pickle=False)
    shapes = a.reshape(-1, *a.shape[-2:])
    report_path = path.with_suffix(".json")
    report = json.loads(report_path.read_text()) if report_path.is_file() else {}
    names = report.get("views", [f"shape {v}" for v in range(len(shapes))])
    lines = [
        f"{path}: canonical mean 2D shapes of stage 2 (rule mean_shapes), one per view, in crop pixels:",
        "  generalised-Procrustes means of the stage-1 target labels of each view (semi-frontal, left and",
        "  right profile), at the views' average face size and position; the cascade fits stage 1's points",
        "  to every one and warps by the best fit (smallest normalised residual)",
        f"array: {a.dtype} {list(a.shape)} ({'views x ' if a.ndim == 3 else ''}points x (x, y); NaN = not in that view)",
    ]
    for name, m in zip(names, shapes):
        lo, hi = np.nanmin(m, axis=0), np.nanmax(m, axis=0)
        c = np.nanmean(m, axis=0)
        lines += [
            f"{name}: {int(np.isfinite(m).all(-1).sum())} points, extent: "
            + ", ".join(f"{ax} {lo[i]:.2f} .. {hi[i]:.2f}" for i, ax in enumerate("xy")),
            f"  size: {hi[0] - lo[0]:.2f} x {hi[1] - lo[1]:.2f} px, centre ({c[0]:.2f}, {c[1]:.2f})",
        ]
    if report:
        lines += _scale_lines(report)
    siblings = {
        "mean_shape.json": "the canonical-scale report written with it",
        "../stage2/model.pt": "the stage-2 model trained in this frame",
    }
    return lines + sibling_provenance(path, siblings)


NPZ_KINDS = {  # name -> (what it is, a record beside it that carries the producing rule's provenance)
    "predictions.npz": ("still-image predictions of one variant (rule predict_images)", ""),
    "tracks.npz": ("tracked landmarks of the test videos (rule track_video)", "tracking_metrics.json"),
    "pdm.npz": ("sparse 3D point distribution model (rule annotations_3d)", "fit_report.json"),
    "labels.npz": ("label arrays of a sample table, one row per sample", "provenance.json"),
    "train_labels.npz": ("3D labels fitted to the training faces (rule annotations_3d)", "fit_report.json"),
}


def npz(path: Path, png: str | None) -> list[str]:
    """Arrays of an npz bundle and its provenance: a ``provenance`` entry, a ``code_version``, or a sibling's."""
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    prov = json.loads(str(arrays.pop("provenance"))) if "provenance" in arrays else {}
    code = arrays.pop("code_version", None)
    what, sibling = NPZ_KINDS.get(path.name, ("array bundle", ""))
    lines = [f"{path}: {what}"] + describe_arrays(arrays)
    if prov or (code is None and not sibling):
        return lines + provenance_lines(prov)
    if code is not None:
        return lines + [f"code version: {code} (no config recorded)"]
    return lines + sibling_provenance(path, {sibling: "written with it"})
