"""The model file (cascade.pt), the Python API, ``cmhm predict`` on real photos, and the ONNX export."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import scipy.io
import torch

from cmhm.data.pts import read_pts
from cmhm.geometry.image_warp import warp_image
from cmhm.geometry.similarity import box_to_crop_affine, landmark_box
from cmhm.inference.api import load
from cmhm.inference.model_file import (
    CropConvention,
    ModelFileError,
    checked_stages,
    read_cascade,
    write_cascade,
)
from cmhm.inference.predict_files import run_predict
from cmhm.landmarks.markups import IBUG68
from cmhm.models.cascade import Cascade, stage_plans
from cmhm.models.hourglass import ModelConfig
from cmhm.training.batches import TrainData, to_tensor
from cmhm.training.loop import TrainConfig, load_stage, predict
from cmhm.training.stages import train_variant_stage

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures"
AFLW = FIXTURES / "aflw2000-3d"
SIZE, BOX_SCALE = 32, 1.3
needs_fixtures = pytest.mark.skipif(not AFLW.is_dir(), reason=f"shared fixtures absent: {AFLW}")


def _aflw() -> tuple[list[Path], np.ndarray]:
    """The fixture images and their 68 landmarks [N, 68, 2] (0-based image pixels)."""
    images = sorted(AFLW.glob("*.jpg"))
    pts = np.stack([scipy.io.loadmat(p.with_suffix(".mat"))["pt3d_68"][:2].T for p in images])
    return images, pts


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    """A two-stage ``cmhm`` cascade briefly trained on the AFLW2000-3D fixture crops (so peaks are distinct)."""
    if not AFLW.is_dir():
        pytest.skip(f"shared fixtures absent: {AFLW}")
    root = tmp_path_factory.mktemp("model")
    paths, pts = _aflw()
    A = box_to_crop_affine(landmark_box(pts), SIZE, BOX_SCALE)
    crops = np.stack(
        [warp_image(cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB), a, SIZE) for p, a in zip(paths, A)]
    )
    crop_pts = (np.einsum("nij,nkj->nki", A[:, :, :2], pts) + A[:, None, :, 2]).astype(np.float32)
    data = TrainData(
        crops, {"union2d": crop_pts, "lm3d_68": crop_pts}, np.array([""] * len(crops), dtype=object)
    )
    base = ModelConfig(in_size=SIZE, n_stacks=1, depth=1, width=8)
    cfg = TrainConfig(steps=60, lr=2e-3, sigma=1.0, checkpoint_every=1000, log_every=50, augment=None)
    files = []
    for i in range(len(stage_plans("cmhm", base, IBUG68))):
        files.append(train_variant_stage("cmhm", i, base, IBUG68, data, cfg, root / f"stage{i}", "test"))
    # the canonical frame: where this briefly trained stage 1 puts the points on average (so the fixture's
    # stage-2 warps are near-identity and its points stay inside the crop)
    mean = predict(load_stage(files[0]), crops, device="cpu")["points"].mean(0)
    np.save(root / "mean_shape.npy", mean)
    return write_cascade(
        root / "cascade.pt",
        variant="cmhm",
        stages=checked_stages([str(f) for f in files], "cmhm", "ibug68", SIZE),
        mean_shapes=[torch.as_tensor(mean, dtype=torch.float32)],
        crop=CropConvention(SIZE, BOX_SCALE),
        detector={"name": "haar", "cascade_path": None, "calibration": None},
        tracking={"check": "heatmap", "threshold": 0.3, "enlarge": 1.2, "onet_calibration": None},
        config={"crop": {"size": SIZE}},
        config_digest="test",
        code_version="test",
    )


def _crops(n: int = 6) -> np.ndarray:
    paths, pts = _aflw()
    A = box_to_crop_affine(landmark_box(pts[:n]), SIZE, BOX_SCALE)
    return np.stack(
        [warp_image(cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB), a, SIZE) for p, a in zip(paths, A)]
    )


def test_round_trip_equals_the_pieces(model_file: Path) -> None:
    root = model_file.parent
    pieces = Cascade(
        [load_stage(root / "stage0" / "model.pt"), load_stage(root / "stage1" / "model.pt")],
        [torch.as_tensor(np.load(root / "mean_shape.npy"), dtype=torch.float32)],
    ).eval()
    crops = _crops()
    a, b = (
        predict(pieces, crops, device="cpu"),
        predict(read_cascade(model_file).cascade, crops, device="cpu"),
    )
    assert np.array_equal(a["points"], b["points"]) and np.array_equal(a["confidence"], b["confidence"])
    loaded = read_cascade(model_file)
    assert loaded.variant == "cmhm" and loaded.crop.size == SIZE and loaded.tracking["threshold"] == 0.3


def test_refuses_what_is_not_a_cascade(model_file: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="single stage"):
        read_cascade(model_file.parent / "stage0" / "model.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a torch file")
    with pytest.raises(ModelFileError, match="junk.pt"):
        read_cascade(junk)
    with pytest.raises(ModelFileError, match="no such model file"):
        read_cascade(tmp_path / "absent.pt")


@needs_fixtures
def test_predict_writes_pts_json_png_and_reports_bad_inputs(model_file: Path, tmp_path: Path) -> None:
    paths, pts = _aflw()
    good = paths[:2]
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8 truncated")
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((120, 160, 3), 128, np.uint8))
    out = tmp_path / "out"
    fa = load(model_file, device="cpu")
    report = run_predict(
        fa, [str(p) for p in good] + [str(corrupt), str(blank)], out, overlay=True, progress=False
    )
    assert sorted(f for f, _ in report.failures) == sorted([str(corrupt), str(blank)])
    reasons = dict(report.failures)
    assert "not a readable image" in reasons[str(corrupt)] and "no face" in reasons[str(blank)]
    lines = [json.loads(ln) for ln in (out / "predictions.jsonl").read_text().splitlines()]
    assert {ln["input"] for ln in lines} == {str(p) for p in good}
    for p in good:
        back = read_pts(out / f"{p.stem}.pts")
        assert back.shape == (IBUG68.n_points, 2) and np.isfinite(back).all()
        assert cv2.imread(str(out / f"{p.stem}.png")) is not None
    assert (out / "failures.csv").read_text().count("\n") == 3


@needs_fixtures
def test_given_boxes_agree_with_the_crop_pipeline(model_file: Path) -> None:
    paths, pts = _aflw()
    image = cv2.cvtColor(cv2.imread(str(paths[0])), cv2.COLOR_BGR2RGB)
    box = landmark_box(pts[:1])
    fa = load(model_file, device="cpu", fast=False)  # the fused copy differs by float rounding (next test)
    face = fa.predict(image, box)[0]
    ref = predict(fa.model.cascade, _crops(1), device="cpu")["points"][0]
    A = box_to_crop_affine(box, SIZE, BOX_SCALE)[0]
    back = face.landmarks @ A[:, :2].T + A[:, 2]
    assert np.abs(back - ref).max() < 1e-4


@needs_fixtures
def test_onnx_export_agrees_with_pytorch(model_file: Path, tmp_path: Path) -> None:
    import onnxruntime as ort

    from cmhm.inference.export import export_onnx

    path = export_onnx(model_file, tmp_path / "cascade.onnx")
    crops = _crops(5)  # a batch size other than the export example's: the batch axis is dynamic
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    points, conf = sess.run(None, {"images": to_tensor(crops).numpy()})
    ref = predict(read_cascade(model_file).cascade, crops, device="cpu")
    assert np.abs(points - ref["points"]).max() < 1e-3
    assert np.abs(conf - ref["confidence"]).max() < 1e-4


def test_inspect_explains_the_model_file(model_file: Path) -> None:
    from cmhm.inspect.explain import inspect_path

    out = inspect_path(model_file)
    assert f"{model_file}: model file of variant cmhm" in out
    assert "stage 2: inception_resnet x 1 stack(s)" in out and "heads ['ibug68'] (['lm3d_68'])" in out
    assert "mean shapes linking stage 1 to 2: (68, 2)" in out and '"box_scale": 1.3' in out
    assert "training config digest test" in out and "code version: test" in out


def test_fast_path_matches_the_model_as_trained(model_file: Path) -> None:
    """``cmhm.load`` runs the fused, NHWC copy; its landmarks are the plain model's."""
    paths, pts = _aflw()
    fast, plain = load(model_file, device="cpu"), load(model_file, device="cpu", fast=False)
    assert fast.net is not fast.model.cascade and plain.net is plain.model.cascade
    for p, box in zip(paths, landmark_box(pts)):
        image = cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB)
        a, b = fast.predict(image, box)[0], plain.predict(image, box)[0]
        side = float(np.sqrt(np.prod(box[2:] - box[:2])))  # float rounding: < 1/10,000 of the face box
        assert np.abs(a.landmarks - b.landmarks).max() < 1e-4 * side
        assert np.abs(a.confidence - b.confidence).max() < 1e-4
