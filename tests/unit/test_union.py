"""Union mapping: mean shapes, one-to-one and ordered assignment, sides, and the stage-1 targets."""

import numpy as np
import pytest

from cmhm.geometry.similarity import apply_affine
from cmhm.landmarks.markups import IBUG68, PROFILE39, PROFILE_ON_IBUG68
from cmhm.landmarks.union import (
    build_union_mapping,
    monotone_assignment,
    normalise,
    procrustes_mean,
    profile_to_union,
    union_targets,
)

from .known_transforms import similarity_matrix


def frontal_template() -> np.ndarray:
    """A crude but well-formed iBUG-68 face (image coordinates, y down)."""
    t = np.linspace(np.pi, 0, 17)
    jaw = np.stack([np.cos(t), 0.2 + 1.1 * np.sin(t)], -1) * [1.0, 1.0]
    jaw[:, 1] = 0.1 + 1.0 * np.abs(np.sin(np.linspace(0, np.pi, 17))) ** 0.8
    brow_r = np.stack([np.linspace(-0.8, -0.2, 5), -0.45 - 0.08 * np.sin(np.linspace(0, np.pi, 5))], -1)
    brow_l = brow_r[::-1] * [-1, 1]
    bridge = np.stack([np.zeros(4), np.linspace(-0.3, 0.2, 4)], -1)
    base = np.stack([np.linspace(-0.2, 0.2, 5), 0.3 + 0.04 * np.cos(np.linspace(-1.5, 1.5, 5))], -1)
    a = np.linspace(np.pi, -np.pi, 7)[:-1]
    eye_r = np.stack([-0.45 + 0.17 * np.cos(a), -0.25 + 0.06 * np.sin(-a)], -1)
    eye_l = eye_r[[3, 2, 1, 0, 5, 4]] * [-1, 1]
    b = np.linspace(np.pi, -np.pi, 13)[:-1]
    outer = np.stack([0.42 * np.cos(b), 0.62 + 0.14 * np.sin(-b)], -1)
    c = np.linspace(np.pi, -np.pi, 9)[:-1]
    inner = np.stack([0.3 * np.cos(c), 0.62 + 0.05 * np.sin(-c)], -1)
    jaw[:, 0] = np.cos(np.linspace(np.pi, 0, 17))
    return np.concatenate([jaw, brow_r, brow_l, bridge, base, eye_r, eye_l, outer, inner]) * 100 + 200


# profile point -> intended frontal point on the subject's right side (visible when the nose points right):
# the markup's own correspondence for the inner parts, jaw 0..11 for the contour (one-to-one)
INTENDED = np.concatenate([np.arange(12), *PROFILE_ON_IBUG68.values()])
assert len(INTENDED) == PROFILE39.n_points and list(PROFILE_ON_IBUG68) == list(PROFILE39.groups)[1:]


def _profiles(rng, n, side, intended=INTENDED):
    tmpl = frontal_template()
    shapes = []
    for _ in range(n):
        pts = tmpl[intended] + rng.normal(0, 1.0, (39, 2))
        A = similarity_matrix(rng.uniform(0.5, 2), rng.uniform(-0.2, 0.2), *rng.uniform(-50, 50, 2))
        pts = apply_affine(A, pts)
        shapes.append(pts * [-1, 1] if side == "left" else pts)
    return np.stack(shapes)


def test_mean_shape_is_invariant_to_similarities():
    rng = np.random.default_rng(0)
    tmpl = frontal_template()
    shapes = np.stack(
        [
            apply_affine(
                similarity_matrix(rng.uniform(0.5, 3), rng.uniform(-1, 1), *rng.uniform(-90, 90, 2)), tmpl
            )
            for _ in range(12)
        ]
    )
    m = procrustes_mean(shapes)
    ref = normalise(tmpl)
    from cmhm.geometry.similarity import procrustes

    np.testing.assert_allclose(apply_affine(procrustes(m, ref), m), ref, atol=1e-8)


def test_mapping_recovers_known_correspondence_for_both_sides():
    rng = np.random.default_rng(1)
    frontal = np.stack([frontal_template() + rng.normal(0, 1.0, (68, 2)) for _ in range(20)])
    profile = np.concatenate([_profiles(rng, 10, "right"), _profiles(rng, 10, "left")])
    sides = np.array(["right"] * 10 + ["left"] * 10)
    um = build_union_mapping(frontal, profile, sides)
    np.testing.assert_array_equal(um.mapping["right"], INTENDED)
    np.testing.assert_array_equal(um.mapping["left"], IBUG68.flip_permutation()[INTENDED])
    assert len(set(um.mapping["left"])) == PROFILE39.n_points  # one-to-one


def test_profile_to_union_places_points_and_masks_the_rest():
    mapping = {"right": INTENDED, "left": IBUG68.flip_permutation()[INTENDED]}
    pts39 = np.arange(2 * 39 * 2, dtype=np.float32).reshape(2, 39, 2)
    pts, mask = profile_to_union(pts39, np.array(["right", "left"]), mapping)
    assert mask.sum(1).tolist() == [39, 39]
    np.testing.assert_array_equal(pts[0, INTENDED], pts39[0])
    np.testing.assert_array_equal(pts[1, 45], pts39[1, np.flatnonzero(mapping["left"] == 45)[0]])
    assert np.isnan(pts[0, 16]).all() and not mask[0, 16]


