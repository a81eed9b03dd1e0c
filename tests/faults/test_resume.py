"""Issue 10.1: a rerun never hands back old weights. A checkpoint resumes only when the inputs' content,
the training code and the config (all but steps) are the ones it was made from, and never past steps;
damaged checkpoints are set aside; a failed write names its file."""

from __future__ import annotations

import logging
import resource
import shutil
import signal

import numpy as np
import pytest
import torch

from cmhm.training.checkpoints import atomic_save
from cmhm.training.loop import LOG
from tests.faults.tiny import same_weights, train, train_cfg, write_data


@pytest.fixture
def log(caplog):
    caplog.set_level(logging.INFO, logger="cmhm")
    return caplog


def test_same_inputs_code_and_config_resume_exactly(tmp_path, log) -> None:
    data = write_data(tmp_path / "data")
    full = train(tmp_path / "full", data, train_cfg(6))
    train(tmp_path / "run", data, train_cfg(3))  # "killed" after its step-3 checkpoint
    log.clear()
    resumed = train(tmp_path / "run", data, train_cfg(6))
    assert "resuming from step 3" in log.text and "is not resumed" not in log.text
    assert same_weights(full, resumed)
    assert torch.load(resumed, weights_only=True)["step"] == 6


def test_changed_training_data_starts_fresh(tmp_path, log) -> None:
    data = write_data(tmp_path / "data", seed=0)
    old = train(tmp_path / "run", data, train_cfg(6))
    old_weights = {k: v.clone() for k, v in torch.load(old, weights_only=True)["state_dict"].items()}
    labels = dict(np.load(data[1]))
    labels["lm3d_84"] = labels["lm3d_84"] + 1.0  # the labels change, the images do not
    np.savez(data[1], **labels)
    log.clear()
    new = train(tmp_path / "run", data, train_cfg(6))
    assert "inputs differ" in log.text and "resuming from" not in log.text
    fresh = train(tmp_path / "fresh", data, train_cfg(6))
    assert same_weights(new, fresh)
    assert any(
        not torch.equal(v, old_weights[k])
        for k, v in torch.load(new, weights_only=True)["state_dict"].items()
    )


def test_changed_code_starts_fresh(tmp_path, log) -> None:
    data = write_data(tmp_path / "data")
    train(tmp_path / "run", data, train_cfg(6), code="code-1")
    log.clear()
    new = train(tmp_path / "run", data, train_cfg(6), code="code-2")
    assert "code differs (code-1 then, code-2 now)" in log.text
    assert "from step 0" in log.text and "resuming from" not in log.text
    assert torch.load(new, weights_only=True)["code"] == "code-2"
    rows = (tmp_path / "run" / LOG).read_text().splitlines()[1:]
    assert [int(r.split(",")[0]) for r in rows] == [1, 2, 3, 4, 5, 6]  # trained again, step by step


def test_changed_config_starts_fresh(tmp_path, log) -> None:
    data = write_data(tmp_path / "data")
    train(tmp_path / "run", data, train_cfg(3))
    log.clear()
    new = train(tmp_path / "run", data, train_cfg(6, lr=5e-4))
    assert "config differs (train.lr)" in log.text and "resuming from" not in log.text
    assert same_weights(new, train(tmp_path / "fresh", data, train_cfg(6, lr=5e-4)))


@pytest.mark.parametrize("steps, resumed_from", [(4, 3), (2, None)])
def test_fewer_steps_never_take_a_later_checkpoint(tmp_path, log, steps, resumed_from) -> None:
    """Checkpoints at steps 3 (kept as checkpoint.prev.pt) and 6: lowering steps to 4 may continue the
    step-3 one; lowering it to 2 must start fresh. Either way the model is the one ``steps`` says."""
    data = write_data(tmp_path / "data")
    train(tmp_path / "run", data, train_cfg(6))
    log.clear()
    short = train(tmp_path / "run", data, train_cfg(steps))
    assert "its step 6 is past train.steps" in log.text
    if resumed_from is None:
        assert "step 3 is past train.steps" in log.text and "from step 0" in log.text
    else:
        assert f"resuming from step {resumed_from} of {tmp_path / 'run' / 'checkpoint.prev.pt'}" in log.text
    assert torch.load(short, weights_only=True)["step"] == steps
    assert same_weights(short, train(tmp_path / "fresh", data, train_cfg(steps)))


@pytest.mark.parametrize("damage", ["truncated", "empty"])
def test_damaged_checkpoint_is_set_aside(tmp_path, log, damage) -> None:
    """After a power loss the newest checkpoint may be cut short or empty: it is named in the log, moved to
    checkpoint.pt.corrupt, and training goes on from the previous one (step 3) to the same weights."""
    data = write_data(tmp_path / "data")
    full = train(tmp_path / "full", data, train_cfg(6))
    run = tmp_path / "run"
    train(run, data, train_cfg(5))  # checkpoints at 3 (then checkpoint.prev.pt) and 5
    ckpt = run / "checkpoint.pt"
    blob = ckpt.read_bytes()
    ckpt.write_bytes(blob[: len(blob) // 2] if damage == "truncated" else b"")
    (run / "model.pt").unlink()
    log.clear()
    resumed = train(run, data, train_cfg(6))
    assert f"{ckpt} is unreadable" in log.text and f"moved to {ckpt}.corrupt" in log.text
    assert "resuming from step 3" in log.text
    assert (run / "checkpoint.pt.corrupt").is_file() and same_weights(full, resumed)


def test_damaged_only_checkpoint_trains_from_scratch(tmp_path, log) -> None:
    data = write_data(tmp_path / "data")
    full = train(tmp_path / "full", data, train_cfg(6))
    run = tmp_path / "run"
    train(run, data, train_cfg(3))
    (run / "checkpoint.pt").write_bytes(b"")
    log.clear()
    again = train(run, data, train_cfg(6))
    assert "is unreadable" in log.text and "from step 0" in log.text
    assert same_weights(full, again)


def test_full_disk_names_the_file_and_keeps_the_old_one(tmp_path) -> None:
    """A file-size limit makes the write fail as a full disk does (EFBIG instead of ENOSPC)."""
    path = tmp_path / "checkpoint.pt"
    atomic_save({"x": torch.zeros(4)}, path)
    before = path.read_bytes()
    old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 16, hard))
    try:
        with pytest.raises(OSError, match=f"cannot write {path}"):
            atomic_save({"x": torch.zeros(1 << 16)}, path)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, old_handler)
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt"]
    shutil.rmtree(tmp_path)
