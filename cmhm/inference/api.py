"""Face alignment on one's own images from Python: ``fa = cmhm.load("cascade.pt"); fa.predict(image)``."""

from __future__ import annotations

import copy
import os
import warnings
from dataclasses import dataclass

import numpy as np
import torch

from cmhm.detection.detectors import CalibratedDetector, Calibration, Detector, make_detector
from cmhm.detection.mtcnn import MTCNN
from cmhm.evaluation.tracking import FailureCheck, PeakConfidence, onet_check
from cmhm.inference.allocator import keep_freed_memory
from cmhm.inference.model_file import CascadeFile, CropConvention, read_cascade
from cmhm.inference.onnx_backend import OnnxCascade, is_onnx
from cmhm.models.fuse import fuse_for_inference
from cmhm.models.graphs import GraphedCascade, capture_compiled
from cmhm.models.in_boxes import predict_in_boxes
from cmhm.models.runtime import AMP_DTYPES, native_bf16, predict, resolve_device

# what ``precision`` names: the dtype the stage networks compute in (decoding and warps stay float32)
PRECISIONS: dict[str, torch.dtype | None] = {"float32": None, "bf16": AMP_DTYPES["bf16"]}


@dataclass
class Face:
    """One aligned face: ``landmarks`` [K, 2] image pixels (0-based, pixel centres), ``confidence`` [K]
    (heatmap peak values), ``box`` [4] (x0, y0, x1, y1) the crop was cut around, ``score`` the
    detector's face score (None for a detector without one, or a given box)."""

    landmarks: np.ndarray
    confidence: np.ndarray
    box: np.ndarray
    score: float | None = None


def detector_from_record(record: dict | None) -> Detector | None:
    """The detector a model file names, calibrated to its crop boxes (None when the file names none)."""
    if record is None:
        return None
    base = make_detector(record["name"], record.get("cascade_path"))
    cal = record.get("calibration")
    return base if cal is None else CalibratedDetector(base, Calibration(**cal))


def failure_from_record(tracking: dict) -> FailureCheck:
    """The tracking failure check a model file names: the heatmap peak or MTCNN's O-Net score."""
    if tracking["check"] == "heatmap":
        return PeakConfidence(tracking["threshold"])
    if tracking["check"] == "onet":
        cal = Calibration(**tracking["onet_calibration"])
        return onet_check(MTCNN(), cal, tracking["enlarge"], tracking["threshold"])
    raise ValueError(f"model file names failure check {tracking['check']!r}; this code knows heatmap, onet")


def detect_faces(detector: Detector, image: np.ndarray) -> list[tuple[np.ndarray, float | None]]:
    """Every face ``detector`` finds in ``image`` as (box [4] in the crop convention, score or None),
    largest first (a detector that finds one face at a time gives at most one)."""
    inner = detector.detector if isinstance(detector, CalibratedDetector) else detector
    if not hasattr(inner, "detect_all"):
        box = detector.detect(image, 0)
        return [] if box is None else [(np.asarray(box, dtype=np.float64), None)]
    found = np.asarray(inner.detect_all(image), dtype=np.float64).reshape(-1, 5)
    found = found[np.argsort(-(found[:, 2] - found[:, 0]) * (found[:, 3] - found[:, 1]), kind="stable")]
    apply = detector.calibration.apply if isinstance(detector, CalibratedDetector) else np.asarray
    return [(apply(f[:4]), float(f[4])) for f in found]


