"""A run's name (its folder under ``results/``) and its record ``results/<run>/run.json``: which config
files and which training config its models come from, so that a run never silently replaces another
config's trained models (:func:`check_run_record`)."""

from __future__ import annotations

import json
from pathlib import Path

from cmhm.data.registry import GENERATED
from cmhm.pipeline.config_check import ConfigError
from cmhm.pipeline.data_keys import fit_config
from cmhm.pipeline.provenance import config_digest
from cmhm.pipeline.train_sources import EXTRA_KEY, train_sources

RUN_RECORD = (
    "run.json"  # results/<run>/run.json: the config files and training config the run's models are from
)


def run_name(run: str | None, configfiles: list[str | Path], default_config: str | Path | None = None) -> str:
    """The run's name (its folder under results/): ``run`` if set, else the stem of the first ``--configfile``
    other than the workflow's own ``default_config`` (``--configfile configs/paper.yaml overrides.yaml`` ->
    paper), else ``default`` (config.yaml alone, given or not: ``make run`` passes it)."""
    if run:
        return run
    own = Path(default_config).resolve() if default_config else None
    named = [f for f in configfiles if own is None or Path(f).resolve() != own]
    return Path(named[0]).stem if named else "default"


def run_record(configfiles: list[str | Path], training: dict) -> dict:
    """What ``results/<run>/run.json`` records: the config files (absolute paths) and the digest of the
    training config (:func:`training_config`) the run's models are trained from."""
    return {
        "configfiles": [str(Path(f).resolve()) for f in configfiles],
        "training_config_digest": config_digest(training),
    }


def check_run_record(run_dir: str | Path, record: dict) -> None:
    """ConfigError when ``run_dir`` holds the models of another config: other config files *and* another
    training config than ``record`` (:func:`run_record`). The same files edited (a rerun after a ``steps``
    change), or other files with the same training config (a file adding quoted rows) pass."""
    path = Path(run_dir) / RUN_RECORD
    if not path.is_file():
        return
    try:
        before = json.loads(path.read_text(encoding="utf-8"))
        files, digest = before["configfiles"], before["training_config_digest"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"{path}: unreadable run record ({exc}); delete it to accept this run's config"
        ) from None
    if files != record["configfiles"] and digest != record["training_config_digest"]:
        named = " + ".join(files) or "config.yaml alone"
        now = " + ".join(record["configfiles"]) or "config.yaml alone"
        raise ConfigError(
            f"{run_dir} holds models trained from {named} (training config {digest}); this run, from {now}, "
            f"has another training config ({record['training_config_digest']}) and would replace them. Give "
            f"it its own name with the config key `run: <name>` (or --config run=<name>); to replace them on "
            f"purpose, delete {path}"
        )


def check_stage1_from(config: dict, run: str) -> None:
    """ConfigError when ``train.stage1_from`` names this run itself (its stage 1 would be its own input)."""
    source = config["train"].get("stage1_from")
    if source == run:
        raise ConfigError(
            f"train.stage1_from: {source!r} is this run's own name; name the finished run whose stage 1 "
            "this one copies (its models are under results/<that run>/), or null to train stage 1 here"
        )


def without_idle_appearance(train: dict) -> dict:
    """``train`` less ``augment.appearance`` while the jitter is off (prob 0, the default): off, its ranges
    change no model, so they neither rerun training nor alter a finished run's record."""
    augment = train.get("augment")
    if augment is None or (augment.get("appearance") or {}).get("prob"):
        return train
    return {**train, "augment": {k: v for k, v in augment.items() if k != "appearance"}}


def training_config(config: dict) -> dict:
    """The config a trained model depends on (its training data, labels, sizes and optimisation), recorded
    in the model file with its digest: two model files from the same training config say so."""
    out = {k: config[k] for k in ("crop", "union_mapping", "model", "cascade")}
    out["annotations_3d"] = fit_config(config)  # not heldout_split: the held-out report trains nothing
    # each model: one seed; train.stage1_from changes no model (a copy is checked to be the same one).
    # train.stage2 is recorded only when set: its default ({}) changes no model, so a run finished before
    # the key existed keeps its record (and run.json) after an upgrade
    skip = ("seeds", "stage1_from")
    out["train"] = {k: v for k, v in config["train"].items() if k not in skip and (k != "stage2" or v)}
    out["train"] = without_idle_appearance(out["train"])
    out["data"] = {k: config["data"][k] for k in ("train", "train_labels3d")}
    if config["data"].get(EXTRA_KEY):  # recorded only when given: a one-source run's record is unchanged
        out["data"][EXTRA_KEY] = config["data"][EXTRA_KEY]
    sources = [src for _, src in train_sources(config)]
    for src in sources:
        if src["dataset"] in GENERATED:
            section = GENERATED[src["dataset"]].section
            keep = ("image_size", "profile_yaw", "render", *(s["split"] for s in sources))
            out[section] = {"seed": config["seed"], **{k: v for k, v in config[section].items() if k in keep}}
        else:
            out.setdefault("datasets", {})[src["dataset"]] = config["datasets"][src["dataset"]]
    return out
