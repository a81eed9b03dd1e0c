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
    read_codec,
    write_cascade,
)
from cmhm.inference.predict_files import run_predict
from cmhm.landmarks.markups import IBUG68
from cmhm.models.cascade import Cascade, stage_plans
from cmhm.models.heatmaps import HeatmapCodec
from cmhm.models.hourglass import ModelConfig
from cmhm.models.runtime import predict, to_tensor
from cmhm.training.batches import TrainData
from cmhm.training.checkpoints import load_stage
from cmhm.training.loop import TrainConfig
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


def _exact(model_file: Path, crops: np.ndarray) -> np.ndarray:
    """The cascade's last-stage points [B, K, 2] computed in float64: what every float32 run rounds towards."""
    with torch.no_grad():
        net = read_cascade(model_file).cascade.eval().double()
        return net(to_tensor(crops).double())["points"][-1].numpy()


def _float32_bound(model_file: Path, crops: np.ndarray) -> float:
    """How far (crop pixels) a float32 run of this cascade may land from the float64 points.

    The points are the sub-pixel vertex of a log-parabola through three heatmap values of a briefly trained
    (flat-peaked) model, so float32 rounding in the heatmaps, which differs with each CPU family's kernels
    and summation order (SSE4.1, AVX2, AVX-512; oneDNN, MLAS; fused or not), is amplified by the inverse
    curvature, and stage 1's error moves stage 2's warp. That amplification is a property of the model, so
    it is measured on it: another float32 run must be within 4x PyTorch's own float32 error (the worst of
    all points). Factor 4: two maxima from different summation orders; their ratio read 0.35-1.2 with
    PyTorch forced to SSE4.1, AVX2 and AVX-512 kernels (ATEN_CPU_CAPABILITY / ONEDNN_MAX_CPU_ISA). The
    1e-4 px floor keeps a model whose float32 error happens to vanish from demanding exact equality.
    """
    own = predict(read_cascade(model_file).cascade, crops, device="cpu")["points"] - _exact(model_file, crops)
    return 4 * float(np.abs(own).max()) + 1e-4


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


def test_the_top_level_load_takes_every_option_of_the_api_load(model_file: Path) -> None:
    """``cmhm.load(path, fast=False)`` as the README shows it (it once took only device and batch_size)."""
    import cmhm

    assert cmhm.load(model_file, device="cpu", fast=False).fast is False
    with pytest.raises(ValueError, match="backend must be auto, torch or onnx"):
        cmhm.load(model_file, backend="tensorrt")


