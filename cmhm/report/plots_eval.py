"""Figures of the evaluation half: CED curves (paper Fig. 6) and NME by yaw bin (paper Table I as bars)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from cmhm.evaluation.metrics import auc, ced, failure_rate
from cmhm.report.plots_data import save_figure

CED_POINTS = 501  # samples of each drawn CED curve between 0 and the threshold


def _seeds(errors) -> list[np.ndarray]:
    """One run's errors [N], or several seeds' (a list of [N] or an array [S, N]) -> list of [N]."""
    if isinstance(errors, np.ndarray) and errors.ndim == 1:
        return [errors]
    return [np.asarray(e, dtype=np.float64) for e in errors]


def plot_ced(
    curves: Mapping[str, np.ndarray | Sequence[np.ndarray]],
    threshold: float,
    out_paths: list[str | os.PathLike],
    note: str = "",
    config: dict | None = None,
    unit: str = "frames",
    xlabel: str = "Normalised point-to-point error",
    title: str = "",
) -> None:
    """Cumulative error distributions of per-frame (or per-image) errors, one curve per label.

    ``curves``: label -> errors [N], or per seed a list of [N] (or [S, N]): then each seed is a thin
    line and the mean of the seeds' CEDs the bold one. The x axis runs from 0 to ``threshold``; each
    legend entry gives the exact AUC at ``threshold`` (see :func:`cmhm.evaluation.metrics.auc`) and the failure
    rate, as mean ± sd over seeds where there are several.
    """
    fig, ax = plt.subplots(figsize=(5.2, 4.0))
    grid = np.linspace(0.0, threshold, CED_POINTS)
    runs = {label: _seeds(e) for label, e in curves.items()}
    ranked = sorted(runs.items(), key=lambda kv: -np.mean([auc(e, threshold) for e in kv[1]]))
    for label, seeds in ranked:
        a = np.array([auc(e, threshold) for e in seeds])
        fr = np.array([failure_rate(e, threshold) for e in seeds])
        text = f"AUC {a[0]:.4f}, FR {fr[0]:.2%}"
        if len(seeds) > 1:
            text = f"AUC {a.mean():.4f}±{a.std(ddof=1):.4f}, FR {fr.mean():.2%}±{fr.std(ddof=1):.2%} ({len(seeds)} seeds)"
        line = ax.step(
            grid, np.mean([ced(e, grid) for e in seeds], 0), where="post", lw=1.6, label=f"{label}  {text}"
        )
        for e in seeds if len(seeds) > 1 else []:
            ax.step(grid, ced(e, grid), where="post", lw=0.6, alpha=0.4, color=line[0].get_color())
    ax.set_xlim(0.0, threshold)
    ax.set_ylim(0.0, 1.0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"Proportion of {unit}")
    ax.grid(True, lw=0.4, alpha=0.5)
    ax.legend(loc="lower right", fontsize=7, frameon=True)
    if title:
        ax.set_title(title, fontsize=9)
    save_figure(fig, out_paths, note, config)


def plot_nme_by_yaw(
    table: Mapping[str, Mapping[str, float]],
    out_paths: list[str | os.PathLike],
    note: str = "",
    config: dict | None = None,
    title: str = "NME by absolute yaw (AFLW2000-3D protocol)",
) -> None:
    """Grouped bars: one group per yaw bin (and "Overall"), one bar per variant, NME shown in %.

    ``table``: variant -> {bin label: NME fraction}, e.g. :func:`cmhm.evaluation.metrics.bin_means` of each
    variant's :func:`cmhm.evaluation.metrics.aflw_table`, or {bin label: per-seed fractions}: then the bar is the
    mean over seeds, each seed a dot and the error bar the seeds' min-max. Every variant must have the
    same labels. NaN bins (no images) are left empty.
    """
    variants = list(table)
    labels = list(next(iter(table.values())))
    for v in variants:
        if list(table[v]) != labels:
            raise ValueError(f"variant {v!r} has bins {list(table[v])}, expected {labels}")
    fig, ax = plt.subplots(figsize=(1.6 + 1.1 * len(labels) * max(1, len(variants)) / 2, 3.8))
    x = np.arange(len(labels))
    width = 0.8 / max(1, len(variants))
    for i, v in enumerate(variants):
        per_seed = 100.0 * np.array([np.atleast_1d(table[v][lab]) for lab in labels], dtype=np.float64)
        vals, xs = per_seed.mean(1), x + (i - (len(variants) - 1) / 2) * width
        bars = ax.bar(xs, vals, width * 0.95, label=v)
        if per_seed.shape[1] > 1:
            err = [vals - per_seed.min(1), per_seed.max(1) - vals]
            ax.errorbar(xs, vals, yerr=err, fmt="none", ecolor="black", elinewidth=0.8, capsize=2)
            ax.plot(np.repeat(xs, per_seed.shape[1]), per_seed.ravel(), "k.", ms=2.5)
        texts = ["" if not np.isfinite(val) else f"{val:.2f}" for val in vals]
        ax.bar_label(bars, labels=texts, fontsize=6, padding=1)
    ax.set_xticks(x, [lab if lab == "Overall" else f"|yaw| {lab}" for lab in labels], fontsize=8)
    ax.set_ylabel("NME (%)")
    ax.set_title(title, fontsize=9)
    ax.grid(True, axis="y", lw=0.4, alpha=0.5)
    ax.set_axisbelow(True)
    ax.legend(fontsize=7)
    save_figure(fig, out_paths, note, config)


def plot_qualitative(
    examples: Mapping[str, Mapping[str, np.ndarray]],
    out_paths: list[str | os.PathLike],
    note: str = "",
    config: dict | None = None,
    n: int = 4,
) -> None:
    """Paper Figs. 5/7: per variant, test crops with predicted landmarks and each stage's response map.

    ``examples``: variant -> {"images" [N, S, S, 3], "points" [N, K, 2] (crop px), "response_stage{i}" [N, h, w]}.
    """
    variants = list(examples)
    cols = [
        (v, key)
        for v in variants
        for key in ["points", *sorted(k for k in examples[v] if k.startswith("response"))]
    ]
    n = min(n, *(len(e["images"]) for e in examples.values()))
    fig, axes = plt.subplots(n, len(cols), figsize=(1.6 * len(cols), 1.7 * n), squeeze=False)
    for c, (v, key) in enumerate(cols):
        e = examples[v]
        for r in range(n):
            ax = axes[r, c]
            ax.axis("off")
            ax.imshow(e["images"][r])
            if key == "points":
                ax.scatter(e["points"][r, :, 0], e["points"][r, :, 1], s=3, c="lime", linewidths=0)
            else:  # the response over the image that stage saw (later stages: the warped crop)
                stage_input = e.get(key.replace("response", "input"), e["images"])
                ax.imshow(stage_input[r])
                size = stage_input.shape[1]
                ax.imshow(e[key][r], cmap="magma", alpha=0.6, extent=(-0.5, size - 0.5, size - 0.5, -0.5))
            if r == 0:
                ax.set_title(f"{v}\n{key.replace('_', ' ')}", fontsize=6)
    save_figure(fig, out_paths, note, config)


def _formats(outputs: dict, name: str) -> list:
    """The PNG, PDF and SVG paths of figure ``name`` in rule plot_results' outputs."""
    return [outputs[name], outputs[f"{name}_pdf"], outputs[f"{name}_svg"]]


