"""The paper's tables as CSV and booktabs LaTeX (no templating library: plain string building)."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from cmhm.atomic import write_text_atomic
from cmhm.evaluation.metrics import paired_mean_of_bins_diff
from cmhm.geometry.yaw_bins import bin_labels
from cmhm.report.published import TABLE2_COLUMNS, TEXT_COLUMNS, table1_columns

VARIANT_LABELS = {
    "baseline": "2-stack Hourglass (bottleneck)",
    "inception": "+ Inception-ResNet",
    "multiview": "+ Multi-view",
    "cmhm": "+ Procrustes transform (CMHM)",
}

# Percentile-bootstrap 95 % interval of Mean (images resampled within each yaw bin; cmhm.evaluation.metrics).
CI_COLUMNS = ["Mean CI95 low", "Mean CI95 high"]
# Mean minus the first measured row's, with a paired bootstrap 95 % interval (same images resampled).
DELTA_COLUMNS = ["Mean - ref", "(Mean - ref) CI95 low", "(Mean - ref) CI95 high"]
# Bad test samples the adapter left out (data.on_bad_sample: skip), summed over the split's shards.
SKIPPED_COLUMN = "skipped test samples"


def with_skipped(df: pd.DataFrame, sample_dirs: list[str | os.PathLike]) -> pd.DataFrame:
    """``df`` with :data:`SKIPPED_COLUMN` on its measured rows: the rows of the ``skipped.csv`` of the test
    split's sample table folders ``sample_dirs``; NA where no shard has such a list (synthetic data)."""
    from cmhm.data.bad import read_skipped

    lists = [s for s in (read_skipped(d) for d in sample_dirs) if s is not None]
    n = sum(len(s) for s in lists) if lists else pd.NA
    return df.assign(**{SKIPPED_COLUMN: [n if src == "measured" else pd.NA for src in df["source"]]}).astype(
        {SKIPPED_COLUMN: "Int64"}
    )


# LaTeX: a column printed with its interval in brackets, and which end of a column is best (bold).
INTERVALS = {"Mean": tuple(CI_COLUMNS)}
BEST = {**dict.fromkeys(table1_columns(), "min"), "AUC": "max", "FR (%)": "min"}


def table1_tex_columns() -> list[str]:
    """Table I's LaTeX columns: the paper's (method, the three |yaw| bins, Mean); quoted rows are marked."""
    return ["method", *table1_columns()]


def table2_tex_columns() -> list[str]:
    """Table II's LaTeX columns: the paper's (method, AUC, FR); quoted rows are marked."""
    return ["method", *TABLE2_COLUMNS]


def quoted_source(source: str) -> str:
    """The ``source`` cell of a quoted row: always starts with "quoted" (how the LaTeX marks it)."""
    return f"quoted: {source}"


def table1_frame(
    results: dict[str, dict], quoted: list[dict] | None = None, deltas: dict[str, dict] | None = None
) -> pd.DataFrame:
    """Table I: NME (%) per |yaw| bin and their mean, one row per measured variant, then quoted rows.

    ``results``: variant -> :func:`cmhm.evaluation.metrics.aflw_table` dict; ``quoted``: rows from
    :func:`cmhm.report.published.read_quoted` (method, source, the three bins and Mean, in %); ``deltas``:
    variant -> :func:`cmhm.evaluation.metrics.paired_mean_of_bins_diff` against the first variant.
    """
    labels = bin_labels()
    rows = []
    for variant, t in results.items():
        vals = [t["bins"][b]["mean"] * 100 for b in labels] + [t["overall_mean_of_bins"] * 100]
        rows.append(
            {
                "method": VARIANT_LABELS.get(variant, variant),
                "source": "measured",
                **dict(zip(table1_columns(), vals)),
                **dict(zip(CI_COLUMNS, np.array(t.get("overall_ci95", [np.nan] * 2)) * 100)),
                **_delta_cells((deltas or {}).get(variant)),
                "per-image mean": t["per_image_mean"] * 100,
                "n": t["n"],
            }
        )
    rows += [{**q, "source": quoted_source(q["source"])} for q in quoted or []]
    columns = [*TEXT_COLUMNS, *table1_columns(), *CI_COLUMNS, *DELTA_COLUMNS, "per-image mean", "n"]
    return pd.DataFrame(rows, columns=columns).astype({"n": "Int64"})


