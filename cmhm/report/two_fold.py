"""Table I of a two-fold check: the per-image results of two runs whose test folds partition one set.

Each run's models were trained on one fold and tested on the other (``configs/real_faces_{a,b}.yaml``),
so joining the runs' ``per_image.csv`` per variant tests every image once, by a model that never saw it.
The join refuses folds that overlap, and variants that cover different images. Statistics as Table I's
(:func:`cmhm.report.seeds.seed_summary`): NME % per |yaw| bin, their mean, a 95 % interval resampling
images within bins, and each variant's paired difference to the first.
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


def join_folds(runs: Sequence[Mapping[str, pd.DataFrame]], names: Sequence[str]) -> dict[str, pd.DataFrame]:
    """Per variant, the runs' per-image frames (sample_id, yaw, nme) stacked and sorted by id.

    ``names`` name the runs in errors. Only variants every run has are joined."""
    variants = [v for v in runs[0] if all(v in r for r in runs)]
    out, ids = {}, None
    for v in variants:
        seen: dict[str, str] = {}
        for name, run in zip(names, runs):
            for sid in run[v]["sample_id"].astype(str):
                if sid in seen:
                    raise ValueError(
                        f"{v}: image {sid} is tested in both {seen[sid]} and {name}: folds overlap"
                    )
                seen[sid] = name
        joined = pd.concat([r[v][["sample_id", "yaw", "nme"]] for r in runs]).sort_values("sample_id")
        if ids is not None and not np.array_equal(joined["sample_id"].astype(str).to_numpy(), ids):
            raise ValueError(f"{v} covers other images than {variants[0]} across {', '.join(names)}")
        ids = joined["sample_id"].astype(str).to_numpy()
        out[v] = joined.reset_index(drop=True)
    return out


def with_others(
    joined: Mapping[str, pd.DataFrame], others: Mapping[str, Mapping[str, pd.DataFrame]]
) -> dict[str, pd.DataFrame]:
    """``joined`` followed by each other check's variants, named "variant (label)": ``others`` maps a
    label to its joined frames (e.g. the same check at another crop size, or a model scored on the whole
    set). Each must test the same images, so every difference is paired by image."""
    ids = next(iter(joined.values()))["sample_id"].astype(str).to_numpy()
    out = dict(joined)
    for label, frames in others.items():
        for v, df in frames.items():
            if not np.array_equal(df["sample_id"].astype(str).to_numpy(), ids):
                raise ValueError(f"{v} ({label}) covers other images than {next(iter(joined))}")
            out[f"{v} ({label})"] = df
    return out


def two_fold_table(joined: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per variant: NME % per |yaw| bin, Mean (of bins) with its 95 % interval, n, and the
    difference to the first variant with its paired interval."""
    first = next(iter(joined.values()))
    bins = yaw_bin(first["yaw"].to_numpy())
    summary = seed_summary({v: 100 * df["nme"].to_numpy()[None] for v, df in joined.items()}, bins)
    labels = bin_labels()
    rows = []
    for v, df in joined.items():
        nme = 100 * df["nme"].to_numpy()
        s = summary[v]
        row = {"variant": v, **{labels[b]: nme[bins == b].mean() for b in range(len(labels))}}
        row.update(
            {"Mean": s["mean"], "CI95 low": s["lo"], "CI95 high": s["hi"], "n": len(df)}
            | {"Mean - first": s["diff"], "diff CI95 low": s["diff_lo"], "diff CI95 high": s["diff_hi"]}
        )
        rows.append(row)
    return pd.DataFrame(rows)


def per_image_files(run_dir: str | os.PathLike, dataset: str) -> dict[str, pd.DataFrame]:
    """variant -> the seed-0 ``per_image.csv`` of ``run_dir``/eval/``dataset`` (one seed: the check's)."""
    found = sorted(Path(run_dir, "eval", dataset).glob("*/seed0/per_image.csv"))
    if not found:
        raise ValueError(
            f"{run_dir}: no eval/{dataset}/<variant>/seed0/per_image.csv (has the run finished?)"
        )
    frames = {p.parents[1].name: pd.read_csv(p) for p in found}
    order = list(VARIANTS)  # Table I's order; another name after them
    return {v: frames[v] for v in sorted(frames, key=lambda v: order.index(v) if v in order else len(order))}
