"""Tracking scored against the labels a video table has: 3D-projection labels, else 2D iBUG-68 inner points.

The 2D path runs on the real 300VW fixture frames (adapted by adapt_300vw) with an oracle fit whose
prediction is the ground truth moved by known offsets, so each frame's NME is worked out by hand.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from cmhm.atomic import write_json_atomic
from cmhm.data.cropping import read_image
from cmhm.data.video import adapt_300vw
from cmhm.evaluation.evaluate import track_fitted, tracking_metrics
from cmhm.evaluation.metrics import nme_diag
from cmhm.evaluation.track_labels import tracking_labels
from cmhm.evaluation.tracking import PeakConfidence, TrackPolicy
from cmhm.inspect.explain import inspect_path
from cmhm.pipeline.provenance import provenance

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures"
PROV = {"test": True}
# Published markup facts: iBUG 68 has a 17-point jaw then 51 inner points (17..67); Menpo-3D 84 has a
# 33-point jaw then the same 51 inner points, so inner iBUG point i is Menpo-3D point i + 16.
N_JAW68, N_POINTS = 17, 68
INNER_AT = {"ibug68": (68, 0), "menpo84": (84, 16)}  # markup -> (points, shift of the inner indices)
NOSE_TIP = 30  # iBUG 68 index


def fixture_dir(name: str) -> Path:
    path = FIXTURES / name
    if not path.is_dir():
        pytest.skip(f"shared fixtures absent: {path} (expected beside the repo at ../shared/fixtures)")
    return path


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    # video 001 keeps frames 6 and 9 only: the gap 7-8 is skipped by policy, the frames stay
    src = fixture_dir("300vw")
    return adapt_300vw(src, tmp_path_factory.mktemp("vw"), provenance=PROV, on_bad_sample="skip")


def hand_diagonal(pts_file: Path) -> float:
    """Diagonal of the box of the 68 points of an iBUG .pts file, parsed here by hand."""
    lines = pts_file.read_text().splitlines()
    body = lines[lines.index("{") + 1 : lines.index("}")]
    xy = np.array([[float(v) for v in line.split()] for line in body])
    assert xy.shape == (N_POINTS, 2)
    return float(np.hypot(*np.ptp(xy, axis=0)))


def _key(image: np.ndarray) -> str:
    return hashlib.sha1(image.tobytes()).hexdigest()


def oracle_fit(table, markup: str, inner_offset: np.ndarray, jaw: float):
    """A fit that returns each frame's 2D ground truth in ``markup``'s order: inner points moved by
    ``inner_offset`` [68, 2] (jaw rows unused), every jaw slot of the markup set to (jaw, jaw)."""
    n, shift = INNER_AT[markup]
    by_image = {}
    for i in range(len(table)):
        gt = table.arrays["lm2d"][i].astype(np.float64)
        pred = np.full((n, 2), jaw)
        pred[N_JAW68 + shift : N_POINTS + shift] = (gt + inner_offset)[N_JAW68:]
        by_image[_key(read_image(table.image_path(i)))] = pred

    def fit(image, box):
        return by_image[_key(image)], np.ones(n)

    return fit


def track(table, markup, inner_offset, jaw=-5.0):
    labels = tracking_labels(table, markup)
    policy = TrackPolicy(failure=PeakConfidence(0.5), enlarge=1.2)
    per_frame, _ = track_fitted(oracle_fit(table, markup, inner_offset, jaw), table, labels, policy)
    return per_frame, labels


def expected(table, per_frame, point_errors: np.ndarray) -> np.ndarray:
    src = fixture_dir("300vw")
    diag = [
        hand_diagonal(src / v / "annot" / f"{f:06d}.pts")
        for v, f in zip(per_frame["video"], per_frame["frame"])
    ]
    return point_errors.mean() / np.array(diag)


@pytest.mark.parametrize("markup", sorted(INNER_AT))
def test_2d_path_scores_the_inner_points_by_hand(table, markup):
    offset = np.tile([3.0, 4.0], (N_POINTS, 1))  # every inner point 5 px off
    per_frame, labels = track(table, markup, offset)
    assert labels.points == "inner 51 of lm2d (2D labels; jaw not scored)"
    assert list(per_frame["video"]) == ["001", "001", "401", "401"]
    assert not per_frame["failed"].any() and per_frame["redetected"].sum() == 2  # first frame of each video
    np.testing.assert_allclose(per_frame["nme_diag"], expected(table, per_frame, np.full(51, 5.0)), rtol=1e-6)

    offset[NOSE_TIP] = [6.0, 8.0]  # one inner point 10 px off: the score moves by exactly its share
    moved, _ = track(table, markup, offset)
    errors = np.full(51, 5.0)
    errors[NOSE_TIP - N_JAW68] = 10.0
    np.testing.assert_allclose(moved["nme_diag"], expected(table, moved, errors), rtol=1e-6)


@pytest.mark.parametrize("markup", sorted(INNER_AT))
def test_2d_path_jaw_points_do_not_enter(table, markup):
    offset = np.tile([1.0, -2.0], (N_POINTS, 1))
    near, _ = track(table, markup, offset, jaw=0.0)
    far, _ = track(table, markup, offset, jaw=1e4)
    np.testing.assert_array_equal(near["nme_diag"], far["nme_diag"])


def test_3d_labels_win_and_are_scored_as_before(table):
    """A table with finite 3D-projection labels is scored on all of them, exactly as nme_diag did."""
    rng = np.random.default_rng(0)
    lm84 = np.concatenate(
        [rng.uniform(100, 400, (len(table), 84, 2)), rng.uniform(0, 50, (len(table), 84, 1))], -1
    )
    with3d = replace(table, arrays={**table.arrays, "lm3d_84": lm84.astype(np.float32)})
    labels = tracking_labels(with3d, "menpo84")
    assert labels.points == "all 84 of lm3d_84 (3D-projection labels)"
    pred = rng.uniform(100, 400, (2, 84, 2))
    rows = np.array([3, 1])
    np.testing.assert_array_equal(
        labels.nme(pred, rows), nme_diag(pred, with3d.arrays["lm3d_84"][rows, :, :2])
    )


def test_a_table_with_neither_label_is_named(table):
    bare = replace(table, arrays={**table.arrays, "lm2d": np.full_like(table.arrays["lm2d"], np.nan)})
    with pytest.raises(
        ValueError, match=r"no finite 3D-projection labels \(lm3d_68, markup ibug68\).*\(lm2d\)"
    ) as err:
        tracking_labels(bare, "ibug68")
    assert str(table.root) in str(err.value)


def test_inspect_says_which_points_were_scored(table, tmp_path):
    per_frame, labels = track(table, "menpo84", np.tile([3.0, 4.0], (N_POINTS, 1)))
    per_frame.to_csv(tmp_path / "per_frame.csv", index=False)
    record = {**tracking_metrics(per_frame, 0.05), "points": labels.points, "provenance": provenance({}, "v")}
    write_json_atomic(tmp_path / "tracking_metrics.json", record)
    out = inspect_path(tmp_path / "per_frame.csv")
    assert "points scored: inner 51 of lm2d (2D labels; jaw not scored) (as in tracking_metrics.json)" in out
