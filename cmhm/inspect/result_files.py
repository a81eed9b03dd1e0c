"""``inspect`` for training and evaluation: checkpoints, training logs, per-image/per-frame errors, tables."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from cmhm.geometry.yaw_bins import bin_labels
from cmhm.inspect.common import column_lines, record_provenance, sibling_provenance
from cmhm.report.seed_tables import STEP_COLUMNS
from cmhm.report.tables import CI_COLUMNS, DELTA_COLUMNS, SKIPPED_COLUMN


def checkpoint(path: Path, png: str | None) -> list[str]:
    """Kind (resumable or final), step, parameter count, config and code version of a ``.pt`` file."""
    from cmhm.training.checkpoints import load_verified

    state = load_verified(path)  # a truncated, corrupt or code-carrying file: ValueError naming it
    if isinstance(state, dict) and state.get("format") == "cmhm-cascade":
        return model_file(path, state)
    params = sum(v.numel() for v in state.get("state_dict", {}).values())
    kind = "resumable training checkpoint" if "optimizer" in state else "trained weights"
    lines = [
        f"{path}: {kind} (PyTorch, load with weights_only=True), step {state.get('step', '?')}",
        f"parameters: {params:,}",
        "config: " + json.dumps(state.get("config", {}), sort_keys=True, default=str),
    ]
    return lines + [f"code version: {state.get('code_version', '?')}"]


def model_file(path: Path, state: dict) -> list[str]:
    """A model file (``cascade.pt``, rule assemble_model): its stages, frames, crop, detector and provenance."""
    lines = [
        f"{path}: model file of variant {state['variant']} (rule assemble_model; load with cmhm.load(path),"
        " use with python -m cmhm predict / export)"
    ]
    for i, st in enumerate(state["stages"]):
        cfg = st["config"]
        n = sum(v.numel() for v in st["state_dict"].values())
        lines.append(
            f"stage {i + 1}: {cfg['block']} x {len(st['targets'])} stack(s), {cfg['in_size']} px in, width "
            f"{cfg['width']}, depth {cfg['depth']}; heads {st['markups']} ({st['targets']}); {n:,} parameters;"
            f" {st['steps']} steps ({st['source']})"
        )
    for i, m in enumerate(state["mean_shapes"]):
        lines.append(f"mean shapes linking stage {i + 1} to {i + 2}: {tuple(m.shape)} (views x points x 2)")
    lines.append(f"crop: {json.dumps(state['crop'])}")
    det = state["detector"]
    lines.append(
        "detector: none recorded (pass face boxes)"
        if det is None
        else f"detector: {json.dumps(det, default=str)}"
    )
    lines.append(f"tracking: {json.dumps(state['tracking'], default=str)}")
    lines.append(
        f"training config digest {state['config_digest']}: {json.dumps(state['config'], sort_keys=True)}"
    )
    return lines + [f"code version: {state['code_version']}"]


def _stage_of(path: Path) -> str:
    """``"stage 1 of variant cmhm"`` from ``.../models/<variant>/stage1/log.csv``, else ``"a model"``."""
    m = re.fullmatch(r"stage(\d+)", path.parent.name)
    return f"stage {m.group(1)} of variant {path.parent.parent.name}" if m else "a model"


def training_log(path: Path, png: str | None) -> list[str]:
    """Steps logged, first / last / lowest loss, last learning rate, median throughput."""
    df = pd.read_csv(path)
    stage = _stage_of(path)
    lines = [f"{path}: training log of {stage} (rule train_stage1 / train_stage2; resumes keep earlier rows)"]
    stacks = [c for c in df.columns if c.startswith("loss_stack")]
    lines += column_lines(
        {
            "step": "optimiser steps done",
            "loss": "total heatmap loss, mean over the steps since the previous row",
            **{c: f"its share from stack {c.removeprefix('loss_stack')}" for c in stacks},
            "lr": "learning rate after the step",
            "images_per_s": "training throughput over those steps",
            **(
                {
                    "val_nme": "NME % of the held-out training crops (train.val_size) at that step; empty between"
                }
                if "val_nme" in df
                else {}
            ),
        }
    )
    if df.empty:
        return lines + ["no rows yet"] + sibling_provenance(path, {"checkpoint.pt": "its resumable state"})
    first, last, best = df.iloc[0], df.iloc[-1], df.loc[df["loss"].idxmin()]
    lines += [
        f"rows: {len(df)}, steps {int(first['step'])} .. {int(last['step'])}",
        f"loss: first {first['loss']:.4g}, last {last['loss']:.4g}, lowest {best['loss']:.4g} "
        f"(step {int(best['step'])})",
        "last loss per stack: " + ", ".join(f"{c} {last[c]:.4g}" for c in stacks),
        f"last lr: {last['lr']:.4g}; median images/s: {df['images_per_s'].median():.1f}",
    ]
    if "val_nme" in df and df["val_nme"].notna().any():
        val = df.dropna(subset=["val_nme"])
        lines.append(
            f"held-out NME: first {val['val_nme'].iloc[0]:.3g} % (step {int(val['step'].iloc[0])}), "
            f"last {val['val_nme'].iloc[-1]:.3g} % (step {int(val['step'].iloc[-1])})"
        )
    siblings = {"model.pt": "the weights this run produced", "checkpoint.pt": "its resumable state"}
    return lines + sibling_provenance(path, siblings)


def per_image(path: Path, png: str | None) -> list[str]:
    """Images, mean NME overall, by view and per |yaw| bin, and the mean of bin means (Table I's Mean)."""
    from cmhm.evaluation.metrics import aflw_table

    df = pd.read_csv(path)
    t = aflw_table(df["nme"].to_numpy(), df["yaw"].to_numpy())
    lines = [f"{path}: per-image error of one variant on the still-image test set (rule image_metrics)"]
    lines += column_lines(
        {
            "sample_id": "test image",
            "yaw": "ground-truth yaw (degrees)",
            "view": "semifrontal / profile",
            "nme": "mean 2D point error / sqrt(w*h) of the ground-truth box (AFLW2000-3D protocol)",
        }
    )
    lines.append(f"images: {t['n']}, mean NME {100 * t['per_image_mean']:.3f}%")
    for view, nme in df.groupby("view")["nme"]:
        lines.append(f"  view {view:11s} n={len(nme):5d}  mean NME {100 * nme.mean():.3f}%")
    for label, b in t["bins"].items():
        lines.append(f"  |yaw| {label:10s} n={b['count']:5d}  mean NME {100 * b['mean']:.3f}%")
    lines.append(f"mean of the bin means (Table I's Mean): {100 * t['overall_mean_of_bins']:.3f}%")
    if "overall_ci95" in t:
        lines[-1] += " (95% interval {:.3f} .. {:.3f})".format(*(100 * np.asarray(t["overall_ci95"])))
    return lines + sibling_provenance(path, {"image_metrics.json": "written by the same rule"})


def _tracking_threshold(path: Path) -> tuple[float, str]:
    """The AUC / failure threshold the sibling tracking_metrics.json used, else the metrics default."""
    from cmhm.evaluation.metrics import MENPO_THRESHOLD

    record = path.parent / "tracking_metrics.json"
    if record.is_file():
        obj = json.loads(record.read_text())
        if "threshold" in obj:
            return float(obj["threshold"]), f"as in {record.name}"
    return MENPO_THRESHOLD, "default; no tracking_metrics.json beside this file"


def per_frame(path: Path, png: str | None) -> list[str]:
    """Frames, videos, re-detections, flagged failures, AUC and failure rate at the configured threshold."""
    from cmhm.evaluation.metrics import tracking_summary

    df = pd.read_csv(path)
    thr, where = _tracking_threshold(path)
    s = tracking_summary(df["nme_diag"].to_numpy(), thr)
    lengths = df.groupby("video").size()
    lines = [f"{path}: per-frame error of one variant tracking the test videos (rule track_video)"]
    lines += column_lines(
        {
            "video": "test video",
            "frame": "frame number",
            "nme_diag": "mean 2D point error / diagonal of the ground-truth box (inf: no result)",
            "redetected": "the detector was called on this frame",
            "failed": "the kept fit was judged a failure by the failure check (tracking_metrics.json)",
        }
    )
    lines += [
        f"frames: {len(df)} in {len(lengths)} videos ({lengths.min()} .. {lengths.max()} per video)",
        f"re-detections: {int(df['redetected'].sum())}, frames flagged failed: {int(df['failed'].sum())}",
        f"mean NME {100 * s['mean']:.3f}%, median {100 * s['median']:.3f}%",
        f"at threshold {thr:g} ({where}): AUC {s['auc']:.4f}, failure rate {100 * s['failure_rate']:.2f}%",
    ]
    record = path.parent / "tracking_metrics.json"
    points = json.loads(record.read_text()).get("points") if record.is_file() else None
    if points:  # which labels the errors are against: 3D-projection, or a 2D table's inner points
        lines.append(f"points scored: {points} (as in {record.name})")
    return lines + sibling_provenance(path, {"tracking_metrics.json": "written by the same rule"})


TABLES = {  # a column that tells the tables apart -> (what, the records it is built from, under results/)
    "Mean": (
        "paper Table I: NME (%) by |yaw| bin on still images (rule table1)",
        ("eval/*/*/seed*/image_metrics.json", "eval/*/timing.json"),
    ),
    "AUC": (
        "paper Table II: video tracking AUC and failure rate (rule table2)",
        ("eval/*/*/seed*/tracking_metrics.json",),
    ),
}
TABLE_COLUMNS = {
    "method": "variant (measured) or published method (quoted)",
    "source": "measured in this run, or quoted: <publication>",
    "Mean": "mean of the |yaw|-bin means (%), the paper's Overall",
    CI_COLUMNS[0]: "95% bootstrap interval of Mean (seeds and, within bins, images resampled), low end",
    CI_COLUMNS[1]: "the same interval's high end",
    DELTA_COLUMNS[0]: "Mean minus the first measured row's Mean (points)",
    DELTA_COLUMNS[1]: "paired 95% bootstrap interval of that difference (same seeds and images), low end",
    DELTA_COLUMNS[2]: "the same interval's high end",
    STEP_COLUMNS[0]: "Mean minus the row above's (the module this row adds; points)",
    STEP_COLUMNS[1]: "paired 95% bootstrap interval of that difference (same seeds and images), low end",
    STEP_COLUMNS[2]: "the same interval's high end",
    "per-image mean": "mean over images (%)",
    "n": "test images",
    "ms/face (this machine)": "inference time per face on the machine that ran rule timing",
    "AUC": "area under the per-frame CED up to the threshold, / threshold",
    "FR (%)": "frames with error above the threshold",
    "re-detections": "frames on which the detector was called",
    "frames": "frames tracked",
    "failure check": "the tracking failure check and its threshold (onet: MTCNN O-Net face score; heatmap: mean peak)",
    "threshold": "the AUC / failure threshold",
    "seeds": "training seeds the row averages (each variant trained once per seed)",
    SKIPPED_COLUMN: "bad test samples left out by data.on_bad_sample: skip (listed in the samples' skipped.csv)",
}


def _upstream_provenance(path: Path, patterns: tuple[str, ...]) -> list[str]:
    """Code versions and configs of the records a table is built from (``patterns`` under ``results/``)."""
    found = sorted(f for pattern in patterns for f in path.parent.parent.glob(pattern))
    if not found:
        return [f"provenance: none in this file, and its inputs ({', '.join(patterns)}) were not found"]
    lines = ["this file carries no provenance of its own; the records it is built from:"]
    configs = set()
    for f in found:
        prov = record_provenance(f)
        configs.add(json.dumps(prov.get("config", {}), sort_keys=True))
        lines.append(
            f"  {f}: code version {prov.get('code_version', '?')}, created {prov.get('created', '?')}"
        )
    return lines + [f"  their config: {c}" for c in sorted(configs)]


def _table_column(name: str) -> str:
    """What a column of Table I or II holds."""
    if name in TABLE_COLUMNS:
        return TABLE_COLUMNS[name]
    if name in bin_labels():
        return "mean NME (%) of the test images in this |yaw| bin, mean over seeds"
    spread = re.fullmatch(r"(.+) (sd|min|max) \(seeds\)", name)
    if spread:
        what = {"sd": "standard deviation", "min": "smallest", "max": "largest"}[spread.group(2)]
        return f"{what} over training seeds of the per-seed {spread.group(1)}"
    return ""


def paper_table(path: Path, png: str | None) -> list[str]:
    """Which table, what each column holds, its rows, and the provenance of the records it was built from."""
    df = pd.read_csv(path)
    key = next((k for k in TABLES if k in df.columns), None)
    what, records = TABLES[key] if key else ("a table of methods (not Table I or II)", ())
    lines = [f"{path}: {what}"] + column_lines({c: _table_column(c) for c in df.columns})
    with pd.option_context("display.width", 200, "display.max_columns", None):
        lines += ["rows:", df.to_string(index=False, float_format=lambda v: f"{v:.3f}")]
    return lines + (_upstream_provenance(path, records) if records else [])


def is_paper_table_tex(p: Path) -> bool:
    """A LaTeX table fragment written by :func:`cmhm.report.tables.write_table`."""
    return p.suffix == ".tex" and p.is_file() and p.read_text().startswith(r"\begin{table}")


def paper_table_tex(path: Path, png: str | None) -> list[str]:
    """Caption and label of the LaTeX fragment, then what its CSV twin holds."""
    text = path.read_text()
    caption = re.search(r"\\caption\{(.*)\}", text)
    label = re.search(r"\\label\{(.*?)\}", text)
    lines = [
        f"{path}: booktabs LaTeX of a table, written with its CSV twin by the same rule",
        f"caption: {caption.group(1) if caption else '?'}",
        f"label: {label.group(1) if label else '?'}",
    ]
    twin = path.with_suffix(".csv")
    if twin.is_file():
        return lines + [f"its CSV twin, {twin}:"] + paper_table(twin, None)[1:]
    return lines + [f"provenance: none in this file, and its CSV twin {twin} is missing"]
