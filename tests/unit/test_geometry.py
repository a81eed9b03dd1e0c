import numpy as np
import pytest

from cmhm.geometry.similarity import (
    apply_affine,
    box_to_crop_affine,
    compose_affine,
    invert_affine,
    landmark_box,
    procrustes,
)

from .known_transforms import similarity_matrix


def test_procrustes_recovers_known_similarity():
    rng = np.random.default_rng(0)
    src = rng.normal(size=(68, 2)) * 30
    A_true = similarity_matrix(1.7, np.deg2rad(23.0), 12.5, -4.25)
    dst = apply_affine(A_true, src)
    A = procrustes(src, dst)
    np.testing.assert_allclose(A, A_true, atol=1e-10)


def test_procrustes_ignores_nan_and_respects_weights():
    rng = np.random.default_rng(1)
    src = rng.normal(size=(20, 2))
    A_true = similarity_matrix(0.5, -1.0, 3.0, 2.0)
    dst = apply_affine(A_true, src)
    dst[3] = np.nan
    dst[5] += 100.0  # an outlier with zero weight must not matter
    w = np.ones(20)
    w[5] = 0.0
    np.testing.assert_allclose(procrustes(src, dst, w), A_true, atol=1e-10)


def test_procrustes_never_reflects():
    src = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
    dst = src * np.array([-1.0, 1.0])
    A = procrustes(src, dst)
    assert np.linalg.det(A[:, :2]) > 0


def test_procrustes_needs_two_points():
    with pytest.raises(ValueError, match="two finite"):
        procrustes(np.zeros((3, 2)), np.full((3, 2), np.nan))


def test_invert_and_compose_round_trip():
    A = similarity_matrix(2.0, 0.3, 5.0, 7.0)
    pts = np.array([[1.0, 2.0], [-3.0, 4.5]])
    np.testing.assert_allclose(apply_affine(invert_affine(A), apply_affine(A, pts)), pts, atol=1e-12)
    B = similarity_matrix(0.7, -1.1, -2.0, 1.0)
    np.testing.assert_allclose(apply_affine(compose_affine(A, B), pts), apply_affine(A, apply_affine(B, pts)))


def test_box_to_crop_maps_box_centre_to_crop_centre():
    box = np.array([[10.0, 20.0, 110.0, 100.0]])
    A = box_to_crop_affine(box, 64, 1.25)[0]
    np.testing.assert_allclose(apply_affine(A, np.array([[60.0, 60.0]])), [[31.5, 31.5]])
    assert A[0, 0] == pytest.approx(64 / 125.0)


def test_landmark_box_ignores_nan():
    pts = np.array([[1.0, 5.0], [np.nan, np.nan], [3.0, -2.0]])
    np.testing.assert_allclose(landmark_box(pts), [1.0, -2.0, 3.0, 5.0])
