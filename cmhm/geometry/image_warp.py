"""Image warps of the data side (numpy + OpenCV, no torch): one image, or a batch of crops.

The model side warps with ``grid_sample`` (:func:`cmhm.geometry.warp.warp_images`); a test holds the two
to the same result (tests/unit/test_train.py).
"""

from __future__ import annotations

import cv2
import numpy as np


def warp_image(image: np.ndarray, A: np.ndarray, size: int) -> np.ndarray:
    """Warp one image [H, W] or [H, W, C] by the affine ``A`` [2, 3] (source -> output pixels) into a
    ``size``² image: cv2, bilinear, zero border. The data side's one image warp (crops, re-crops)."""
    return cv2.warpAffine(
        np.ascontiguousarray(image),
        np.asarray(A, dtype=np.float64),
        (size, size),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )


def warp_crops(images: np.ndarray, A: np.ndarray, size: int) -> np.ndarray:
    """Numpy/cv2 twin of :func:`warp_images` for data preparation: [N, S, S, C] -> [N, size, size, C]."""
    out = np.empty((len(images), size, size) + images.shape[3:], dtype=images.dtype)
    for i, (img, a) in enumerate(zip(images, np.asarray(A, dtype=np.float64))):
        out[i] = warp_image(img, a, size).reshape(out.shape[1:])
    return out
