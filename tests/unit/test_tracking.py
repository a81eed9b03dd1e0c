"""Tracking with failure detection on a synthetic video of a moving bright square."""

import cv2
import numpy as np
import pytest

from cmhm.detection.detectors import HaarDetector, OracleJitterDetector
from cmhm.evaluation.tracking import ClassifierCheck, PeakConfidence, TrackPolicy, track_video
from cmhm.geometry.similarity import enlarge_box

H, W, SIDE, BG = 80, 120, 12, 20


def draw(x0: int, y0: int, value: int = 255) -> np.ndarray:
    """A dark [H, W, 3] frame with a bright SIDE x SIDE square whose top-left pixel is (x0, y0)."""
    img = np.full((H, W, 3), BG, dtype=np.uint8)
    img[y0 : y0 + SIDE, x0 : x0 + SIDE] = value
    return img


def corners(x0: float, y0: float) -> np.ndarray:
    """[4, 2] pixel centres of the square's corner pixels."""
    x1, y1 = x0 + SIDE - 1, y0 + SIDE - 1
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64)


def blob_fit(image: np.ndarray, box: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A fake landmark model that looks only inside ``box``: the corners of the pixels brighter than
    the box's mid-grey, confidence = their contrast against the rest of the box / 255."""
    g = image[..., 0].astype(np.float64)
    x0, y0 = (max(0, int(np.floor(v))) for v in box[:2])
    x1, y1 = min(W, int(np.ceil(box[2])) + 1), min(H, int(np.ceil(box[3])) + 1)
    patch = g[y0:y1, x0:x1]
    centre = np.tile((box[:2] + box[2:]) / 2, (4, 1))
    if patch.size == 0 or patch.max() - patch.min() < 5:
        return centre, np.zeros(4)
    bright = patch > (patch.max() + patch.min()) / 2
    ys, xs = np.nonzero(bright)
    pts = np.array([[xs.min(), ys.min()], [xs.max(), ys.min()], [xs.max(), ys.max()], [xs.min(), ys.max()]])
    contrast = (patch[bright].mean() - patch[~bright].mean()) / 255 if (~bright).any() else 0.0
    return pts + np.array([x0, y0]), np.full(4, contrast)


class Spy:
    """Records the frames a detector is asked about."""

    def __init__(self, inner):
        self.inner, self.calls = inner, []

    def detect(self, image, frame):
        self.calls.append(frame)
        return self.inner.detect(image, frame)


def video(positions, values=None):
    values = values or [255] * len(positions)
    frames = [draw(x, y, v) for (x, y), v in zip(positions, values)]
    # Detector-like boxes: the square grown by 3 px, with a little jitter, as a dataset would store.
    jitter = np.random.default_rng(0).uniform(-1, 1, size=(len(positions), 4))
    boxes = np.array([[x - 3, y - 3, x + SIDE + 2, y + SIDE + 2] for x, y in positions], float) + jitter
    return frames, Spy(OracleJitterDetector(boxes))


SMOOTH = [(10 + 3 * t, 20 + t) for t in range(10)]
POLICY = TrackPolicy(failure=PeakConfidence(threshold=0.3), enlarge=1.5)


def test_smooth_motion_only_detects_on_the_first_frame():
    frames, det = video(SMOOTH)
    res = track_video(iter(frames), blob_fit, det, POLICY)
    assert det.calls == [0]
    np.testing.assert_array_equal(res.redetected, [True] + [False] * 9)
    assert not res.failed.any()
    np.testing.assert_allclose(res.points, np.stack([corners(x, y) for x, y in SMOOTH]))
    assert res.confidence.min() > 0.8 and len(res) == 10
    # From frame 1 on, the box is the previous frame's landmark box enlarged 1.5x.
    np.testing.assert_allclose(
        res.boxes[4], enlarge_box(np.r_[corners(*SMOOTH[3])[0], corners(*SMOOTH[3])[2]], 1.5)
    )


def test_jump_triggers_redetection_then_tracking_resumes():
    pos = SMOOTH[:5] + [(90, 60)] + [(90 + 2 * t, 60 - t) for t in range(1, 4)]
    frames, det = video(pos)
    res = track_video(frames, blob_fit, det, POLICY)
    assert det.calls == [0, 5]  # the tracked fit on frame 5 finds nothing; frame 6 tracks again
    np.testing.assert_array_equal(np.flatnonzero(res.redetected), [0, 5])
    assert not res.failed.any()
    np.testing.assert_allclose(res.points, np.stack([corners(x, y) for x, y in pos]))


def test_low_confidence_frame_is_flagged_and_next_frame_redetects():
    # Frame 3 is dim (contrast 40/255 < 0.3): the refit from the detector box is low too, so the
    # frame stays failed and frame 4 starts from the detector; frame 5 tracks again.
    values = [255] * 10
    values[3] = BG + 40
    frames, det = video(SMOOTH, values)
    res = track_video(frames, blob_fit, det, POLICY)
    assert det.calls == [0, 3, 4]
    np.testing.assert_array_equal(np.flatnonzero(res.failed), [3])
    np.testing.assert_array_equal(np.flatnonzero(res.redetected), [0, 3, 4])
    np.testing.assert_allclose(res.points[4:], np.stack([corners(x, y) for x, y in SMOOTH[4:]]))


def test_no_detection_on_first_frame_leaves_it_empty():
    frames, det = video(SMOOTH[:4])
    det.inner.boxes[0] = np.nan
    res = track_video(frames, blob_fit, det, POLICY)
    assert det.calls == [0, 1]
    assert np.isnan(res.points[0]).all() and np.isnan(res.boxes[0]).all() and res.failed[0]
    np.testing.assert_allclose(res.points[1:], np.stack([corners(x, y) for x, y in SMOOTH[1:4]]))


def test_peak_confidence_semantics():
    check = PeakConfidence(threshold=0.5)
    pts, box, img = np.zeros((3, 2)), np.zeros(4), np.zeros((4, 4))
    assert check.is_failure(img, box, pts, np.array([0.2, 0.4, 0.6]))  # mean 0.4 < 0.5
    assert not check.is_failure(img, box, pts, np.array([0.4, 0.6, 0.5]))  # mean 0.5
    assert check.is_failure(img, box, np.full((3, 2), np.nan), np.ones(3))


def test_classifier_check_scores_the_mapped_fitted_box():
    """The check scores ``to_box(points)`` (default: the points' box); non-finite points always fail."""
    seen = []

    def score(image, box):
        seen.append(box)
        return float(image[int(box[1]), int(box[0])])  # a "classifier": the pixel at the box's corner

    img, pts = np.zeros((10, 10)), np.array([[2.0, 3.0], [6.0, 8.0]])
    img[3, 2], img[0, 1] = 1.0, 0.2
    assert not ClassifierCheck(score, 0.5).is_failure(img, None, pts, np.ones(2))
    np.testing.assert_allclose(seen[-1], [2, 3, 6, 8])
    shifted = ClassifierCheck(score, 0.5, to_box=lambda p: np.array([1.0, 0.0, 5.0, 5.0]))
    assert shifted.is_failure(img, None, pts, np.ones(2))  # 0.2 < 0.5
    assert ClassifierCheck(score, 0.0).is_failure(img, None, np.full((2, 2), np.nan), np.ones(2))


def test_enlarge_box_about_centre():
    np.testing.assert_allclose(enlarge_box(np.array([10.0, 20.0, 30.0, 60.0]), 1.5), [5, 10, 35, 70])


def test_oracle_detector_bounds():
    with pytest.raises(IndexError, match="frame 2"):
        OracleJitterDetector(np.zeros((2, 4))).detect(np.zeros((4, 4)), 2)


def test_haar_detector_errors_clearly_without_cascade(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="cascade"):
        HaarDetector(cascade_path=tmp_path / "missing.xml")
    monkeypatch.delattr(cv2, "data", raising=False)
    with pytest.raises(RuntimeError, match="cv2.data"):
        HaarDetector()


def test_haar_detector_finds_nothing_on_a_blank_image():
    det = HaarDetector()  # the pinned opencv-python-headless<5 bundles the cascade: no skip
    assert det.detect(np.full((120, 160, 3), 128, np.uint8), 0) is None


def test_failed_fit_is_kept_when_the_detector_finds_nothing():
    pos = SMOOTH[:3] + [(90, 60), (91, 60), (92, 61)]
    frames, det = video(pos)
    det.inner.boxes[3] = np.nan  # the detector misses the face on the frame where tracking is lost
    res = track_video(frames, blob_fit, det, POLICY)
    assert det.calls == [0, 3, 4]
    assert res.failed[3] and res.redetected[3] and np.isfinite(res.points[3]).all()
    assert res.confidence[3].max() == 0.0  # the kept (failed) tracked fit
    np.testing.assert_allclose(res.points[4:], np.stack([corners(x, y) for x, y in pos[4:]]))
