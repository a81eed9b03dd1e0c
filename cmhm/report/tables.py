"""The paper's tables as CSV and booktabs LaTeX (no templating library: plain string building): row labels,
column names, LaTeX and the writer. The tables themselves are built over seeds by :mod:`cmhm.report.seed_tables`."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from cmhm.atomic import write_text_atomic
from cmhm.report.published import TABLE2_COLUMNS, table1_columns

VARIANT_LABELS = {
    "baseline": "2-stack Hourglass (bottleneck)",
    "inception": "+ Inception-ResNet",
    "multiview": "+ Multi-view",
    "cmhm": "+ Procrustes transform (CMHM)",
    "cmhm_light": "CMHM, stage 2 at half size",
    "cmhm_mid": "CMHM, stage 2 at half size, 3/4 width",
    "cmhm_slim": "CMHM, stage 2 at half size and width",
    "cmhm_compact": "CMHM compact (half size stage 2, half width)",
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


def failure_check_label(summary: dict) -> str:
    """Which tracking failure check ran, from a tracking_metrics.json: e.g. "onet < 0.412" (O-Net face
    score) or "heatmap < 0.3" (mean heatmap peak); "" for a record that does not say."""
    kind, thr = summary.get("failure_check"), summary.get("failure_threshold")
    return "" if kind is None else f"{kind} < {thr:.3g}" if thr is not None else str(kind)


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