def _delta_cells(delta: dict | None) -> dict[str, float]:
    """The three difference cells (in %) of one row; NaN without a paired difference."""
    vals = [np.nan] * 3 if delta is None else [delta["diff"] * 100, delta["lo"] * 100, delta["hi"] * 100]
    return dict(zip(DELTA_COLUMNS, vals))


def paired_deltas(per_image: dict[str, pd.DataFrame]) -> dict[str, dict]:
    """Each variant's paired mean-of-bins difference to the first one, from ``per_image.csv`` frames
    (columns sample_id, yaw, nme); the first gets a difference of 0 to itself. Raises ValueError when two
    variants were not evaluated on the same images in the same order."""
    names = list(per_image)
    ref = per_image[names[0]]
    out = {}
    for name in names:
        df = per_image[name]
        if not np.array_equal(df["sample_id"].astype(str), ref["sample_id"].astype(str)):
            raise ValueError(f"per-image results of {name} and {names[0]} list different test images")
        out[name] = paired_mean_of_bins_diff(
            df["nme"].to_numpy(), ref["nme"].to_numpy(), ref["yaw"].to_numpy()
        )
    return out


def failure_check_label(summary: dict) -> str:
    """Which tracking failure check ran, from a tracking_metrics.json: e.g. "onet < 0.412" (O-Net face
    score) or "heatmap < 0.3" (mean heatmap peak); "" for a record that does not say."""
    kind, thr = summary.get("failure_check"), summary.get("failure_threshold")
    return "" if kind is None else f"{kind} < {thr:.3g}" if thr is not None else str(kind)


def table2_frame(
    results: dict[str, dict], threshold: float, quoted: list[dict] | None = None
) -> pd.DataFrame:
    """Table II: AUC and failure rate (%) at ``threshold`` per variant, from tracking summaries, then quoted rows.

    ``quoted``: rows from :func:`cmhm.report.published.read_quoted` (method, source, AUC, FR (%)); their
    threshold is the publication's, assumed equal to ``threshold``. ``failure check``: which check
    judged the measured fits (:func:`failure_check_label`).
    """
    rows = [
        {
            "method": VARIANT_LABELS.get(v, v),
            "source": "measured",
            "AUC": t["auc"],
            "FR (%)": t["failure_rate"] * 100,
            "re-detections": t["redetections"],
            "frames": t["n"],
            "failure check": failure_check_label(t),
        }
        for v, t in results.items()
    ]
    rows += [{**q, "source": quoted_source(q["source"])} for q in quoted or []]
    columns = [*TEXT_COLUMNS, *TABLE2_COLUMNS, "re-detections", "frames", "failure check"]
    df = pd.DataFrame(rows, columns=columns).astype({"re-detections": "Int64", "frames": "Int64"})
    return df.assign(threshold=threshold)


def _fmt(v) -> str:
    """A cell as printed in LaTeX: "--" for a missing or non-finite number; 3 decimals below 1, else 2."""
    if not isinstance(v, str) and pd.isna(v):
        return "--"
    if isinstance(v, (float, np.floating)):
        return "--" if not np.isfinite(v) else f"{v:.3f}" if abs(v) < 1 else f"{v:.2f}"
    return str(v)


_TEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def tex_escape(s: str) -> str:
    """``s`` as LaTeX text: each of ``\\ & % $ # _ { } ~ ^`` replaced once (character by character, so
    an escape is never escaped again)."""
    return "".join(_TEX_SPECIALS.get(ch, ch) for ch in s)


