"""Tables I and II: numbers in, CSV and booktabs LaTeX out."""

import numpy as np
import pandas as pd
import pytest

from cmhm.report.published import TABLE2_COLUMNS, TEXT_COLUMNS, QuotedRowsError, read_quoted, table1_columns
from cmhm.report.tables import (
    CI_COLUMNS,
    VARIANT_LABELS,
    failure_check_label,
    quoted_source,
    table1_tex_columns,
    table2_tex_columns,
    tex_escape,
    to_latex,
    write_table,
)


def _table1(measured: dict[str, list[float]], quoted: list[dict] | None = None) -> pd.DataFrame:
    """A Table I frame as :func:`cmhm.report.seed_tables.table1_seed_frame` lays it out: per measured
    variant the three bins, Mean and its interval (%), then the quoted rows."""
    rows = [
        {
            "method": VARIANT_LABELS.get(v, v),
            "source": "measured",
            **dict(zip([*table1_columns(), *CI_COLUMNS], vals)),
            "n": 4,
        }
        for v, vals in measured.items()
    ]
    rows += [{**q, "source": quoted_source(q["source"])} for q in quoted or []]
    return pd.DataFrame(rows, columns=[*TEXT_COLUMNS, *table1_columns(), *CI_COLUMNS, "n"]).astype(
        {"n": "Int64"}
    )


def _table2(measured: dict[str, tuple[float, float]], quoted: list[dict] | None = None) -> pd.DataFrame:
    """A Table II frame: per measured variant AUC and FR (%), then the quoted rows (no frame count)."""
    rows = [
        {"method": v, "source": "measured", "AUC": a, "FR (%)": f, "frames": 10}
        for v, (a, f) in measured.items()
    ]
    rows += [{**q, "source": quoted_source(q["source"])} for q in quoted or []]
    return pd.DataFrame(rows, columns=[*TEXT_COLUMNS, *TABLE2_COLUMNS, "frames"]).astype({"frames": "Int64"})


# bins 2, 4, 6 %, Mean 4 % with its interval
CMHM = [2.0, 4.0, 6.0, 4.0, 3.5, 4.5]


def test_latex_is_booktabs_and_escapes(tmp_path):
    quoted = [{"method": "3DDFA_x", "source": "a paper", **dict(zip(table1_columns(), [1.0, 2.0, 3.0, 2.0]))}]
    df = _table1({"cmhm": CMHM}, quoted)
    tex = to_latex(df, "NME in % by yaw", "tab:x")
    assert r"\toprule" in tex and r"\bottomrule" in tex and r"\midrule" in tex
    assert r"NME in \% by yaw" in tex and r"\textit{3DDFA\_x}\textsuperscript{\dag}" in tex
    assert tex.count(r" \\") == len(df) + 1  # header + one line per row
    assert "measured" not in tex and "source" not in tex  # quoted rows are marked, measured ones plain
    assert r"\textit{Quoted from} a paper." in tex
    write_table(df, tmp_path / "t.csv", tmp_path / "t.tex", "c", "l")
    assert len(pd.read_csv(tmp_path / "t.csv")) == 2


def test_failure_check_label_from_tracking_summaries():
    assert failure_check_label({"auc": 0.5}) == ""  # a record that does not say which check ran
    assert failure_check_label({"failure_check": "onet", "failure_threshold": 0.41234}) == "onet < 0.412"
    assert failure_check_label({"failure_check": "heatmap"}) == "heatmap"


def _write(tmp_path, text):
    path = tmp_path / "quoted.csv"
    path.write_text(text)
    return path


def test_read_quoted_rows_keeps_order_source_and_empty_cells(tmp_path):
    path = _write(
        tmp_path,
        'method,source,"[0, 30]","(30, 60]","(60, 90]",Mean\n'
        "A,Paper X Table I,1.5,2.5,3.5,2.5\n"
        'B,"Paper Y, Table 2",1,,3,\n',
    )
    rows = read_quoted(path, table1_columns())
    assert [r["method"] for r in rows] == ["A", "B"] and rows[1]["source"] == "Paper Y, Table 2"
    assert rows[0]["(60, 90]"] == 3.5 and np.isnan(rows[1]["(30, 60]"]) and np.isnan(rows[1]["Mean"])
    df = _table2({}, read_quoted(_write(tmp_path, "source,method,AUC,FR (%)\nS,M,0.7,1.2\n"), TABLE2_COLUMNS))
    assert df.iloc[0]["source"] == "quoted: S" and df.iloc[0]["FR (%)"] == 1.2
    assert r"\textit{--}" in to_latex(df, "c", "l")  # a quoted row has no frame count