class FaceAligner:
    """A trained cascade ready for images of any size: detect (or take boxes), crop, predict, uncrop.

    ``fast`` (default): run a fused copy of the cascade (:func:`cmhm.models.fuse.fuse_for_inference`:
    batch norm folded, inception 1x1s merged, NHWC weights; on a CPU in float32 one face per call, what
    ``make bench`` measured fastest); its landmarks match the plain model's to float rounding.
    ``fast=False`` runs the model as trained. ``onnx``: run this ONNX Runtime session instead of PyTorch
    (CPU; ``batch_size`` faces per call); ``model.cascade`` is then None when the model came from a
    ``.onnx`` file.
    ``cuda_graph`` (CUDA only): replay the network from CUDA graphs captured per batch-size bucket
    (:class:`cmhm.models.graphs.GraphedCascade`; each bucket's first call captures it). ``compiled``
    (PyTorch back end, any device): the same buckets compiled by ``torch.compile``
    (:func:`cmhm.models.graphs.capture_compiled`; tens of seconds per bucket on first use; on a CPU it
    then runs ``batch_size`` faces per call, which pays there once compiled). ``precision`` (PyTorch back
    end): ``"float32"``, or ``"bf16"``: the stage networks under bfloat16 autocast (heatmap decoding, the
    Procrustes fit and the warp stay float32); fast where the device computes bf16 natively (a CPU with
    AMX or AVX512-BF16, a recent GPU; a warning otherwise), at a cost in precision measured in the README;
    on a CPU it runs ``batch_size`` faces per call (``make bench``, bf16, time per face against batch 1:
    the three lighter paper-size cascades 0.78-0.83 at batch 8, the compact preset 0.13 at batch 32, the
    paper-size cmhm 1.15 at batch 8).
    """

    def __init__(
        self,
        model: CascadeFile,
        device: str = "auto",
        batch_size: int = 16,
        fast: bool = True,
        onnx: OnnxCascade | None = None,
        cuda_graph: bool = False,
        compiled: bool = False,
        precision: str = "float32",
    ) -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {sorted(PRECISIONS)}; got {precision!r}")
        keep_freed_memory()  # the process's malloc keeps freed activations (cmhm.inference.allocator)
        self.model = model
        self.batch_size = batch_size
        self.detector = detector_from_record(model.detector)
        self.fast = fast
        self.onnx = onnx
        if onnx is not None:
            if device not in ("auto", "cpu") or cuda_graph or compiled or precision != "float32":
                raise ValueError(
                    "the ONNX back end runs its own float32 graph on the CPU; got "
                    f"device={device!r}, cuda_graph={cuda_graph}, compiled={compiled}, precision={precision!r}"
                )
            self.device, self.net, self.net_batch = "cpu", onnx, batch_size
            return
        self.device = str(resolve_device(device))
        self.model.cascade.to(self.device).eval()
        self.net = fuse_for_inference(model.cascade, channels_last=True) if fast else model.cascade
        if PRECISIONS[precision] is not None:
            self.net = self.net if fast else copy.deepcopy(self.net)  # the model file's cascade stays float32
            self.net.net_dtype = PRECISIONS[precision]
            if not native_bf16(torch.device(self.device)):
                warnings.warn(
                    f"precision {precision!r}: {self.device} has no native bfloat16 (on a CPU: AVX512-BF16 "
                    "or AMX); it is emulated there, expect it slower than float32",
                    stacklevel=2,
                )
        one_by_one = fast and self.device == "cpu" and not compiled and PRECISIONS[precision] is None
        self.net_batch = 1 if one_by_one else batch_size
        if cuda_graph and compiled:
            raise ValueError("choose cuda_graph or compiled, not both")
        if cuda_graph:
            if torch.device(self.device).type != "cuda":
                raise ValueError(f"cuda_graph needs a CUDA device; this aligner runs on {self.device!r}")
            self.net = GraphedCascade(self.net, max_batch=batch_size)
        if compiled:
            self.net = GraphedCascade(self.net, max_batch=batch_size, capture=capture_compiled)

    @property
    def markup(self) -> str:
        return self.model.markup

    def find_faces(self, image: np.ndarray) -> list[tuple[np.ndarray, float | None]]:
        """Boxes (and scores) of the faces in ``image`` by the model's calibrated detector."""
        if self.detector is None:
            raise ValueError("this model file names no face detector: pass boxes=")
        return detect_faces(self.detector, image)

    def predict(self, image: np.ndarray, boxes: np.ndarray | None = None) -> list[Face]:
        """Landmarks of every face in ``image`` (RGB uint8 [H, W, 3]).

        ``boxes`` [F, 4] (x0, y0, x1, y1, in the crop convention of the model file); None runs the
        detector. Returns one :class:`Face` per box, in the order of the boxes (detections: largest first).
        """
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"predict takes an RGB uint8 image [H, W, 3], got {image.dtype} {image.shape}")
        if boxes is None:
            found = self.find_faces(image)
            boxes_arr = np.array([b for b, _ in found], dtype=np.float64).reshape(-1, 4)
            scores = [s for _, s in found]
        else:
            boxes_arr = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
            scores = [None] * len(boxes_arr)
        if len(boxes_arr) == 0:
            return []
        crop = self.model.crop
        pts, conf = predict_in_boxes(self._run, image, boxes_arr, crop.size, crop.box_scale)
        return [Face(pts[i], conf[i], boxes_arr[i], scores[i]) for i in range(len(boxes_arr))]

    def _run(self, crops: np.ndarray) -> dict:
        """Predict crops uint8 [F, S, S, 3] with this aligner's network (ONNX Runtime or PyTorch)."""
        if self.onnx is not None:
            return self.onnx(crops, self.net_batch)
        with torch.inference_mode():
            return predict(self.net, crops, batch_size=self.net_batch, device=self.device)


