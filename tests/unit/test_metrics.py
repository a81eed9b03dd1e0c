"""Hand-worked examples of the AFLW2000-3D and Menpo-3D metrics (numbers derived in the comments)."""

import numpy as np
import pytest

from cmhm.evaluation.metrics import (
    aflw_table,
    auc,
    bin_means,
    ced,
    failure_rate,
    mean_of_bins_ci,
    nme_box,
    nme_diag,
    paired_mean_of_bins_diff,
    tracking_summary,
)
from cmhm.geometry.yaw_bins import bin_labels, yaw_bin
from cmhm.landmarks.fit_table import fit_nme
from cmhm.landmarks.nme import box_area_norm, box_diagonal_norm, nme

# Ground truth of 3 points: box w = 4, h = 9, so sqrt(w * h) = 6.
GT = np.array([[[0.0, 0.0], [4.0, 0.0], [0.0, 9.0]]])
# Offsets (3, 4), (0, 0), (-1, 0): distances 5, 0, 1; mean 2.
PRED = GT + np.array([[[3.0, 4.0], [0.0, 0.0], [-1.0, 0.0]]])


def test_nme_box_hand_worked():
    # 2 / 6 = 1/3
    np.testing.assert_allclose(nme_box(PRED, GT), [1 / 3], rtol=1e-12)


def test_nme_box_mask_excludes_points_but_not_the_box():
    # Point 0 masked out: mean of (0, 1) = 0.5; the box still spans all ground truth (6): 0.5 / 6 = 1/12.
    mask = np.array([[False, True, True]])
    np.testing.assert_allclose(nme_box(PRED, GT, mask), [1 / 12], rtol=1e-12)


def test_nme_box_nan_ground_truth_points_are_skipped():
    # A 4th ground-truth point is NaN: it counts neither in the error nor in the box -> still 1/3,
    # even though its prediction is NaN too.
    gt = np.concatenate([GT, np.full((1, 1, 2), np.nan)], axis=1)
    pred = np.concatenate([PRED, np.full((1, 1, 2), np.nan)], axis=1)
    np.testing.assert_allclose(nme_box(pred, gt), [1 / 3], rtol=1e-12)


def test_nme_box_sample_without_valid_points_is_named():
    gt = np.concatenate([GT, np.full_like(GT, np.nan)])
    with pytest.raises(ValueError, match="sample 1"):
        nme_box(np.concatenate([PRED, PRED]), gt)
    with pytest.raises(ValueError, match="sample 0"):
        nme_box(PRED, GT, np.zeros((1, 3), dtype=bool))


def test_nme_box_rejects_nan_prediction_and_3d_input():
    pred = PRED.copy()
    pred[0, 2, 0] = np.nan
    with pytest.raises(ValueError, match="point 2"):
        nme_box(pred, GT)
    with pytest.raises(ValueError, match=r"\[\.\.\., :2\]"):
        nme_box(np.zeros((1, 3, 3)), np.zeros((1, 3, 3)))


def test_nme_diag_2d_and_3d():
    # Ground-truth box 3 x 4 in the image plane (diagonal 5); z spans 12, so the 3D diagonal is 13.
    gt = np.array([[[0.0, 0.0, 0.0], [3.0, 0.0, 0.0], [0.0, 4.0, 12.0]]])
    # 2D offsets (0.5, 0), (0, 0), (0, -1): distances 0.5, 0, 1; mean 0.5; 0.5 / 5 = 0.1.
    off = np.array([[[0.5, 0.0, 0.0], [0.0, 0.0, 2.0], [0.0, -1.0, 0.0]]])
    np.testing.assert_allclose(nme_diag(gt[..., :2] + off[..., :2], gt[..., :2]), [0.1], rtol=1e-12)
    # 3D distances 0.5, 2, 1: mean 7/6; by the 2D diagonal 7/30, by the 3D diagonal 7/78.
    np.testing.assert_allclose(nme_diag(gt + off, gt), [7 / 30], rtol=1e-12)
    np.testing.assert_allclose(nme_diag(gt + off, gt, diag_dims=3), [7 / 78], rtol=1e-12)


def test_yaw_bins_edges_and_clipping():
    yaw = np.array([-10.0, 30.0, 30.0001, 60.0, 89.0, 95.0, -61.0, 0.0])
    # |yaw| <= 30 -> 0; 30 < |yaw| <= 60 -> 1; above 60 (95 clipped into the last bin) -> 2.
    np.testing.assert_array_equal(yaw_bin(yaw), [0, 0, 1, 1, 2, 2, 2, 0])
    assert bin_labels() == ["[0, 30]", "(30, 60]", "(60, 90]"]
    with pytest.raises(ValueError, match="sample 1"):
        yaw_bin(np.array([0.0, np.nan]))


