"""cmhm.evaluation.error_terms: placement against shape, on hand-made predictions whose answer is known."""

import numpy as np
import pytest

from cmhm.evaluation.error_terms import error_terms
from cmhm.landmarks.markups import IBUG68
from cmhm.landmarks.nme import box_area_norm


def _faces(n: int = 30, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    gt = rng.uniform(40, 160, (n, 68, 2))
    yaw = np.tile([10.0, 45.0, 75.0], n // 3)  # every |yaw| bin
    return gt, yaw


def test_a_moved_scaled_rotated_copy_is_all_placement():
    gt, yaw = _faces()
    theta, scale, shift = np.radians(10.0), 1.1, np.array([6.0, -3.0])
    R = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    centre = gt.mean(1, keepdims=True)
    pred = scale * (gt - centre) @ R.T + centre + shift
    t = error_terms(pred, gt, yaw, IBUG68)
    assert t["nme"] > 5 and t["nme_after_similarity"] < 1e-9
    q = t["quartiles"]
    np.testing.assert_allclose(q["rotation_deg"], 10.0, atol=1e-9)
    np.testing.assert_allclose(q["scale_ratio"], 1.1, atol=1e-9)
    offset = np.percentile(100 * np.linalg.norm(shift) / box_area_norm(gt), (25, 50, 75))
    np.testing.assert_allclose(q["centroid_offset_pct"], offset, rtol=1e-9)


def test_an_error_on_the_jaw_alone_is_the_jaw_groups():
    gt, yaw = _faces()
    pred = gt.copy()
    pred[:, :17] += np.random.default_rng(1).normal(0, 3, (len(gt), 17, 2))
    t = error_terms(pred, gt, yaw, IBUG68)
    assert set(t["groups"]) == {"jaw", "brow", "nose", "eye", "lip"}
    assert t["groups"]["jaw"] > 1 and all(v == 0 for k, v in t["groups"].items() if k != "jaw")
    # least squares, not least mean distance: the alignment may move a shape error around, never remove it
    assert t["nme_after_similarity"] > 0.5 * t["nme"]


def test_a_point_moved_on_every_face_is_a_per_point_bias():
    """Another labelling convention: the chin 5 % of the box lower on every face."""
    gt, yaw = _faces()
    pred = gt.copy()
    pred[:, 8, 1] += 0.05 * box_area_norm(gt)
    t = error_terms(pred, gt, yaw, IBUG68)
    assert t["nme"] == pytest.approx(5 / 68) and t["nme_without_point_bias"] == pytest.approx(0, abs=1e-9)


def test_points_of_another_markup_are_refused():
    gt, yaw = _faces()
    with pytest.raises(ValueError, match=r"must both be \[N, 68, 2\]"):
        error_terms(gt[:, :39], gt[:, :39], yaw, IBUG68)
