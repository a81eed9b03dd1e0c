"""Issue 28: ``cmhm predict`` names each bad input (a half JPEG, a box off the image, a bad ``--boxes`` file)
instead of predicting on it, and writes its outputs through a temporary name (a full disk leaves no
partial file)."""

from __future__ import annotations

import csv
import errno
from pathlib import Path

import cv2
import numpy as np
import pytest

from cmhm.cli import main
from cmhm.inference.api import load
from cmhm.inference.boxes import read_boxes
from cmhm.inference.predict_files import run_predict
from tests.faults.tiny import cascade_file

W, H = 96, 80


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return cascade_file(tmp_path_factory.mktemp("cascade"))


@pytest.fixture(scope="module")
def aligner(model):
    return load(model, device="cpu")


def _jpeg(path: Path) -> Path:
    rng = np.random.default_rng(0)
    cv2.imwrite(str(path), rng.integers(0, 255, size=(H, W, 3), dtype=np.uint8))
    return path


def _boxes_csv(path: Path, rows: list[list]) -> Path:
    with path.open("w", newline="") as f:
        csv.writer(f).writerows([["image", "x0", "y0", "x1", "y1"], *rows])
    return path


def _failures(out: Path) -> list[list[str]]:
    with (out / "failures.csv").open(newline="") as f:
        return list(csv.reader(f))[1:]


def test_a_good_jpeg_with_a_box_is_predicted(aligner, tmp_path) -> None:
    img = _jpeg(tmp_path / "face.jpg")
    boxes = _boxes_csv(tmp_path / "boxes.csv", [["face.jpg", 10, 10, 60, 60]])
    report = run_predict(aligner, [str(img)], tmp_path / "out", str(boxes), progress=False)
    assert report.faces == {str(img): 1} and not report.failures
    assert (tmp_path / "out" / "face.pts").is_file()
    # the run's wall time and rates (cmhm predict prints them)
    assert (
        report.seconds > 0
        and report.rate() == f"{1 / report.seconds:.2f} inputs/s, {1 / report.seconds:.2f} faces/s"
    )


