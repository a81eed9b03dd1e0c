"""Where a dataset's data products live: folders named by a digest of the config they are made from.

Sample tables, crops, the union mapping and the fitted 3D labels of one dataset differ with the config
that made them (the default run cuts 64 px crops of 1,200 synthetic faces, the ablation 128 px crops of
another test set). Under one shared folder each run re-made the other's files on its next start,
retraining every model downstream, and two runs at once could overwrite each other's crops while a
training job read them. Each product now sits in a folder named by 8 hex digits of SHA-256 over the
config it is made from (sorted JSON), written beside its files as ``made_from.json``:

- ``results/<dataset>/samples/<split>/<key>/``: one split's sample tables (:func:`samples_made_from`);
- ``results/<dataset>/training/<key>/``: the union mapping, the 3D shape model and fitted labels, and their
  figure, made from the training split (:func:`training_made_from`);
- ``results/<dataset>/training/<key>/heldout/<key>/``: the shape model's fit on held-out faces
  (:func:`heldout_made_from`); a report, kept out of the training key so that another test set
  (``annotations_3d.heldout_split`` is usually the synthetic ``test``) re-fits no label and retrains no model;
- ``results/<dataset>/crops/<split>/<key>/``: one split's crops, with the contact sheet of the training
  crops (:func:`crops_made_from`: its samples' key, ``crop``, and the fitted labels' key if it carries them).

A key names the keys of what the product is made from, so a change reaches exactly the products made
from it: another crop size re-cuts the crops and keeps the samples; runs that agree on a product share
it. The release itself (``results/<dataset>/raw``, its manifest and archive check) is not keyed; nor are
the keys that say where an archive comes from (url, sha256, archive path), which change no sample.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

from cmhm.data.registry import GENERATED, parent_split
from cmhm.pipeline.train_sources import TEST_ROLES, train_sources

KEY_PATTERN = "[0-9a-f]{8}"  # the wildcard constraint of a key folder
MADE_FROM = "made_from.json"  # in each key folder: the config its name is a digest of
FETCH_KEYS = ("url", "sha256", "archive")  # where the archive comes from: no sample changes with them


def _key(record: dict) -> str:
    return hashlib.sha256(json.dumps(record, sort_keys=True, default=str).encode()).hexdigest()[:8]


def generator_config(config: Mapping, dataset: str) -> dict:
    """The config every generation job of a generated dataset reads, whatever its split (rule params)."""
    s = config[GENERATED[dataset].section]
    return {"seed": config["seed"], **{k: s[k] for k in ("image_size", "profile_yaw", "render")}}


def samples_made_from(config: Mapping, dataset: str, split: str) -> dict:
    """What one split's sample tables are made from: the generator's config of that split (seed, image
    size, profile yaw, renderer, the split's own sub-tree), or the release's ``datasets`` entry (adapter
    options, shards, files; not :data:`FETCH_KEYS`) and the split's ``data.on_bad_sample`` policy."""
    if dataset in GENERATED:
        own = config[GENERATED[dataset].section].get(split)
        return {"dataset": dataset, "split": split, **generator_config(config, dataset), split: own}
    entry = config["datasets"].get(dataset, {})
    return {
        "dataset": dataset,
        "split": split,
        "datasets": {k: v for k, v in entry.items() if k not in FETCH_KEYS},
        "on_bad_sample": config["data"]["on_bad_sample"].get(parent_split(dataset, split)),
    }


def samples_key(config: Mapping, dataset: str, split: str) -> str:
    return _key(samples_made_from(config, dataset, split))


def shape_source(config: Mapping) -> tuple[str, str]:
    """(dataset, split) whose 3D shapes the annotations_3d shape model is learned from."""
    src = config["annotations_3d"]["shape_source"] or config["data"]["train"]
    return src["dataset"], src["split"]


def fit_config(config: Mapping) -> dict:
    """``annotations_3d`` less ``heldout_split``: what the shape model and the fitted labels depend on."""
    return {k: v for k, v in config["annotations_3d"].items() if k != "heldout_split"}


def heldout_source(config: Mapping) -> tuple[str, str]:
    """(dataset, split) of the faces the 3D fit is scored on: the shape source's ``heldout_split``."""
    return shape_source(config)[0], config["annotations_3d"]["heldout_split"]


def training_made_from(config: Mapping, dataset: str) -> dict:
    """What the union mapping and the fitted 3D labels of ``dataset`` are made from: ``union_mapping``,
    the fit's config (:func:`fit_config`) and the keys of the samples they read (training split, shape
    source). Not the held-out split: its report has its own folder (:func:`heldout_made_from`)."""
    split = config["data"]["train"]["split"]
    return {
        "dataset": dataset,
        "union_mapping": config["union_mapping"],
        "annotations_3d": fit_config(config),
        "samples": {
            "train": samples_key(config, dataset, split),
            "shape": samples_key(config, *shape_source(config)),
        },
    }


def training_key(config: Mapping, dataset: str) -> str:
    return _key(training_made_from(config, dataset))


def heldout_made_from(config: Mapping, dataset: str) -> dict:
    """What the held-out fit report of ``dataset``'s training folder is made from: that folder's key and
    the held-out faces (dataset, split, samples key)."""
    heldout = heldout_source(config)
    return {
        "training": training_key(config, dataset),
        "heldout": {"dataset": heldout[0], "split": heldout[1], "samples": samples_key(config, *heldout)},
    }


def heldout_key(config: Mapping, dataset: str) -> str:
    return _key(heldout_made_from(config, dataset))


def carries_fitted_labels(config: Mapping, dataset: str, split: str) -> bool:
    """The training split's crops carry the fitted 3D labels (``data.train_labels3d: fitted``)."""
    train = config["data"]["train"]
    return config["data"]["train_labels3d"] == "fitted" and (dataset, split) == (
        train["dataset"],
        train["split"],
    )


def crops_made_from(config: Mapping, dataset: str, split: str) -> dict:
    """What one split's crops are made from: ``crop``, its samples' key, and the fitted labels' key."""
    fitted = carries_fitted_labels(config, dataset, split)
    return {
        "dataset": dataset,
        "split": split,
        "crop": config["crop"],
        "samples": samples_key(config, dataset, split),
        "fitted_labels": training_key(config, dataset) if fitted else None,
    }


def crops_key(config: Mapping, dataset: str, split: str) -> str:
    return _key(crops_made_from(config, dataset, split))


def samples_dir(config: Mapping, dataset: str, split: str) -> str:
    """``results/<dataset>/samples/<split>/<key>``: this config's sample-table shards of one split."""
    return f"results/{dataset}/samples/{split}/{samples_key(config, dataset, split)}"


def crops_dir(config: Mapping, dataset: str, split: str) -> str:
    """``results/<dataset>/crops/<split>/<key>``: this config's crop shards of one split."""
    return f"results/{dataset}/crops/{split}/{crops_key(config, dataset, split)}"


def training_dir(config: Mapping, dataset: str) -> str:
    """``results/<dataset>/training/<key>``: this config's union mapping and fitted 3D labels."""
    return f"results/{dataset}/training/{training_key(config, dataset)}"


def heldout_dir(config: Mapping, dataset: str) -> str:
    """``results/<dataset>/training/<key>/heldout/<key>``: the 3D fit's scores on held-out faces."""
    return f"{training_dir(config, dataset)}/heldout/{heldout_key(config, dataset)}"


def check_key(asked: str, want: str) -> None:
    """ValueError when the folder a job was asked for, ``asked``, is not this config's, ``want``."""
    if asked != want:
        raise ValueError(
            f"{asked}: not this config's folder, which is {want} (a folder is named by a digest of the "
            f"config its files are made from, written in its {MADE_FROM}). Ask for a path there "
            f"(`python -m cmhm data-dir` prints them), or run with the config that made {asked}."
        )


def used_splits(config: Mapping) -> list[tuple[str, str]]:
    """(dataset, split) of every split a run reads: training and test sources, 3D shape and held-out split."""
    data = config["data"]
    pairs = [(src["dataset"], src["split"]) for _, src in train_sources(config)]
    pairs += [(data[role]["dataset"], data[role]["split"]) for role in TEST_ROLES]
    pairs += [shape_source(config), heldout_source(config)]
    return sorted(set(pairs))


def data_dirs(config: Mapping, pairs: list[tuple[str, str]] | None = None) -> dict[str, tuple[str, dict]]:
    """{folder: (what, made_from)} of the data a run reads (``pairs``: (dataset, split); default
    :func:`used_splits`): each split's samples and crops, and the training dataset's training folder."""
    out = {}
    train = config["data"]["train"]["dataset"]
    for dataset, split in pairs or used_splits(config):
        out[samples_dir(config, dataset, split)] = (
            f"{dataset} {split} samples",
            samples_made_from(config, dataset, split),
        )
        out[crops_dir(config, dataset, split)] = (
            f"{dataset} {split} crops",
            crops_made_from(config, dataset, split),
        )
        if dataset == train:
            out[training_dir(config, dataset)] = (f"{dataset} training", training_made_from(config, dataset))
            out[heldout_dir(config, dataset)] = (
                f"{dataset} held-out fit",
                heldout_made_from(config, dataset),
            )
    return out
