"""Scene dressing: cluttered backgrounds, light directions, occluders and image degradations.

Images are uint8 BGR [H, W, 3]; every random choice comes from the ``rng`` passed in.
"""

from __future__ import annotations

import cv2
import numpy as np

from cmhm.synth.config import SynthConfig


def background(rng: np.random.Generator, size: int, cfg: SynthConfig) -> np.ndarray:
    """[size, size, 3] uint8: a colour gradient, low-frequency texture and random shapes."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    c0, c1 = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    a = rng.uniform(0, 2 * np.pi)
    t = (np.cos(a) * xx + np.sin(a) * yy + 1) / 2
    img = c0 * (1 - t[..., None]) + c1 * t[..., None]
    cells = int(rng.integers(3, 12))
    tex = cv2.resize(rng.uniform(-40, 40, (cells, cells, 3)), (size, size), interpolation=cv2.INTER_CUBIC)
    img = np.clip(img + tex, 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(cfg.background_shapes[0], cfg.background_shapes[1] + 1))):
        _shape(rng, img, size)
    return img


def _shape(rng: np.random.Generator, img: np.ndarray, size: int) -> None:
    colour = tuple(float(c) for c in rng.uniform(0, 255, 3))
    p = (int(rng.integers(0, size)), int(rng.integers(0, size)))
    kind = rng.integers(4)
    r = int(rng.integers(size // 20, size // 4))
    if kind == 0:
        cv2.rectangle(img, p, (p[0] + r, p[1] + int(rng.integers(size // 20, size // 3))), colour, -1)
    elif kind == 1:
        cv2.circle(img, p, r, colour, -1, cv2.LINE_AA)
    elif kind == 2:
        q = (int(rng.integers(0, size)), int(rng.integers(0, size)))
        cv2.line(img, p, q, colour, int(rng.integers(1, max(2, size // 40))), cv2.LINE_AA)
    else:
        pts = rng.integers(0, size, (int(rng.integers(3, 7)), 2)).astype(np.int32)
        cv2.fillPoly(img, [pts], colour, cv2.LINE_AA)


def light_direction(rng: np.random.Generator, cfg: SynthConfig) -> np.ndarray:
    """[3] unit direction toward the light, camera axes (X right, Y up, Z toward the camera)."""
    el = np.radians(rng.uniform(*cfg.light_elevation))
    az = np.radians(rng.uniform(*cfg.light_azimuth))
    return np.array([np.cos(el) * np.sin(az), np.sin(el), np.cos(el) * np.cos(az)])


def occluder(rng: np.random.Generator, img: np.ndarray, box: np.ndarray, cfg: SynthConfig) -> np.ndarray:
    """Draw a rectangle, ellipse or hand-like blob over part of face ``box`` (x0, y0, x1, y1); return its mask [H, W] bool."""
    side = max(box[2] - box[0], box[3] - box[1])
    r = side * rng.uniform(*cfg.occluder_size) / 2
    c = np.array([rng.uniform(box[0], box[2]), rng.uniform(box[1], box[3])])
    return draw_occluder(rng, img, c, r, int(rng.integers(3)))


def draw_occluder(
    rng: np.random.Generator, img: np.ndarray, centre: np.ndarray, radius: float, kind: int
) -> np.ndarray:
    """Draw occluder ``kind`` (0 rectangle, 1 ellipse, 2 hand) of size ``radius`` at ``centre``; return its mask."""
    mask = np.zeros(img.shape[:2], np.uint8)
    cx, cy, r = int(centre[0]), int(centre[1]), max(int(radius), 2)
    ang = float(rng.uniform(0, 180))
    if kind == 0:
        box = cv2.boxPoints(((cx, cy), (2 * r, r * rng.uniform(0.5, 1.5)), ang)).astype(np.int32)
        cv2.fillPoly(mask, [box], 255)
    elif kind == 1:
        cv2.ellipse(mask, (cx, cy), (r, max(int(r * rng.uniform(0.4, 1.0)), 1)), ang, 0, 360, 255, -1)
    else:
        cv2.ellipse(mask, (cx, cy), (int(r * 0.7), int(r * 0.55)), ang, 0, 360, 255, -1)
        for k in range(5):
            a = np.radians(ang - 60 + 30 * k)
            tip = (int(cx + 1.3 * r * np.cos(a)), int(cy + 1.3 * r * np.sin(a)))
            cv2.line(mask, (cx, cy), tip, 255, max(int(r * 0.22), 1), cv2.LINE_AA)
    colour = rng.uniform(0, 255, 3)
    shade = cv2.resize(
        rng.uniform(0.7, 1.2, (4, 4)), (img.shape[1], img.shape[0]), interpolation=cv2.INTER_LINEAR
    )
    m = mask > 127
    img[m] = np.clip(colour[None, :] * shade[m][:, None], 0, 255).astype(np.uint8)
    return m


def degrade(rng: np.random.Generator, img: np.ndarray, cfg: SynthConfig) -> np.ndarray:
    """Random Gaussian blur and additive noise (JPEG artefacts come from the JPEG write)."""
    out = img
    if rng.uniform() < cfg.blur_prob:
        out = cv2.GaussianBlur(out, (0, 0), float(rng.uniform(*cfg.blur_sigma)))
    if rng.uniform() < cfg.noise_prob:
        noise = rng.normal(0, rng.uniform(*cfg.noise_sigma), out.shape)
        out = np.clip(out.astype(np.float64) + noise, 0, 255).astype(np.uint8)
    return out
