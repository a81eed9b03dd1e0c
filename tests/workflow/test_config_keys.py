"""Every config key has an effect, and only on the rules that read it (issue 10, section 5).

Each leaf key of the checked default config (config.yaml with the schema's defaults) is changed
alone; Snakemake's API gives every job's params and inputs for the original and the changed config
(tests/workflow/param_probe.py); the rules whose jobs differ are the ones a finished run would rerun
first (their descendants follow through their outputs). That set must be exactly READERS[key].
"""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from cmhm.pipeline.config_check import check_config, check_files
from cmhm.pipeline.data_keys import data_dirs

from .conftest import REPO

pytestmark = pytest.mark.workflow

# a training key reruns both stages and the model file, which records the training config
TRAIN = {"train_stage1", "train_stage2", "assemble_model"}
# The rules whose jobs change first when the key changes. A dataset key the default (synthetic) run does
# not use changes nothing; url and sha256 are read by the fetch scripts from the config on purpose
# (switching mirrors or pinning a hash must not fetch again): see AFLW_READERS for a run that uses one.
READERS: dict[str, set[str]] = {
    "seed": {"assemble_model", "synthesize_images", "synthesize_video"},
    "data.train": {
        "annotations_3d",
        "assemble_model",
        "contact_sheet",
        "crop",
        "mean_shapes",
        "train_stage1",
        "train_stage2",
        "union_mapping",
    },
    # an extra training source: its data are fetched, adapted and cropped, and every training job reads them
    "data.train_extra": {
        "adapt",
        "assemble_model",
        "crop",
        "download",
        "extract",
        "mean_shapes",
        "train_stage1",
        "train_stage2",
    },
    "data.test_images": {"floors", "predict_demo", "predict_gt_warp", "predict_images", "table1"},
    "data.test_video": {"table2", "track_video"},
    # the crop of the training split carries the fitted labels; training reads them from its crops
    "data.train_labels3d": {"assemble_model", "crop", "floors"},
    "synth.image_size": {"assemble_model", "synthesize_images", "synthesize_video"},
    "synth.profile_yaw": {"assemble_model", "synthesize_images", "synthesize_video"},
    "synth.render": {"assemble_model", "synthesize_images", "synthesize_video"},
    "synth.train.n": {"assemble_model", "synthesize_images"},
    "synth.train.shards": {
        "annotations_3d",
        "assemble_model",
        "crop",
        "mean_shapes",
        "synthesize_images",
        "train_stage1",
        "train_stage2",
        "union_mapping",
    },
    "synth.test.n": {"synthesize_images"},
    "synth.test.shards": {
        "crop",
        "floors",
        "heldout_fit",
        "predict_demo",
        "predict_gt_warp",
        "predict_images",
        "synthesize_images",
        "table1",
    },
    "synth.test.yaw_bins": {"synthesize_images"},
    "synth.video.n_videos": {"synthesize_video"},
    "synth.video.n_frames": {"synthesize_video"},
    "synth.video.shards": {"crop", "synthesize_video", "table2", "track_video"},
    "crop.size": {"assemble_model", "crop", "mean_shapes", "train_stage1", "train_stage2"},
    "crop.box_scale": {"assemble_model", "crop"},
    "union_mapping.frontal_max_yaw": {"assemble_model", "union_mapping"},
    "union_mapping.profile_min_yaw": {"assemble_model", "union_mapping"},
    "union_mapping.constrained": {"assemble_model", "union_mapping"},
    "annotations_3d.n_modes": {"annotations_3d", "assemble_model", "heldout_fit"},
    "annotations_3d.iterations": {"annotations_3d", "assemble_model", "heldout_fit"},
    "annotations_3d.refinements": {"annotations_3d", "assemble_model", "heldout_fit"},
    "annotations_3d.shape_source": {"annotations_3d", "assemble_model", "heldout_fit"},
    # the held-out split is scored by the fit, not fitted: no label, no model changes with it
    "annotations_3d.heldout_split": {"heldout_fit"},
    "annotations_3d.profile_correspondence": {"annotations_3d", "assemble_model", "heldout_fit"},
    "annotations_3d.regularisation": {"annotations_3d", "assemble_model", "heldout_fit"},
    "variants": {"plot_results", "table1", "table2", "timing"},
    "model.depth": {"assemble_model", "mean_shapes", "train_stage1", "train_stage2"},
    "model.width": {"assemble_model", "mean_shapes", "train_stage1", "train_stage2"},
    # evaluation reads the markup from the model file it evaluates (reruns through the model's change)
    "model.markup3d": {"assemble_model", "floors", "mean_shapes", "train_stage1", "train_stage2"},
    "train.steps": TRAIN,
    "train.batch_size": TRAIN,
    "train.lr": TRAIN,
    "train.lr_steps": TRAIN,
    "train.lr_gamma": TRAIN,
    "train.lr_schedule": TRAIN,
    "train.warmup_steps": TRAIN,
    "train.channels_last": TRAIN,
    "train.sigma": {"assemble_model", "train_stage1", "train_stage2"},  # floors: from the model file
    "train.checkpoint_every": TRAIN,
    "train.log_every": TRAIN,
    "train.amp": TRAIN,
    "train.device": TRAIN,
    "train.augment.max_rotation_deg": TRAIN,
    "train.augment.scale_min": TRAIN,
    "train.augment.scale_max": TRAIN,
    "train.augment.max_translation": TRAIN,
    "train.augment.reference_size": TRAIN,
    "train.augment.flip_prob": TRAIN,
    # the appearance jitter is off by default (prob 0): its ranges change no model until it is on
    "train.augment.appearance.prob": TRAIN,
    **{
        f"train.augment.appearance.{k}": set()
        for k in ("gamma", "gain", "saturation", "grey_prob", "contrast", "brightness")
    },
    "evaluation.device": {"predict_demo", "predict_gt_warp", "predict_images", "timing", "track_video"},
    "evaluation.tracking_threshold": {"plot_results", "table2", "track_video"},
    "evaluation.failure_confidence": {"assemble_model"},
    "evaluation.ced_max_images": {"plot_results"},
    "evaluation.detector": {"assemble_model"},
    "evaluation.haar_cascade": {"assemble_model"},
    "evaluation.calibration_faces": {"assemble_model"},
    "evaluation.n_examples": {"plot_results", "predict_demo", "predict_images"},
    "quoted.table1": {"table1"},
    "quoted.table2": {"table2"},
    "figures.contact_sheet_samples": {"contact_sheet"},
    "run": {
        "arm_metrics",
        "assemble_model",
        "floors",
        "image_metrics",
        "mean_shapes",
        "plot_results",
        "plot_training",
        "predict_demo",
        "predict_gt_warp",
        "predict_images",
        "table1",
        "table2",
        "timing",
        "track_video",
        "train_stage1",
        "train_stage2",
    },
    "data.on_bad_sample.train": set(),
    "data.on_bad_sample.test": set(),
    "data.on_bad_sample.video": set(),
    "model.inception_width": {"assemble_model", "mean_shapes", "train_stage1", "train_stage2"},
    "train.lr_epochs": TRAIN,
    "train.seeds": {"floors", "plot_results", "table1", "table2"},
    "train.snapshots": {
        "arm_metrics",
        "assemble_model",
        "assemble_snapshot",
        "floors",
        "predict_snapshot",
        "train_stage1",
        "train_stage2",
    },
    "train.deterministic": TRAIN,
    "train.tensorboard": TRAIN,
    "train.val_size": TRAIN,
    "train.val_every": TRAIN,
    "cascade.stage2_jitter": {"assemble_model", "train_stage2"},
    # stage 2's own learning rate: stage 1 never reads it, so it is kept
    "train.stage2": {"assemble_model", "train_stage2"},
    # stage 1 copied from a finished run (checked to be the same model): the copies are new jobs, and
    # nothing else changes (the model files record the same training config)
    "train.stage1_from": {"reuse_stage1"},
    "evaluation.failure_check": {"assemble_model"},
    "evaluation.onet_threshold": {"assemble_model"},
}
FILES = {"yaw.csv": "image,yaw_deg\n", "cascade.xml": "<opencv_storage/>\n", "quoted.csv": "method,source\n"}
# train.stage1_from's finished run: its stage-1 model files, present for the DAG (their content is unread)
FILES |= {
    f"results/finished/models/{variant}/seed{seed}/stage1/model.pt": "not read\n"
    for variant in ("baseline", "inception", "multiview", "cmhm")
    for seed in (0, 1)
}
# Changed values a plain rule (+1, x1.5, next enum member, not) cannot make valid.
SPECIAL = {
    "crop.size": 128,
    "model.width": 68,
    "annotations_3d.heldout_split": "train",
    "annotations_3d.shape_source": {"dataset": "synth", "split": "test"},
    "data.train": {"dataset": "synth", "split": "test"},
    "data.test_images": {"dataset": "synth", "split": "video"},  # not train's split: the check refuses that
    "data.test_video": {"dataset": "synth", "split": "test"},
    "synth.render": {"mesh_rows": 60},
    "synth.test.yaw_bins": [[0, 45, 0.5], [45, 90, 0.5]],
    "train.lr_steps": [100],
    "train.augment.appearance.prob": 0.5,
    "train.augment.appearance.gamma": [0.8, 1.2],
    "train.augment.appearance.saturation": [0.5, 1.5],
    "train.augment.appearance.contrast": [0.5, 1.5],
    "variants": ["baseline", "cmhm"],
    "evaluation.haar_cascade": "cascade.xml",
    "quoted.table1": "quoted.csv",
    "quoted.table2": "quoted.csv",
    "datasets.aflw2000_3d.yaw_file": "yaw.csv",
    "datasets.aflw2000_3d.cascade_path": "cascade.xml",
    "datasets.aflw2000_3d.url": "http://mirror.example.org/AFLW2000-3D.zip",
    "datasets.aflw2000_3d.sha256": "0" * 64,
    "datasets.aflw2000_3d.archive": "data/archives/aflw2000_3d/copy.zip",
    "datasets.aflw2000_3d.subdir": "AFLW2000",
    "datasets.aflw2000_3d.lm2d_source": "proj3d",
    "datasets.aflw2000_3d.folds": "configs/real_faces/folds.csv",
    "datasets.w300_lp.url": "http://mirror.example.org/300W-LP.zip",
    "run": "other",
    "cascade.stage2_jitter": 2.0,
    "train.stage2": {"lr": 1.0e-3},
    "train.stage1_from": "finished",
    "train.seeds": [0],
    "train.snapshots": [0.5],
    "train.amp": "off",
    "model.inception_width": "matched",
    "data.on_bad_sample.train": "fail",
    "data.on_bad_sample.test": "skip",
    "data.on_bad_sample.video": "skip",
    "evaluation.failure_check": "onet",
    "evaluation.onet_threshold": 0.5,
}
# Keys whose change needs another key changed with it (the drops are given in steps or in epochs, not both).
OVERRIDES = {
    "train.lr_epochs": {"train": {"lr_epochs": [2], "lr_steps": []}},
    # a cosine schedule has no drops: the check refuses lr_steps beside it
    "train.lr_schedule": {"train": {"lr_schedule": "cosine", "lr_steps": []}},
    # training on the test split is refused (a test set never trains): the test images move off it too
    "data.train": {
        "data": {
            "train": {"dataset": "synth", "split": "test"},
            "test_images": {"dataset": "synth", "split": "video"},
        }
    },
    # extra training sources train on their own 3D labels (the check refuses fitted ones beside them)
    "data.train_extra": {
        "data": {
            "train_extra": [{"dataset": "aflw2000_3d", "split": "test"}],
            "train_labels3d": "ground_truth",
        }
    },
}
# keys whose override changes another key too: its readers rerun as well
ALSO = {"data.train": "data.test_images", "data.train_extra": "data.train_labels3d"}
AS_LEAF = ("data.train", "data.test_images", "data.test_video", "annotations_3d.shape_source", "synth.render")
AFLW = {"data": {"test_images": {"dataset": "aflw2000_3d", "split": "test"}}}
AFLW_READERS = {
    "yaw_source": {"adapt"},
    "yaw_file": {"adapt"},
    "box_source": {"adapt"},
    "cascade_path": {"adapt"},
    "detector": {"adapt"},
    "subdir": {"adapt"},
    "lm2d_source": {"adapt"},
    "folds": {"adapt"},
    "shards": {"adapt", "crop", "floors", "predict_demo", "predict_gt_warp", "predict_images", "table1"},
    "archive": {"download", "extract"},
    "url": set(),
    "sha256": set(),
}


