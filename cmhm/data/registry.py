"""The real datasets by config name: adapter, split, unpacked-folder check, licence gate.

:data:`DATASETS` is what the fetch rules (``rules/fetch.smk``) look names up in, so no rule or
script branches on a dataset's name. The archive steps (download, hand-placed check, unpack) are in
:mod:`cmhm.data.archives`; the last step is here:

- :func:`adapt`: run the dataset's adapter on the unpacked folder, writing the sample table of one
  shard of its split (:mod:`cmhm.data.shards`: contiguous runs of the sorted samples).
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from cmhm.data.aflw2000 import adapt_aflw2000
from cmhm.data.fetch import FetchError, verify_aflw2000
from cmhm.data.folds import fold_ids, fold_index, fold_splits
from cmhm.data.lp300w import adapt_300w_lp
from cmhm.data.menpo import adapt_menpo
from cmhm.data.samples import SampleTable
from cmhm.data.shards import ALL, Shard
from cmhm.data.video import adapt_300vw, adapt_menpo3d_video

IGNORED_TOP_LEVEL = ("__MACOSX",)


def count_files(folder: str | os.PathLike, patterns: tuple[str, ...], minimum: int = 1) -> int:
    """Files under ``folder`` matching any glob of ``patterns``; :class:`FetchError` if fewer than ``minimum``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FetchError(f"{folder}: unpacked dataset folder missing")
    n = len({p for pat in patterns for p in folder.glob(pat) if p.is_file()})
    if n < minimum:
        raise FetchError(f"{folder}: found {n} files matching {list(patterns)}, expected at least {minimum}")
    return n


ADAPTER_ARGS = ("shard", "provenance", "on_bad_sample", "ids")  # what the pipeline passes, not the config
FOLDS_KEY = "folds"  # datasets.<name>.folds: a fold file (cmhm.data.folds) whose folds become splits


@dataclass(frozen=True)
class DatasetSpec:
    """How the pipeline reads one real dataset.

    ``adapter(src_dir, out_dir, **options, shard=..., provenance=...)`` writes the table of (a
    :class:`cmhm.data.shards.Shard` of) split ``split``;
    ``verify(folder)`` checks the unpacked data folder (raises, returns a count); :attr:`options`, the
    config keys (``datasets.<name>``) passed to the adapter, are the adapter's own keyword arguments
    (read from its signature: one source); ``gated`` is the key of
    :data:`cmhm.data.gated.GATED` for a licence-gated set (never downloaded), None for a public one.
    """

    title: str
    split: str
    adapter: Callable[..., SampleTable]
    verify: Callable[[Path], int]
    gated: str | None = None

    @property
    def options(self) -> tuple[str, ...]:
        """The adapter's keyword-only arguments that a config sets (all but shard, provenance, policy)."""
        params = inspect.signature(self.adapter).parameters.values()
        return tuple(p.name for p in params if p.kind is p.KEYWORD_ONLY and p.name not in ADAPTER_ARGS)

    @property
    def takes_folds(self) -> bool:
        """Whether the adapter can write a subset of its split by id (``ids``), so ``folds`` is offered."""
        return "ids" in inspect.signature(self.adapter).parameters


DATASETS: dict[str, DatasetSpec] = {
    "aflw2000_3d": DatasetSpec(
        title="AFLW2000-3D",
        split="test",
        adapter=adapt_aflw2000,
        verify=verify_aflw2000,
    ),
    "w300_lp": DatasetSpec(
        title="300W-LP",
        split="train",
        adapter=adapt_300w_lp,
        verify=partial(count_files, patterns=("*/*.mat", "landmarks/*/*_pts.mat")),
    ),
    "menpo2d": DatasetSpec(
        title="Menpo 2D",
        split="train",
        adapter=adapt_menpo,
        verify=partial(count_files, patterns=("**/*.pts",)),
        gated="menpo2d",
    ),
    "menpo3d": DatasetSpec(
        title="Menpo-3D tracking",
        split="video",
        adapter=adapt_menpo3d_video,
        verify=partial(count_files, patterns=("**/*.ljson", "**/*.pts")),
        gated="menpo3d_tracking",
    ),
    "300vw": DatasetSpec(
        title="300VW",
        split="video",
        adapter=adapt_300vw,
        verify=partial(count_files, patterns=("*/annot/*.pts",)),
        gated="300vw",
    ),
}


@dataclass(frozen=True)
class GeneratedSpec:
    """A dataset the pipeline makes itself (no archive): its splits, each with ``n`` faces or ``n_videos``
    videos and a ``shards`` count, are the sub-trees of config section ``section``; the generator rules
    of ``rules/data.smk`` write their sample tables."""

    section: str

    def shard_counts(self, config: Mapping) -> dict[str, int]:
        """split -> shard count of every split the config defines."""
        sect = config[self.section]
        return {
            k: v.get("shards", 1)
            for k, v in sect.items()
            if isinstance(v, Mapping) and ("n" in v or "n_videos" in v)
        }


GENERATED: dict[str, GeneratedSpec] = {"synth": GeneratedSpec(section="synth")}  # the synthetic faces


def shard_counts(name: str, config: Mapping) -> dict[str, int]:
    """split -> shard count of each split that dataset ``name`` (real or generated) provides under ``config``;
    ``KeyError`` listing the known names for an unknown one."""
    if name in GENERATED:
        return GENERATED[name].shard_counts(config)
    cfg = config["datasets"][name]
    splits = [spec(name).split, *(fold_splits(cfg[FOLDS_KEY]) if cfg.get(FOLDS_KEY) else [])]
    return {s: cfg["shards"] for s in splits}