def test_union_targets_mix_views():
    mapping = {"right": INTENDED, "left": IBUG68.flip_permutation()[INTENDED]}
    lm2d = np.stack([frontal_template(), np.full((68, 2), np.nan)])
    prof = np.stack([np.full((39, 2), np.nan), np.ones((39, 2))])
    pts, mask = union_targets(
        lm2d, prof, np.array(["semifrontal", "profile"]), np.array(["", "right"]), mapping
    )
    assert mask[0].all() and mask[1].sum() == 39
    np.testing.assert_array_equal(pts[0], lm2d[0])


def test_monotone_assignment_is_the_cheapest_increasing_one():
    from itertools import combinations

    np.testing.assert_array_equal(monotone_assignment(np.array([[0.0, 5.0, 1.0], [0.0, 9.0, 9.0]])), [0, 1])
    rng = np.random.default_rng(4)
    for p, f in ((1, 3), (3, 3), (4, 7), (5, 8)):
        cost = rng.uniform(0, 1, (p, f))
        best = min(combinations(range(f), p), key=lambda c: cost[np.arange(p), list(c)].sum())
        got = monotone_assignment(cost)
        assert np.all(np.diff(got) > 0)
        assert cost[np.arange(p), got].sum() == pytest.approx(cost[np.arange(p), list(best)].sum(), abs=1e-12)
    with pytest.raises(ValueError, match="distinct columns"):
        monotone_assignment(np.zeros((4, 3)))


def test_contour_assignment_keeps_the_contour_order():
    """Profiles whose contour points 6-11 sit on jaw points [11, 6, 10, 9, 7, 8] (the crossing the
    Hungarian assignment produced on synthetic data): the plain rule reproduces the crossing, the
    constrained one maps the contour to increasing jaw points."""
    rng = np.random.default_rng(2)
    crossed = INTENDED.copy()
    crossed[6:12] = [11, 6, 10, 9, 7, 8]
    frontal = np.stack([frontal_template() + rng.normal(0, 1.0, (68, 2)) for _ in range(20)])
    profile = _profiles(rng, 12, "right", crossed)
    sides = np.array(["right"] * 12)
    contour = list(PROFILE39.groups["jaw"])
    plain = build_union_mapping(frontal, profile, sides, constrained=False).mapping["right"]
    np.testing.assert_array_equal(plain[contour], crossed[contour])
    ordered = build_union_mapping(frontal, profile, sides).mapping["right"]
    assert np.all(np.diff(ordered[contour]) > 0), ordered[contour]
    assert len(set(ordered)) == PROFILE39.n_points
    left = build_union_mapping(frontal, profile * [-1, 1], np.array(["left"] * 12)).mapping["left"]
    assert np.all(np.diff(left[contour]) < 0)  # a left profile's contour runs down the subject's left jaw


def test_every_profile_group_is_matched_in_order_along_its_run():
    """Profiles whose eye points sit on frontal [38, 37, 41, 40, 39] and inner lip on [62, 60, 61, 67, 66]
    (what nearest-point matching gave on the synthetic training faces; the profile eye's third point is
    its outer corner, 36): the plain rule reproduces them, the constrained one matches every group in
    order along its run (issue 26), so the outer corner goes to 36."""
    from cmhm.landmarks.markups import PROFILE_RUNS_ON_IBUG68

    rng = np.random.default_rng(3)
    crossed = INTENDED.copy()
    eye, inner = list(PROFILE39.groups["eye"]), list(PROFILE39.groups["lip_inner"])
    crossed[eye], crossed[inner] = [38, 37, 41, 40, 39], [62, 60, 61, 67, 66]
    frontal = np.stack([frontal_template() + rng.normal(0, 1.0, (68, 2)) for _ in range(20)])
    sides = np.array(["right"] * 12)
    profile = _profiles(rng, 12, "right", crossed)
    plain = build_union_mapping(frontal, profile, sides, constrained=False).mapping["right"]
    np.testing.assert_array_equal(plain[eye], crossed[eye])
    ordered = build_union_mapping(frontal, profile, sides).mapping["right"]
    for group, idx in PROFILE39.groups.items():
        run = list(PROFILE_RUNS_ON_IBUG68[group])
        position = [run.index(f) for f in ordered[list(idx)]]  # raises if a point left its run
        assert np.all(np.diff(position) > 0), (group, ordered[list(idx)])
    assert ordered[eye[2]] == 36 and len(set(ordered)) == PROFILE39.n_points


def test_the_markups_correspondence_lies_along_each_run_in_order():
    from cmhm.landmarks.markups import PROFILE_RUNS_ON_IBUG68, profile_semantic_mapping

    assert list(PROFILE_RUNS_ON_IBUG68) == list(PROFILE39.groups)
    right = profile_semantic_mapping()["right"]
    for group, idx in PROFILE39.groups.items():
        run = list(PROFILE_RUNS_ON_IBUG68[group])
        position = [run.index(f) for f in right[list(idx)]]
        assert np.all(np.diff(position) >= 0), group  # contour neighbours may share a jaw point
    flat = [i for run in PROFILE_RUNS_ON_IBUG68.values() for i in run]
    assert len(flat) == len(set(flat))  # disjoint runs: the ordered mapping is one-to-one
