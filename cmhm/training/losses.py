"""Heatmap losses with explicit per-sample, per-landmark masks (paper Eq. 2).

The models return heatmaps only; which channels a sample supervises is the caller's mask:
all of them for a semi-frontal face, the union channels its profile points map to for a profile face.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def masked_heatmap_mse(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Masked heatmap MSE: ``sum_{b,n} v_bn * mean_ij (H_bn - Ĥ_bn)^2 / sum_{b,n} v_bn``.

    ``pred``, ``target``: [B, K, H, W]; ``mask`` [B, K] (bool or 0/1 weights v_n). Channels with
    ``v = 0`` contribute neither value nor gradient. Returns a scalar (0 when nothing is supervised).
    """
    if pred.shape != target.shape or mask.shape != pred.shape[:2]:
        raise ValueError(
            f"shape mismatch: pred {tuple(pred.shape)}, target {tuple(target.shape)}, mask {tuple(mask.shape)}"
        )
    v = mask.to(pred.dtype)
    per_map = ((pred - target) ** 2).mean(dim=(-2, -1))  # [B, K]
    per_map = torch.where(v > 0, per_map, torch.zeros_like(per_map))
    return (per_map * v).sum() / v.sum().clamp_min(1.0)


def stacked_heatmap_loss(
    preds: Sequence[torch.Tensor], targets: Sequence[torch.Tensor], masks: Sequence[torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Intermediate supervision: sum over stacks of :func:`masked_heatmap_mse`.

    ``preds[s]``, ``targets[s]``: [B, K_s, H, W]; ``masks[s]``: [B, K_s].
    Returns (total scalar, per-stack losses [n_stacks], detached).
    """
    if not (len(preds) == len(targets) == len(masks)):
        raise ValueError(f"{len(preds)} predictions, {len(targets)} targets, {len(masks)} masks")
    losses = torch.stack([masked_heatmap_mse(p, t, m) for p, t, m in zip(preds, targets, masks)])
    return losses.sum(), losses.detach()
