"""`make bench`'s re-measurement of issue 27's CPU goals: the median's interval (hand-worked), the
three-way verdict, and that each goal's calls run and come back as one row with an interval."""

from __future__ import annotations

from math import comb

import numpy as np
import pandas as pd
import pytest

from cmhm.bench.goals import (
    COLUMNS,
    compact_rows,
    goal_row,
    light_ratio_rows,
    median_interval,
    predict_rows,
    verdict,
)
from cmhm.bench.presets import bench_predict, photo_folder
from cmhm.inference.predict_pool import usable_cores
from cmhm.models.hourglass import ModelConfig

TINY = ModelConfig(in_size=32, depth=1, width=16)  # cmhm_slim halves stage 2: 8, the fewest it takes
SMALL = ModelConfig(in_size=32, depth=1, width=16)  # the compact variant halves it


def test_median_interval_of_ten_values_is_the_2nd_and_9th() -> None:
    # n = 10: (x_(2), x_(9)) covers the median with 1 - 2 P(Bin(10, 1/2) <= 1) = 1 - 2 * 11/1024;
    # (x_(3), x_(8)) only with 1 - 2 * 56/1024 = 0.89 < 0.95
    values = np.array([7.0, 3.0, 9.0, 1.0, 5.0, 2.0, 8.0, 4.0, 10.0, 6.0])
    assert median_interval(values) == (2.0, 9.0, pytest.approx(1 - 22 / 1024))


def test_median_interval_of_too_few_values_is_their_range_with_its_coverage() -> None:
    assert median_interval(np.array([3.0, 1.0, 2.0])) == (1.0, 3.0, 0.75)


@pytest.mark.parametrize("n", [6, 11, 41])
def test_median_interval_takes_the_narrowest_pair_that_still_covers_95_percent(n: int) -> None:
    def coverage(k: int) -> float:  # of (x_(k), x_(n+1-k)), from the binomial directly
        return 1 - 2 * sum(comb(n, i) for i in range(k)) / 2**n

    lo, hi, cov = median_interval(np.arange(1.0, n + 1))
    k = int(lo)
    assert hi == n + 1 - k and cov == pytest.approx(coverage(k)) and cov >= 0.95
    assert coverage(k + 1) < 0.95


def test_verdict_needs_the_whole_interval_on_one_side_of_the_goal() -> None:
    assert verdict(0.80, 0.84, 0.85) == "met"
    assert verdict(0.83, 0.86, 0.85) == "undecided"
    assert verdict(0.86, 0.90, 0.85) == "missed"
    assert verdict(3.1, 3.4, 3.0, at_most=False) == "met"
    assert verdict(2.9, 3.4, 3.0, at_most=False) == "undecided"
    assert verdict(2.5, 2.9, 3.0, at_most=False) == "missed"


def test_goal_row_reads_a_speed_up_against_an_at_least_goal() -> None:
    row = goal_row("speed-up", pd.Series([3.5, 3.2, 3.4, 3.3, 3.6, 3.1]), 3.0, at_most=False)
    assert list(row) == COLUMNS
    assert (row["lo"], row["hi"], row["verdict"]) == (3.1, 3.6, "met") and row["median"] == pytest.approx(
        3.35
    )


def test_light_ratio_and_compact_goals_each_come_back_as_one_row_per_goal() -> None:
    rows = light_ratio_rows(TINY, rounds=4, forms=("fast",))
    rows += compact_rows(4, preset=("cmhm_compact", SMALL), batch=2, batched_forms=("fast",))
    df = pd.DataFrame(rows, columns=COLUMNS)
    assert list(df["goal"]) == [
        "cmhm_light / baseline, batch 1, both fast",
        "cmhm_mid / baseline, batch 1, both fast",
        "cmhm_slim / baseline, batch 1, both fast",
        "cmhm_compact ms/face, batch 1, onnx",
        "cmhm_compact ms/face, batch 2, fast",
    ]
    assert (df["rounds"] == 4).all() and list(df["target"]) == [0.85, 0.85, 0.85, 10.0, 2.0]
    assert (df["lo"] <= df["median"]).all() and (df["median"] <= df["hi"]).all() and (df["lo"] > 0).all()
    assert set(df["verdict"]) <= {"met", "missed", "undecided"}


@pytest.mark.skipif(not photo_folder(), reason="needs ../shared/fixtures (the real photos the bench reads)")
def test_predict_bench_times_only_the_pairs_asked_for() -> None:
    times = bench_predict(
        TINY,
        1,
        photo_folder()[:1],
        ("cmhm_compact", SMALL),
        backends=("torch",),
        only=frozenset({("cmhm", "torch")}),
    )
    assert set(zip(times["model"], times["form"])) == {("cmhm", "torch")}


@pytest.mark.skipif(not photo_folder(), reason="needs ../shared/fixtures (the real photos the bench reads)")
@pytest.mark.skipif(usable_cores() < 2, reason="the predict goal's pair runs one worker per core (needs 2)")
def test_predict_goal_pairs_the_default_against_the_preset_in_workers() -> None:
    (row,) = predict_rows(TINY, rounds=2, photos=photo_folder()[:1], preset=("cmhm_compact", SMALL))
    assert row["goal"].startswith("predict speed-up, cmhm_compact onnx") and row["rounds"] == 2
    assert row["target"] == 3.0 and not row["at_most"] and row["lo"] <= row["median"] <= row["hi"]
