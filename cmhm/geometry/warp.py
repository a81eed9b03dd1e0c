"""Similarity alignment and image warping of the model side: batched, in torch (the data side's cv2 twin:
:mod:`cmhm.geometry.image_warp`).

Affines are [..., 2, 3] matrices acting on pixel coordinates (origin at the top-left pixel's
centre), as in :mod:`cmhm.geometry.similarity`. ``A`` maps *source* pixels to *destination* pixels; a warped
image satisfies ``out(A p) = image(p)``. The torch and cv2 warps agree up to interpolation rounding.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F


def similarity_procrustes(
    src: torch.Tensor, dst: torch.Tensor, weights: torch.Tensor | None = None
) -> torch.Tensor:
    """Closed-form weighted least-squares similarity mapping ``src`` [B, K, 2] onto ``dst`` [B|1, K, 2].

    ``weights`` [B, K] (>= 0); points with NaN in ``src`` or ``dst`` get weight 0. Writing a 2D
    similarity as ``[[a, -b], [b, a]]``: ``a = sum w <s, d> / sum w |s|^2``,
    ``b = sum w (s x d) / sum w |s|^2`` on centred points. Returns [B, 2, 3].
    """
    dst = dst.expand_as(src)
    w = (
        torch.ones(src.shape[:2], dtype=src.dtype, device=src.device)
        if weights is None
        else weights.to(src.dtype)
    )
    ok = torch.isfinite(src).all(-1) & torch.isfinite(dst).all(-1)
    w = torch.where(ok, w.clamp_min(0), torch.zeros_like(w))
    w = w / w.sum(-1, keepdim=True).clamp_min(torch.finfo(src.dtype).tiny)
    s, d = torch.nan_to_num(src), torch.nan_to_num(dst)
    mu_s, mu_d = (w[..., None] * s).sum(1), (w[..., None] * d).sum(1)  # [B, 2]
    xs, xd = s - mu_s[:, None], d - mu_d[:, None]
    var = (w * (xs**2).sum(-1)).sum(-1).clamp_min(torch.finfo(src.dtype).tiny)
    a = (w * (xs * xd).sum(-1)).sum(-1) / var
    b = (w * (xs[..., 0] * xd[..., 1] - xs[..., 1] * xd[..., 0])).sum(-1) / var
    M = torch.stack([torch.stack([a, -b], -1), torch.stack([b, a], -1)], -2)  # [B, 2, 2]
    t = mu_d - (M @ mu_s[..., None])[..., 0]
    return torch.cat([M, t[..., None]], -1)


def apply_affine_torch(A: torch.Tensor, pts: torch.Tensor) -> torch.Tensor:
    """Map points ``pts`` [B, K, 2] by ``A`` [B, 2, 3]."""
    return pts @ A[:, :, :2].transpose(1, 2) + A[:, None, :, 2]


def invert_affine_torch(A: torch.Tensor) -> torch.Tensor:
    """Inverse of affines ``A`` [B, 2, 3], in closed form (2x2 adjugate: exportable to ONNX)."""
    a, b, c, d = A[:, 0, 0], A[:, 0, 1], A[:, 1, 0], A[:, 1, 1]
    det = (a * d - b * c)[:, None, None]
    M_inv = torch.stack([torch.stack([d, -b], -1), torch.stack([-c, a], -1)], -2) / det
    return torch.cat([M_inv, -(M_inv @ A[:, :, 2:])], -1)


def warp_images(images: torch.Tensor, A: torch.Tensor, out_size: int) -> torch.Tensor:
    """Warp ``images`` [B, C, H, W] by pixel affines ``A`` [B, 2, 3] into [B, C, out, out] (zeros outside).

    Bilinear, consistent with :func:`cmhm.geometry.image_warp.warp_crops` (cv2.warpAffine with a constant-zero border).
    """
    b, _, h, w = images.shape
    if h != w:
        raise ValueError(f"warp_images expects square images, got {h}x{w}")
    # grid_sample (align_corners=False) reads normalised n = s (p + 0.5) - 1 for pixel p, s = 2 / side;
    # an output pixel q = (n_out + 1) / s_out - 0.5 comes from source pixel A^-1 q.
    A_inv = invert_affine_torch(A.to(images.dtype))
    s_src, s_dst = 2.0 / w, 2.0 / out_size
    M = A_inv[:, :, :2]
    q0 = torch.full((b, 2, 1), 1.0 / s_dst - 0.5, dtype=images.dtype, device=images.device)
    theta = torch.cat([M * (s_src / s_dst), s_src * (M @ q0 + A_inv[:, :, 2:] + 0.5) - 1], -1)
    grid = F.affine_grid(theta, [b, images.shape[1], out_size, out_size], align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def procrustes_residual(
    src: torch.Tensor, dst: torch.Tensor, weights: torch.Tensor, A: torch.Tensor
) -> torch.Tensor:
    """Normalised residual of the fit ``A`` [B, 2, 3] of ``src`` onto ``dst`` (both [B, K, 2], ``weights``
    [B, K]): ``sum w |A s - d|^2 / sum w |d - mean_w d|^2`` over the points finite in both -> [B]."""
    ok = torch.isfinite(src).all(-1) & torch.isfinite(dst).all(-1)
    w = torch.where(ok, weights.to(src.dtype).clamp_min(0), torch.zeros_like(src[..., 0]))
    d = torch.nan_to_num(dst)
    err = ((apply_affine_torch(A, torch.nan_to_num(src)) - d) ** 2).sum(-1)
    mu = (w[..., None] * d).sum(1) / w.sum(1, keepdim=True).clamp_min(torch.finfo(src.dtype).tiny)
    spread = (w * ((d - mu[:, None]) ** 2).sum(-1)).sum(-1).clamp_min(torch.finfo(src.dtype).tiny)
    return (w * err).sum(-1) / spread


def fit_to_means(
    points: torch.Tensor, weights: torch.Tensor, means: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Align predicted ``points`` [B, K, 2] (``weights`` [B, K]) to the best of ``means`` [V, K, 2].

    Each mean is fitted by :func:`similarity_procrustes` (its NaN points are ignored); the one with the
    smallest :func:`procrustes_residual` wins. Returns (A [B, 2, 3] crop -> canonical, choice [B]).
    """
    v, k = (
        means.shape[0],
        points.shape[1],
    )  # batch sizes stay symbolic (-1): the ONNX export keeps them dynamic
    src = points[:, None].expand(-1, v, -1, -1).reshape(-1, k, 2)
    dst = means.to(points)[None].expand(points.shape[0], -1, -1, -1).reshape(-1, k, 2)
    w = weights[:, None].expand(-1, v, -1).reshape(-1, k)
    A = similarity_procrustes(src, dst, w)
    choice = procrustes_residual(src, dst, w, A).reshape(-1, v).argmin(1)
    best = A.reshape(-1, v, 2, 3).gather(1, choice[:, None, None, None].expand(-1, 1, 2, 3))[:, 0]
    return best, choice


def affine_scale(A: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    """Isotropic scale sqrt|det| of affines [..., 2, 3] (a similarity's scale)."""
    det = A[..., 0, 0] * A[..., 1, 1] - A[..., 0, 1] * A[..., 1, 0]
    return abs(det) ** 0.5
