"""Similarity transforms, Procrustes alignment and 2x3 affine helpers (numpy).

An affine ``A`` is a [2, 3] (or batched [..., 2, 3]) matrix acting on column vectors
``[x, y, 1]``: ``p' = A[:, :2] @ p + A[:, 2]``.
"""

from __future__ import annotations

import numpy as np


def apply_affine(A: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Map points ``pts`` [..., K, 2] by affine(s) ``A`` [..., 2, 3] (NaN stays NaN)."""
    A = np.asarray(A, dtype=np.float64)
    pts = np.asarray(pts, dtype=np.float64)
    return np.einsum("...ij,...kj->...ki", A[..., :2], pts) + A[..., None, :, 2]


def invert_affine(A: np.ndarray) -> np.ndarray:
    """Inverse of affine(s) ``A`` [..., 2, 3]."""
    A = np.asarray(A, dtype=np.float64)
    M_inv = np.linalg.inv(A[..., :2])
    t = -np.einsum("...ij,...j->...i", M_inv, A[..., 2])
    return np.concatenate([M_inv, t[..., None]], axis=-1)


def compose_affine(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """The affine that applies ``B`` first, then ``A``."""
    M = A[..., :2] @ B[..., :2]
    t = np.einsum("...ij,...j->...i", A[..., :2], B[..., 2]) + A[..., 2]
    return np.concatenate([M, t[..., None]], axis=-1)


def procrustes(src: np.ndarray, dst: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Least-squares similarity (scale, rotation, translation; no reflection) mapping ``src`` onto ``dst``.

    ``src``, ``dst``: [K, 2] (points with NaN in either are ignored); ``weights``: [K] or None.
    Returns the [2, 3] affine ``A`` minimising ``sum_k w_k |A src_k - dst_k|^2`` (Umeyama 1991).
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    ok = np.isfinite(src).all(-1) & np.isfinite(dst).all(-1)
    w = np.ones(len(src)) if weights is None else np.asarray(weights, dtype=np.float64)
    w = np.where(ok, w, 0.0)
    if (w > 0).sum() < 2:
        raise ValueError("procrustes needs at least two finite, weighted point pairs")
    src, dst = np.nan_to_num(src), np.nan_to_num(dst)
    w = w / w.sum()
    mu_s, mu_d = w @ src, w @ dst
    xs, xd = src - mu_s, dst - mu_d
    cov = (xd * w[:, None]).T @ xs
    U, S, Vt = np.linalg.svd(cov)
    d = np.sign(np.linalg.det(U) * np.linalg.det(Vt))
    D = np.diag([1.0, d])
    R = U @ D @ Vt
    var_s = (w * (xs**2).sum(1)).sum()
    scale = np.trace(np.diag(S) @ D) / var_s
    t = mu_d - scale * R @ mu_s
    return np.concatenate([scale * R, t[:, None]], axis=1)


def box_to_crop_affine(box: np.ndarray, size: int, box_scale: float) -> np.ndarray:
    """[N, 2, 3] affines mapping image pixels into a ``size``² crop centred on each box.

    The square crop side is ``box_scale * max(box width, box height)``; pixel centres map to pixel
    centres (corner of the crop square -> -0.5).
    """
    box = np.atleast_2d(np.asarray(box, dtype=np.float64))
    cx, cy = (box[:, 0] + box[:, 2]) / 2, (box[:, 1] + box[:, 3]) / 2
    side = box_scale * np.maximum(box[:, 2] - box[:, 0], box[:, 3] - box[:, 1])
    if np.any(side <= 0):
        raise ValueError("box_to_crop_affine: a face box has no area")
    s = size / side
    A = np.zeros((len(box), 2, 3))
    A[:, 0, 0] = A[:, 1, 1] = s
    A[:, 0, 2] = (size - 1) / 2 - s * cx
    A[:, 1, 2] = (size - 1) / 2 - s * cy
    return A


def landmark_box(pts: np.ndarray) -> np.ndarray:
    """[..., 4] tight box (x0, y0, x1, y1) of landmarks [..., K, 2], ignoring NaN."""
    lo = np.nanmin(pts, axis=-2)
    hi = np.nanmax(pts, axis=-2)
    return np.concatenate([lo, hi], axis=-1)


def enlarge_box(box: np.ndarray, factor: float) -> np.ndarray:
    """Box [4] (x0, y0, x1, y1) scaled by ``factor`` about its centre."""
    box = np.asarray(box, dtype=np.float64)
    c, half = (box[:2] + box[2:]) / 2, (box[2:] - box[:2]) / 2 * factor
    return np.concatenate([c - half, c + half])