def render_results(
    variants: list[str], inputs: dict, outputs: dict, evaluation: dict, code_version: str
) -> None:
    """Every evaluation figure from stored files: ``inputs``/``outputs`` as named in rule plot_results.

    Each input is a flat list over variants x seeds, grouped by the ``<variant>/seed<k>`` folders of its
    paths (:func:`cmhm.report.seed_tables.group_by_seed`); the qualitative figure shows each variant's first seed.
    """
    import json

    import pandas as pd

    from cmhm.evaluation.metrics import bin_means
    from cmhm.report.seed_tables import group_by_seed

    note = f"cmhm {code_version}"
    config = {"variants": list(variants), "evaluation": evaluation}
    files = {
        k: group_by_seed(inputs[k], variants)
        for k in ("per_image", "per_frame", "image_metrics", "predictions")
    }
    per_image = {v: [pd.read_csv(p)["nme"].to_numpy() for p in ps] for v, ps in files["per_image"].items()}
    plot_ced(
        per_image,
        evaluation["ced_max_images"],
        _formats(outputs, "ced_images"),
        note,
        config=config,
        unit="images",
        xlabel="NME (box-normalised)",
        title="Still images (AFLW2000-3D protocol)",
    )
    per_frame = {
        v: [pd.read_csv(p)["nme_diag"].to_numpy() for p in ps] for v, ps in files["per_frame"].items()
    }
    plot_ced(
        per_frame,
        evaluation["tracking_threshold"],
        _formats(outputs, "ced_video"),
        note,
        config=config,
        title="Video tracking (Menpo-3D protocol)",
    )
    tables = {}
    for v, ps in files["image_metrics"].items():
        seeds = [bin_means(json.loads(Path(p).read_text())) for p in ps]
        tables[v] = {b: [t[b] for t in seeds] for b in seeds[0]}
    plot_nme_by_yaw(tables, _formats(outputs, "nme_by_yaw"), note, config)
    examples = {}
    for v, p in ((v, ps[0]) for v, ps in files["predictions"].items()):
        with np.load(p, allow_pickle=False) as z:
            examples[v] = {
                "images": z["example_images"],
                "points": z["example_points_crop"],
                **{
                    k.removeprefix("example_"): z[k]
                    for k in z.files
                    if k.startswith(("example_response", "example_input"))
                },
            }
    plot_qualitative(
        examples,
        _formats(outputs, "qualitative"),
        note,
        config,
        n=evaluation["n_examples"],
    )


