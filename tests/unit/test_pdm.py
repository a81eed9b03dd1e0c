"""PDM learning and fitting on a synthetic ellipsoid head whose shapes come from random smooth warps."""

import numpy as np
import pytest

from cmhm.landmarks.fit_table import fit_nme, fit_table
from cmhm.landmarks.markups import IBUG68, MENPO84, PROFILE39, profile_semantic_mapping
from cmhm.landmarks.shape_fit import (
    FitConfig,
    euler_to_rotation,
    fit_profile,
    fit_semifrontal,
    rotation_to_euler,
)
from cmhm.landmarks.shape_model import FORMAT, PDM, build_pdm_shapes, learn_pdm

K = 6
JAW = np.asarray(IBUG68.groups["jaw"])


def _surface(phi_deg, y):
    """Points on an ellipsoid head (x right, y down, z away): azimuth phi (0 = front), height y."""
    phi = np.deg2rad(np.asarray(phi_deg, float))
    y = np.broadcast_to(np.asarray(y, float), phi.shape)
    rho = np.sqrt(1 - (y / 1.3) ** 2)
    return np.stack([rho * np.sin(phi), y, -rho * np.cos(phi)], -1)


def _template():
    """(lm68 [68,3], lm84 [84,3], contour [17,K,3]) of the mean head."""
    phi_j = np.linspace(-80, 80, len(JAW))

    def y_of(phi):
        return 0.1 + 0.9 * (1 - (np.asarray(phi) / 80) ** 2)

    lm68 = np.zeros((IBUG68.n_points, 3))
    lm68[JAW] = _surface(phi_j, y_of(phi_j))
    layout = {
        "brow_right": (-30, -0.55, 0),
        "brow_left": (30, -0.55, 0),
        "eye_right": (-25, -0.35, 0),
        "eye_left": (25, -0.35, 0),
        "nose_bridge": (0, -0.2, 0.15),
        "nose_base": (0, 0.15, 0.1),
        "lip_outer": (0, 0.45, 0.02),
        "lip_inner": (0, 0.45, 0.0),
    }
    for name, (phi_c, y_c, bump) in layout.items():
        idx = np.asarray(IBUG68.groups[name])
        a = np.linspace(0, 2 * np.pi, len(idx), endpoint=False)
        pts = _surface(
            phi_c + 12 * np.cos(a), y_c + 0.06 * np.sin(a) + (0.3 * a / 6 if name == "nose_bridge" else 0)
        )
        pts[:, 2] -= bump
        lm68[idx] = pts
    phi84 = np.linspace(-80, 80, len(MENPO84.groups["jaw"]))
    lm84 = np.concatenate([_surface(phi84, y_of(phi84)), lm68[len(JAW) :]])
    steps = np.sign(phi_j)[:, None] * 8.0 * np.arange(K)[None, :]
    contour = _surface(phi_j[:, None] + steps, np.repeat(y_of(phi_j)[:, None], K, 1))
    return lm68, lm84, contour


def _random_shapes(n, rng, similarity=True):
    lm68, lm84, contour = _template()
    base, _ = build_pdm_shapes(lm68[None], lm84[None], contour[None])
    base = base[0]

    def feats(p):
        return np.stack(
            [
                p[:, 0] ** 2,
                p[:, 1] ** 2,
                p[:, 2] ** 2,
                p[:, 0] * p[:, 1],
                p[:, 1] * p[:, 2],
                p[:, 0] * p[:, 2],
                p[:, 1] ** 3,
            ],
            -1,
        )

    W = rng.normal(size=(8, 3, 7)) * 0.08
    coef = rng.normal(size=(n, 8)) * np.linspace(1, 0.3, 8)
    shapes = base + np.einsum("nm,mij,pj->npi", coef, W, feats(base))
    if similarity:
        for i in range(n):
            R = euler_to_rotation(*rng.uniform(-60, 60, 3))
            shapes[i] = rng.uniform(50, 150) * shapes[i] @ R.T + rng.normal(size=3) * 100
    return shapes


