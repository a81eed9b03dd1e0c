"""The synthetic-face generator: landmarks on the mesh, visibility, contour marching, profile side,
determinism and sharding, exact yaw-bin counts."""

from __future__ import annotations

import numpy as np
import pytest

from cmhm.data.samples import read_table
from cmhm.synth import SynthConfig, generate_images, render_one
from cmhm.synth.generate import yaw_schedule

CFG = SynthConfig(image_size=128)
ID = {"face_width": 0.3, "nose_length": -0.4, "eye_size": 0.5, "jaw_width": -0.3}
EXPR = {"mouth_open": 0.5, "smile": 0.4}
BINS = [(0, 30, 0.65), (30, 60, 0.23), (60, 90, 0.12)]


@pytest.mark.parametrize("yaw,pitch,roll", [(0, 0, 0), (35, 10, -15), (-60, -15, 20)])
def test_visible_landmarks_sit_on_the_rendered_mesh(yaw, pitch, roll):
    f = render_one(ID, EXPR, yaw, pitch, roll, CFG)
    lm, vis = f.labels["lm3d_68"], f.labels["vis3d_68"]
    tol = 0.08 * f.raster.depth.shape[0] * np.mean(CFG.face_scale)  # lips and nose wings graze
    assert vis.sum() >= 30
    for k, (x, y, z) in enumerate(lm):
        xi, yi = int(np.floor(x)), int(np.floor(y))
        win = f.raster.depth[yi : yi + 2, xi : xi + 2]
        if vis[k]:
            assert f.mask[yi : yi + 2, xi : xi + 2].any()
        if vis[k] and k >= 17 and np.isfinite(win).all():  # inner points off the silhouette
            assert np.min(np.abs(win - z)) < tol, k


def test_frontal_all_visible_profile_hides_far_jaw():
    assert render_one(ID, {}, 0.0, cfg=CFG).labels["vis3d_68"].all()
    prof = render_one(ID, {}, 90.0, cfg=CFG).labels["vis3d_68"]
    # yaw +90: the nose points to image right, the subject's left side (jaw 9..16) faces away
    assert not prof[10:17].any()
    assert prof[0:6].all()


def test_marching_is_a_no_op_when_frontal_and_moves_when_turned():
    f0 = render_one(ID, EXPR, 0.0, 12.0, -8.0, CFG)
    np.testing.assert_allclose(f0.labels["lm2d"][:17], f0.labels["lm3d_68"][:17, :2], atol=1e-9)
    f40 = render_one(ID, EXPR, 40.0, cfg=CFG)
    moved = np.linalg.norm(f40.labels["lm2d"][:17] - f40.labels["lm3d_68"][:17, :2], axis=1)
    assert moved.max() > 2.0
    assert moved[8] == 0.0
    assert f40.labels["vis2d"][:17].all()
    assert f40.labels["contour3d"].shape == (17, CFG.contour_candidates, 3)


@pytest.mark.parametrize("yaw,side", [(70.0, "right"), (-70.0, "left")])
def test_profile_annotation_on_the_visible_side(yaw, side):
    f = render_one(ID, {}, yaw, cfg=CFG)
    assert f.view == "profile" and f.side == side
    assert np.isnan(f.labels["lm2d"]).all()
    prof = f.labels["lm2d_profile"]
    assert np.isfinite(prof).all()
    nose_tip_x = prof[19, 0]  # last nose-bridge point (the tip)
    jaw_top_x = prof[0, 0]  # near the ear
    assert (nose_tip_x > jaw_top_x) == (side == "right")
    ear_side = np.sign(jaw_top_x - nose_tip_x)
    assert np.all(ear_side * (prof[16:20, 0] - prof[0, 0]) <= 0)  # nose points beyond the ear point
    assert np.isnan(render_one(ID, {}, 20.0, cfg=CFG).labels["lm2d_profile"]).all()


def test_generation_is_deterministic_and_shard_invariant(tmp_path):
    full = generate_images(tmp_path / "a", 4, 7, 0, 1, CFG, prefix="t")
    again = generate_images(tmp_path / "b", 4, 7, 0, 1, CFG, prefix="t")
    parts = [generate_images(tmp_path / f"s{k}", 4, 7, k, 2, CFG, prefix="t") for k in range(2)]
    for i in range(4):
        name = full.index["image"].iloc[i]
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
        k, j = (0, i) if i < 2 else (1, i - 2)
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / f"s{k}" / name).read_bytes()
        for arr in full.arrays:
            np.testing.assert_array_equal(full.arrays[arr][i], parts[k].arrays[arr][j])
            np.testing.assert_array_equal(full.arrays[arr][i], again.arrays[arr][i])
        np.testing.assert_array_equal(full.extra["contour3d"][i], parts[k].extra["contour3d"][j])
    back = read_table(tmp_path / "a")
    np.testing.assert_array_equal(back.arrays["lm3d_68"], full.arrays["lm3d_68"])
    assert list(back.index["sample_id"]) == [f"t{i:06d}" for i in range(4)]


def test_test_split_yaw_bin_counts_are_exact(tmp_path):
    sched = yaw_schedule(37, 0, 1, BINS, CFG)
    counts = np.bincount(sched, minlength=3)
    assert counts.tolist() == [37 - round(0.23 * 37) - round(0.12 * 37), round(0.23 * 37), round(0.12 * 37)]
    table = generate_images(tmp_path, 9, 3, 0, 1, CFG, yaw_bins=BINS, prefix="e")
    yaw = np.abs(table.index["yaw"].to_numpy())
    got = [int(((yaw >= lo) & (yaw < hi)).sum()) for lo, hi, _ in BINS]
    assert got == [9 - round(0.23 * 9) - round(0.12 * 9), round(0.23 * 9), round(0.12 * 9)]
    assert set(table.index["view"]) <= {"semifrontal", "profile"}
    assert ((table.index["view"] == "profile") == (yaw > CFG.profile_yaw)).all()
