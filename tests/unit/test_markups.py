"""The Menpo profile markup's point order (cmhm.landmarks.markups), as the synthetic renderer draws it."""

import numpy as np
import pytest

from cmhm.landmarks.markups import (
    IBUG68,
    PROFILE39,
    PROFILE_CHIN_INDEX,
    PROFILE_ON_IBUG68,
    profile_contour_positions,
    profile_semantic_mapping,
)
from cmhm.synth import SynthConfig, render_one

CFG = SynthConfig(image_size=128)
ID = {"face_width": 0.3, "nose_length": -0.4, "eye_size": 0.5, "jaw_width": -0.3}
EXPR = {"mouth_open": 0.6}  # parted lips: the inner lip's upper and lower halves apart


def test_semantic_mapping_follows_the_documented_order():
    m = profile_semantic_mapping()
    right, fg = m["right"], IBUG68.group_of()
    contour = right[list(PROFILE39.groups["jaw"])]
    chin = IBUG68.groups["jaw"][len(IBUG68.groups["jaw"]) // 2]
    assert contour[0] == IBUG68.groups["jaw"][0] and np.all(np.diff(contour) >= 0)
    assert contour[PROFILE_CHIN_INDEX] == chin < contour[PROFILE_CHIN_INDEX + 1]  # then up the chin's front
    for group, idx in PROFILE_ON_IBUG68.items():
        assert len(idx) == len(PROFILE39.groups[group])
        np.testing.assert_array_equal(right[list(PROFILE39.groups[group])], idx)
    assert set(fg[right[list(PROFILE39.groups["eye"])]]) == {"eye_right"}
    assert set(fg[right[list(PROFILE39.groups["brow"])]]) == {"brow_right"}
    np.testing.assert_array_equal(m["left"], IBUG68.flip_permutation()[right])


def test_profile_chin_is_contour_point_9_as_in_the_real_release():
    # the real Menpo 2D training profiles put the chin at contour index 9 (~65 %) or 8 (~28 %), 10 < 1 %
    assert PROFILE_CHIN_INDEX == 9
    positions = profile_contour_positions()
    assert positions[PROFILE_CHIN_INDEX] == pytest.approx(0.5)  # 0.5 = the chin of the frontal jaw
    assert (positions[PROFILE_CHIN_INDEX + 1 :] > 0.5).all()


def _decreasing(v: np.ndarray) -> bool:
    return bool(np.all(np.diff(v) < 0))


def _increasing(v: np.ndarray) -> bool:
    return bool(np.all(np.diff(v) > 0))


@pytest.mark.parametrize("yaw", [55.0, 75.0, 89.0, -55.0, -75.0])
def test_rendered_profile_parts_run_in_the_markup_order(yaw):
    f = render_one(ID, EXPR, yaw, cfg=CFG)
    assert f.view == "profile"
    pts = f.labels["lm2d_profile"]
    fwd = 1.0 if f.side == "right" else -1.0  # image x toward the nose
    part = {g: pts[list(idx)] for g, idx in PROFILE39.groups.items()}
    x = {g: fwd * p[:, 0] for g, p in part.items()}
    y = {g: p[:, 1] for g, p in part.items()}
    # contour: top of the jaw line (near the ear, farthest from the nose) down to the chin, then past it
    chin = int(np.flatnonzero(profile_contour_positions() <= 0.5)[-1])
    assert _increasing(y["jaw"][: chin + 1]) and x["jaw"][0] < x["jaw"][chin]
    assert x["jaw"][-1] > x["jaw"][chin]
    assert _increasing(x["brow"])  # outer end to inner end
    assert _increasing(y["nose_bridge"]) and np.argmax(fwd * pts[:, 0]) == PROFILE39.groups["nose_bridge"][-1]
    assert y["nose_base"][0] > y["nose_base"][1]  # subnasale (under the tip) first, then the higher wing
    # eye: upper lid inner -> outer, outer corner, lower lid outer -> inner
    assert _decreasing(x["eye"][:3]) and _increasing(x["eye"][2:])
    assert y["eye"][:2].max() < y["eye"][3:].min()
    # outer lip: top centre back along the upper lip to the mouth corner, then along the lower lip to
    # the bottom centre (away from the corner again); inner lip likewise with 5 points
    for g, corner in (("lip_outer", 3), ("lip_inner", 2)):
        to_corner = np.linalg.norm(part[g] - part[g][corner], axis=1)
        assert _decreasing(x[g][: corner + 1]) and _increasing(to_corner[corner:]), g
        assert y[g][:corner].max() < y[g][corner + 1 :].min(), g