@pytest.fixture(scope="module")
def pdm():
    return learn_pdm(_random_shapes(300, np.random.default_rng(0)), n_candidates=K, n_modes=8)


def _render(pdm, rng, yaw, pitch=0.0, roll=0.0):
    """Ground truth (lm3d_68, lm3d_84 [image coords], lm2d with jaw on the extreme-outward candidate, R)."""
    alpha = rng.uniform(-2, 2, pdm.n_modes) * pdm.std
    X = pdm.shape(alpha)
    R = euler_to_rotation(yaw, pitch, roll)
    s, t = rng.uniform(80, 120), rng.uniform(150, 250, 2)
    img = np.concatenate([s * X @ R[:2].T + t, s * X @ R[2:].T], 1)
    outward = np.array([np.cos(np.deg2rad(roll)), np.sin(np.deg2rad(roll))])
    lm2d = img[: IBUG68.n_points, :2].copy()
    for j in JAW:
        rows = pdm.idx_contour()[j]
        side = np.sign(np.round(pdm.mean[j, 0] - pdm.mean[IBUG68.groups["nose_bridge"], 0].mean(), 3))
        lm2d[j] = img[rows[np.argmax(side * img[rows, :2] @ outward)], :2]
    return img[pdm.idx68()], img[pdm.idx84()], lm2d, img, R


def test_layout_and_save_round_trip(pdm, tmp_path):
    lm68, lm84, contour = _template()
    shapes, _ = build_pdm_shapes(lm68[None], lm84[None], contour[None])
    np.testing.assert_array_equal(shapes[0][PDM.idx84()], lm84)
    np.testing.assert_array_equal(shapes[0][pdm.idx_contour()], contour)
    bad = contour.copy()[None]
    bad[0, 3, 2] = np.nan
    assert build_pdm_shapes(lm68[None], lm84[None], bad)[1].tolist() == [False]
    pdm.save(tmp_path / "pdm.npz")
    with np.load(tmp_path / "pdm.npz", allow_pickle=False) as back:
        np.testing.assert_array_equal(back["basis"], pdm.basis)
        assert str(back["format"]) == FORMAT and int(back["n_candidates"]) == K
    loaded = PDM.load(tmp_path / "pdm.npz")  # rule heldout_fit reads the model annotations_3d wrote
    for name in ("mean", "basis", "std"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(pdm, name))
    assert loaded.n_candidates == pdm.n_candidates
    np.savez(tmp_path / "other.npz", format="something-else", mean=pdm.mean)
    with pytest.raises(ValueError, match="other.npz: not a shape model file"):
        PDM.load(tmp_path / "other.npz")


def test_learn_pdm_removes_similarities():
    shapes = _random_shapes(100, np.random.default_rng(1), similarity=False)
    ref = learn_pdm(shapes, n_candidates=K, n_modes=5)
    rng = np.random.default_rng(2)
    moved = np.stack(
        [
            rng.uniform(0.2, 5) * s @ euler_to_rotation(*rng.uniform(-90, 90, 3)).T + rng.normal(size=3) * 50
            for s in shapes
        ]
    )
    other = learn_pdm(moved, n_candidates=K, n_modes=5)
    np.testing.assert_allclose(other.mean, ref.mean, atol=1e-6)
    np.testing.assert_allclose(other.std, ref.std, rtol=1e-5)
    assert (
        abs(ref.mean[IBUG68.groups["eye_left"], 0].mean() - ref.mean[IBUG68.groups["eye_right"], 0].mean())
        > 0.3
    )


def test_euler_round_trip():
    R = euler_to_rotation(33.0, -12.0, 7.0)
    np.testing.assert_allclose(rotation_to_euler(R), (33.0, -12.0, 7.0), atol=1e-9)
    nose = R @ np.array([0, 0, -1.0])  # yaw > 0: nose to image right; pitch > 0 lifts it
    assert nose[0] > 0 and euler_to_rotation(0, 20, 0)[1] @ np.array([0, 0, -1.0]) < 0


