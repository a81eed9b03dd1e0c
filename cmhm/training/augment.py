"""Vectorised batch augmentation: a random similarity about the crop centre, a horizontal flip and an
optional appearance jitter (:mod:`cmhm.training.appearance`, off by default).

The same [2, 3] pixel affine moves the image (cv2, one call per image) and every landmark array
(one einsum per array). A flip also relabels points by their markup's flip permutation and swaps
the profile 'side' ('left' <-> 'right').
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cmhm.geometry.image_warp import warp_crops
from cmhm.geometry.similarity import apply_affine
from cmhm.training.appearance import AppearanceConfig, jitter_appearance


@dataclass(frozen=True)
class AugmentConfig:
    """Ranges of the random similarity; translations are given at ``reference_size`` and scale with S."""

    max_rotation_deg: float = 45.0
    scale_min: float = 0.75
    scale_max: float = 1.25
    max_translation: float = 20.0
    reference_size: int = 256
    flip_prob: float = 0.5
    appearance: AppearanceConfig = field(default_factory=AppearanceConfig)

    def __post_init__(self) -> None:
        if isinstance(self.appearance, dict):  # from a config file or ``asdict``
            object.__setattr__(self, "appearance", AppearanceConfig(**self.appearance))


def sample_similarity(
    n: int, size: int, cfg: AugmentConfig, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random affines about the centre of a ``size``² crop: (A [n, 2, 3], flipped [n] bool, scale [n])."""
    angle = np.deg2rad(rng.uniform(-cfg.max_rotation_deg, cfg.max_rotation_deg, n))
    scale = rng.uniform(cfg.scale_min, cfg.scale_max, n)
    shift = rng.uniform(-1.0, 1.0, (n, 2)) * cfg.max_translation * size / cfg.reference_size
    flipped = rng.random(n) < cfg.flip_prob
    c = (size - 1) / 2.0
    cos, sin = np.cos(angle) * scale, np.sin(angle) * scale
    fx = np.where(flipped, -1.0, 1.0)  # x -> (size - 1) - x about the centre, before the rotation
    M = np.stack([np.stack([cos * fx, -sin], -1), np.stack([sin * fx, cos], -1)], -2)  # [n, 2, 2]
    t = c + shift - M @ np.array([c, c])
    return np.concatenate([M, t[..., None]], -1), flipped, scale


def transform_arrays(
    arrays: dict[str, np.ndarray],
    perms: dict[str, np.ndarray],
    A: np.ndarray,
    flipped: np.ndarray,
    scale: np.ndarray,
) -> dict[str, np.ndarray]:
    """Move landmark arrays by ``A`` [B, 2, 3] and relabel flipped rows.

    Point arrays [B, K, D] (D = 2 or 3) have x, y mapped by ``A`` and z multiplied by ``scale`` [B];
    per-landmark arrays [B, K] are only relabelled. ``perms[name]`` [K] is that array's flip permutation.
    """
    out = {}
    for name, arr in arrays.items():
        if name not in perms:
            raise KeyError(f"no flip permutation for array {name!r}")
        new = np.array(arr, copy=True)
        if arr.ndim == 3:
            new[..., :2] = apply_affine(A, arr[..., :2])
            new[..., 2:] = arr[..., 2:] * scale[:, None, None]
        new[flipped] = new[flipped][:, perms[name]]
        out[name] = new
    return out


def flip_side(side: np.ndarray, flipped: np.ndarray) -> np.ndarray:
    """Swap 'left' and 'right' in ``side`` [B] where ``flipped``; other values are kept."""
    side = np.asarray(side, dtype=object)
    swapped = np.where(side == "left", "right", np.where(side == "right", "left", side))
    return np.where(flipped, swapped, side)


def augment_batch(
    images: np.ndarray,
    arrays: dict[str, np.ndarray],
    perms: dict[str, np.ndarray],
    side: np.ndarray,
    cfg: AugmentConfig,
    rng: np.random.Generator,
) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """Augment a batch: images uint8 [B, S, S, 3], landmark arrays in crop pixels, sides [B].

    Returns the warped images (zero outside the source), the moved/relabelled arrays and the new sides.
    The appearance jitter (if ``cfg.appearance.prob`` > 0) acts on the crops before the warp, so the
    border the warp leaves stays black.
    """
    size = images.shape[1]
    A, flipped, scale = sample_similarity(len(images), size, cfg, rng)
    images = jitter_appearance(images, cfg.appearance, rng)
    return (
        warp_crops(images, A, size),
        transform_arrays(arrays, perms, A, flipped, scale),
        flip_side(side, flipped),
    )
