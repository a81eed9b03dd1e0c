"""Tables I and II: numbers in, CSV and booktabs LaTeX out."""

import numpy as np
import pandas as pd

from cmhm.metrics import aflw_table
from cmhm.tables import table1_frame, table2_frame, to_latex, write_table


def _aflw():
    # bins: [0,30]: 0.01, 0.03 -> 0.02; (30,60]: 0.04; (60,90]: 0.06 -> mean of bins 0.04, per image 0.035
    return aflw_table(np.array([0.01, 0.03, 0.04, 0.06]), np.array([5.0, -20.0, 45.0, 80.0]))


def test_table1_rows_are_percent_and_quoted_rows_marked():
    df = table1_frame({"baseline": _aflw()}, {"CMHM (paper)": [1.0, 2.0, 3.0, 2.0]})
    row = df.iloc[0]
    assert row["source"] == "measured"
    np.testing.assert_allclose(
        [row["[0, 30]"], row["(30, 60]"], row["(60, 90]"], row["Mean"]], [2.0, 4.0, 6.0, 4.0]
    )
    np.testing.assert_allclose(row["per-image mean"], 3.5)
    assert df.iloc[1]["source"] == "quoted (paper)"


def test_latex_is_booktabs_and_escapes(tmp_path):
    df = table1_frame({"cmhm": _aflw()}, {"3DDFA_x (paper)": [1.0, 2.0, 3.0, 2.0]})
    tex = to_latex(df, "NME in % by yaw", "tab:x")
    assert r"\toprule" in tex and r"\bottomrule" in tex and r"\midrule" in tex
    assert r"NME in \% by yaw" in tex and r"3DDFA\_x" in tex and r"\textit{" in tex
    assert tex.count(r"\\") == len(df) + 1  # header + one line per row
    write_table(df, tmp_path / "t.csv", tmp_path / "t.tex", "c", "l")
    assert len(pd.read_csv(tmp_path / "t.csv")) == 2


def test_table2_from_tracking_summaries():
    df = table2_frame({"cmhm": {"auc": 0.4667, "failure_rate": 1 / 3, "redetections": 2, "n": 3}}, 0.05)
    np.testing.assert_allclose(df.iloc[0]["FR (%)"], 100 / 3)
    assert df.iloc[0]["threshold"] == 0.05
