"""Landmark error metrics of the two evaluation protocols the paper reports.

AFLW2000-3D (paper Table I), as 3DDFA's public benchmark computes it
  Per image: the mean over the points of the 2D point-to-point distance between the prediction and
  the ground truth (x, y of the 3D landmarks' projections, i.e. ``lm3d_68[..., :2]``), divided by
  ``sqrt(w * h)`` of the tight box of the ground-truth points (:func:`nme_box`). Images are binned by
  |yaw| into [0, 30], (30, 60], (60, 90] degrees (:func:`cmhm.geometry.yaw_bins.yaw_bin`); the
  "Overall" figure is the mean of the three bin means, not the mean over images (:func:`aflw_table`
  gives both, labelled).

Menpo-3D tracking (paper Table II, Fig. 6)
  Per frame: the mean point-to-point distance normalised by the diagonal of the tight box of the
  ground-truth points (:func:`nme_diag`; 2D, or 3D with z). Over frames: the cumulative error
  distribution (:func:`ced`), its area up to a threshold divided by the threshold (:func:`auc`) and
  the share of frames whose error exceeds the threshold (:func:`failure_rate`).

Thresholds are arguments. Typical values: 0.05 for the Menpo challenges (2D and 3D), 0.08 for some
later 300W-style benchmarks. The AUC / failure-rate threshold behind the paper's Table II is not
stated in the text we could consult; 0.05 (the Menpo-challenge convention) is the assumed default.

All errors are unitless fractions (multiply by 100 for the "%" that tables usually print).
"""

from __future__ import annotations

import numpy as np

from cmhm.geometry.yaw_bins import YAW_EDGES, bin_labels, yaw_bin
from cmhm.landmarks.nme import box_area_norm, box_diagonal_norm, nme

MENPO_THRESHOLD = 0.05  # assumed: Menpo-challenge convention; the paper's Table II does not state it


def _point_errors(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray | None, dims: int | None) -> np.ndarray:
    """Point-to-point distances [N, K] over the first ``dims`` coordinates; NaN where not counted.

    A point counts when its ground truth is finite and ``mask`` (if given) is True. A counted point
    with a non-finite prediction, or a sample with no counted point, raises ``ValueError``.
    """
    pred, gt = np.asarray(pred, dtype=np.float64), np.asarray(gt, dtype=np.float64)
    if pred.shape != gt.shape or pred.ndim != 3:
        raise ValueError(f"pred {pred.shape} and gt {gt.shape} must both be [N, K, D]")
    d = gt.shape[-1] if dims is None else dims
    valid = np.isfinite(gt[..., :d]).all(-1)
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != valid.shape:
            raise ValueError(f"mask {mask.shape} must be [N, K] = {valid.shape}")
        valid &= mask
    empty = np.flatnonzero(~valid.any(-1))
    if empty.size:
        raise ValueError(
            f"sample {int(empty[0])} has no valid ground-truth point ({empty.size} such samples)"
        )
    bad = valid & ~np.isfinite(pred[..., :d]).all(-1)
    if bad.any():
        n, k = np.argwhere(bad)[0]
        raise ValueError(f"sample {n}: prediction of point {k} is not finite where the ground truth is")
    dist = np.linalg.norm(pred[..., :d] - gt[..., :d], axis=-1)
    return np.where(valid, dist, np.nan)


