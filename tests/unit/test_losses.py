"""Masked heatmap loss (paper Eq. 2): values, mask semantics and gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cmhm.landmarks.markups import IBUG68, PROFILE39
from cmhm.landmarks.union import union_targets
from cmhm.models.heatmaps import render_heatmaps
from cmhm.training.batches import masked_points
from cmhm.training.losses import masked_heatmap_mse, stacked_heatmap_loss


def test_hand_worked_value() -> None:
    pred = torch.zeros(1, 2, 2, 2)
    target = torch.ones(1, 2, 2, 2)
    target[0, 1] = 3.0
    # channel 0: mean (1)^2 = 1, channel 1: mean 3^2 = 9
    assert masked_heatmap_mse(pred, target, torch.tensor([[True, True]])).item() == pytest.approx(5.0)
    assert masked_heatmap_mse(pred, target, torch.tensor([[True, False]])).item() == pytest.approx(1.0)
    assert masked_heatmap_mse(pred, target, torch.tensor([[False, False]])).item() == 0.0


def test_masked_channels_ignore_nan_and_shape_errors() -> None:
    pred = torch.zeros(1, 2, 3, 3)
    target = torch.zeros(1, 2, 3, 3)
    target[0, 1] = float("nan")  # an unmapped channel may hold anything
    assert masked_heatmap_mse(pred, target, torch.tensor([[True, False]])).item() == 0.0
    with pytest.raises(ValueError):
        masked_heatmap_mse(pred, target, torch.ones(1, 3))


def test_profile_sample_sends_no_gradient_to_unmapped_channels() -> None:
    k = IBUG68.n_points
    rng = np.random.default_rng(0)
    right = rng.permutation(k)[: PROFILE39.n_points]
    mapping = {"right": right, "left": IBUG68.flip_permutation()[right]}
    profile = rng.uniform(4, 28, size=(2, PROFILE39.n_points, 2)).astype(np.float32)
    frontal = rng.uniform(4, 28, size=(2, k, 2)).astype(np.float32)
    pts, mask = union_targets(
        frontal, profile, np.array(["profile", "semifrontal"]), np.array(["right", ""]), mapping
    )
    target_pts = torch.from_numpy(masked_points(pts, mask))
    v = torch.isfinite(target_pts).all(-1)
    target = render_heatmaps(target_pts, 32, 1.0, v)
    pred = torch.rand(2, k, 32, 32, requires_grad=True)
    masked_heatmap_mse(pred, target, v).backward()
    grad_norm = pred.grad.abs().sum(dim=(-2, -1))
    unmapped = np.setdiff1d(np.arange(k), right)
    assert (grad_norm[0, unmapped] == 0).all() and (grad_norm[0, right] > 0).all()
    assert (grad_norm[1] > 0).all()  # the semi-frontal sample supervises every channel


def test_stacked_loss_sums_stacks() -> None:
    g = torch.Generator().manual_seed(0)
    preds = [torch.rand(2, k, 4, 4, generator=g) for k in (3, 5)]
    targets = [torch.rand(2, k, 4, 4, generator=g) for k in (3, 5)]
    masks = [torch.ones(2, k, dtype=torch.bool) for k in (3, 5)]
    total, per = stacked_heatmap_loss(preds, targets, masks)
    assert per.shape == (2,)
    assert total.item() == pytest.approx(sum(((p - t) ** 2).mean().item() for p, t in zip(preds, targets)))


def test_masked_points() -> None:
    pts = np.ones((1, 3, 2), np.float32)
    out = masked_points(pts, np.array([[True, False, True]]))
    assert np.isnan(out[0, 1]).all() and np.isfinite(out[0, [0, 2]]).all()
