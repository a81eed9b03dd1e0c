"""The normalised mean error (NME) of landmarks, with its normaliser named.

NME of a sample = mean over its counted points of the point-to-point error / a size of the tight box of its
ground-truth points. Two normalisers are in use:

- :func:`box_area_norm`: ``sqrt(w * h)`` of the (x, y) box (AFLW2000-3D, 3DDFA's benchmark; the 3D label
  fit's held-out error);
- :func:`box_diagonal_norm`: the box's diagonal (Menpo-3D tracking), over its first ``dims`` coordinates.

:mod:`cmhm.evaluation.metrics` (prediction errors, with their checks) and :mod:`cmhm.landmarks.fit_table`
(the 3D fit's error) both divide by these. Training's ``val_nme`` (:mod:`cmhm.training.validation`) uses
the box-area normaliser too, but in float32 torch on decoded maps; it is not routed through here, so its
logged values keep their rounding.
"""

from __future__ import annotations

import numpy as np


def box_sides(points: np.ndarray) -> np.ndarray:
    """[N, D] side lengths of the tight box of each sample's points [N, K, D] (float64); a point with any
    non-finite coordinate is left out of the box."""
    g = np.asarray(points, dtype=np.float64)
    g = np.where(np.isfinite(g).all(-1, keepdims=True), g, np.nan)
    return np.nanmax(g, axis=1) - np.nanmin(g, axis=1)


def box_area_norm(points: np.ndarray) -> np.ndarray:
    """[N] ``sqrt(w * h)`` of the tight (x, y) box of each sample's points [N, K, >= 2]."""
    wh = box_sides(np.asarray(points)[..., :2])
    return np.sqrt(wh[:, 0] * wh[:, 1])


def box_diagonal_norm(points: np.ndarray, dims: int = 2) -> np.ndarray:
    """[N] diagonal of the tight box of each sample's points [N, K, >= dims] over the first ``dims`` coordinates."""
    return np.linalg.norm(box_sides(np.asarray(points)[..., :dims]), axis=-1)


def nme(errors: np.ndarray, norm: np.ndarray) -> np.ndarray:
    """[N] mean over the counted points of ``errors`` [N, K] (NaN: not counted) / ``norm`` [N]."""
    return np.nanmean(errors, axis=1) / norm