def _is_quoted(row: pd.Series) -> bool:
    return str(row.get("source", "")).startswith("quoted")


def _best(df: pd.DataFrame, column: str) -> str | None:
    """The printed best value of ``column`` (``BEST`` says min or max); None without two different values."""
    vals = pd.to_numeric(df[column], errors="coerce").to_numpy(float)
    vals = vals[np.isfinite(vals)]
    if column not in BEST or len({_fmt(v) for v in vals}) < 2:  # nothing to pick out when all print alike
        return None
    return _fmt(vals.min() if BEST[column] == "min" else vals.max())


def _cell(row: pd.Series, column: str, best: str | None) -> str:
    """One LaTeX cell: the value (bold when it prints as the column's best), its interval in brackets."""
    text = tex_escape(_fmt(row[column]))
    if best is not None and text == best:
        text = rf"\textbf{{{text}}}"
    if column in INTERVALS and all(c in row.index for c in INTERVALS[column]):
        lo, hi = (row[c] for c in INTERVALS[column])
        if pd.notna(lo) and pd.notna(hi):
            text += f" [{_fmt(lo)}, {_fmt(hi)}]"
    return text


def _notes(df: pd.DataFrame, cols: list[str]) -> list[str]:
    """Lines under the tabular: what bold and brackets mean, and where the daggered (quoted) rows come from."""
    notes = [r"Bold: best per column."]
    notes += [f"{tex_escape(c)} [low, high]: 95\\% bootstrap interval." for c in cols if c in INTERVALS]
    sources = [
        str(s).removeprefix("quoted:").strip() for s in df.get("source", []) if str(s).startswith("quoted")
    ]
    if sources:
        notes.append(
            r"\textsuperscript{\dag}\textit{Quoted from} "
            + "; ".join(map(tex_escape, dict.fromkeys(sources)))
            + "."
        )
    return [r"\par\smallskip{\footnotesize " + " ".join(notes) + "}"]


def to_latex(df: pd.DataFrame, caption: str, label: str, columns: list[str] | None = None) -> str:
    """A booktabs ``table`` environment of ``columns`` (default: all but ``source``).

    Quoted rows (``source`` "quoted: ...") come after a rule, in italics, their method marked with a dagger
    and their sources named in a note; the best value per column (``BEST``) is bold; a column with an
    interval (``INTERVALS``) prints it in brackets after the value.
    """
    cols = columns or [c for c in df.columns if c != "source"]
    best = {c: _best(df, c) for c in cols}
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        rf"\caption{{{tex_escape(caption)}}}",
        rf"\label{{{label}}}",
        r"\begin{tabular}{l" + "r" * (len(cols) - 1) + "}",
        r"\toprule",
        " & ".join(tex_escape(str(c)) for c in cols) + r" \\",
        r"\midrule",
    ]
    quoted_started = False
    for _, row in df.iterrows():
        quoted = _is_quoted(row)
        if quoted and not quoted_started:
            lines.append(r"\midrule")
            quoted_started = True
        cells = [_cell(row, c, best[c]) for c in cols]
        if quoted:
            cells = [rf"\textit{{{c}}}" for c in cells]
            cells[0] += r"\textsuperscript{\dag}"
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", *_notes(df, cols), r"\end{table}", ""]
    return "\n".join(lines)


def write_table(
    df: pd.DataFrame,
    csv_path: str | os.PathLike,
    tex_path: str | os.PathLike,
    caption: str,
    label: str,
    tex_columns: list[str] | None = None,
) -> None:
    """Write the CSV (every column) and the LaTeX fragment (``tex_columns``, default all but ``source``;
    see :func:`to_latex`) through temporary names."""
    write_text_atomic(csv_path, df.to_csv(index=False))
    write_text_atomic(tex_path, to_latex(df, caption, label, tex_columns))
