"""Floors and controls printed beside Table I: what no variant can beat at this configuration.

- decoding floor (:func:`decoding_floor`): the test crops' ground-truth landmarks rendered as Gaussians
  at the configured map size and sigma, decoded by :func:`cmhm.heatmaps.decode_heatmaps`, scored like a
  prediction (NME, mean of |yaw| bins). A perfect network still pays this.
- label floor (:func:`label_floor`): the 3D fit's held-out error (``heldout_fit.csv`` of
  ``annotations_3d``): how far the fitted training labels are from the synthetic truth.
- ground-truth warp (:func:`gt_warp_predict`): stage 2 of a cascade on crops warped by the Procrustes
  fit of the *ground-truth* 2D landmarks instead of stage 1's prediction, the upper bound of the
  spatial transform.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from cmhm.heatmaps import crop_to_map, decode_heatmaps, map_to_crop, render_heatmaps
from cmhm.metrics import aflw_table, nme_box
from cmhm.models import Cascade
from cmhm.train_data import to_tensor
from cmhm.warp import apply_affine_torch, fit_to_means, invert_affine_torch, warp_images

FLOOR_COLUMNS = ["floor", "Mean", "[0, 30]", "(30, 60]", "(60, 90]", "n", "note"]


@torch.no_grad()
def decode_gt(points: np.ndarray, crop_size: int, map_size: int, sigma: float) -> np.ndarray:
    """Crop-pixel landmarks [N, K, 2] -> Gaussians at ``map_size`` (std ``sigma`` map px) -> decoded
    back to crop pixels [N, K, 2]; NaN points stay NaN."""
    p = torch.as_tensor(np.asarray(points, dtype=np.float64))
    maps = render_heatmaps(crop_to_map(p, crop_size, map_size), map_size, sigma)
    dec, _ = decode_heatmaps(maps)
    out = map_to_crop(dec, crop_size, map_size).numpy()
    return np.where(np.isfinite(points), out, np.nan)


def decoding_floor(points: np.ndarray, yaw: np.ndarray, crop_size: int, map_size: int, sigma: float) -> dict:
    """NME of :func:`decode_gt` against ``points`` [N, K, 2] (crop pixels; the box normaliser is the same
    in crop and image pixels up to scale) as an :func:`cmhm.metrics.aflw_table` dict, plus
    ``max_map_px``: the largest decoding error of a point in map pixels."""
    dec = decode_gt(points, crop_size, map_size, sigma)
    err = np.linalg.norm(dec - points, axis=-1) * map_size / crop_size
    return {**aflw_table(nme_box(dec, points), yaw), "max_map_px": float(np.nanmax(err))}


def label_floor(heldout: pd.DataFrame, column: str = "nme2d_68") -> dict:
    """The 3D fit's held-out error (``heldout_fit.csv``: yaw, fit_ok, ``column``) as an aflw_table dict,
    over the faces whose fit succeeded (``n_failed`` counts the others)."""
    for c in ("yaw", "fit_ok", column):
        if c not in heldout.columns:
            raise ValueError(f"held-out fit table lacks column {c!r} (has {list(heldout.columns)})")
    ok = heldout[heldout["fit_ok"].astype(bool)]
    return {
        **aflw_table(ok[column].to_numpy(np.float64), ok["yaw"].to_numpy()),
        "n_failed": int(len(heldout) - len(ok)),
    }


@torch.no_grad()
def gt_warp_predict(
    cascade: Cascade, images: np.ndarray, gt_points: np.ndarray, batch_size: int = 16, device: str = "cpu"
) -> np.ndarray:
    """Stage 2 of a two-stage ``cascade`` on crops ``images`` uint8 [N, S, S, 3] warped by the fit of
    ``gt_points`` [N, K, 2] (crop pixels, stage 1's markup, NaN where absent) onto the cascade's mean
    shapes -> points [N, K2, 2] in crop pixels. The same warp as :meth:`Cascade.forward`, with the
    ground truth (weight 1 where present) in place of stage 1's decoded points."""
    if len(cascade.stages) != 2:
        raise ValueError(
            f"the ground-truth warp needs a two-stage cascade, got {len(cascade.stages)} stage(s)"
        )
    k = cascade.mean_shape(0).shape[1]
    if gt_points.shape[1:] != (k, 2):
        raise ValueError(f"ground-truth points {gt_points.shape} must be [N, {k}, 2] (stage 1's markup)")
    cascade = cascade.to(device).eval()
    stage = cascade.stages[1]
    out = []
    for lo in range(0, len(images), batch_size):
        x = to_tensor(np.asarray(images[lo : lo + batch_size])).to(device)
        g = torch.as_tensor(np.asarray(gt_points[lo : lo + batch_size], dtype=np.float32), device=device)
        w = torch.isfinite(g).all(-1).float()
        A, _ = fit_to_means(torch.nan_to_num(g), w, cascade.mean_shape(0))
        pts, _ = Cascade.decode(stage, stage(warp_images(x, A, stage.cfg.in_size))[-1])
        out.append(apply_affine_torch(invert_affine_torch(A), pts).cpu().numpy())
    return np.concatenate(out)