def test_aflw_table_mean_of_bins_vs_per_image():
    nme = np.array([0.01, 0.03, 0.02, 0.05, 0.07, 0.06, 0.08])
    yaw = np.array([0.0, -30.0, 45.0, 60.0, 75.0, 100.0, -85.0])
    t = aflw_table(nme, yaw)
    # bins: (0.01, 0.03) -> 0.02; (0.02, 0.05) -> 0.035; (0.07, 0.06, 0.08) -> 0.07
    means = [t["bins"][lab]["mean"] for lab in bin_labels()]
    np.testing.assert_allclose(means, [0.02, 0.035, 0.07], rtol=1e-12)
    assert [t["bins"][lab]["count"] for lab in bin_labels()] == [2, 2, 3]
    # Overall = (0.02 + 0.035 + 0.07) / 3 = 0.125 / 3; per image = 0.32 / 7.
    assert t["overall_mean_of_bins"] == pytest.approx(0.125 / 3, rel=1e-12)
    assert t["per_image_mean"] == pytest.approx(0.32 / 7, rel=1e-12)
    assert t["n"] == 7
    assert bin_means(t)["Overall"] == t["overall_mean_of_bins"]


def test_aflw_table_empty_bin_gives_nan_overall():
    t = aflw_table(np.array([0.01, 0.02]), np.array([5.0, 40.0]))
    assert np.isnan(t["bins"]["(60, 90]"]["mean"]) and t["bins"]["(60, 90]"]["count"] == 0
    assert np.isnan(t["overall_mean_of_bins"]) and np.isnan(t["overall_ci95"]).all()
    assert t["per_image_mean"] == pytest.approx(0.015)


ERR = np.array([0.01, 0.02, 0.06])


def test_ced_counts_errors_at_or_below_threshold():
    t = np.array([0.0, 0.01, 0.015, 0.05, 0.06, 0.1])
    np.testing.assert_allclose(ced(ERR, t), [0, 1 / 3, 1 / 3, 2 / 3, 1, 1])


def test_auc_and_failure_rate_hand_worked():
    # ((0.05 - 0.01) + (0.05 - 0.02) + 0) / 3 / 0.05 = (0.07 / 3) / 0.05 = 0.46667
    assert auc(ERR, 0.05) == pytest.approx(0.07 / 3 / 0.05, rel=1e-12)
    assert auc(ERR, 0.05) == pytest.approx(0.4667, abs=1e-4)
    assert failure_rate(ERR, 0.05) == pytest.approx(1 / 3)
    assert failure_rate(ERR, 0.06) == 0.0  # "exceeds" is strict
    assert auc(np.zeros(4), 0.05) == 1.0 and auc(np.full(4, 0.05), 0.05) == 0.0


def test_auc_exact_agrees_with_fine_trapezoid():
    # The trapezoid on a grid of step h differs from the exact step-function area by at most h / T.
    rng = np.random.default_rng(0)
    errors = rng.gamma(2.0, 0.015, size=500)
    for e in (ERR, errors):
        exact = auc(e, 0.05)
        assert auc(e, 0.05, step=1e-5) == pytest.approx(exact, abs=2e-4)
        assert auc(e, 0.05, step=1e-6) == pytest.approx(exact, abs=2e-5)


def test_infinite_errors_are_failures_and_nan_is_rejected():
    e = np.array([0.01, np.inf])
    assert failure_rate(e, 0.05) == 0.5
    assert auc(e, 0.05) == pytest.approx(0.04 / 2 / 0.05)
    with pytest.raises(ValueError, match="NaN"):
        auc(np.array([0.01, np.nan]), 0.05)
    with pytest.raises(ValueError, match="divide"):
        auc(ERR, 0.05, step=0.03)


def test_tracking_summary():
    s = tracking_summary(ERR, 0.05)
    assert s["auc"] == pytest.approx(0.07 / 3 / 0.05)
    assert s["failure_rate"] == pytest.approx(1 / 3)
    assert s["mean"] == pytest.approx(0.03) and s["median"] == pytest.approx(0.02) and s["n"] == 3
    assert s["no_result"] == 0
    # a frame with no result: a failure in AUC / FR, left out of mean and median
    s = tracking_summary(np.append(ERR, np.inf), 0.05)
    assert s["auc"] == pytest.approx(0.07 / 4 / 0.05) and s["failure_rate"] == pytest.approx(2 / 4)
    assert s["mean"] == pytest.approx(0.03) and (s["n"], s["no_result"]) == (4, 1)


