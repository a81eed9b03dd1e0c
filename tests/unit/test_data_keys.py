"""Data folders named by the config they are made from (cmhm/pipeline/data_keys.py) and `cmhm data-dir`."""

from pathlib import Path

import pytest

from cmhm.cli import main
from cmhm.pipeline.config_check import check_config, check_files, merge
from cmhm.pipeline.data_keys import check_key, crops_dir, data_dirs, heldout_dir, samples_dir, training_dir

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "rules/schemas/config.schema.yaml"


@pytest.fixture(scope="module")
def default():
    return check_files([REPO / "config.yaml"], SCHEMA)


def with_(config: dict, override: dict) -> dict:
    return check_config(merge(config, override), SCHEMA)


def test_folders_are_keyed_per_split_and_product(default):
    assert samples_dir(default, "synth", "train").startswith("results/synth/samples/train/")
    assert samples_dir(default, "synth", "train") != samples_dir(default, "synth", "test")
    assert crops_dir(default, "synth", "test").startswith("results/synth/crops/test/")
    assert training_dir(default, "synth").startswith("results/synth/training/")
    what = {w for w, _ in data_dirs(default).values()}
    assert what == {f"synth {s} {k}" for s in ("train", "test", "video") for k in ("samples", "crops")} | {
        "synth training",
        "synth held-out fit",
    }
    assert heldout_dir(default, "synth").startswith(training_dir(default, "synth") + "/heldout/")


def test_another_test_set_moves_the_heldout_report_not_the_fitted_labels(default):
    """The 3D fit is scored on the test split: more test faces re-score it and re-fit nothing (no model
    retrains), while another fit re-scores it too."""
    more = with_(default, {"synth": {"test": {"n": default["synth"]["test"]["n"] + 1}}})
    assert training_dir(more, "synth") == training_dir(default, "synth")
    assert heldout_dir(more, "synth") != heldout_dir(default, "synth")
    refit = with_(default, {"annotations_3d": {"n_modes": default["annotations_3d"]["n_modes"] + 1}})
    assert training_dir(refit, "synth") != training_dir(default, "synth")
    assert heldout_dir(refit, "synth").startswith(training_dir(refit, "synth"))


def test_where_an_archive_comes_from_moves_no_sample_folder(default):
    """url, sha256 and archive change no sample (a mirror, a pinned hash); an adapter option does."""
    entry = "aflw2000_3d"
    base = samples_dir(default, entry, "test")
    for key, value in (("url", "http://mirror.example.org/a.zip"), ("sha256", "0" * 64)):
        assert samples_dir(with_(default, {"datasets": {entry: {key: value}}}), entry, "test") == base, key
    moved = with_(default, {"datasets": {entry: {"lm2d_source": "proj3d"}}})
    assert samples_dir(moved, entry, "test") != base


def test_a_folder_of_another_config_is_refused_naming_this_configs(default):
    want = crops_dir(default, "synth", "train")
    check_key(want, want)
    with pytest.raises(ValueError) as err:
        check_key("results/synth/crops/train/00000000", want)
    assert "results/synth/crops/train/00000000: not this config's folder, which is " + want in str(err.value)
    assert "made_from.json" in str(err.value)


def test_data_dir_command_prints_a_configs_folders(default, capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    assert main(["data-dir", "configs/ablation.yaml", "--config", "crop={size: 96}"]) == 0
    lines = dict(line.split("\t") for line in capsys.readouterr().out.splitlines())
    ablation = check_files([REPO / "config.yaml", REPO / "configs/ablation.yaml"], SCHEMA)
    assert lines["synth train samples"] == samples_dir(ablation, "synth", "train")
    assert lines["synth train crops"] == crops_dir(with_(ablation, {"crop": {"size": 96}}), "synth", "train")
    assert main(["data-dir", "--split", "menpo2d:train"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"menpo2d train samples\t{samples_dir(default, 'menpo2d', 'train')}"
