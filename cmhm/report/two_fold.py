"""Table I of a two-fold check: the per-image results of two runs whose test folds partition one set.

Each run's models were trained on one fold and tested on the other (``configs/real_faces_{a,b}.yaml``),
so joining the runs' ``per_image.csv`` per variant tests every image once, by a model that never saw it.
The join refuses folds that overlap, and variants that cover different images. Statistics as Table I's
(:func:`cmhm.report.seeds.seed_summary`): NME % per |yaw| bin, their mean, a 95 % interval resampling
images within bins (and seeds, where a run holds several), and each variant's paired difference to the first.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from cmhm.geometry.yaw_bins import bin_labels, yaw_bin
from cmhm.pipeline.variants import VARIANTS
from cmhm.report.seeds import seed_summary

CAPTION = "two-fold real-face check (each image tested by the fold model that never saw it); not the paper's protocol"
CAPTION_ONE = (
    "every image tested by one run's models (e.g. synthetic-trained: sim-to-real); not the paper's protocol"
)


def _by_seed(frames: pd.DataFrame | Mapping[int, pd.DataFrame]) -> dict[int, pd.DataFrame]:
    """A variant's per-image frames by seed (one frame alone: seed 0)."""
    return dict(frames) if isinstance(frames, Mapping) else {0: frames}


def join_folds(
    runs: Sequence[Mapping[str, pd.DataFrame | Mapping[int, pd.DataFrame]]], names: Sequence[str]
) -> dict[str, list[pd.DataFrame]]:
    """Per variant, one frame per seed (sample_id, yaw, nme): the runs' per-image frames of that seed
    stacked and sorted by id.

    A run maps variant -> its frame, or variant -> {seed: frame}. ``names`` name the runs in errors. Only
    variants every run has are joined; the runs must hold the same seeds of a variant."""
    variants = [v for v in runs[0] if all(v in r for r in runs)]
    out: dict[str, list[pd.DataFrame]] = {}
    ids = None
    for v in variants:
        per_run = [_by_seed(r[v]) for r in runs]
        seeds = sorted(per_run[0])
        for name, run in zip(names, per_run):
            if sorted(run) != seeds:
                raise ValueError(f"{v}: {name} holds seeds {sorted(run)}, {names[0]} seeds {seeds}")
        out[v] = []
        for seed in seeds:
            seen: dict[str, str] = {}
            for name, run in zip(names, per_run):
                for sid in run[seed]["sample_id"].astype(str):
                    if sid in seen:
                        raise ValueError(
                            f"{v}: image {sid} is tested in both {seen[sid]} and {name}: folds overlap"
                        )
                    seen[sid] = name
            joined = pd.concat([r[seed][["sample_id", "yaw", "nme"]] for r in per_run]).sort_values(
                "sample_id"
            )
            if ids is not None and not np.array_equal(joined["sample_id"].astype(str).to_numpy(), ids):
                raise ValueError(
                    f"{v} (seed {seed}) covers other images than {variants[0]} across {', '.join(names)}"
                )
            ids = joined["sample_id"].astype(str).to_numpy()
            out[v].append(joined.reset_index(drop=True))
    return out


def with_others(
    joined: Mapping[str, list[pd.DataFrame]], others: Mapping[str, Mapping[str, list[pd.DataFrame]]]
) -> dict[str, list[pd.DataFrame]]:
    """``joined`` followed by each other check's variants, named "variant (label)": ``others`` maps a
    label to its joined frames (e.g. the same check at another crop size, or a model scored on the whole
    set). Each must test the same images, so every difference is paired by image."""
    ids = next(iter(joined.values()))[0]["sample_id"].astype(str).to_numpy()
    out = dict(joined)
    for label, frames in others.items():
        for v, seeds in frames.items():
            if any(not np.array_equal(df["sample_id"].astype(str).to_numpy(), ids) for df in seeds):
                raise ValueError(f"{v} ({label}) covers other images than {next(iter(joined))}")
            out[f"{v} ({label})"] = seeds
    return out


def reference_row(name: str, names: Sequence[str], by_variant: bool) -> str:
    """The row a row's difference is taken to: the first row; with ``by_variant``, for a row
    "variant (label)" the plain "variant" row where there is one."""
    base = name.split(" (", 1)[0]
    return base if by_variant and base != name and base in names else names[0]


def two_fold_table(joined: Mapping[str, list[pd.DataFrame]], by_variant: bool = False) -> pd.DataFrame:
    """One row per variant: NME % per |yaw| bin (mean over seeds), Mean (of bins, over seeds) with the
    seeds' sd and count and a 95 % interval, n, and the difference to a reference row with its paired
    interval: the first row, or with ``by_variant`` a labelled row's own variant (:func:`reference_row`;
    column "minus")."""
    first = next(iter(joined.values()))[0]
    bins = yaw_bin(first["yaw"].to_numpy())
    nme = {v: 100 * np.stack([df["nme"].to_numpy() for df in seeds]) for v, seeds in joined.items()}
    summary = seed_summary(nme, bins)
    names = list(nme)
    refs = {v: reference_row(v, names, by_variant) for v in names}
    for v, ref in refs.items():
        if ref != names[0]:  # the same bootstrap, with that row as the reference
            paired = seed_summary({ref: nme[ref], v: nme[v]}, bins)[v]
            summary[v] = {**summary[v], **{k: paired[k] for k in ("diff", "diff_lo", "diff_hi")}}
    labels = bin_labels()
    rows = []
    for v, seeds in joined.items():
        s = summary[v]
        row = {"variant": v, **{labels[b]: nme[v][:, bins == b].mean(1).mean() for b in range(len(labels))}}
        row.update(
            {"Mean": s["mean"], "Mean sd (seeds)": s["sd"], "seeds": s["n_seeds"]}
            | {"CI95 low": s["lo"], "CI95 high": s["hi"], "n": len(seeds[0])}
            | {"Mean - first": s["diff"], "diff CI95 low": s["diff_lo"], "diff CI95 high": s["diff_hi"]}
            | {"minus": refs[v]}
        )
        rows.append(row)
    return pd.DataFrame(rows)


def restrict(
    files: Mapping[str, Mapping[int, pd.DataFrame]], ids: frozenset[str]
) -> dict[str, dict[int, pd.DataFrame]]:
    """``files`` (variant -> {seed: per-image frame}) with only the rows whose sample_id is in ``ids``."""
    return {
        v: {seed: df[df["sample_id"].astype(str).isin(ids)] for seed, df in seeds.items()}
        for v, seeds in files.items()
    }


def per_image_files(run_dir: str | os.PathLike, dataset: str) -> dict[str, dict[int, pd.DataFrame]]:
    """variant -> {seed: its ``per_image.csv``} of ``run_dir``/eval/``dataset``, every seed the run tested."""
    found = sorted(Path(run_dir, "eval", dataset).glob("*/seed*/per_image.csv"))
    if not found:
        raise ValueError(
            f"{run_dir}: no eval/{dataset}/<variant>/seed<N>/per_image.csv (has the run finished?)"
        )
    frames: dict[str, dict[int, pd.DataFrame]] = {}
    for p in found:
        frames.setdefault(p.parents[1].name, {})[int(p.parent.name.removeprefix("seed"))] = pd.read_csv(p)
    order = list(VARIANTS)  # Table I's order; another name after them
    return {
        v: dict(sorted(frames[v].items()))
        for v in sorted(frames, key=lambda v: order.index(v) if v in order else len(order))
    }