def load(
    path: str | os.PathLike,
    device: str = "auto",
    batch_size: int = 16,
    fast: bool = True,
    backend: str = "auto",
    threads: int = 0,
    cuda_graph: bool = False,
    compiled: bool = False,
    precision: str = "float32",
) -> FaceAligner:
    """Load a model for face alignment: a model file (``cascade.pt``; refuses a file that is not a
    cascade) or its ONNX export (``cmhm export --onnx``). ``fast``: see :class:`FaceAligner`.

    ``backend``: ``"torch"``; ``"onnx"`` (ONNX Runtime on the CPU, ``threads`` intra-op threads, 0 its
    default; a ``cascade.pt`` is exported in memory first, which takes a while: export it once instead);
    ``"auto"``: onnx for a ``.onnx`` path, torch otherwise. ``cuda_graph``, ``compiled``, ``precision``:
    see :class:`FaceAligner` (torch back end only; ``cuda_graph`` on CUDA only)."""
    if backend not in ("auto", "torch", "onnx"):
        raise ValueError(f"backend must be auto, torch or onnx; got {backend!r}")
    torch_only = cuda_graph or compiled or precision != "float32"
    if torch_only and (backend == "onnx" or backend == "auto" and is_onnx(path)):
        raise ValueError(
            "cuda_graph, compiled and precision run the PyTorch back end; the ONNX back end runs its own "
            f"float32 graph (got cuda_graph={cuda_graph}, compiled={compiled}, precision={precision!r})"
        )
    if is_onnx(path):
        if backend == "torch":
            raise ValueError(f"{path}: an ONNX graph runs on the onnx back end, not torch")
        session = OnnxCascade(path, threads)
        record = session.record(path)
        model = CascadeFile(cascade=None, **{**record, "crop": CropConvention(**record["crop"])})
        return FaceAligner(model, device=device, batch_size=batch_size, onnx=session)
    model = read_cascade(path)
    if backend == "onnx":
        from cmhm.inference.export import onnx_model

        session = OnnxCascade(onnx_model(model).SerializeToString(), threads)
        return FaceAligner(model, device=device, batch_size=batch_size, onnx=session)
    return FaceAligner(
        model,
        device=device,
        batch_size=batch_size,
        fast=fast,
        cuda_graph=cuda_graph,
        compiled=compiled,
        precision=precision,
    )
