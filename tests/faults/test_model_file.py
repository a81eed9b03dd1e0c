"""Issue 10.1: evaluation refuses a model.pt that is not the model its path and config say (another
variant copied over it, another stage, another 3D markup, another architecture), naming the file."""

from __future__ import annotations

import shutil
from dataclasses import replace

import numpy as np
import pytest
import torch

from cmhm.inference.model_file import build_cascade, checked_stages
from cmhm.landmarks.markups import IBUG68
from cmhm.models.runtime import predict
from cmhm.training.checkpoints import StageSpec, load_stage
from tests.faults.tiny import BASE, SIZE, read_data, train, train_cfg, write_data


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict:
    """Two-step models of each kind, trained once for the module."""
    root = tmp_path_factory.mktemp("models")
    data = write_data(root / "data")
    cfg = train_cfg(2)
    return {
        "baseline": train(root / "baseline" / "stage1", data, cfg, variant="baseline"),
        "inception": train(root / "inception" / "stage1", data, cfg, variant="inception"),
        "baseline_ibug68": train(root / "b68" / "stage1", data, cfg, variant="baseline", markup3d="ibug68"),
        "baseline_wide": train(
            root / "wide" / "stage1", data, cfg, variant="baseline", base=replace(BASE, width=12)
        ),
        "cmhm1": train(root / "cmhm" / "stage1", data, cfg, variant="cmhm", stage=0),
        "cmhm2": train(root / "cmhm" / "stage2", data, cfg, variant="cmhm", stage=1),
        "data": data,
    }


def load_cascade(files, mean, variant, markup3d=None, in_size=None):
    """What assembling the model file does with a variant's stage files: check each, then build."""
    stages = checked_stages([str(f) for f in files], variant, markup3d, in_size)
    return build_cascade(stages, [] if mean is None else [torch.as_tensor(np.load(mean))])


def _copy_over(src, dst_dir):
    dst_dir.mkdir(parents=True, exist_ok=True)
    return shutil.copy(src, dst_dir / "model.pt")


def test_the_right_model_loads_and_predicts_as_before(models) -> None:
    cascade = load_cascade([models["baseline"]], None, variant="baseline", markup3d="menpo84", in_size=SIZE)
    images = read_data(models["data"]).images
    checked = predict(cascade, images, device="cpu")["points"]
    unchecked = predict(load_stage(models["baseline"]), images, device="cpu")["points"]
    np.testing.assert_array_equal(checked, unchecked)
    state = torch.load(models["cmhm2"], weights_only=True)
    assert (state["variant"], state["stage"], state["markup3d"], state["markups"]) == (
        "cmhm",
        1,
        "menpo84",
        ["menpo84"],
    )
    assert state["config"]["model"]["block"] == "inception_resnet" and state["inputs"] and state["code"]


def test_inception_copied_over_baseline_is_refused(models, tmp_path) -> None:
    path = _copy_over(models["inception"], tmp_path / "baseline" / "stage1")
    with pytest.raises(ValueError, match="variant 'inception', expected 'baseline'") as err:
        load_cascade([path], None, variant="baseline", markup3d="menpo84", in_size=SIZE)
    assert str(path) in str(err.value) and "block 'inception_resnet', expected 'bottleneck'" in str(err.value)


def test_wrong_stage_is_refused(models, tmp_path) -> None:
    path = _copy_over(models["cmhm2"], tmp_path / "cmhm" / "stage1")
    mean = tmp_path / "mean_shape.npy"
    np.save(mean, np.full((IBUG68.n_points, 2), SIZE / 2, dtype=np.float32))
    with pytest.raises(ValueError, match="stage index") as err:
        load_cascade([path, models["cmhm2"]], str(mean), variant="cmhm", markup3d="menpo84", in_size=SIZE)
    assert str(path) in str(err.value)
    with pytest.raises(ValueError, match="has 2 stage"):
        load_cascade([models["cmhm1"]], None, variant="cmhm")
    load_cascade([models["cmhm1"], models["cmhm2"]], str(mean), variant="cmhm", markup3d="menpo84")


def test_other_markup_is_refused(models) -> None:
    path = models["baseline_ibug68"]
    with pytest.raises(ValueError, match="markup3d 'ibug68', expected 'menpo84'") as err:
        load_cascade([path], None, variant="baseline", markup3d="menpo84")
    assert str(path) in str(err.value) and "target markups ['ibug68', 'ibug68']" in str(err.value)


def test_other_architecture_is_refused(models) -> None:
    with pytest.raises(ValueError, match=f"in_size {SIZE}, expected {2 * SIZE}") as err:
        load_cascade([models["baseline"]], None, variant="baseline", in_size=2 * SIZE)
    assert str(models["baseline"]) in str(err.value)
    spec = StageSpec("baseline", 0, "menpo84", SIZE, BASE.depth, BASE.width)
    with pytest.raises(ValueError, match=f"width 12, expected {BASE.width}"):
        load_stage(models["baseline_wide"], spec=spec)


def test_model_without_a_record_is_refused(models, tmp_path) -> None:
    state = torch.load(models["baseline"], weights_only=True)
    old = tmp_path / "model.pt"
    torch.save({k: state[k] for k in ("state_dict", "step", "config", "code_version")}, old)
    with pytest.raises(ValueError, match=f"{old}: records no variant"):
        load_cascade([str(old)], None, variant="baseline")