def checked_default() -> dict:
    return check_files([REPO / "config.yaml"], REPO / "rules/schemas/config.schema.yaml")


def leaves(config: dict, prefix: str = "") -> list[tuple[str, object]]:
    out = []
    for k, v in config.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v and key not in AS_LEAF:
            out += leaves(v, key + ".")
        else:
            out.append((key, v))
    return out


def changed(key: str, value):
    if key in SPECIAL:
        return SPECIAL[key]
    if isinstance(value, bool):
        return not value
    enums = {
        "train_labels3d": "ground_truth",
        "markup3d": "menpo84",
        "device": "cpu",
        "detector": "haar",
        "profile_correspondence": "union",
        "yaw_source": "file",
        "box_source": "detector",
    }
    if key.rsplit(".", 1)[-1] in enums:
        return enums[key.rsplit(".", 1)[-1]]
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float):
        return value * 1.5
    raise AssertionError(f"no rule to change {key}={value!r}: add it to SPECIAL")


def nest(key: str, value) -> dict:
    for part in reversed(key.split(".")):
        value = {part: value}
    return value


def probe(workdir: Path, overrides: list[dict], tmp_path: Path) -> list[dict]:
    """Each job's params and inputs under each override (tests/workflow/param_probe.py, one process)."""
    (tmp_path / "in.json").write_text(json.dumps(overrides))
    script = Path(__file__).with_name("param_probe.py")
    args = [sys.executable, str(script), str(workdir), str(tmp_path / "in.json"), str(tmp_path / "out.json")]
    res = subprocess.run(args, capture_output=True, text=True, timeout=300, check=False)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return json.loads((tmp_path / "out.json").read_text())


