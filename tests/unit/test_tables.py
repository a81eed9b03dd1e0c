"""Tables I and II: numbers in, CSV and booktabs LaTeX out."""

import numpy as np
import pandas as pd
import pytest

from cmhm.evaluation.metrics import aflw_table
from cmhm.report.published import TABLE2_COLUMNS, QuotedRowsError, read_quoted, table1_columns
from cmhm.report.tables import (
    DELTA_COLUMNS,
    VARIANT_LABELS,
    paired_deltas,
    table1_frame,
    table1_tex_columns,
    table2_frame,
    table2_tex_columns,
    tex_escape,
    to_latex,
    write_table,
)


def _aflw():
    # bins: [0,30]: 0.01, 0.03 -> 0.02; (30,60]: 0.04; (60,90]: 0.06 -> mean of bins 0.04, per image 0.035
    return aflw_table(np.array([0.01, 0.03, 0.04, 0.06]), np.array([5.0, -20.0, 45.0, 80.0]))


def test_table1_rows_are_percent_and_quoted_rows_marked():
    quoted = [{"method": "CMHM", "source": "paper", **dict(zip(table1_columns(), [1.0, 2.0, 3.0, 2.0]))}]
    df = table1_frame({"baseline": _aflw()}, quoted)
    row = df.iloc[0]
    assert row["source"] == "measured"
    np.testing.assert_allclose(
        [row["[0, 30]"], row["(30, 60]"], row["(60, 90]"], row["Mean"]], [2.0, 4.0, 6.0, 4.0]
    )
    np.testing.assert_allclose(row["per-image mean"], 3.5)
    assert df.iloc[1]["source"] == "quoted: paper" and df.iloc[1]["Mean"] == 2.0
    assert df.iloc[0]["n"] == 4 and df["n"].isna().iloc[1]


def test_latex_is_booktabs_and_escapes(tmp_path):
    quoted = [{"method": "3DDFA_x", "source": "a paper", **dict(zip(table1_columns(), [1.0, 2.0, 3.0, 2.0]))}]
    df = table1_frame({"cmhm": _aflw()}, quoted)
    tex = to_latex(df, "NME in % by yaw", "tab:x")
    assert r"\toprule" in tex and r"\bottomrule" in tex and r"\midrule" in tex
    assert r"NME in \% by yaw" in tex and r"\textit{3DDFA\_x}\textsuperscript{\dag}" in tex
    assert tex.count(r" \\") == len(df) + 1  # header + one line per row
    assert "measured" not in tex and "source" not in tex  # quoted rows are marked, measured ones plain
    assert r"\textit{Quoted from} a paper." in tex
    write_table(df, tmp_path / "t.csv", tmp_path / "t.tex", "c", "l")
    assert len(pd.read_csv(tmp_path / "t.csv")) == 2


def test_table2_from_tracking_summaries():
    df = table2_frame({"cmhm": {"auc": 0.4667, "failure_rate": 1 / 3, "redetections": 2, "n": 3}}, 0.05)
    np.testing.assert_allclose(df.iloc[0]["FR (%)"], 100 / 3)
    assert df.iloc[0]["threshold"] == 0.05
    assert df.iloc[0]["failure check"] == ""  # a record that does not say which check ran
    onet = {"auc": 0.5, "failure_rate": 0.1, "redetections": 1, "n": 3, "failure_check": "onet"}
    df = table2_frame({"cmhm": {**onet, "failure_threshold": 0.41234}}, 0.05)
    assert df.iloc[0]["failure check"] == "onet < 0.412"


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
    df = table2_frame(
        {}, 0.05, read_quoted(_write(tmp_path, "source,method,AUC,FR (%)\nS,M,0.7,1.2\n"), TABLE2_COLUMNS)
    )
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


def test_paired_deltas_against_the_first_variant():
    ids = [f"s{i}" for i in range(6)]
    yaw = [5.0, 10.0, 40.0, 50.0, 70.0, 80.0]
    base = pd.DataFrame({"sample_id": ids, "yaw": yaw, "nme": [0.02, 0.04, 0.05, 0.05, 0.08, 0.10]})
    other = base.assign(nme=base["nme"] - 0.01)
    deltas = paired_deltas({"baseline": base, "cmhm": other})
    assert deltas["baseline"]["diff"] == 0 and deltas["cmhm"]["diff"] == pytest.approx(-0.01)
    df = table1_frame({"baseline": _aflw(), "cmhm": _aflw()}, None, deltas)
    np.testing.assert_allclose(df.loc[1, DELTA_COLUMNS].to_numpy(float), [-1.0, -1.0, -1.0])
    with pytest.raises(ValueError, match="different test images"):
        paired_deltas({"baseline": base, "cmhm": other.iloc[::-1].reset_index(drop=True)})


def test_table1_latex_keeps_the_papers_columns_and_the_csv_all(tmp_path):
    df = table1_frame({"baseline": _aflw()})
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
    worse = aflw_table(np.array([0.02, 0.04, 0.05, 0.07]), np.array([5.0, -20.0, 45.0, 80.0]))
    df = table1_frame({"baseline": worse, "cmhm": _aflw()})
    df.loc[0, "(60, 90]"] = 5.0  # baseline best in the last bin only
    tex = to_latex(df, "c", "l", table1_tex_columns())
    rows = [ln for ln in tex.splitlines() if ln.startswith(("2-stack", "+ Procrustes"))]
    base, cmhm = (r.removesuffix(r" \\").split(" & ") for r in rows)
    lo, hi = (f"{v:.2f}" for v in np.array(_aflw()["overall_ci95"]) * 100)
    assert cmhm == [
        VARIANT_LABELS["cmhm"],
        r"\textbf{2.00}",
        r"\textbf{4.00}",
        "6.00",
        rf"\textbf{{4.00}} [{lo}, {hi}]",
    ]
    assert base[3] == r"\textbf{5.00}" and base[1] == "3.00"
    assert "Bold: best per column." in tex and "Mean [low, high]: 95" in tex


def test_table2_latex_bolds_the_highest_auc_and_lowest_failure_rate():
    df = table2_frame(
        {
            "baseline": {"auc": 0.5, "failure_rate": 0.1, "redetections": 1, "n": 10},
            "cmhm": {"auc": 0.6, "failure_rate": 0.2, "redetections": 1, "n": 10},
        },
        0.05,
    )
    tex = to_latex(df, "c", "l", table2_tex_columns())
    assert r"\textbf{0.600}" in tex and r"\textbf{10.00}" in tex and "0.500 &" in tex
    tied = table2_frame({v: {"auc": 0.0, "failure_rate": 1.0, "redetections": 1, "n": 4} for v in "ab"}, 0.05)
    assert r"\textbf" not in to_latex(tied, "c", "l", table2_tex_columns())  # all alike: none picked out
