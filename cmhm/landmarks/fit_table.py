"""Batch PDM fitting over a sample table, and the fit metric."""

from __future__ import annotations

import numpy as np

from cmhm.landmarks.markups import IBUG68, MENPO84
from cmhm.landmarks.nme import box_area_norm, nme
from cmhm.landmarks.shape_fit import FitConfig, FitResult, fit_profile, fit_semifrontal
from cmhm.landmarks.shape_model import PDM


def _store(out: dict[str, np.ndarray], i: int, r: FitResult) -> None:
    out["lm3d_68"][i], out["lm3d_84"][i] = r.lm3d_68, r.lm3d_84
    for k in ("yaw", "pitch", "roll", "scale", "residual"):
        out[k][i] = getattr(r, k)
    out["alpha"][i] = r.alpha
    out["ok"][i] = True


def fit_table(
    pdm: PDM,
    lm2d: np.ndarray,
    vis2d: np.ndarray,
    lm2d_profile: np.ndarray,
    side: np.ndarray,
    view: np.ndarray,
    profile_mapping: dict[str, np.ndarray],
    cfg: FitConfig | None = None,
    min_points: int = 6,
) -> dict[str, np.ndarray]:
    """Fit every sample: semi-frontal rows from lm2d [N, 68, 2] with vis2d [N, 68], profile rows from
    lm2d_profile [N, 39, 2] with ``profile_mapping[side[i]]`` [39].

    Returns lm3d_68 [N, 68, 3], lm3d_84 [N, 84, 3], yaw/pitch/roll/scale/residual [N], alpha [N, M]
    and ok [N] (False, with NaN rows, where a sample has fewer than ``min_points`` usable points).
    """
    cfg = cfg or FitConfig()
    n = len(view)
    out = {
        "lm3d_68": np.full((n, IBUG68.n_points, 3), np.nan),
        "lm3d_84": np.full((n, MENPO84.n_points, 3), np.nan),
        **{k: np.full(n, np.nan) for k in ("yaw", "pitch", "roll", "scale", "residual")},
        "alpha": np.full((n, pdm.n_modes), np.nan),
        "ok": np.zeros(n, dtype=bool),
    }
    for i in range(n):
        if view[i] == "profile" and side[i] in profile_mapping:
            if np.isfinite(lm2d_profile[i]).all(-1).sum() >= min_points:
                _store(out, i, fit_profile(pdm, lm2d_profile[i], profile_mapping[side[i]], cfg))
        elif view[i] == "semifrontal":
            usable = np.isfinite(lm2d[i]).all(-1) & np.asarray(vis2d[i], dtype=bool)
            if usable.sum() >= min_points:
                _store(out, i, fit_semifrontal(pdm, lm2d[i], vis2d[i], cfg))
    return out


def fit_nme(pred3d: np.ndarray, gt3d: np.ndarray, dims: int = 3) -> np.ndarray:
    """[N] mean point-to-point error of pred3d vs gt3d [N, K, 3], normalised by sqrt(w * h) of the
    ground truth's (x, y) landmark box.

    ``dims=2`` compares (x, y) only; ``dims=3`` also z after subtracting each set's own mean z (the
    depth origin is arbitrary). Points with NaN in either are ignored.
    """
    pred3d, gt3d = np.asarray(pred3d, dtype=np.float64), np.asarray(gt3d, dtype=np.float64)
    ok = np.isfinite(pred3d).all(-1) & np.isfinite(gt3d).all(-1)
    p = np.where(ok[..., None], pred3d, np.nan)[..., :dims]
    g = np.where(ok[..., None], gt3d, np.nan)[..., :dims]
    if dims == 3:
        p = p - np.concatenate(
            [np.zeros_like(p[..., :1, :2]), np.nanmean(p[..., 2:], axis=-2, keepdims=True)], -1
        )
        g = g - np.concatenate(
            [np.zeros_like(g[..., :1, :2]), np.nanmean(g[..., 2:], axis=-2, keepdims=True)], -1
        )
    return nme(np.linalg.norm(p - g, axis=-1), box_area_norm(g))