def test_mean_of_bins_ci():
    # constant errors within each bin: every resample gives the same mean of bins, (1 + 2 + 6) / 3 = 3
    bins = np.repeat([0, 1, 2], 5)
    nme = np.repeat([1.0, 2.0, 6.0], 5)
    np.testing.assert_allclose(mean_of_bins_ci(nme, bins, 3), [3.0, 3.0])
    # a spread-out bin: the interval holds the point estimate, narrows with more images, is reproducible
    rng = np.random.default_rng(1)
    wide = [mean_of_bins_ci(rng.normal(5, 1, 3 * n), np.repeat([0, 1, 2], n), 3) for n in (10, 1000)]
    assert 4.0 < wide[0][0] < 5 < wide[0][1] < 6.0
    assert wide[1][1] - wide[1][0] < (wide[0][1] - wide[0][0]) / 5
    x, b = rng.normal(5, 1, 30), np.repeat([0, 1, 2], 10)
    assert mean_of_bins_ci(x, b, 3) == mean_of_bins_ci(x, b, 3)
    t = aflw_table(x / 100, np.repeat([10.0, 45.0, 80.0], 10))
    lo, hi = t["overall_ci95"]
    assert lo < t["overall_mean_of_bins"] < hi


def test_paired_difference_cancels_what_the_images_share():
    rng = np.random.default_rng(3)
    yaw = np.repeat([10.0, 45.0, 80.0], 40)
    hard = rng.gamma(2.0, 0.02, yaw.size)  # per-image difficulty, shared by both models
    ref, better = hard + 0.01, hard + 0.01 - 0.002  # 0.2 points better on every image
    d = paired_mean_of_bins_diff(better, ref, yaw)
    assert (
        d["diff"] == pytest.approx(-0.002)
        and d["lo"] == pytest.approx(-0.002)
        and d["hi"] == pytest.approx(-0.002)
    )
    # unpaired, the same gap is lost in the spread of image difficulty
    lo_a, hi_a = aflw_table(better, yaw)["overall_ci95"]
    lo_b, hi_b = aflw_table(ref, yaw)["overall_ci95"]
    assert lo_b < hi_a  # the two separate intervals overlap
    noisy = paired_mean_of_bins_diff(better + rng.normal(0, 0.001, yaw.size), ref, yaw)
    assert noisy["lo"] < -0.002 < noisy["hi"] < 0  # interval holds the true gap and excludes 0
    with pytest.raises(ValueError, match="must all be"):
        paired_mean_of_bins_diff(ref[:3], ref, yaw)


def test_one_nme_named_normalisers_hand_worked():
    # the box of GT: w = 4, h = 9 -> sqrt(w * h) = 6, diagonal sqrt(97); errors 5, 0, 1 (mean 2)
    np.testing.assert_allclose(box_area_norm(GT), [6.0], rtol=1e-15)
    np.testing.assert_allclose(box_diagonal_norm(GT), [np.sqrt(97.0)], rtol=1e-15)
    np.testing.assert_allclose(nme(np.array([[5.0, 0.0, np.nan, 1.0]]), np.array([6.0])), [1 / 3], rtol=1e-15)


def test_the_fit_error_and_the_test_nme_are_one_nme_bit_for_bit():
    """fit_nme (the 3D label fit's held-out error) and nme_box divide by the same named normaliser, so
    where every point is present they agree to the bit; fit_nme still equals its former inline arithmetic."""
    rng = np.random.default_rng(0)
    gt = rng.uniform(0, 100, (7, 68, 3))
    pred = gt + rng.normal(0, 2, gt.shape)
    pred[2, :10] = np.nan  # a partial fit: those points leave both the error and the box
    full = [i for i in range(7) if i != 2]
    assert np.array_equal(fit_nme(pred, gt, dims=2)[full], nme_box(pred[full, :, :2], gt[full, :, :2]))
    ok = np.isfinite(pred).all(-1) & np.isfinite(gt).all(-1)
    g = np.where(ok[..., None], gt, np.nan)[..., :2]
    p = np.where(ok[..., None], pred, np.nan)[..., :2]
    lo, hi = np.nanmin(g, axis=-2), np.nanmax(g, axis=-2)
    former = np.nanmean(np.linalg.norm(p - g, axis=-1), axis=-1) / np.sqrt(np.prod(hi - lo, axis=-1))
    assert np.array_equal(fit_nme(pred, gt, dims=2), former)
