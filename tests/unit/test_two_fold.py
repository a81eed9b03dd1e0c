"""Two-fold Table I: the folds' per-image results joined, each image once; hand-worked bins."""

from __future__ import annotations

import pandas as pd
import pytest

from cmhm.cli import main
from cmhm.report.two_fold import join_folds, per_image_files, two_fold_table, with_others


def _frame(ids, yaws, nmes) -> pd.DataFrame:
    return pd.DataFrame({"sample_id": ids, "yaw": yaws, "nme": nmes})


def _runs():
    a = {
        "baseline": _frame(["i1", "i3"], [10.0, 70.0], [0.10, 0.30]),
        "cmhm": _frame(["i1", "i3"], [10.0, 70.0], [0.08, 0.20]),
    }
    b = {
        "baseline": _frame(["i2", "i4"], [-20.0, 45.0], [0.20, 0.40]),
        "cmhm": _frame(["i2", "i4"], [-20.0, 45.0], [0.10, 0.30]),
    }
    return a, b


def test_every_image_once_and_the_mean_of_bins() -> None:
    table = two_fold_table(join_folds(_runs(), ["a", "b"])).set_index("variant")
    # baseline: [0, 30] = (10 + 20) / 2 = 15 %, (30, 60] = 40 %, (60, 90] = 30 %; mean of bins 85 / 3
    assert table.loc["baseline", ["[0, 30]", "(30, 60]", "(60, 90]"]].tolist() == pytest.approx([15, 40, 30])
    assert table.loc["baseline", "Mean"] == pytest.approx(85 / 3)
    assert table.loc["cmhm", "Mean"] == pytest.approx((9 + 30 + 20) / 3)
    assert table.loc["cmhm", "Mean - first"] == pytest.approx((9 + 30 + 20) / 3 - 85 / 3)
    assert (table["n"] == 4).all()


def test_overlapping_folds_are_refused_naming_the_image() -> None:
    a, b = _runs()
    b["baseline"] = _frame(["i2", "i3"], [-20.0, 70.0], [0.2, 0.3])
    with pytest.raises(ValueError, match="image i3 is tested in both a and b: folds overlap"):
        join_folds([a, b], ["a", "b"])


def test_the_command_reads_the_runs_folders(tmp_path, capsys) -> None:
    for run, frames in zip("ab", _runs()):
        for v, df in frames.items():
            out = tmp_path / run / "eval" / "aflw2000_3d" / v / "seed0"
            out.mkdir(parents=True)
            df.to_csv(out / "per_image.csv", index=False)
    assert list(per_image_files(tmp_path / "a", "aflw2000_3d")) == ["baseline", "cmhm"]
    dest = tmp_path / "t.csv"
    assert main(["two-fold", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(dest)]) == 0
    assert "not the paper's protocol" in dest.read_text().splitlines()[0]
    assert "28.33" in capsys.readouterr().out
    assert main(["two-fold", str(tmp_path / "a"), str(tmp_path / "missing")]) == 2


def test_other_checks_join_as_rows_paired_by_image(tmp_path, capsys) -> None:
    """--also: a whole-set run (sim-to-real) as rows 'variant (label)', paired with the first variant;
    one that tests other images is refused."""
    a, b = _runs()
    whole = {"cmhm": _frame(["i4", "i2", "i3", "i1"], [45.0, -20.0, 70.0, 10.0], [0.4, 0.2, 0.3, 0.1])}
    for run, frames in (("a", a), ("b", b), ("sim", whole)):
        for v, df in frames.items():
            out = tmp_path / run / "eval" / "aflw2000_3d" / v / "seed0"
            out.mkdir(parents=True)
            df.to_csv(out / "per_image.csv", index=False)
    argv = ["two-fold", str(tmp_path / "a"), str(tmp_path / "b"), "--also", "sim", str(tmp_path / "sim")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert (
        "cmhm (sim)" in out and "28.33" in out
    )  # the whole-set cmhm equals the fold baseline, image by image
    table = two_fold_table(with_others(join_folds([a, b], ["a", "b"]), {"sim": join_folds([whole], ["sim"])}))
    assert table.set_index("variant").loc["cmhm (sim)", "Mean - first"] == pytest.approx(0.0)
    short = {"cmhm": whole["cmhm"].iloc[:3]}
    with pytest.raises(ValueError, match=r"cmhm \(sim\) covers other images than baseline"):
        with_others(join_folds([a, b], ["a", "b"]), {"sim": join_folds([short], ["sim"])})
