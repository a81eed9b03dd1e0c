"""Several training sources (data.train_extra, a mixed synthetic + real training set): the overlays in
configs/real_faces/, the config check's refusals naming the key, and crop shards / sample tables of two
datasets joined on the arrays both carry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cmhm.data.crop_shards import load_crops, write_shard
from cmhm.data.samples import SampleTable, concat_tables
from cmhm.pipeline.config_check import ConfigError, check_config, load_yaml, merge
from cmhm.pipeline.runs import training_config
from cmhm.pipeline.train_sources import train_sources

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "rules/schemas/config.schema.yaml"
MIXED = {"train": {"dataset": "synth", "split": "train"}}


def config(fold: str, *overlays: dict) -> dict:
    """configs/real_faces_<fold>.yaml over config.yaml, then each overlay (a dict or a file name in
    configs/real_faces/), checked as a run checks it."""
    cfg = merge(load_yaml(REPO / "config.yaml"), load_yaml(REPO / f"configs/real_faces_{fold}.yaml"))
    for o in overlays:
        cfg = merge(cfg, load_yaml(REPO / "configs/real_faces" / o) if isinstance(o, str) else o)
    return check_config(cfg, SCHEMA)


@pytest.fixture(autouse=True)
def in_repo(monkeypatch):
    monkeypatch.chdir(REPO)  # the configs name the fold file relative to the checkout, as a run does


@pytest.mark.parametrize("fold, train, test", [("a", "fold0", "fold1"), ("b", "fold1", "fold0")])
def test_the_mixed_overlays_add_the_training_fold_to_the_synthetic_faces(fold, train, test):
    cfg = config(fold, f"mixed_{fold}.yaml")
    pairs = [(s["dataset"], s["split"]) for _, s in train_sources(cfg)]
    assert pairs == [("synth", "train"), ("aflw2000_3d", train)]
    assert cfg["data"]["test_images"] == {"dataset": "aflw2000_3d", "split": test}
    assert cfg["run"] == f"real_faces_mixed_{fold}" and cfg["quoted"] == {"table1": None, "table2": None}
    record = training_config(cfg)  # the model file records both sources and both datasets' settings
    assert record["data"]["train_extra"] == [{"dataset": "aflw2000_3d", "split": train}]
    assert "aflw2000_3d" in record["datasets"] and "train" in record["synth"]
    size = config(fold, f"size128_{fold}.yaml")
    assert (size["run"], size["crop"]["size"]) == (f"real_faces_{fold}128", 128)


def test_a_one_source_run_records_no_extra_key():
    assert "train_extra" not in training_config(config("a"))["data"]


@pytest.mark.parametrize(
    "override, message",
    [
        # the test fold among the extra sources: it would train on its own test faces
        (
            {"data": {**MIXED, "train_extra": [{"dataset": "aflw2000_3d", "split": "fold1"}]}},
            "data.test_images: aflw2000_3d split 'fold1' can share faces with the training source data.train_extra[0]",
        ),
        (
            {"data": {**MIXED, "train_extra": [{"dataset": "aflw2000_3d", "split": "test"}]}},
            "can share faces with the training source data.train_extra[0]",
        ),
        (
            {"data": {"train_extra": [{"dataset": "aflw2000_3d", "split": "fold0"}]}},
            "data.train_extra[0]: aflw2000_3d split 'fold0' is already a training source (data.train)",
        ),
        (
            {
                "data": {
                    **MIXED,
                    "train_labels3d": "fitted",
                    "train_extra": [{"dataset": "aflw2000_3d", "split": "fold0"}],
                }
            },
            "data.train_extra: extra training sources need data.train_labels3d: ground_truth",
        ),
        (
            {"data": {**MIXED, "train_extra": [{"dataset": "aflw2000_3d", "split": "fold7"}]}},
            "data.train_extra[0].split: dataset aflw2000_3d has no split 'fold7'",
        ),
    ],
)
def test_the_config_check_names_a_bad_extra_source(override, message):
    with pytest.raises(ConfigError) as err:
        config("a", override)
    assert message in str(err.value)


def _shard(prefix: Path, n: int, extra: dict) -> None:
    index = pd.DataFrame({"id": [f"{prefix.name}{i}" for i in range(n)], "view": "semifrontal", "side": ""})
    labels = {"transform": np.tile(np.eye(2, 3), (n, 1, 1)), "lm2d": np.ones((n, 68, 2), np.float32), **extra}
    write_shard(prefix, np.zeros((n, 8, 8, 3), np.uint8), labels, index)


def test_crop_shards_of_two_datasets_join_on_the_arrays_both_carry(tmp_path):
    _shard(tmp_path / "synth", 3, {"contour3d": np.zeros((3, 17, 5, 3), np.float32)})
    _shard(tmp_path / "real", 2, {})
    crops = load_crops([tmp_path / "synth", tmp_path / "real"])
    assert len(crops.index) == 5 and sorted(crops.arrays) == ["lm2d"]
    assert "contour3d" in load_crops([tmp_path / "synth"]).arrays  # one dataset keeps its own arrays


def test_sample_tables_of_two_datasets_join_on_the_extras_both_carry(tmp_path):
    def table(name: str, n: int, extra: dict) -> SampleTable:
        index = pd.DataFrame({"image": [f"{name}{i}.jpg" for i in range(n)]})
        return SampleTable(tmp_path / name, index, {"lm2d": np.zeros((n, 68, 2))}, extra)

    joined = concat_tables(
        [table("synth", 3, {"contour3d": np.zeros((3, 17, 5, 3))}), table("real", 2, {})], tmp_path
    )
    assert len(joined.index) == 5 and joined.extra == {} and joined.arrays["lm2d"].shape == (5, 68, 2)
    assert joined.index["image"].tolist()[3] == "real/real0.jpg"
