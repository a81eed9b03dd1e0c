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


def test_seeds_are_joined_seed_by_seed_and_summarised(tmp_path, capsys) -> None:
    """A run that tested two seeds: each seed's folds joined on their own, the row the mean over seeds with
    their sd; runs holding other seeds are refused."""
    a, b = _runs()
    a1 = {v: df.assign(nme=df["nme"] + 0.06) for v, df in a.items()}  # seed 1: 6 points worse on fold a
    for run, seeds in (("a", {0: a, 1: a1}), ("b", {0: b, 1: b})):
        for seed, frames in seeds.items():
            for v, df in frames.items():
                out = tmp_path / run / "eval" / "aflw2000_3d" / v / f"seed{seed}"
                out.mkdir(parents=True)
                df.to_csv(out / "per_image.csv", index=False)
    runs = [per_image_files(tmp_path / r, "aflw2000_3d") for r in "ab"]
    assert list(runs[0]["cmhm"]) == [0, 1]
    table = two_fold_table(join_folds(runs, ["a", "b"])).set_index("variant")
    # seed 1 adds 6 points to the [0, 30] image of fold a (half the bin: +3) and to the (60, 90] one (+6)
    seed0, seed1 = 85 / 3, (85 + 3 + 6) / 3
    assert table.loc["baseline", "Mean"] == pytest.approx((seed0 + seed1) / 2)
    assert table.loc["baseline", "Mean sd (seeds)"] == pytest.approx(abs(seed1 - seed0) / 2**0.5)
    assert table.loc["baseline", "[0, 30]"] == pytest.approx((15 + 18) / 2)
    assert (table["seeds"] == 2).all() and (table["n"] == 4).all()
    assert main(["two-fold", str(tmp_path / "a"), str(tmp_path / "b")]) == 0
    assert f"read {tmp_path / 'b'}: baseline seeds 0 1, cmhm seeds 0 1" in capsys.readouterr().out
    del runs[1]["cmhm"][1]
    with pytest.raises(ValueError, match=r"cmhm: b holds seeds \[0\], a seeds \[0, 1\]"):
        join_folds(runs, ["a", "b"])


def test_one_whole_set_run_with_rows_paired_by_variant(tmp_path, capsys) -> None:
    """One run tested on the whole set (sim-to-real) against another of the same images (--also): with
    --by-variant each 'v (label)' row's difference is to the plain 'v' row, paired by image."""
    a, b = _runs()
    whole = {v: pd.concat([a[v], b[v]]) for v in a}
    better = {v: df.assign(nme=df["nme"] - 0.01) for v, df in whole.items()}  # 1 point better everywhere
    for run, frames in (("sim", whole), ("app", better)):
        for v, df in frames.items():
            out = tmp_path / run / "eval" / "aflw2000_3d" / v / "seed0"
            out.mkdir(parents=True)
            df.to_csv(out / "per_image.csv", index=False)
    csv = tmp_path / "t.csv"
    argv = ["two-fold", str(tmp_path / "sim"), "--also", "app", str(tmp_path / "app"), "--by-variant"]
    assert main([*argv, "--out", str(csv)]) == 0
    assert "every image tested by one run's models" in capsys.readouterr().out
    table = pd.read_csv(csv, comment="#").set_index("variant")
    assert table.loc["cmhm (app)", "minus"] == "cmhm" and table.loc["cmhm", "minus"] == "baseline"
    assert table.loc["cmhm (app)", "Mean - first"] == pytest.approx(-1.0)
    assert table.loc["cmhm (app)", "diff CI95 low"] == pytest.approx(-1.0)  # the same shift on every image
    plain = two_fold_table(with_others(join_folds([whole], ["sim"]), {"app": join_folds([better], ["app"])}))
    assert plain.set_index("variant").loc["cmhm (app)", "minus"] == "baseline"
    with pytest.raises(SystemExit, match="one run tested on the whole set, or two fold runs; got 3"):
        main(["two-fold", *(str(tmp_path / r) for r in ("sim", "app", "sim"))])


def test_within_scores_one_folds_images_only(tmp_path, capsys) -> None:
    """--within FOLDS SPLIT: every row on that fold's images alone (choose on one fold, report the other)."""
    a, b = _runs()
    whole = {v: pd.concat([a[v], b[v]]) for v in a}
    for v, df in whole.items():
        out = tmp_path / "sim" / "eval" / "aflw2000_3d" / v / "seed0"
        out.mkdir(parents=True)
        df.to_csv(out / "per_image.csv", index=False)
    ids = sorted(a["cmhm"]["sample_id"])
    folds = tmp_path / "folds.csv"
    rows = [(i, 0, 0) for i in ids] + [(i, 0, 1) for i in sorted(b["cmhm"]["sample_id"])]
    pd.DataFrame(rows, columns=["image", "yaw_bin", "fold"]).to_csv(folds, index=False)
    csv = tmp_path / "t.csv"
    assert main(["two-fold", str(tmp_path / "sim"), "--within", str(folds), "fold0", "--out", str(csv)]) == 0
    assert f"only the {len(ids)} images of fold0" in capsys.readouterr().out
    assert (pd.read_csv(csv, comment="#")["n"] == len(ids)).all()
