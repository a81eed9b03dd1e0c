"""The paper's tables as CSV and booktabs LaTeX (no templating library: plain string building)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from cmhm.metrics import bin_labels

VARIANT_LABELS = {
    "baseline": "2-stack Hourglass (bottleneck)",
    "inception": "+ Inception-ResNet",
    "multiview": "+ Multi-view",
    "cmhm": "+ Procrustes transform (CMHM)",
}

# Percentile-bootstrap 95 % interval of Mean (images resampled within each yaw bin; cmhm.metrics).
CI_COLUMNS = ["Mean CI95 low", "Mean CI95 high"]


def quoted_source(source: str) -> str:
    """The ``source`` cell of a quoted row: always starts with "quoted" (how the LaTeX marks it)."""
    return f"quoted: {source}"


def table1_frame(results: dict[str, dict], quoted: list[dict] | None = None) -> pd.DataFrame:
    """Table I: NME (%) per |yaw| bin and their mean, one row per measured variant, then quoted rows.

    ``results``: variant -> :func:`cmhm.metrics.aflw_table` dict; ``quoted``: rows from
    :func:`cmhm.published.read_quoted` (method, source, the three bins and Mean, in %).
    """
    labels = bin_labels()
    rows = []
    for variant, t in results.items():
        vals = [t["bins"][b]["mean"] * 100 for b in labels] + [t["overall_mean_of_bins"] * 100]
        rows.append(
            {
                "method": VARIANT_LABELS.get(variant, variant),
                "source": "measured",
                **dict(zip(labels + ["Mean"], vals)),
                **dict(zip(CI_COLUMNS, np.array(t.get("overall_ci95", [np.nan] * 2)) * 100)),
                "per-image mean": t["per_image_mean"] * 100,
                "n": t["n"],
            }
        )
    rows += [{**q, "source": quoted_source(q["source"])} for q in quoted or []]
    columns = ["method", "source", *labels, "Mean", *CI_COLUMNS, "per-image mean", "n"]
    return pd.DataFrame(rows, columns=columns).astype({"n": "Int64"})


def table2_frame(
    results: dict[str, dict], threshold: float, quoted: list[dict] | None = None
) -> pd.DataFrame:
    """Table II: AUC and failure rate (%) at ``threshold`` per variant, from tracking summaries, then quoted rows.

    ``quoted``: rows from :func:`cmhm.published.read_quoted` (method, source, AUC, FR (%)); their
    threshold is the publication's, assumed equal to ``threshold``.
    """
    rows = [
        {
            "method": VARIANT_LABELS.get(v, v),
            "source": "measured",
            "AUC": t["auc"],
            "FR (%)": t["failure_rate"] * 100,
            "re-detections": t["redetections"],
            "frames": t["n"],
        }
        for v, t in results.items()
    ]
    rows += [{**q, "source": quoted_source(q["source"])} for q in quoted or []]
    columns = ["method", "source", "AUC", "FR (%)", "re-detections", "frames"]
    df = pd.DataFrame(rows, columns=columns).astype({"re-detections": "Int64", "frames": "Int64"})
    return df.assign(threshold=threshold)


def _fmt(v) -> str:
    """A cell as printed in LaTeX: "--" for a missing or non-finite number; 3 decimals below 1, else 2."""
    if not isinstance(v, str) and pd.isna(v):
        return "--"
    if isinstance(v, (float, np.floating)):
        return "--" if not np.isfinite(v) else f"{v:.3f}" if abs(v) < 1 else f"{v:.2f}"
    return str(v)


def _tex_escape(s: str) -> str:
    for a, b in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("_", r"\_"), ("#", r"\#")):
        s = s.replace(a, b)
    return s


def to_latex(df: pd.DataFrame, caption: str, label: str) -> str:
    """A booktabs ``table`` environment; quoted rows are set in italics after a rule."""
    cols = list(df.columns)
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        rf"\caption{{{_tex_escape(caption)}}}",
        rf"\label{{{label}}}",
        r"\begin{tabular}{l" + "r" * (len(cols) - 1) + "}",
        r"\toprule",
        " & ".join(_tex_escape(str(c)) for c in cols) + r" \\",
        r"\midrule",
    ]
    quoted_started = False
    for _, row in df.iterrows():
        quoted = str(row.get("source", "")).startswith("quoted")
        if quoted and not quoted_started:
            lines.append(r"\midrule")
            quoted_started = True
        cells = [_tex_escape(_fmt(row[c])) for c in cols]
        if quoted:
            cells = [rf"\textit{{{c}}}" for c in cells]
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}", ""]
    return "\n".join(lines)


def write_table(
    df: pd.DataFrame, csv_path: str | os.PathLike, tex_path: str | os.PathLike, caption: str, label: str
) -> None:
    """Write the CSV and the LaTeX fragment through temporary names."""
    for path, text in (
        (Path(csv_path), df.to_csv(index=False)),
        (Path(tex_path), to_latex(df, caption, label)),
    ):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(text)
        os.replace(tmp, path)
