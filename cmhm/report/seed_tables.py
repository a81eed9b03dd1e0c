"""Table I and II over training seeds: per variant the mean over seeds, their spread, a hierarchical
bootstrap interval and the paired difference to the first variant (:mod:`cmhm.report.seeds`).

Which file belongs to which variant and seed is read from its path: the component ``seed<k>`` and the
component just before it (the variant), as in ``results/<run>/eval/<test set>/<variant>/seed<k>/...``
(:func:`group_by_seed`). A path without exactly one such component, a variant that is not configured,
a seed given twice, or a configured variant without files is an error naming the path or variant.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import PurePath

import numpy as np
import pandas as pd

from cmhm.evaluation.metrics import aflw_table
from cmhm.geometry.yaw_bins import bin_labels, yaw_bin
from cmhm.report.published import TEXT_COLUMNS, table1_columns
from cmhm.report.seeds import seed_summary, table1_values, table2_values
from cmhm.report.tables import CI_COLUMNS, DELTA_COLUMNS, VARIANT_LABELS, failure_check_label, quoted_source

SEED_DIR = re.compile(r"^seed(\d+)$")
SPREAD_COLUMNS = ["Mean sd (seeds)", "Mean min (seeds)", "Mean max (seeds)", "seeds"]
# The paper's rows each add one module to the row above: Mean minus the previous measured row's, with a
# paired interval over the same seeds and images (empty in the first row).
STEP_COLUMNS = ["Mean - previous", "(Mean - previous) CI95 low", "(Mean - previous) CI95 high"]


def group_by_seed(paths: Sequence[str | os.PathLike], variants: Sequence[str]) -> dict[str, list[str]]:
    """variant -> its files ordered by seed, for every configured variant (in ``variants`` order)."""
    found: dict[str, dict[int, str]] = {v: {} for v in variants}
    for p in map(str, paths):
        parts = PurePath(p).parts
        hits = [i for i, c in enumerate(parts) if SEED_DIR.match(c)]
        if len(hits) != 1 or hits[0] == 0:
            raise ValueError(f"{p}: expected exactly one 'seed<k>' folder after the variant's folder")
        variant, seed = parts[hits[0] - 1], int(SEED_DIR.match(parts[hits[0]]).group(1))
        if variant not in found:
            raise ValueError(f"{p}: variant {variant!r} is not one of the configured {list(variants)}")
        if seed in found[variant]:
            raise ValueError(f"{p}: seed {seed} of {variant} given twice ({found[variant][seed]})")
        found[variant][seed] = p
    empty = [v for v, s in found.items() if not s]
    if empty:
        raise ValueError(f"no files for variant(s) {empty} among {len(paths)} paths")
    return {v: [s[k] for k in sorted(s)] for v, s in found.items()}


def _spread_cells(s: dict, scale: float, name: str = "Mean") -> dict:
    return {
        f"{name} sd (seeds)": s["sd"] * scale,
        f"{name} min (seeds)": s["min"] * scale,
        f"{name} max (seeds)": s["max"] * scale,
    }


def table1_seed_frame(
    per_image: Mapping[str, list[pd.DataFrame]], quoted: list[dict] | None = None, seed: int = 0
) -> pd.DataFrame:
    """Table I (NME %) from per variant its seeds' ``per_image.csv`` frames (the first variant is the
    reference): bins and Mean are means over seeds; spread, interval and paired difference over seeds
    and images (:func:`cmhm.report.seeds.seed_summary`, images resampled within |yaw| bins)."""
    values, yaw, _ = table1_values(per_image)
    stats = seed_summary(values, yaw_bin(yaw), seed=seed)
    names = list(values)
    steps = {
        v: seed_summary({p: values[p], v: values[v]}, yaw_bin(yaw), seed=seed)[v]
        for p, v in zip(names, names[1:])
    }
    rows = []
    for v, errs in values.items():
        tables = [aflw_table(e, yaw) for e in errs]
        bins = [np.mean([t["bins"][b]["mean"] for t in tables]) * 100 for b in bin_labels()]
        s = stats[v]
        rows.append(
            {
                "method": VARIANT_LABELS.get(v, v),
                "source": "measured",
                **dict(zip(table1_columns(), [*bins, s["mean"] * 100])),
                **_spread_cells(s, 100),
                "seeds": s["n_seeds"],
                **dict(zip(CI_COLUMNS, [s["lo"] * 100, s["hi"] * 100])),
                **dict(zip(DELTA_COLUMNS, [s["diff"] * 100, s["diff_lo"] * 100, s["diff_hi"] * 100])),
                **(
                    dict(zip(STEP_COLUMNS, [steps[v][k] * 100 for k in ("diff", "diff_lo", "diff_hi")]))
                    if v in steps
                    else {}
                ),
                "per-image mean": float(errs.mean()) * 100,
                "n": len(yaw),
            }
        )
    rows += [{**q, "source": quoted_source(q["source"])} for q in quoted or []]
    columns = [*TEXT_COLUMNS, *table1_columns(), *SPREAD_COLUMNS, *CI_COLUMNS, *DELTA_COLUMNS, *STEP_COLUMNS]
    df = pd.DataFrame(rows, columns=[*columns, "per-image mean", "n"])
    return df.astype({"n": "Int64", "seeds": "Int64"})


def table1_seed_tex_columns() -> list[str]:
    """LaTeX columns: the paper's (method, bins, Mean; seed means), the seed sd of Mean, the difference."""
    return ["method", *table1_columns(), SPREAD_COLUMNS[0], DELTA_COLUMNS[0]]


TABLE2_SEED_TEX = ["AUC", "AUC sd (seeds)", "FR (%)", "FR (%) sd (seeds)"]


def table2_seed_frame(
    per_frame: Mapping[str, list[pd.DataFrame]],
    summaries: Mapping[str, list[dict]],
    threshold: float,
    quoted: list[dict] | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """Table II from per variant its seeds' ``per_frame.csv`` frames and ``tracking_metrics.json`` dicts:
    AUC and FR (%) as means over seeds with spread, interval and paired difference (seeds and whole
    videos resampled); re-detections averaged over seeds."""
    auc_v, fail_v, video = table2_values(per_frame, threshold)
    strata = np.zeros(len(video))
    auc_s = seed_summary(auc_v, strata, clusters=video, seed=seed)
    fr_s = seed_summary(fail_v, strata, clusters=video, seed=seed)
    rows = []
    for v in auc_v:
        row = {"method": VARIANT_LABELS.get(v, v), "source": "measured"}
        for name, s, k in (("AUC", auc_s[v], 1.0), ("FR (%)", fr_s[v], 100.0)):
            row[name] = s["mean"] * k
            row.update(_spread_cells(s, k, name))
            row.update({f"{name} CI95 low": s["lo"] * k, f"{name} CI95 high": s["hi"] * k})
            row.update({f"{name} - ref": s["diff"] * k, f"({name} - ref) CI95 low": s["diff_lo"] * k})
            row[f"({name} - ref) CI95 high"] = s["diff_hi"] * k
        row["seeds"] = auc_s[v]["n_seeds"]
        row["re-detections"] = float(np.mean([t["redetections"] for t in summaries[v]]))
        row["frames"] = len(video)
        row["failure check"] = failure_check_label(summaries[v][0])
        rows.append(row)
    rows += [{**q, "source": quoted_source(q["source"])} for q in quoted or []]
    df = pd.DataFrame(rows).astype({"frames": "Int64", "seeds": "Int64"})
    return df.assign(threshold=threshold)
