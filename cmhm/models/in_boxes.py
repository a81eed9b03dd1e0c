"""The one crop -> predict -> uncrop of faces in a whole image, shared by the tracker
(:func:`cmhm.evaluation.evaluate.crop_fit`) and :func:`cmhm.load`'s ``predict``.

Its own module, not :mod:`cmhm.models.runtime`: the training scripts import that one, and a rule's code
hash is its script's import closure, so code used only at inference time lives where training does not
reach it (editing it reruns no training).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from cmhm.geometry.image_warp import warp_image
from cmhm.geometry.similarity import apply_affine, box_to_crop_affine, invert_affine


def predict_in_boxes(
    run: Callable[[np.ndarray], dict], image: np.ndarray, boxes: np.ndarray, size: int, box_scale: float
) -> tuple[np.ndarray, np.ndarray]:
    """Landmarks of the faces in ``boxes`` [F, 4] (x0, y0, x1, y1) of ``image`` [H, W, 3]: each face cut
    out as the training crops were (``size`` px, the box enlarged ``box_scale`` times), the crops
    predicted by ``run`` (uint8 [F, S, S, 3] -> a :func:`cmhm.models.runtime.predict`-style dict with ``points`` [F, K, 2]
    and ``confidence`` [F, K]), the points mapped back. Returns (points [F, K, 2] in image pixels,
    confidence [F, K]). The one path the tracker and :func:`cmhm.load`'s ``predict`` share."""
    # the boxes' own dtype: the tracker's float32 table boxes give the crops they always gave
    A = box_to_crop_affine(np.asarray(boxes).reshape(-1, 4), size, box_scale)
    pred = run(np.stack([warp_image(image, a, size) for a in A]))
    return apply_affine(invert_affine(A), pred["points"]), pred["confidence"]