def test_semifrontal_fit_recovers_pdm_samples(pdm):
    rng = np.random.default_rng(3)
    for _ in range(10):
        pose = (rng.uniform(-40, 40), rng.uniform(-20, 20), rng.uniform(-15, 15))
        gt68, gt84, lm2d, _, _ = _render(pdm, rng, *pose)
        r = fit_semifrontal(pdm, lm2d, np.ones(len(lm2d), bool))
        for pred, gt in ((r.lm3d_68, gt68), (r.lm3d_84, gt84)):
            assert fit_nme(pred[None], gt[None], dims=2)[0] < 0.005
            assert fit_nme(pred[None], gt[None], dims=3)[0] < 0.005
        np.testing.assert_allclose((r.yaw, r.pitch, r.roll), pose, atol=2.0)


def test_marching_helps_at_large_yaw(pdm):
    rng = np.random.default_rng(4)
    err = {True: [], False: []}
    for yaw in rng.uniform(60, 80, 6) * rng.choice([-1, 1], 6):
        gt68, _, lm2d, _, _ = _render(pdm, rng, yaw)
        for m, errs in err.items():
            errs.append(
                fit_nme(fit_semifrontal(pdm, lm2d, cfg=FitConfig(march=m)).lm3d_68[None], gt68[None])[0]
            )
    assert np.mean(err[True]) < 0.5 * np.mean(err[False])


def test_profile_fit(pdm):
    rng = np.random.default_rng(5)
    mapping = profile_semantic_mapping()
    for side, yaw in (("right", 80.0), ("left", -80.0)):
        gt68, _, _, img, _ = _render(pdm, rng, yaw, rng.uniform(-10, 10))
        prof = img[mapping[side], :2].copy()
        for v, j in enumerate(mapping[side]):
            if j in JAW:
                rows = pdm.idx_contour()[j]
                side_j = np.sign(
                    np.round(pdm.mean[j, 0] - pdm.mean[IBUG68.groups["nose_bridge"], 0].mean(), 3)
                )
                prof[v] = img[rows[np.argmax(side_j * img[rows, 0])], :2]
        r = fit_profile(pdm, prof, mapping[side])
        assert fit_nme(r.lm3d_68[None], gt68[None])[0] < 0.03
        assert abs(r.yaw - yaw) < 3.0


def test_fit_table_and_nme(pdm):
    rng = np.random.default_rng(6)
    _, gt84, lm2d, _, _ = _render(pdm, rng, 20.0)
    n = 3
    out = fit_table(
        pdm,
        np.stack([lm2d] * n),
        np.ones((n, IBUG68.n_points), bool),
        np.full((n, PROFILE39.n_points, 2), np.nan),
        np.array(["", "", "right"]),
        np.array(["semifrontal", "semifrontal", "profile"]),
        profile_semantic_mapping(),
    )
    assert out["ok"].tolist() == [True, True, False]
    assert fit_nme(out["lm3d_84"][:2], np.stack([gt84] * 2)).max() < 0.005
    gt = np.array([[[0, 0, 5.0], [4, 0, 5], [0, 1, 5], [4, 1, 5]]])
    pred = gt + np.array([0.0, 0.0, 10.0])  # a depth offset is not an error
    pred[0, 0, 0] += 2.0
    np.testing.assert_allclose(fit_nme(pred, gt), [0.5 / 2.0])
    np.testing.assert_allclose(fit_nme(pred, gt, dims=2), [0.5 / 2.0])


def test_depth_sign_convention(pdm):
    """Larger z = farther: the nose tip is nearer than the ears; at yaw > 0 the subject's right cheek is nearer."""
    rng = np.random.default_rng(8)
    jaw = IBUG68.groups["jaw"]
    tip = IBUG68.groups["nose_bridge"][-1]
    for yaw in (0.0, 30.0):
        _, _, lm2d, _, _ = _render(pdm, rng, yaw)
        z = fit_semifrontal(pdm, lm2d).lm3d_68[:, 2]
        assert z[tip] < min(z[jaw[0]], z[jaw[-1]])
        if yaw > 0:
            assert z[jaw[0]] < z[jaw[-1]]