# a data folder's key (results/<dataset>/{samples,crops}/<split>/<key>, results/<dataset>/training/<key>,
# and the held-out fit's .../training/<key>/heldout/<key>)
KEY_FOLDER = re.compile(r"(/samples/\w+|/crops/\w+|/training|/heldout)/[0-9a-f]{8}(?=/)")


def unkeyed(jobs: dict) -> dict:
    """``jobs`` with each data folder's key replaced by KEY: what a job reads and writes, whatever the
    folder's name (which keys move which folder: test_each_data_key_moves_exactly_its_folders)."""
    return json.loads(KEY_FOLDER.sub(r"\1/KEY", json.dumps(jobs)))


def rerun(base: dict, other: dict) -> set[str]:
    """Rules with a job of ``other`` that is new or whose params or inputs differ (``all`` runs nothing)."""
    return {job.split()[0] for job in other if base.get(job) != other[job]} - {"all"}


def merge(a: dict, b: dict) -> dict:
    out = dict(a)
    for k, v in b.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


@pytest.mark.long(40)
def test_each_key_reruns_exactly_its_readers(workdir, tmp_path):
    for name, text in FILES.items():
        (workdir / name).parent.mkdir(parents=True, exist_ok=True)
        (workdir / name).write_text(text)
    default = checked_default()
    keys = [(k, v) for k, v in leaves(default) if not k.startswith("datasets.")]
    assert {k for k, _ in keys} == set(READERS), "READERS must name every leaf key of the default config"
    aflw = leaves(default["datasets"]["aflw2000_3d"], "datasets.aflw2000_3d.")
    assert {k.rsplit(".", 1)[1] for k, _ in aflw} == set(AFLW_READERS)
    overrides = [{}, *(OVERRIDES.get(k) or nest(k, changed(k, v)) for k, v in keys), AFLW]
    overrides += [merge(AFLW, nest(k, changed(k, v))) for k, v in aflw]
    base, *got = map(unkeyed, probe(workdir, overrides, tmp_path))
    expected = {k: READERS[k] | READERS.get(ALSO.get(k, ""), set()) for k, _ in keys}
    wrong = {
        k: (rerun(base, jobs), expected[k])
        for (k, _), jobs in zip(keys, got)
        if rerun(base, jobs) != expected[k]
    }
    aflw_base, aflw_got = got[len(keys)], got[len(keys) + 1 :]
    for (k, _), jobs in zip(aflw, aflw_got):
        readers = AFLW_READERS[k.rsplit(".", 1)[1]]
        if rerun(aflw_base, jobs) != readers:
            wrong[k] = (rerun(aflw_base, jobs), readers)
    assert not wrong, "key: (rules that rerun, rules that read it)\n" + "\n".join(
        f"{k}: {v}" for k, v in wrong.items()
    )