def plot_training_log(
    log_csv: str | os.PathLike, title: str, out_paths: list[str | os.PathLike], note: str = "", config=None
) -> None:
    """Loss curves of one training stage from its ``log.csv`` (step, loss, loss_stack<s>, lr, ...):
    total and per-stack loss on a log scale, the learning rate on a second axis and, when the log has
    ``val_nme`` (``train.val_size``), the held-out NME in a panel below."""
    import pandas as pd

    df = pd.read_csv(log_csv)
    if df.empty:
        raise ValueError(f"{log_csv}: no rows logged, nothing to plot")
    val = df[["step", "val_nme"]].dropna() if "val_nme" in df else df.iloc[:0]
    if len(val):
        fig, (ax, vax) = plt.subplots(2, 1, figsize=(6, 5.6), sharex=True, height_ratios=(3, 2))
        vax.plot(val["step"], val["val_nme"], "o-", c="C3", ms=3, lw=1)
        vax.set(xlabel="step", ylabel="held-out NME (%)")
    else:
        fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.plot(df["step"], df["loss"], c="k", lw=1.4, label="total")
    for c in (c for c in df.columns if c.startswith("loss_stack")):
        ax.plot(df["step"], df[c], lw=0.9, label=f"stack {c.removeprefix('loss_stack')}")
    ax.set(xlabel="step", ylabel="heatmap loss (mean since previous row)", yscale="log", title=title)
    lr = ax.twinx()
    lr.plot(df["step"], df["lr"], c="0.6", ls="--", lw=0.8, drawstyle="steps-post", label="learning rate")
    lr.set(ylabel="learning rate", yscale="log")
    lines = ax.get_legend_handles_labels()
    extra = lr.get_legend_handles_labels()
    ax.legend(lines[0] + extra[0], lines[1] + extra[1], fontsize=7, loc="upper right")
    save_figure(fig, out_paths, note, config)
