"""The paper configs: the learning-rate drop in epochs, and the paper's quoted rows through the checker."""

from dataclasses import fields
from pathlib import Path

import pytest
import yaml

from cmhm.report.published import SPEED_COLUMNS, TABLE2_COLUMNS, read_quoted, table1_columns
from cmhm.training.loop import RUN_KEYS, TrainConfig
from cmhm.training.stages import epochs_to_steps, run_configs

ROOT = Path(__file__).resolve().parents[2]
MODEL = {"n_stacks": 1, "depth": 1, "width": 8, "markup3d": "ibug68"}
MENPO_TRAIN = 7564  # Menpo 2D training faces (the paper's training set)


def _config(name: str) -> dict:
    return yaml.safe_load((ROOT / name).read_text())


def test_epochs_convert_to_steps_with_the_training_set_size():
    assert epochs_to_steps([20], MENPO_TRAIN, 8) == (18910,)
    assert epochs_to_steps([0.01, 2.5], 10, 4) == (1, 6)  # at least one step; 6.25 rounds to 6
    with pytest.raises(ValueError, match="training crops"):
        epochs_to_steps([1], 0, 8)


def test_paper_config_drops_after_twenty_epochs():
    base = _config("config.yaml")["train"]
    train = {**base, **_config("configs/paper.yaml")["train"]}  # as Snakemake merges them
    assert train["lr_epochs"] == [20] and train["lr_steps"] == []
    _, _, cfg = run_configs(MODEL, train, 64, 1, n_train=MENPO_TRAIN)
    assert cfg.lr_steps == (18910,) and cfg.steps == 100000
    _, _, default = run_configs(MODEL, base, 64, 1)  # the default run gives its drop in steps
    assert default.lr_steps == tuple(base["lr_steps"]) and base["lr_epochs"] == []


def test_lr_epochs_need_the_set_size_and_exclude_lr_steps():
    with pytest.raises(ValueError, match="training set size"):
        run_configs(MODEL, {"lr_epochs": [20]}, 64, 1)
    with pytest.raises(ValueError, match="both set"):
        run_configs(MODEL, {"lr_epochs": [20], "lr_steps": [100]}, 64, 1, n_train=80)


def test_schema_train_keys_are_the_train_config_and_lr_epochs():
    schema = yaml.safe_load((ROOT / "rules/schemas/config.schema.yaml").read_text())
    keys = set(schema["properties"]["train"]["properties"])
    # lr_epochs becomes lr_steps in run_configs; threads are a Snakemake resource (num_threads); each
    # training job's seed is one of train.seeds (RUN_KEYS); train.stage2's keys replace the shared ones in
    # the stage-2 jobs' train (rules/inputs_train.smk), so each of them is a train key as well;
    # stage1_from names a run to copy stage 1 from (rule reuse_stage1), no training job reads it
    assert (keys - {"lr_epochs", "stage2", "stage1_from", *RUN_KEYS}) | {"num_threads", "seed"} == {
        f.name for f in fields(TrainConfig)
    }
    assert set(schema["properties"]["train"]["properties"]["stage2"]["properties"]) < keys
    # the schema's defaults are the default run's (config.yaml: drops in steps); the paper's 20 epochs are
    # in configs/paper.yaml
    assert schema["properties"]["train"]["properties"]["lr_epochs"]["default"] == []
    assert _config("configs/paper.yaml")["train"]["lr_epochs"] == [20]


@pytest.mark.parametrize("config", ["configs/paper.yaml", "configs/paper_300wlp.yaml"])
def test_paper_configs_name_the_quoted_rows_and_they_parse(config):
    quoted = _config(config)["quoted"]
    rows = read_quoted(ROOT / quoted["table1"], table1_columns())
    assert len(rows) == 10 and {r["source"] for r in rows} == {"Deng et al., FG 2018, Table I"}
    cmhm = next(r for r in rows if r["method"] == "++Spatial Transform (CMHM)")
    assert [cmhm[c] for c in table1_columns()] == [2.36, 2.80, 4.08, 3.08]
    for r in rows:  # a typo check: the Mean is the mean of the three bins, to two roundings of 0.005
        assert sum(r[c] for c in table1_columns()[:3]) / 3 == pytest.approx(r["Mean"], abs=0.0101)
    if quoted["table2"]:
        rows2 = read_quoted(ROOT / quoted["table2"], TABLE2_COLUMNS)
        assert {r["method"]: (r["AUC"], r["FR (%)"]) for r in rows2}["CMHM"] == (0.7977, 1.68)
        assert len(rows2) == 5


def test_quoted_speed_rows_parse():
    rows = {r["method"]: r for r in read_quoted(ROOT / "configs/quoted/deng2018_speed.csv", SPEED_COLUMNS)}
    assert rows["CMHM"]["ms/face"] == 20.76 and rows["CMHM"]["s/step"] == 1.02
    assert rows["2-stack hourglass"]["ms/face"] == 24.42