def parent_split(name: str, split: str) -> str:
    """The split a fold split (``foldK``) of real dataset ``name`` is cut from; any other split itself.
    A fold takes its parent's ``data.on_bad_sample`` policy (AFLW2000-3D: the test split's, 'fail')."""
    return spec(name).split if name in DATASETS and fold_index(split) is not None else split


def split_ids(name: str, split: str, config: Mapping) -> frozenset[str] | None:
    """The sample ids of a fold split of dataset ``name`` (its ``folds`` file), None for a whole split."""
    folds = config["datasets"].get(name, {}).get(FOLDS_KEY) if name not in GENERATED else None
    if folds and fold_index(split) is not None:
        return fold_ids(folds, split)
    return None


def overlap_errors(config: Mapping, train_role: str = "train") -> list[str]:
    """Test sources that can share a face with the training source: an error naming both config keys.

    Two sources of one real dataset overlap unless both are different folds of its fold file
    (:func:`cmhm.data.folds.read_folds` allows each id in one fold only, so those never share an id); a
    generated dataset's splits are generated apart, so only the same split overlaps.
    """
    data = config["data"]
    train = data[train_role]
    errors = []
    for role, src in data.items():
        if role == train_role or not isinstance(src, Mapping) or src.get("dataset") != train["dataset"]:
            continue
        if train["dataset"] in GENERATED:
            shared = src["split"] == train["split"]
        else:
            a, b = (split_ids(train["dataset"], s["split"], config) for s in (train, src))
            shared = a is None or b is None or bool(a & b)
        if shared:
            errors.append(
                f"data.{role}: {src['dataset']} split '{src['split']}' can share faces with the training "
                f"source data.{train_role} (split '{train['split']}'); a test set must never be trained "
                f"on: name two different folds of datasets.{src['dataset']}.{FOLDS_KEY}"
            )
    return errors


def check_request(name: str, split: str, shard: int, config: Mapping) -> None:
    """``ValueError`` naming the config keys unless shard ``shard`` of ``split`` is one dataset ``name`` has."""
    counts = shard_counts(name, config)
    if split not in counts:
        raise ValueError(
            f"dataset {name} provides split(s) {', '.join(sorted(counts))} only, not '{split}'; check data.* and "
            "annotations_3d.* in the config"
        )
    if shard >= counts[split]:
        key = f"{GENERATED[name].section}.{split}" if name in GENERATED else f"datasets.{name}"
        raise ValueError(
            f"dataset {name} is cut into {counts[split]} shards ({key}.shards): there is no shard{shard}"
        )


def spec(name: str) -> DatasetSpec:
    """The spec of dataset ``name``; ``KeyError`` listing the known names otherwise."""
    try:
        return DATASETS[name]
    except KeyError:
        raise KeyError(f"unknown real dataset {name!r}; known: {sorted(DATASETS)}") from None


def public_names() -> list[str]:
    return [n for n, s in DATASETS.items() if s.gated is None]


def gated_names() -> list[str]:
    return [n for n, s in DATASETS.items() if s.gated is not None]


def data_root(raw_dir: str | os.PathLike, subdir: str | None = None) -> Path:
    """The folder of an unpacked archive that holds the data.

    ``raw_dir/subdir`` when ``subdir`` is given ("." = the archive's top level); else the archive's
    single top-level folder if it has exactly one (hidden entries and ``__MACOSX`` ignored), else ``raw_dir``.
    """
    root = Path(raw_dir)
    if subdir is not None:
        if not (root / subdir).is_dir():
            raise FetchError(f"{root / subdir}: configured subdir missing in the unpacked archive")
        return root / subdir
    entries = [p for p in root.iterdir() if not p.name.startswith(".") and p.name not in IGNORED_TOP_LEVEL]
    return entries[0] if len(entries) == 1 and entries[0].is_dir() else root


def adapt(
    name: str,
    raw_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    options: dict,
    provenance: dict,
    shard: Shard = ALL,
    on_bad_sample: str = "fail",
    split: str | None = None,
) -> SampleTable:
    """Write the sample table of ``shard`` of dataset ``name``'s split ``split`` from its unpacked folder.

    ``options`` = its config sub-tree (only the adapter's own keys, ``subdir`` and ``folds`` are read);
    ``split``: a fold split (``foldK``, when ``options`` names a fold file) writes only that fold's ids;
    None or the dataset's own split writes all of it.
    ``on_bad_sample``: "fail" or "skip", the split's ``data.on_bad_sample`` (:mod:`cmhm.data.bad`).
    """
    s = spec(name)
    kwargs = {k: options[k] for k in s.options}
    if split is not None and split != s.split:
        if not (s.takes_folds and options.get(FOLDS_KEY)):
            raise ValueError(
                f"dataset {name} has split '{s.split}' only (no datasets.{name}.{FOLDS_KEY}), not '{split}'"
            )
        kwargs["ids"] = fold_ids(options[FOLDS_KEY], split)
    root = data_root(raw_dir, options.get("subdir"))
    return s.adapter(root, out_dir, **kwargs, shard=shard, provenance=provenance, on_bad_sample=on_bad_sample)
