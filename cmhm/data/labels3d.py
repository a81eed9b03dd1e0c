"""3D training labels from 2D annotations (paper Sec. III-C's route for data with 2D labels only).

A sparse point distribution model is learned from the 3D shapes of the training split (68 + 84
markups + jaw contour candidates), then fitted to every training face's 2D annotation (68-point
semi-frontal or 39-point profile, through the union mapping) with a weak-perspective camera and
landmark marching. The same fit on a held-out split, whose 3D ground truth the model never saw,
measures the labels' accuracy.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cmhm.data.samples import PROJ3D_ARRAYS, SampleTable, concat_tables
from cmhm.geometry.yaw_bins import yaw_bin
from cmhm.landmarks.fit_table import fit_nme, fit_table
from cmhm.landmarks.shape_fit import FitConfig
from cmhm.landmarks.shape_model import PDM, build_pdm_shapes, learn_pdm


def learn_from_tables(tables: list[SampleTable], n_modes: int) -> PDM:
    """Learn the PDM from the 3D shapes of ``tables`` (they need the ``contour3d`` extra array)."""
    t = concat_tables(tables, tables[0].root)
    if "contour3d" not in t.extra:
        raise ValueError(
            f"{tables[0].root}: no contour3d array; the shape model needs 3D jaw contour candidates"
        )
    shapes, kept = build_pdm_shapes(t.arrays["lm3d_68"], t.arrays["lm3d_84"], t.extra["contour3d"])
    if kept.sum() < n_modes + 1:
        raise ValueError(
            f"{tables[0].root}: {kept.sum()} complete 3D shapes, need more than n_modes={n_modes}"
        )
    return learn_pdm(shapes, n_candidates=t.extra["contour3d"].shape[2], n_modes=n_modes)


def fit_tables(pdm: PDM, tables: list[SampleTable], mapping: dict[str, np.ndarray], cfg: FitConfig):
    """Fit every face of ``tables``; returns (concatenated table, dict of fitted arrays)."""
    t = concat_tables(tables, tables[0].root)
    a, idx = t.arrays, t.index
    fitted = fit_table(
        pdm,
        a["lm2d"],
        a["vis2d"],
        a["lm2d_profile"],
        idx["side"].to_numpy(),
        idx["view"].to_numpy(),
        mapping,
        cfg,
    )
    return t, fitted


def heldout_errors(table: SampleTable, fitted: dict[str, np.ndarray]) -> pd.DataFrame:
    """Per held-out face: box-normalised NME of the fitted 68 and 84 landmarks against ground truth."""
    gt68, gt84 = table.arrays["lm3d_68"], table.arrays["lm3d_84"]
    return pd.DataFrame(
        {
            "sample_id": table.index["sample_id"],
            "view": table.index["view"],
            "yaw": table.index["yaw"],
            "fit_ok": fitted["ok"],
            "nme2d_68": fit_nme(fitted["lm3d_68"], gt68, dims=2),
            "nme3d_68": fit_nme(fitted["lm3d_68"], gt68, dims=3),
            "nme2d_84": fit_nme(fitted["lm3d_84"], gt84, dims=2),
            "nme3d_84": fit_nme(fitted["lm3d_84"], gt84, dims=3),
        }
    )


def summarise(errors: pd.DataFrame) -> dict:
    """Mean / median of each NME column, overall, by view and by |yaw| bin."""
    cols = [c for c in errors.columns if c.startswith("nme")]
    ok = errors[errors["fit_ok"]]
    out = {"n": len(errors), "n_failed": int((~errors["fit_ok"]).sum())}
    for c in cols:
        out[c] = {"mean": float(ok[c].mean()), "median": float(ok[c].median())}
        out[c]["by_view"] = {str(k): float(v) for k, v in ok.groupby("view")[c].mean().items()}
        bins = yaw_bin(ok["yaw"].to_numpy())
        out[c]["by_yaw_bin"] = {str(k): float(v) for k, v in ok[c].groupby(bins).mean().items()}
    return out


def profile_correspondence(kind: str, union_mapping_path: str) -> dict[str, np.ndarray]:
    """Which 68-markup point each profile point is fitted to.

    ``"semantic"``: the markup's own correspondence (each profile point to the frontal landmark it
    sits on, several contour points sharing a jaw landmark); ``"union"``: the one-to-one union
    mapping built for the heatmap channels, which must send 12 contour points to distinct jaw points.
    """
    from cmhm.landmarks.markups import profile_semantic_mapping
    from cmhm.landmarks.union import load_mapping

    if kind == "semantic":
        return profile_semantic_mapping()
    if kind == "union":
        return load_mapping(union_mapping_path)
    raise ValueError(f"profile correspondence must be 'semantic' or 'union', got {kind!r}")


def write_fitted(path: str, sample_ids: np.ndarray, fitted: dict[str, np.ndarray]) -> None:
    """Write the fitted 3D labels (image pixels, ``[N, K, 3]`` per array) keyed by ``sample_id`` [N]."""
    np.savez(path, sample_id=np.asarray(sample_ids, dtype=str), **fitted)


def fitted_by_id(path: str, sample_ids: np.ndarray) -> dict[str, np.ndarray]:
    """The fitted 3D label arrays (``lm3d_68``, ``lm3d_84``: :data:`cmhm.data.samples.PROJ3D_ARRAYS`; not the
    fit's pose and residual) of ``path`` for the samples ``sample_ids`` [N], in that order, joined by id
    (not by row order): a sample without labels in ``path`` is an error naming the file and the samples."""
    with np.load(path, allow_pickle=False) as z:
        row = {sid: i for i, sid in enumerate(z["sample_id"].tolist())}
        lacking = [k for k in PROJ3D_ARRAYS.values() if k not in z.files]
        if lacking:
            raise ValueError(f"{path}: no {lacking} arrays; not a fitted-labels file of rule annotations_3d")
        arrays = {k: z[k] for k in PROJ3D_ARRAYS.values()}
    wanted = np.asarray(sample_ids, dtype=str).tolist()
    missing = [s for s in wanted if s not in row]
    if missing:
        raise ValueError(
            f"{path}: no fitted 3D labels for {len(missing)} of {len(wanted)} samples, e.g. {missing[:5]}; "
            "the labels were fitted to another training split (rerun rule annotations_3d)"
        )
    take = np.array([row[s] for s in wanted], dtype=np.int64)
    return {k: v[take] for k, v in arrays.items()}


def fit_settings(cfg: dict, union_mapping_path: str) -> tuple[FitConfig, dict[str, np.ndarray]]:
    """The fit's options and profile correspondence from the ``annotations_3d`` config (less
    ``heldout_split``): what rules annotations_3d and heldout_fit both fit with."""
    fit_cfg = FitConfig(n_iter=cfg["iterations"], n_refine=cfg["refinements"], reg=cfg["regularisation"])
    return fit_cfg, profile_correspondence(cfg["profile_correspondence"], union_mapping_path)