@pytest.mark.parametrize(
    "text, says",
    [
        ("method,source,AUC\nM,S,0.5\n", "missing ['FR (%)']"),
        ("method,source,AUC,FR (%),extra\nM,S,0.5,1,2\n", "unexpected ['extra']"),
        ("method,source,AUC,FR (%)\n", "no rows"),
        ("method,source,AUC,FR (%)\nM,S,high,1\n", "line 2, column 'AUC': 'high' is not a number"),
        ("method,source,AUC,FR (%)\nM,S,0.5,-1\n", "not a non-negative number"),
        ("method,source,AUC,FR (%)\nM,,0.5,1\n", "line 2: empty 'source'"),
        ("", "not a readable CSV"),
    ],
)
def test_read_quoted_names_the_file_and_the_fault(tmp_path, text, says):
    path = _write(tmp_path, text)
    with pytest.raises(QuotedRowsError) as err:
        read_quoted(path, TABLE2_COLUMNS)
    assert str(path) in str(err.value) and says in str(err.value)


def test_read_quoted_missing_file(tmp_path):
    with pytest.raises(QuotedRowsError, match="does not exist"):
        read_quoted(tmp_path / "nope.csv", TABLE2_COLUMNS)


def test_table1_latex_keeps_the_papers_columns_and_the_csv_all(tmp_path):
    df = _table1({"baseline": CMHM})
    write_table(df, tmp_path / "t.csv", tmp_path / "t.tex", "c", "l", table1_tex_columns())
    header = next(line for line in (tmp_path / "t.tex").read_text().splitlines() if line.startswith("method"))
    assert header == r"method & [0, 30] & (30, 60] & (60, 90] & Mean \\"
    assert list(pd.read_csv(tmp_path / "t.csv").columns) == list(df.columns)


@pytest.mark.parametrize(
    "text, tex",
    [
        ("a_b", r"a\_b"),
        ("50% & $5", r"50\% \& \$5"),
        ("{x}", r"\{x\}"),
        ("~^#", r"\textasciitilde{}\textasciicircum{}\#"),
        ("a\\b", r"a\textbackslash{}b"),
        ("plain (30, 60] [0, 30]", "plain (30, 60] [0, 30]"),
    ],
)
def test_tex_escape_each_special_once(text, tex):
    assert tex_escape(text) == tex


def test_latex_interval_in_brackets_and_best_per_column_in_bold():
    df = _table1(
        {"baseline": [3.0, 5.0, 5.0, 5.0, 4.0, 6.0], "cmhm": CMHM}
    )  # baseline best in the last bin only
    tex = to_latex(df, "c", "l", table1_tex_columns())
    rows = [ln for ln in tex.splitlines() if ln.startswith(("2-stack", "+ Procrustes"))]
    base, cmhm = (r.removesuffix(r" \\").split(" & ") for r in rows)
    assert cmhm == [
        VARIANT_LABELS["cmhm"],
        r"\textbf{2.00}",
        r"\textbf{4.00}",
        "6.00",
        r"\textbf{4.00} [3.50, 4.50]",
    ]
    assert base[3] == r"\textbf{5.00}" and base[1] == "3.00"
    assert "Bold: best per column." in tex and "Mean [low, high]: 95" in tex


def test_table2_latex_bolds_the_highest_auc_and_lowest_failure_rate():
    df = _table2({"baseline": (0.5, 10.0), "cmhm": (0.6, 20.0)})
    tex = to_latex(df, "c", "l", table2_tex_columns())
    assert r"\textbf{0.600}" in tex and r"\textbf{10.00}" in tex and "0.500 &" in tex
    tied = _table2({v: (0.0, 100.0) for v in "ab"})
    assert r"\textbf" not in to_latex(tied, "c", "l", table2_tex_columns())  # all alike: none picked out
