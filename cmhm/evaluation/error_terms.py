"""Where a model's landmark error comes from: the placement of the whole shape, or the shape itself.

Each prediction is aligned to its ground truth by the least-squares similarity (scale, rotation,
translation; :func:`cmhm.geometry.similarity.procrustes`). The NME left after that alignment is the
error of the shape; the difference to the plain NME is the error of its placement (where the face is,
its size and its in-plane rotation). A point that a model places elsewhere on every face (another
labelling convention) shows as the NME without each point's mean offset over the images. Beside them: the NME of each point group of the markup (left and
right merged: ``eye_left`` and ``eye_right`` count as ``eye``), and the quartiles of the placement
terms: centroid offset (% of the ground-truth box's ``sqrt(w * h)``), scale ratio (prediction / ground
truth) and |rotation| (degrees). Every NME is the AFLW2000-3D one (:func:`cmhm.evaluation.metrics.nme_box`),
summarised as the mean of the |yaw| bins, as Table I.
"""

from __future__ import annotations

import numpy as np

from cmhm.evaluation.metrics import aflw_table, nme_box
from cmhm.geometry.similarity import procrustes
from cmhm.landmarks.markups import Markup
from cmhm.landmarks.nme import box_area_norm

QUARTILES = (25, 50, 75)


def _mean_of_bins(nme: np.ndarray, yaw: np.ndarray) -> float:
    return 100 * aflw_table(nme, yaw)["overall_mean_of_bins"]


def similarities(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """[N, 2, 3]: per image, the similarity that maps ``pred`` [N, K, 2] best onto ``gt`` [N, K, 2]."""
    return np.stack([procrustes(p, g) for p, g in zip(pred, gt)])


def error_terms(pred: np.ndarray, gt: np.ndarray, yaw: np.ndarray, markup: Markup) -> dict:
    """NME (% , mean of |yaw| bins) in total, after similarity alignment, and per point group, with the
    quartiles of the placement terms; ``pred``, ``gt``: [N, K, 2] image pixels, ``yaw``: [N] degrees."""
    pred, gt = np.asarray(pred, np.float64), np.asarray(gt, np.float64)
    if pred.shape != gt.shape or pred.shape[1:] != (markup.n_points, 2):
        raise ValueError(f"pred {pred.shape} and gt {gt.shape} must both be [N, {markup.n_points}, 2]")
    A = similarities(pred, gt)
    aligned = np.einsum("nij,nkj->nki", A[:, :, :2], pred) + A[:, None, :, 2]
    groups: dict[str, list[int]] = {}
    for name, idx in markup.groups.items():
        groups.setdefault(name.split("_")[0], []).extend(idx)
    per_group = {}
    for name, idx in groups.items():
        mask = np.zeros(gt.shape[:2], bool)
        mask[:, idx] = True
        per_group[name] = _mean_of_bins(nme_box(pred, gt, mask), yaw)
    norm = box_area_norm(gt)
    offset = np.linalg.norm(pred.mean(1) - gt.mean(1), axis=1) / norm
    # a systematic per-point bias (a point placed elsewhere by convention): the mean residual of each
    # point over the images, in units of the box, taken off every prediction
    bias = ((pred - gt) / norm[:, None, None]).mean(0)
    unbiased = pred - bias[None] * norm[:, None, None]
    # A maps pred onto gt: the prediction's scale relative to the ground truth is 1 / |A|
    scale = 1.0 / np.sqrt(np.abs(np.linalg.det(A[:, :, :2])))
    rotation = np.degrees(np.abs(np.arctan2(A[:, 1, 0], A[:, 0, 0])))
    return {
        "nme": _mean_of_bins(nme_box(pred, gt), yaw),
        "nme_after_similarity": _mean_of_bins(nme_box(aligned, gt), yaw),
        "nme_without_point_bias": _mean_of_bins(nme_box(unbiased, gt), yaw),
        "groups": per_group,
        "quartiles": {
            "centroid_offset_pct": np.percentile(100 * offset, QUARTILES).tolist(),
            "scale_ratio": np.percentile(scale, QUARTILES).tolist(),
            "rotation_deg": np.percentile(rotation, QUARTILES).tolist(),
        },
        "n": len(pred),
    }


def format_terms(label: str, terms: dict) -> list[str]:
    """Two lines of text for one model: its NMEs, then the placement quartiles."""
    groups = ", ".join(f"{k} {v:.2f}" for k, v in terms["groups"].items())
    q = terms["quartiles"]
    return [
        f"{label}: NME {terms['nme']:.2f} %, after similarity {terms['nme_after_similarity']:.2f} %, "
        f"without each point's mean offset {terms['nme_without_point_bias']:.2f} % (n {terms['n']}); "
        f"per group: {groups}",
        "  placement quartiles (25/50/75): centroid offset "
        + " / ".join(f"{v:.2f}" for v in q["centroid_offset_pct"])
        + " % of the box; scale pred/gt "
        + " / ".join(f"{v:.3f}" for v in q["scale_ratio"])
        + "; |rotation| "
        + " / ".join(f"{v:.1f}" for v in q["rotation_deg"])
        + " deg",
    ]