def nme_box(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """AFLW2000-3D NME per image: mean 2D point error / ``sqrt(w * h)`` of the ground-truth box -> [N].

    ``pred``, ``gt``: [N, K, 2] image pixels (pass ``lm3d[..., :2]`` for 3D landmarks); ``mask``
    [N, K] or None selects the points that count. Ground-truth points with NaN never count. The box
    is the tight box of all finite ground-truth points (independent of ``mask``), as in 3DDFA.
    """
    if np.shape(gt)[-1] != 2:
        raise ValueError(f"nme_box takes 2D points [N, K, 2], got {np.shape(gt)}; slice [..., :2] first")
    err = _point_errors(pred, gt, mask, dims=2)
    norm = box_area_norm(gt)
    if np.any(norm <= 0):
        raise ValueError(f"sample {int(np.flatnonzero(norm <= 0)[0])}: ground-truth box has no area")
    return nme(err, norm)


def nme_diag(
    pred: np.ndarray, gt: np.ndarray, mask: np.ndarray | None = None, diag_dims: int = 2
) -> np.ndarray:
    """Menpo-3D NME per frame: mean point error / diagonal of the ground-truth box -> [N].

    ``pred``, ``gt``: [N, K, D] with D = 2 (x, y) or 3 (x, y, z; z in the same pixel units), the
    point error taken over all D coordinates. The normaliser is the diagonal of the tight box of the
    finite ground-truth points over their first ``diag_dims`` coordinates: the default 2 uses the
    image-plane box for both the 2D and the 3D error, so they share one scale; 3 uses the 3D box.
    """
    d = np.shape(gt)[-1]
    if d not in (2, 3) or not 2 <= diag_dims <= d:
        raise ValueError(
            f"nme_diag takes D in (2, 3) and 2 <= diag_dims <= D; got D={d}, diag_dims={diag_dims}"
        )
    err = _point_errors(pred, gt, mask, dims=d)
    diag = box_diagonal_norm(gt, diag_dims)
    if np.any(diag <= 0):
        raise ValueError(f"sample {int(np.flatnonzero(diag <= 0)[0])}: ground-truth box is a single point")
    return nme(err, diag)


def aflw_table(nme: np.ndarray, yaw: np.ndarray, edges: tuple[float, ...] = YAW_EDGES) -> dict:
    """AFLW2000-3D summary of per-image errors ``nme`` [N] and yaws ``yaw`` [N] (degrees).

    Returns ``{"edges", "bins": {label: {"mean", "count"}}, "overall_mean_of_bins", "overall_ci95",
    "per_image_mean", "n"}`` ("overall_ci95": :func:`mean_of_bins_ci`). "overall_mean_of_bins" is the paper's "Overall" (mean of the bin
    means); it is NaN when a bin is empty (the protocol is undefined then), as is that bin's mean.
    """
    nme = np.asarray(nme, dtype=np.float64)
    if nme.shape != np.shape(yaw) or nme.ndim != 1:
        raise ValueError(f"nme {nme.shape} and yaw {np.shape(yaw)} must both be [N]")
    b = yaw_bin(yaw, edges)
    bins, means = {}, []
    for i, label in enumerate(bin_labels(edges)):
        sel = nme[b == i]
        mean = float(sel.mean()) if sel.size else float("nan")
        bins[label] = {"mean": mean, "count": int(sel.size)}
        means.append(mean)
    return {
        "edges": [float(e) for e in edges],
        "bins": bins,
        "overall_mean_of_bins": float(np.mean(means)),
        "overall_ci95": mean_of_bins_ci(nme, b, len(means)),
        "per_image_mean": float(nme.mean()) if nme.size else float("nan"),
        "n": int(nme.size),
    }


def mean_of_bins_ci(
    nme: np.ndarray,
    bin_index: np.ndarray,
    n_bins: int,
    level: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
) -> list[float]:
    """Percentile-bootstrap interval [lo, hi] of the mean of bin means, resampling images within each bin.

    ``nme`` [N] per-image errors, ``bin_index`` [N] their bin (0..n_bins-1, from :func:`yaw_bin`).
    Seeded, so the same errors give the same interval; [NaN, NaN] when a bin is empty.
    """
    rng = np.random.default_rng(seed)
    boot = np.zeros(n_boot)
    for i in range(n_bins):
        sel = nme[bin_index == i]
        if sel.size == 0:
            return [float("nan"), float("nan")]
        boot += sel[rng.integers(0, sel.size, (n_boot, sel.size))].mean(axis=1) / n_bins
    lo, hi = np.quantile(boot, [(1 - level) / 2, (1 + level) / 2])
    return [float(lo), float(hi)]


def paired_mean_of_bins_diff(nme: np.ndarray, ref: np.ndarray, yaw: np.ndarray) -> dict:
    """Mean-of-bins NME of ``nme`` minus that of ``ref`` (both [N], the same images in the same order,
    yaw [N] degrees) with a paired percentile-bootstrap interval: each resample draws the same images
    (within each yaw bin) for both, so what the two share cancels. ``{"diff", "lo", "hi"}``; NaN when a
    bin is empty. An interval that excludes 0 says the difference is larger than test-set noise.

    The mean of bin means is linear, so this is :func:`aflw_table` of the per-image differences."""
    nme, ref = np.asarray(nme, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    if nme.shape != ref.shape or nme.shape != np.shape(yaw) or nme.ndim != 1:
        raise ValueError(f"nme {nme.shape}, ref {ref.shape} and yaw {np.shape(yaw)} must all be [N]")
    t = aflw_table(nme - ref, yaw)
    lo, hi = t["overall_ci95"]
    return {"diff": t["overall_mean_of_bins"], "lo": lo, "hi": hi}


def bin_means(table: dict) -> dict[str, float]:
    """``{bin label: mean, ..., "Overall": mean of bins}`` from an :func:`aflw_table` result (for plots)."""
    out = {label: v["mean"] for label, v in table["bins"].items()}
    out["Overall"] = table["overall_mean_of_bins"]
    return out


def _errors_1d(errors: np.ndarray) -> np.ndarray:
    e = np.asarray(errors, dtype=np.float64).ravel()
    if np.isnan(e).any() or (e < 0).any():
        raise ValueError("errors must be non-negative and not NaN (use inf for a frame with no result)")
    return e


def ced(errors: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Cumulative error distribution: share of ``errors`` [N] that are ``<= t`` for each threshold [T] -> [T]."""
    e = np.sort(_errors_1d(errors))
    t = np.asarray(thresholds, dtype=np.float64)
    if e.size == 0:
        return np.full(t.shape, np.nan)
    return np.searchsorted(e, t, side="right") / e.size


def auc(errors: np.ndarray, threshold: float = MENPO_THRESHOLD, step: float | None = None) -> float:
    """Area under the CED of ``errors`` [N] from 0 to ``threshold``, divided by ``threshold`` (in [0, 1]).

    ``step=None`` integrates exactly: the CED is a step function, and
    ``integral_0^T (1/N) sum_i [e_i <= t] dt = (1/N) sum_i max(0, T - e_i)``, so
    AUC = ``mean(max(0, T - e)) / T``. With a ``step``, the trapezoid rule on the grid
    ``0, step, ..., T`` is used instead (what challenge scripts do; it converges to the exact value).
    """
    e = _errors_1d(errors)
    if threshold <= 0:
        raise ValueError(f"threshold must be positive, got {threshold}")
    if e.size == 0:
        return float("nan")
    if step is None:
        return float(np.mean(np.maximum(0.0, threshold - e)) / threshold)
    n = round(threshold / step)
    if n < 1 or not np.isclose(n * step, threshold):
        raise ValueError(f"step {step} must divide threshold {threshold}")
    grid = np.linspace(0.0, threshold, n + 1)
    return float(np.trapezoid(ced(e, grid), grid) / threshold)


def failure_rate(errors: np.ndarray, threshold: float = MENPO_THRESHOLD) -> float:
    """Share of ``errors`` [N] strictly greater than ``threshold`` (the complement of the CED there)."""
    e = _errors_1d(errors)
    return float(np.mean(e > threshold)) if e.size else float("nan")


def tracking_summary(errors: np.ndarray, threshold: float = MENPO_THRESHOLD) -> dict:
    """``{"auc", "failure_rate", "mean", "median", "n", "no_result", "threshold"}`` of per-frame errors [N].

    A frame with no result (error inf) counts in AUC and failure rate as a failure; ``mean`` and
    ``median`` are over the frames with a result, ``no_result`` counts the others.
    """
    e = _errors_1d(errors)
    fin = e[np.isfinite(e)]
    return {
        "auc": auc(e, threshold),
        "failure_rate": failure_rate(e, threshold),
        "mean": float(np.mean(fin)) if fin.size else float("nan"),
        "median": float(np.median(fin)) if fin.size else float("nan"),
        "n": int(e.size),
        "no_result": int(e.size - fin.size),
        "threshold": float(threshold),
    }