HELDOUT = "synth held-out fit"  # inside the training folder: it moves with it
ALL = {f"synth {s} {kind}" for s in ("train", "test", "video") for kind in ("samples", "crops")} | {
    "synth training",
    HELDOUT,
}
TRAINING = {"synth training", "synth train crops", HELDOUT}  # the fitted labels travel in the training crops
# The data folders of the default run (cmhm/pipeline/data_keys.py) a key gives a new name when changed:
# the products made from it, and those made from them. Every other key moves none.
MOVES = {
    "seed": ALL,
    "data.train": {
        "synth training",
        HELDOUT,
        "synth test crops",
    },  # trains on 'test': its crops carry the labels
    "data.train_labels3d": {"synth train crops"},
    "data.train_extra": {"synth train crops"},  # with ground-truth labels (OVERRIDES)
    **{f"synth.{k}": ALL for k in ("image_size", "profile_yaw", "render")},
    **{f"synth.train.{k}": {"synth train samples"} | TRAINING for k in ("n", "shards")},
    # the held-out split of the 3D fit is the test split: another test set moves its report, not the labels
    **{
        f"synth.test.{k}": {"synth test samples", "synth test crops", HELDOUT}
        for k in ("n", "shards", "yaw_bins")
    },
    **{
        f"synth.video.{k}": {"synth video samples", "synth video crops"}
        for k in ("n_videos", "n_frames", "shards")
    },
    "crop.size": {f"synth {s} crops" for s in ("train", "test", "video")},
    "crop.box_scale": {f"synth {s} crops" for s in ("train", "test", "video")},
    **{k: TRAINING for k in READERS if k.startswith(("union_mapping.", "annotations_3d."))},
    "annotations_3d.heldout_split": {HELDOUT},
}


def test_each_data_key_moves_exactly_its_folders(tmp_path, monkeypatch):
    """A finished run's data are kept when a key that does not make them changes (a new learning rate
    never re-crops), and two configs that make different data never share a folder."""
    default = checked_default()
    monkeypatch.chdir(tmp_path)  # the files that file keys name (the check wants them to exist)
    for name, text in FILES.items():
        Path(name).parent.mkdir(parents=True, exist_ok=True)
        Path(name).write_text(text)
    schema = REPO / "rules/schemas/config.schema.yaml"
    base = {what: folder for folder, (what, _) in data_dirs(default).items()}
    wrong = {}
    for key, value in leaves(default):
        if key.startswith("datasets."):
            continue
        override = OVERRIDES.get(key) or nest(key, changed(key, value))
        config = check_config(merge(default, override), schema)
        other = {what: folder for folder, (what, _) in data_dirs(config).items()}
        moved = {what for what in base.keys() & other.keys() if base[what] != other[what]}
        if moved != MOVES.get(key, set()):
            wrong[key] = (moved, MOVES.get(key, set()))
    assert not wrong, "key: (folders that move, folders made from it)\n" + "\n".join(
        f"{k}: {v}" for k, v in wrong.items()
    )
