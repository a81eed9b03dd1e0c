"""Random appearance (photometric) jitter of training crops: gamma, colour cast, saturation, contrast, brightness.

Aimed at the gap between rendered and photographed faces (issue 26, sim-to-real): the synthetic heads
have few skin tones, one reflectance model and clean colour; a photograph has camera white balance,
tone curves, washed-out or grey images. Geometry is untouched, so no label moves.

Per image, with probability ``prob`` (in [0, 1] intensities, RGB):
``x <- x ** gamma`` (log-uniform in ``gamma``), ``x <- x * g_c`` (a gain per channel in
``1 +- gain``), ``x <- y + s (x - y)`` with ``y`` the luminance and ``s`` in ``saturation`` (0, i.e.
grey, with probability ``grey_prob``), ``x <- m + c (x - m)`` with ``m`` the mean luminance and ``c`` in
``contrast``, ``x <- x + b`` with ``b`` in ``+- brightness``; then clipped to [0, 1] and rounded to uint8.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LUMA_RGB = np.array([0.299, 0.587, 0.114], np.float32)  # ITU-R BT.601 luma weights, R, G, B


@dataclass(frozen=True)
class AppearanceConfig:
    """Ranges of the appearance jitter; ``prob`` 0 (the default) draws nothing and changes nothing."""

    prob: float = 0.0
    gamma: tuple[float, float] = (0.7, 1.4)
    gain: float = 0.2
    saturation: tuple[float, float] = (0.4, 1.4)
    grey_prob: float = 0.1
    contrast: tuple[float, float] = (0.6, 1.4)
    brightness: float = 0.15

    def __post_init__(self) -> None:
        for name in ("gamma", "saturation", "contrast"):
            lo, hi = getattr(self, name)
            if not 0 <= lo <= hi:
                raise ValueError(f"train.augment.appearance.{name}: need 0 <= low <= high, got [{lo}, {hi}]")
            object.__setattr__(self, name, (float(lo), float(hi)))
        if self.gamma[0] <= 0:
            raise ValueError(f"train.augment.appearance.gamma: the low end must be > 0, got {self.gamma[0]}")
        for name in ("prob", "grey_prob"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(
                    f"train.augment.appearance.{name}: a probability in [0, 1], got {getattr(self, name)}"
                )


def jitter_appearance(images: np.ndarray, cfg: AppearanceConfig, rng: np.random.Generator) -> np.ndarray:
    """uint8 RGB [B, S, S, 3] -> uint8 [B, S, S, 3], each image jittered with probability ``cfg.prob``.

    With ``cfg.prob == 0`` the images come back as they are and ``rng`` is not drawn from (training
    without appearance jitter keeps its random stream, so its models are unchanged). Otherwise a fixed
    number of draws per batch, whatever is selected.
    """
    if cfg.prob <= 0:
        return images
    n = len(images)
    chosen = rng.random(n) < cfg.prob
    gamma = np.exp(rng.uniform(np.log(cfg.gamma[0]), np.log(cfg.gamma[1]), n))
    gain = rng.uniform(1 - cfg.gain, 1 + cfg.gain, (n, 3))
    sat = np.where(rng.random(n) < cfg.grey_prob, 0.0, rng.uniform(*cfg.saturation, n))
    contrast = rng.uniform(*cfg.contrast, n)
    bright = rng.uniform(-cfg.brightness, cfg.brightness, n)
    out = np.array(images, copy=True)
    if not chosen.any():
        return out
    x = images[chosen].astype(np.float32) / 255.0  # [b, S, S, 3]
    col = (slice(None), None, None, None)  # a per-image scalar against [b, S, S, 3]
    x = x ** gamma[chosen].astype(np.float32)[col]
    x = x * gain[chosen].astype(np.float32)[:, None, None, :]
    y = x @ LUMA_RGB  # [b, S, S]
    x = y[..., None] + sat[chosen].astype(np.float32)[col] * (x - y[..., None])
    m = y.mean(axis=(1, 2))
    x = m[col] + contrast[chosen].astype(np.float32)[col] * (x - m[col])
    x = x + bright[chosen].astype(np.float32)[col]
    out[chosen] = np.rint(np.clip(x, 0.0, 1.0) * 255.0).astype(np.uint8)
    return out
