"""Tables I and II over 2 seeds x 2 variants: hand-worked means, spreads and paired intervals."""

import numpy as np
import pandas as pd
import pytest

from cmhm.report.seed_tables import (
    group_by_seed,
    table1_seed_frame,
    table1_seed_tex_columns,
    table2_seed_frame,
)
from cmhm.report.tables import write_table

IDS = [f"s{i}" for i in range(6)]
YAW = [5.0, 10.0, 40.0, 50.0, 70.0, 80.0]
BASE = np.array([0.02, 0.04, 0.05, 0.05, 0.08, 0.10])  # bin means 0.03, 0.05, 0.09: mean of bins 0.17 / 3


def _images(offset: float) -> pd.DataFrame:
    return pd.DataFrame({"sample_id": IDS, "yaw": YAW, "nme": BASE + offset})


def test_group_by_seed_reads_the_variant_and_seed_folders() -> None:
    paths = [f"results/r/eval/t/{v}/seed{k}/per_image.csv" for k in (10, 2) for v in ("cmhm", "baseline")]
    assert group_by_seed(paths, ["baseline", "cmhm"]) == {
        "baseline": [
            "results/r/eval/t/baseline/seed2/per_image.csv",
            "results/r/eval/t/baseline/seed10/per_image.csv",
        ],
        "cmhm": ["results/r/eval/t/cmhm/seed2/per_image.csv", "results/r/eval/t/cmhm/seed10/per_image.csv"],
    }
    with pytest.raises(ValueError, match="seed<k>"):
        group_by_seed(["results/r/eval/t/cmhm/per_image.csv"], ["cmhm"])
    with pytest.raises(ValueError, match="not one of the configured"):
        group_by_seed(["results/r/eval/t/other/seed0/x.csv"], ["cmhm"])
    with pytest.raises(ValueError, match=r"no files for variant\(s\) \['baseline'\]"):
        group_by_seed(["results/r/eval/t/cmhm/seed0/x.csv"], ["baseline", "cmhm"])


def test_table1_over_two_seeds(tmp_path) -> None:
    # baseline seeds: offsets 0 and +0.02; cmhm: -0.01 and +0.01. Image noise is shared and cancels, so
    # the difference resamples seed offsets only: cmhm {-1, 0, 1} %, baseline {0, 1, 2} % with
    # probabilities 1/4, 1/2, 1/4 each; the extremes -3 % and +1 % each have probability 1/16 > 2.5 %.
    df = table1_seed_frame({"baseline": [_images(0), _images(0.02)], "cmhm": [_images(-0.01), _images(0.01)]})
    b, c = df.iloc[0], df.iloc[1]
    assert b["Mean"] == pytest.approx(100 * (0.17 / 3 + 0.01)) and b["[0, 30]"] == pytest.approx(4.0)
    assert b["Mean sd (seeds)"] == pytest.approx(np.sqrt(2.0)) and b["seeds"] == 2
    assert (b["Mean min (seeds)"], b["Mean max (seeds)"]) == pytest.approx(
        (100 * 0.17 / 3, 100 * 0.17 / 3 + 2)
    )
    assert c["Mean - ref"] == pytest.approx(-1.0)
    assert (c["(Mean - ref) CI95 low"], c["(Mean - ref) CI95 high"]) == pytest.approx((-3.0, 1.0))
    assert b["Mean CI95 low"] < b["Mean"] < b["Mean CI95 high"]
    write_table(df, tmp_path / "t.csv", tmp_path / "t.tex", "c", "l", table1_seed_tex_columns())
    header = next(line for line in (tmp_path / "t.tex").read_text().splitlines() if line.startswith("method"))
    assert header.endswith(r"Mean & Mean sd (seeds) & Mean - ref \\")
    with pytest.raises(ValueError, match="other test images"):
        table1_seed_frame({"baseline": [_images(0), _images(0).iloc[::-1]]})


def test_table1_quoted_rows_follow_the_measured_ones_marked() -> None:
    quoted = [
        {"method": "CMHM", "source": "paper", "[0, 30]": 1.0, "(30, 60]": 2.0, "(60, 90]": 3.0, "Mean": 2.0}
    ]
    df = table1_seed_frame({"baseline": [_images(0)]}, quoted)
    assert list(df["source"]) == ["measured", "quoted: paper"] and df.iloc[1]["Mean"] == 2.0
    assert df.iloc[0]["n"] == len(IDS) and df["n"].isna().iloc[1]


def _frames(errors: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"video": ["v1", "v1", "v2", "v2"], "frame": [0, 1, 0, 1], "nme_diag": errors})


def test_table2_over_two_seeds_resamples_whole_videos() -> None:
    # a: AUC contributions max(0, 0.05 - e) / 0.05 = [1, 0, 0.8, 0] -> 0.45, FR 1/4 (the inf frame);
    # b perfect: AUC 1. Difference per video: v1 (2 - 1) / 2 = 0.5, v2 (2 - 0.8) / 2 = 0.6 -> [0.5, 0.6].
    a = _frames([0.0, 0.05, 0.01, np.inf])
    b = _frames([0.0, 0.0, 0.0, 0.0])
    summ = {"failure_check": "heatmap", "failure_threshold": 0.3}
    df = table2_seed_frame(
        {"a": [a, a], "b": [b, b]},
        {
            "a": [{**summ, "redetections": 1}, {**summ, "redetections": 3}],
            "b": [{**summ, "redetections": 0}] * 2,
        },
        0.05,
    )
    ra, rb = df.iloc[0], df.iloc[1]
    assert (
        ra["AUC"] == pytest.approx(0.45) and ra["FR (%)"] == pytest.approx(25.0) and ra["re-detections"] == 2
    )
    assert ra["AUC sd (seeds)"] == 0 and rb["AUC - ref"] == pytest.approx(0.55)
    assert (rb["(AUC - ref) CI95 low"], rb["(AUC - ref) CI95 high"]) == pytest.approx((0.5, 0.6))
    assert rb["FR (%) - ref"] == pytest.approx(-25.0) and ra["failure check"] == "heatmap < 0.3"


def test_table1_steps_compare_each_row_with_the_row_above() -> None:
    """Three rows: inception - baseline and cmhm - inception, each paired over the same images; seeds are
    independent trainings, resampled per variant: seed offsets {-2, 0} % against {-1, +1} % give the
    step -1 % and, as in the test above, the interval [-3, +1] %."""
    df = table1_seed_frame(
        {
            "baseline": [_images(0), _images(0.02)],
            "inception": [_images(-0.01), _images(0.01)],
            "cmhm": [_images(-0.02), _images(0.0)],
        }
    )
    assert df.loc[0, ["Mean - previous", "(Mean - previous) CI95 low"]].isna().all()
    inc, cmhm = df.iloc[1], df.iloc[2]
    assert inc["Mean - previous"] == pytest.approx(inc["Mean - ref"]) == pytest.approx(-1.0)
    assert (inc["(Mean - previous) CI95 low"], inc["(Mean - previous) CI95 high"]) == pytest.approx(
        (-3.0, 1.0)
    )
    assert cmhm["Mean - ref"] == pytest.approx(-2.0)
    steps = [
        cmhm[c] for c in ("Mean - previous", "(Mean - previous) CI95 low", "(Mean - previous) CI95 high")
    ]
    assert steps == pytest.approx([-1.0, -3.0, 1.0])