def test_half_a_jpeg_is_a_failure_of_that_input(aligner, tmp_path) -> None:
    """OpenCV decodes a truncated JPEG with a libjpeg warning that names no file; it must not be predicted."""
    full = _jpeg(tmp_path / "full.jpg").read_bytes()
    half = tmp_path / "half.jpg"
    half.write_bytes(full[: len(full) // 2])
    assert cv2.imread(str(half)) is not None  # the silent case: OpenCV returns an image
    boxes = _boxes_csv(tmp_path / "boxes.csv", [["half.jpg", 10, 10, 60, 60]])
    out = tmp_path / "out"
    report = run_predict(aligner, [str(half)], out, str(boxes), progress=False)
    assert report.faces == {} and not (out / "half.pts").exists()
    [(name, reason)] = _failures(out)
    assert name == str(half) and "does not decode completely" in reason


def test_a_box_off_the_image_is_refused_naming_the_box_row(aligner, tmp_path) -> None:
    img = _jpeg(tmp_path / "face.jpg")
    boxes = _boxes_csv(
        tmp_path / "boxes.csv", [["face.jpg", 10, 10, 60, 60], ["face.jpg", 500, 500, 600, 600]]
    )
    out = tmp_path / "out"
    report = run_predict(aligner, [str(img)], out, str(boxes), progress=False)
    assert report.faces == {} and not (out / "face.pts").exists()
    [(name, reason)] = _failures(out)
    assert name == str(img)
    assert f"{boxes}, line 3" in reason and f"does not overlap the {W}x{H} image" in reason


@pytest.mark.parametrize(
    ("name", "text", "named"),
    [
        (
            "short.csv",
            "image,x0,y0,x1,y1\nface.jpg,1,2,30,40\nface.jpg,1,2,30\n",
            ", line 3, column y1: missing",
        ),
        ("word.csv", "image,x0,y0,x1,y1\nface.jpg,1,two,30,40\n", ", line 2, column y0: not a number: 'two'"),
        ("bad.json", '{"face.jpg": [[1, 2, 30, 40]],\n "b.jpg": [1, 2}', ", line 2, column"),
        ("three.json", '{"face.jpg": [[1, 2, 30]]}', ", 'face.jpg' box 0: a box is 4 numbers"),
        ("flat.json", '{"face.jpg": [1, 2, 30, 40]}', ", 'face.jpg' box 0: a box is 4 numbers"),
        ("nan.json", '{"face.jpg": [[1, 2, NaN, 40]]}', ", 'face.jpg' box 0, column x1: not a finite number"),
    ],
)
def test_a_bad_boxes_file_names_file_row_and_column(tmp_path, capsys, model, name, text, named) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ValueError) as exc:
        read_boxes(path)
    assert f"{path}{named}" in str(exc.value)
    img = _jpeg(tmp_path / "face.jpg")
    assert main(["predict", str(model), str(img), "--boxes", str(path), "--out", str(tmp_path / "o")]) == 2
    assert f"{path}{named}" in capsys.readouterr().err


def test_a_full_disk_leaves_no_partial_overlay_or_jsonl(aligner, tmp_path, monkeypatch) -> None:
    """A write that fails half-way (a full disk) names the file and leaves neither a partial file nor a
    temporary one."""
    img = _jpeg(tmp_path / "face.jpg")
    boxes = _boxes_csv(tmp_path / "boxes.csv", [["face.jpg", 10, 10, 60, 60]])
    out = tmp_path / "out"

    def full_disk(path, image, *args):
        Path(path).write_bytes(b"\x89PNG partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(cv2, "imwrite", full_disk)
    with pytest.raises(OSError, match=f"cannot write {out / 'face.png'}"):
        run_predict(aligner, [str(img)], out, str(boxes), overlay=True, progress=False)
    assert sorted(p.name for p in out.iterdir()) == ["face.pts"]
    monkeypatch.undo()

    real_write_text = Path.write_text

    def jsonl_full(self, text, *args, **kwargs):
        if self.name.endswith(".jsonl") or ".predictions.jsonl" in self.name:
            real_write_text(self, text[:3])
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write_text(self, text, *args, **kwargs)

    out2 = tmp_path / "out2"
    monkeypatch.setattr(Path, "write_text", jsonl_full)
    with pytest.raises(OSError, match=f"cannot write {out2 / 'predictions.jsonl'}"):
        run_predict(aligner, [str(img)], out2, str(boxes), progress=False)
    assert not (out2 / "predictions.jsonl").exists()
    assert not [p for p in out2.iterdir() if p.name.startswith(".")]


def test_a_full_disk_during_a_video_overlay_leaves_no_partial_mp4(model, tmp_path, monkeypatch) -> None:
    clip = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), 25, (W, H))
    for k in range(4):
        writer.write(np.full((H, W, 3), 40 * k, dtype=np.uint8))
    writer.release()
    aligner = load(model, device="cpu")
    monkeypatch.setattr(aligner, "find_faces", lambda image: [(np.array([10.0, 10.0, 60.0, 60.0]), None)])

    real_writer = cv2.VideoWriter

    class FullDisk:
        """OpenCV's video writer on a disk that fills after the first frame: later frames are lost without
        a word (``write`` returns nothing and raises nothing), as OpenCV's writer does."""

        def __init__(self, *args) -> None:
            self.writer, self.frames = real_writer(*args), 0

        def isOpened(self) -> bool:  # noqa: N802 (OpenCV's name)
            return self.writer.isOpened()

        def write(self, frame) -> None:
            self.frames += 1
            if self.frames == 1:
                self.writer.write(frame)

        def release(self) -> None:
            self.writer.release()

    monkeypatch.setattr(cv2, "VideoWriter", FullDisk)
    out = tmp_path / "out"
    with pytest.raises(
        OSError, match=f"cannot write {out / 'clip.mp4'} \\(the overlay video reads back with 1 of its 4"
    ):
        run_predict(aligner, [str(clip)], out, overlay=True, progress=False)
    assert not (out / "clip.mp4").exists() and not [p for p in out.iterdir() if p.name.startswith(".")]
    monkeypatch.setattr(cv2, "VideoWriter", real_writer)  # a disk with room: the whole overlay is kept
    run_predict(aligner, [str(clip)], out, overlay=True, progress=False)
    assert (out / "clip.mp4").stat().st_size > 0


def test_predict_with_worker_processes_and_a_bad_worker_count(tmp_path, capsys, model) -> None:
    """``--workers 2`` aligns every image (a box off one image is still named, from its worker); a
    negative count is refused by name before any model loads."""
    imgs = [_jpeg(tmp_path / f"face{i}.jpg") for i in range(3)]
    rows = [[f"face{i}.jpg", 10, 10, 60, 60] for i in range(2)] + [["face2.jpg", 500, 500, 560, 560]]
    boxes = _boxes_csv(tmp_path / "boxes.csv", rows)
    args = ["predict", str(model), *(str(p) for p in imgs), "--boxes", str(boxes), "--device", "cpu"]
    assert main([*args, "--out", str(tmp_path / "o"), "--workers", "2"]) == 1
    said = capsys.readouterr()
    assert "2 faces in 2 inputs" in said.out and "1 failed" in said.out and "2 worker processes" in said.out
    assert _failures(tmp_path / "o")[0][0] == str(imgs[2]) and "face2.jpg" in said.err
    assert main([*args, "--out", str(tmp_path / "p"), "--workers", "-1"]) == 2
    assert "--workers -1: give a number of processes" in capsys.readouterr().err
