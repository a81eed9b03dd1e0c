"""Fixed folds by id (cmhm/data/folds.py), the committed AFLW2000-3D two-fold file, and the config check
that a test fold never trains (configs/real_faces_{a,b}.yaml)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cmhm.data.aflw2000 import adapt_aflw2000, mat_yaws
from cmhm.data.common import AdapterError
from cmhm.data.folds import assign_folds, fold_ids, fold_splits, read_folds, write_folds
from cmhm.data.registry import adapt, overlap_errors, parent_split, shard_counts
from cmhm.data.samples import read_table
from cmhm.geometry.yaw_bins import yaw_bin
from cmhm.pipeline.config_check import ConfigError, check_config, load_yaml, merge
from cmhm.report.published import TABLE1_CAPTION, table1_caption

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "rules/schemas/config.schema.yaml"
FOLDS = REPO / "configs/real_faces/folds.csv"
AFLW_FIXTURES = REPO.parent / "shared" / "fixtures" / "aflw2000-3d"
PROV = {"test": True}
# datasets.aflw2000_3d as the schema defaults it (what registry.adapt reads), on the fixture folder
AFLW_OPTIONS = {
    "yaw_source": "mat",
    "yaw_file": None,
    "box_source": "landmarks",
    "cascade_path": None,
    "detector": "mtcnn",
    "lm2d_source": "none",
    "folds": None,
    "subdir": None,
}


def real_faces(name: str, override: dict | None = None) -> dict:
    """configs/<name>.yaml merged over config.yaml (and ``override``), checked as a run checks it."""
    cfg = merge(load_yaml(REPO / "config.yaml"), load_yaml(REPO / f"configs/{name}.yaml"))
    return check_config(merge(cfg, override or {}), SCHEMA)


@pytest.fixture
def in_repo(monkeypatch):
    monkeypatch.chdir(REPO)  # the configs name the fold file relative to the checkout, as a run does


def test_committed_folds_are_disjoint_cover_aflw2000_and_balance_every_yaw_bin():
    folds = read_folds(FOLDS)
    assert len(folds) == 2000 and folds["image"].is_unique
    assert folds["image"].str.fullmatch(r"image\d{5}").all()
    a, b = fold_ids(FOLDS, "fold0"), fold_ids(FOLDS, "fold1")
    assert not a & b and len(a | b) == 2000
    counts = folds.groupby(["yaw_bin", "fold"]).size().unstack()
    assert (counts.max(axis=1) - counts.min(axis=1)).max() <= 1, counts
    # the .mat pose's bins over the full set (README, "AFLW2000-3D yaw bins")
    assert folds.groupby("yaw_bin").size().tolist() == [1313, 383, 304]
    assert fold_splits(FOLDS) == ["fold0", "fold1"]


def test_committed_folds_follow_the_adapter_yaw_and_the_documented_rule():
    """On the real fixture files: each id's bin is the bin of the yaw the adapter reads, and within a bin
    the ids, ordered by the SHA-256 of the id, alternate folds (so the full file is that rule's output)."""
    if not AFLW_FIXTURES.is_dir():
        pytest.skip(f"shared fixtures absent: {AFLW_FIXTURES}")
    yaws = mat_yaws(AFLW_FIXTURES)
    folds = read_folds(FOLDS).set_index("image")
    assert {s: int(folds.loc[s, "yaw_bin"]) for s in yaws} == dict(
        zip(yaws, yaw_bin(np.array(list(yaws.values()))).tolist())
    )
    full = read_folds(FOLDS)
    again = assign_folds(full["image"], [[0.0, 45.0, 75.0][b] for b in full["yaw_bin"]])
    pd.testing.assert_frame_equal(again, full.loc[:, list(again.columns)])


def test_assign_folds_is_deterministic_balanced_and_order_free(tmp_path):
    rng = np.random.default_rng(3)
    ids = [f"image{i:05d}" for i in rng.choice(99999, size=301, replace=False)]
    yaws = rng.uniform(-100, 100, size=len(ids))
    first = assign_folds(ids, yaws)
    order = rng.permutation(len(ids))
    second = assign_folds([ids[i] for i in order], yaws[order])
    pd.testing.assert_frame_equal(first, second)
    per_bin = first.groupby(["yaw_bin", "fold"]).size().unstack()
    assert (per_bin.max(axis=1) - per_bin.min(axis=1)).max() <= 1
    by_id = dict(zip(ids, yaws))
    assert (first["yaw_bin"].to_numpy() == yaw_bin(np.array([by_id[i] for i in first["image"]]))).all()
    three = assign_folds(ids, yaws, n_folds=3)
    assert sorted(three["fold"].unique()) == [0, 1, 2]
    write_folds(first, tmp_path / "f.csv")
    pd.testing.assert_frame_equal(read_folds(tmp_path / "f.csv"), first)


@pytest.mark.parametrize(
    "text, problem",
    [
        ("image,yaw_bin,fold\na,0,0\na,0,1\nb,0,1\n", "more than once"),
        ("image,yaw_bin,fold\na,0,0\nb,0,x\n", "line 3: fold must be an integer"),
        ("image,yaw_bin,fold\na,0,0\nb,0,2\n", "folds must be 0..K-1"),
        ("image,fold\na,0\nb,1\n", "columns must be"),
    ],
)
def test_a_bad_fold_file_is_named(tmp_path, text, problem):
    path = tmp_path / "folds.csv"
    path.write_text(text)
    with pytest.raises(AdapterError, match=problem) as err:
        read_folds(path)
    assert str(path) in str(err.value)


def test_real_faces_configs_train_and_test_on_the_two_folds(in_repo):
    a, b = real_faces("real_faces_a"), real_faces("real_faces_b")
    assert (a["run"], b["run"]) == ("real_faces_a", "real_faces_b")
    for cfg, train, test in ((a, "fold0", "fold1"), (b, "fold1", "fold0")):
        assert cfg["data"]["train"] == {"dataset": "aflw2000_3d", "split": train}
        assert cfg["data"]["test_images"] == {"dataset": "aflw2000_3d", "split": test}
        assert not fold_ids(FOLDS, train) & fold_ids(FOLDS, test)
        assert overlap_errors(cfg) == []
        assert cfg["quoted"] == {"table1": None, "table2": None}  # never beside the paper's rows
        assert set(shard_counts("aflw2000_3d", cfg)) == {"test", "fold0", "fold1"}
    assert parent_split("aflw2000_3d", "fold1") == "test"  # a fold keeps the test split's 'fail' policy


@pytest.mark.parametrize(
    "test_source",
    [{"dataset": "aflw2000_3d", "split": "fold0"}, {"dataset": "aflw2000_3d", "split": "test"}],
)
def test_the_config_check_refuses_a_test_source_that_shares_faces_with_training(in_repo, test_source):
    with pytest.raises(ConfigError, match="data.test_images: aflw2000_3d split") as err:
        real_faces("real_faces_a", {"data": {"test_images": test_source}})
    assert "never be trained on" in str(err.value)


def test_without_a_fold_file_aflw2000_has_no_folds(in_repo):
    with pytest.raises(ConfigError, match="dataset aflw2000_3d has no split 'fold0'"):
        real_faces("real_faces_a", {"datasets": {"aflw2000_3d": {"folds": None}}})


def test_adapting_a_fold_writes_exactly_its_ids_with_projected_2d_labels(tmp_path):
    if not AFLW_FIXTURES.is_dir():
        pytest.skip(f"shared fixtures absent: {AFLW_FIXTURES}")
    yaws = mat_yaws(AFLW_FIXTURES)
    write_folds(assign_folds(list(yaws), list(yaws.values())), tmp_path / "folds.csv")
    options = {**AFLW_OPTIONS, "folds": str(tmp_path / "folds.csv"), "lm2d_source": "proj3d"}
    tables = {
        s: adapt("aflw2000_3d", AFLW_FIXTURES, tmp_path / s, options, PROV, split=s)
        for s in ("fold0", "fold1")
    }
    ids = {s: set(read_table(tmp_path / s).index["sample_id"]) for s in tables}
    assert ids["fold0"] == fold_ids(tmp_path / "folds.csv", "fold0") and not ids["fold0"] & ids["fold1"]
    assert ids["fold0"] | ids["fold1"] == set(yaws)
    t = tables["fold0"]
    np.testing.assert_array_equal(t.arrays["lm2d"], t.arrays["lm3d_68"][..., :2])
    assert t.arrays["vis2d"].all()
    plain = adapt_aflw2000(AFLW_FIXTURES, tmp_path / "plain", provenance=PROV)
    assert np.isnan(plain.arrays["lm2d"]).all()  # the default leaves AFLW2000-3D's 2D labels absent


def test_a_fold_id_without_an_image_is_named(tmp_path):
    if not AFLW_FIXTURES.is_dir():
        pytest.skip(f"shared fixtures absent: {AFLW_FIXTURES}")
    write_folds(
        pd.DataFrame({"image": ["image00050", "image99999"], "yaw_bin": [0, 0], "fold": [0, 1]}),
        tmp_path / "f.csv",
    )
    with pytest.raises(AdapterError, match="1 ids of the fold have no image.*image99999"):
        adapt(
            "aflw2000_3d",
            AFLW_FIXTURES,
            tmp_path / "t",
            {**AFLW_OPTIONS, "folds": str(tmp_path / "f.csv")},
            PROV,
            split="fold1",
        )


def test_a_fold_table_says_it_is_a_two_fold_check_and_takes_no_quoted_rows():
    assert table1_caption("test", 4) == TABLE1_CAPTION  # the paper's test set: unchanged, quoted rows allowed
    caption = table1_caption("fold1", 0)
    assert caption.startswith("Two-fold real-face check, not the paper's protocol: test faces are fold 1")
    with pytest.raises(ValueError, match="quoted rows never sit beside it"):
        table1_caption("fold0", 1)