def test_the_model_file_records_each_stages_heatmap_codec(model_file: Path, tmp_path: Path) -> None:
    """Crop size, map size and the training sigma come back from the file; a file assembled before the
    sigma was recorded is refused by name (the decoding floor needs it)."""
    assert read_codec(model_file) == read_codec(model_file, 0) == HeatmapCodec(SIZE, SIZE // 4, 1.0)
    old = torch.load(model_file, weights_only=True)
    for st in old["stages"]:
        del st["sigma"]
    torch.save(old, tmp_path / "old.pt")
    assert read_cascade(tmp_path / "old.pt").variant == "cmhm"  # still read for prediction
    with pytest.raises(ModelFileError, match=r"old\.pt: stage -1 records no heatmap sigma"):
        read_codec(tmp_path / "old.pt")


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
def test_worker_processes_write_what_one_process_writes(model_file: Path, tmp_path: Path) -> None:
    """``cmhm predict --workers 2``: the same files, lines and failures, in input order, as one process.
    Both runs use one thread per process (the workers' setting on 2 cores), so the arithmetic is the same
    and the files must be equal byte for byte."""
    from cmhm.inference.predict_pool import PredictPool

    paths, _ = _aflw()
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8 truncated")
    inputs = [str(paths[0]), str(corrupt), str(tmp_path / "absent.jpg"), *(str(p) for p in paths[1:5])]
    threads = torch.get_num_threads(), cv2.getNumThreads()
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    try:
        one = run_predict(load(model_file, device="cpu"), inputs, tmp_path / "one", progress=False)
    finally:
        torch.set_num_threads(threads[0])
        cv2.setNumThreads(threads[1])
    with PredictPool(model_file, 2, 1, device="cpu") as pool:
        two = run_predict(None, inputs, tmp_path / "two", progress=False, pool=pool)
    assert list(two.faces.items()) == list(one.faces.items()) and two.failures == one.failures
    assert [f for f, _ in two.failures] == [str(corrupt), str(tmp_path / "absent.jpg")]
    written = sorted(f.name for f in (tmp_path / "one").iterdir())
    assert written == sorted(f.name for f in (tmp_path / "two").iterdir()) and len(written) == 7
    for name in written:
        assert (tmp_path / "two" / name).read_bytes() == (tmp_path / "one" / name).read_bytes(), name


def test_auto_workers_one_per_core_on_the_cpu_when_each_gets_enough_images() -> None:
    from cmhm.inference.predict_pool import auto_workers

    assert auto_workers(1000, "cpu", cores=2) == 2
    assert auto_workers(24, "cpu", cores=2) == 1  # 12 images each would not repay a worker's start-up
    assert auto_workers(40, "cpu", cores=4) == 2
    assert auto_workers(1000, "cuda", cores=16) == 1


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


@pytest.fixture(scope="module")
def onnx_file(model_file: Path) -> Path:
    """The fixture cascade exported once (the torch.export-based exporter takes seconds)."""
    from cmhm.inference.export import export_onnx

    return export_onnx(model_file, model_file.parent / "cascade.onnx")


@needs_fixtures
def test_onnx_export_agrees_with_pytorch(model_file: Path, onnx_file: Path) -> None:
    import onnxruntime as ort

    path = onnx_file
    crops = _crops(5)  # a batch size other than the export example's: the batch axis is dynamic
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    points, conf = sess.run(None, {"images": to_tensor(crops).numpy()})
    ref = predict(read_cascade(model_file).cascade, crops, device="cpu")
    assert np.abs(points - _exact(model_file, crops)).max() <= _float32_bound(model_file, crops)
    # peak values are heatmap outputs themselves (no decode in between): float32 through a few dozen
    # layers of O(1) activations stays within ~1e-5 whatever the summation order
    assert np.abs(conf - ref["confidence"]).max() < 1e-4


def test_inspect_explains_the_model_file(model_file: Path) -> None:
    from cmhm.inspect.explain import inspect_path

    out = inspect_path(model_file)
    assert f"{model_file}: model file of variant cmhm" in out
    assert "stage 2: inception_resnet x 1 stack(s)" in out and "heads ['ibug68'] (['lm3d_68'])" in out
    assert "mean shapes linking stage 1 to 2: (68, 2)" in out and '"box_scale": 1.3' in out
    assert "training config digest test" in out and "code version: test" in out


def test_fast_path_matches_the_model_as_trained(model_file: Path) -> None:
    """``cmhm.load`` runs the fused, NHWC copy; its landmarks are the plain model's to float32 rounding."""
    fast, plain = load(model_file, device="cpu"), load(model_file, device="cpu", fast=False)
    assert fast.net is not fast.model.cascade and plain.net is plain.model.cascade
    crops = _crops(len(_aflw()[0]))
    a, b = (predict(fa.net, crops, device="cpu") for fa in (fast, plain))
    assert np.abs(a["points"] - _exact(model_file, crops)).max() <= _float32_bound(model_file, crops)
    assert np.abs(a["confidence"] - b["confidence"]).max() < 1e-4  # heatmap values: no decode in between
    paths, pts = _aflw()  # and FaceAligner.predict (crop -> fused net -> uncrop) uses that copy
    image = cv2.cvtColor(cv2.imread(str(paths[0])), cv2.COLOR_BGR2RGB)
    A = box_to_crop_affine(landmark_box(pts[:1]), SIZE, BOX_SCALE)[0]
    face = fast.predict(image, landmark_box(pts[:1]))[0]
    back = face.landmarks @ A[:, :2].T + A[:, 2]  # run at batch 1 there: another summation order
    assert np.abs(back - _exact(model_file, crops[:1])[0]).max() <= _float32_bound(model_file, crops[:1])


@needs_fixtures
def test_onnx_backend_predicts_what_the_model_file_does(model_file: Path, onnx_file: Path) -> None:
    """``cmhm.load("x.onnx")`` runs on ONNX Runtime alone (the graph carries the model file's record)."""
    onnx_path = onnx_file
    fa, ref = load(onnx_path), load(model_file, fast=False)
    assert fa.onnx is not None and fa.model.cascade is None
    assert (fa.model.variant, fa.model.markup, fa.model.crop) == (
        ref.model.variant,
        ref.markup,
        ref.model.crop,
    )
    assert fa.model.tracking == ref.model.tracking and fa.model.config_digest == ref.model.config_digest
    paths, pts = _aflw()
    crops = _crops(len(paths))
    got = fa.net(crops, batch_size=3)  # a batch that does not divide the crops: the last call is short
    assert np.abs(got["points"] - _exact(model_file, crops)).max() <= _float32_bound(model_file, crops)
    image = cv2.cvtColor(cv2.imread(str(paths[0])), cv2.COLOR_BGR2RGB)
    A = box_to_crop_affine(landmark_box(pts[:1]), SIZE, BOX_SCALE)[0]
    back = fa.predict(image, landmark_box(pts[:1]))[0].landmarks @ A[:, :2].T + A[:, 2]
    assert np.abs(back - _exact(model_file, crops[:1])[0]).max() <= _float32_bound(model_file, crops[:1])
    with pytest.raises(ValueError, match="runs on the onnx back end"):
        load(onnx_path, backend="torch")


def test_onnx_without_the_record_is_refused_by_name(tmp_path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper

    node = helper.make_node("Identity", ["images"], ["points"])
    graph = helper.make_graph(
        [node],
        "foreign",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("points", TensorProto.FLOAT, [1])],
    )
    path = tmp_path / "foreign.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)]), str(path))
    with pytest.raises(ValueError, match=rf"{path}: an ONNX graph without the 'cmhm_model' record"):
        load(path)
