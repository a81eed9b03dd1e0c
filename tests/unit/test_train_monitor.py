"""Training progress: log lines (not bar redraws) when the output is no terminal; TensorBoard on request."""

import importlib.util
import logging
from pathlib import Path

import pytest
import yaml

from cmhm.training.loop import TrainConfig
from cmhm.training.monitor import TENSORBOARD_DIR, TrainMonitor

ROW = {"step": 4, "loss": 0.5, "loss_stack0": 0.25, "lr": 1e-3, "images_per_s": 80.0}


def test_log_line_per_row_and_no_bar_off_a_terminal(tmp_path, caplog, capsys):
    caplog.set_level(logging.INFO, logger="cmhm.training.monitor")
    monitor = TrainMonitor(tmp_path, 0, 6, show=True)  # pytest captures stderr: not a terminal
    for _ in range(4):
        monitor.advance()
    monitor.row(ROW)
    monitor.close()
    assert not monitor.terminal and monitor.bar.disable
    assert [r.getMessage() for r in caplog.records] == [
        "step 4/6: loss 0.5, loss_stack0 0.25, lr 0.001, images_per_s 80"
    ]
    assert "train" not in capsys.readouterr().err  # no progress bar drawn


def test_silent_when_not_shown(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="cmhm.training.monitor")
    monitor = TrainMonitor(tmp_path, 0, 6, show=False)
    monitor.row(ROW)
    monitor.close()
    assert not caplog.records


@pytest.mark.skipif(importlib.util.find_spec("tensorboard") is not None, reason="tensorboard is installed")
def test_tensorboard_missing_names_the_key(tmp_path):
    with pytest.raises(RuntimeError, match="train.tensorboard: true needs the tensorboard package"):
        TrainMonitor(tmp_path, 0, 6, tensorboard=True)


@pytest.mark.skipif(importlib.util.find_spec("tensorboard") is None, reason="tensorboard not installed")
def test_tensorboard_writes_events(tmp_path):
    monitor = TrainMonitor(tmp_path, 0, 6, show=False, tensorboard=True)
    monitor.row(ROW)
    monitor.close()
    assert list((tmp_path / TENSORBOARD_DIR).glob("events.out.tfevents.*"))


def test_tensorboard_is_off_by_default():
    schema = yaml.safe_load(
        (Path(__file__).resolve().parents[2] / "rules" / "schemas" / "config.schema.yaml").read_text()
    )
    train = schema["properties"]["train"]["properties"]
    assert train["tensorboard"]["default"] is False and TrainConfig().tensorboard is False
