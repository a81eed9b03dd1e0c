"""Sharded adapting: the pure split into shards, and real fixtures adapted as several shards."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cmhm.data.common import AdapterError
from cmhm.data.registry import adapt
from cmhm.data.samples import SampleTable, read_table
from cmhm.data.shards import Shard, shard_bounds
from cmhm.data.video import adapt_300vw

from .test_folds import AFLW_OPTIONS  # datasets.aflw2000_3d as the schema defaults it: one home

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures"
PROV = {"test": True}


def fixture_dir(name: str) -> Path:
    path = FIXTURES / name
    if not path.is_dir():
        pytest.skip(f"shared fixtures absent: {path} (expected beside the repo at ../shared/fixtures)")
    return path


@pytest.mark.parametrize("n", [0, 1, 2, 7, 16, 61225])
@pytest.mark.parametrize("count", [1, 2, 3, 12])
def test_shard_bounds_cover_the_items_in_order_with_balanced_sizes(n, count):
    bounds = [shard_bounds(n, k, count) for k in range(count)]
    assert bounds[0][0] == 0 and bounds[-1][1] == n
    assert all(hi == lo for (_, hi), (lo, _) in zip(bounds, bounds[1:]))  # contiguous, disjoint
    sizes = [hi - lo for lo, hi in bounds]
    assert max(sizes) - min(sizes) <= 1


def test_shard_bounds_worked_example_and_errors():
    assert [shard_bounds(16, k, 3) for k in range(3)] == [(0, 5), (5, 10), (10, 16)]
    for index, count in ((3, 3), (-1, 3), (0, 0)):
        with pytest.raises(ValueError, match="shard"):
            shard_bounds(16, index, count)
    with pytest.raises(ValueError):
        Shard(2, 2)


def test_an_empty_shard_of_a_non_empty_split_names_the_setting():
    assert Shard(1, 3).take(list("abcdefg"), "x") == ["c", "d"]
    assert Shard(0, 2).take([], "x") == []  # an empty split is the adapter's own error
    with pytest.raises(
        AdapterError, match=r"shard 0 of 3 is empty \(2 samples in all\).*datasets.<name>.shards"
    ):
        Shard(0, 3).take(["a", "b"], "x")


def absolute_index(table: SampleTable) -> pd.DataFrame:
    """The index with image paths made absolute (each shard's table folder differs)."""
    index = table.index.copy()
    index["image"] = [os.path.normpath(table.root / p) for p in index["image"]]
    return index


def assert_shards_concatenate_to(shards: list[SampleTable], whole: SampleTable) -> None:
    ids = [set(t.index["sample_id"]) for t in shards]
    assert all(len(t) > 0 for t in shards)
    assert sum(len(s) for s in ids) == len(set().union(*ids))  # disjoint
    joined = pd.concat([absolute_index(t) for t in shards], ignore_index=True)
    pd.testing.assert_frame_equal(joined, absolute_index(whole))
    for name, arr in whole.arrays.items():
        np.testing.assert_array_equal(np.concatenate([t.arrays[name] for t in shards]), arr, err_msg=name)


def test_aflw2000_fixtures_as_three_shards_concatenate_to_the_one_shard_table(tmp_path):
    src = fixture_dir("aflw2000-3d")
    options = {**AFLW_OPTIONS, "subdir": None, "shards": 3}
    adapt("aflw2000_3d", src, tmp_path / "whole", options, PROV)
    for k in range(3):
        adapt("aflw2000_3d", src, tmp_path / f"shard{k}", options, PROV, Shard(k, 3))
    whole = read_table(tmp_path / "whole")
    shards = [read_table(tmp_path / f"shard{k}") for k in range(3)]
    assert len(whole) == 16 and [len(t) for t in shards] == [5, 5, 6]
    assert_shards_concatenate_to(shards, whole)


def test_300vw_fixture_frames_as_two_shards_concatenate_to_the_one_shard_table(tmp_path):
    src = fixture_dir("300vw")
    whole = adapt_300vw(src, tmp_path / "whole", provenance=PROV, on_bad_sample="skip")
    shards = [
        adapt_300vw(src, tmp_path / f"shard{k}", shard=Shard(k, 2), provenance=PROV, on_bad_sample="skip")
        for k in range(2)
    ]
    assert_shards_concatenate_to([read_table(t.root) for t in shards], read_table(whole.root))
