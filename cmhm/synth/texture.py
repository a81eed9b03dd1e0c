"""Per-pixel albedo of the head from surface parameters: skin, hair, brows, eyes, lips, nostrils.

Colours are BGR floats in [0, 1] (OpenCV order).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cmhm.synth.head import smoothstep
from cmhm.synth.layout import (
    BROW_INNER,
    BROW_OUTER,
    BROW_THICK,
    Layout,
    brow_line,
    hairline,
    lip_profile,
    lower_lid,
    mouth_line,
    upper_lid,
)

HAIR_COLOURS = np.array(
    [[0.05, 0.05, 0.06], [0.08, 0.12, 0.2], [0.15, 0.28, 0.45], [0.35, 0.6, 0.75], [0.6, 0.6, 0.62]]
)
IRIS_COLOURS = np.array([[0.05, 0.12, 0.22], [0.5, 0.35, 0.2], [0.3, 0.4, 0.25], [0.08, 0.08, 0.1]])


@dataclass(frozen=True)
class Appearance:
    """Colours of one face (BGR, [0, 1]) and whether it has hair."""

    skin: np.ndarray
    lips: np.ndarray
    hair: np.ndarray
    brows: np.ndarray
    iris: np.ndarray
    bald: bool


def random_appearance(rng: np.random.Generator, bald_prob: float) -> Appearance:
    """Random skin tone, lip, hair, brow and iris colours."""
    tone = rng.uniform(0, 1)
    skin = (1 - tone) * np.array([0.62, 0.72, 0.9]) + tone * np.array([0.2, 0.3, 0.45])
    skin = np.clip(skin * rng.uniform(0.9, 1.1, 3), 0, 1)
    lips = np.clip(skin * np.array([0.62, 0.55, 0.95]) * rng.uniform(0.85, 1.1), 0, 1)
    hair = np.clip(HAIR_COLOURS[rng.integers(len(HAIR_COLOURS))] * rng.uniform(0.8, 1.2, 3), 0, 1)
    brows = np.minimum(hair, skin * 0.45) * rng.uniform(0.6, 1.0)
    iris = IRIS_COLOURS[rng.integers(len(IRIS_COLOURS))]
    return Appearance(skin, lips, hair, brows, iris, bool(rng.uniform() < bald_prob))


def albedo(u: np.ndarray, v: np.ndarray, band: np.ndarray, lay: Layout, app: Appearance) -> np.ndarray:
    """[N, 3] albedo at head-surface parameters ``u``, ``v`` [N] with mouth-band ramp ``band`` [N]."""
    au = np.abs(u)
    col = np.tile(app.skin, (len(u), 1))
    blush = np.exp(-0.5 * (((au - 0.5) / 0.16) ** 2 + ((v + 0.22) / 0.1) ** 2))
    col *= 1 - 0.12 * blush[:, None] * np.array([1.0, 0.8, -0.2])
    du = au - lay.eye_u
    socket = np.exp(-0.5 * ((du / 0.2) ** 2 + ((v - lay.eye_v) / 0.09) ** 2))
    col *= 1 - 0.22 * socket[:, None]
    col = _paint(col, _eyes(du, v, lay, app))
    col = _paint(col, _brows(au, v, lay, app))
    col = _paint(col, _lips(u, v, band, lay, app))
    nostril = ((au - 0.42 * lay.nose_w) / 0.028) ** 2 + ((v - lay.nose_base_v - 0.018) / 0.013) ** 2 < 1
    col[nostril] *= 0.3
    if not app.bald:
        hair = smoothstep(-0.02, 0.03, v - hairline(u))
        streak = 0.85 + 0.15 * np.sin(60 * u + 9 * v) * np.sin(23 * v - 11 * u)
        col = col * (1 - hair[:, None]) + (app.hair * streak[:, None]) * hair[:, None]
    return np.clip(col, 0, 1)


def _paint(col: np.ndarray, layer: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Blend a layer (alpha [N], colour [N, 3]) over ``col``."""
    alpha, colour = layer
    return col * (1 - alpha[:, None]) + colour * alpha[:, None]


def _eyes(du: np.ndarray, v: np.ndarray, lay: Layout, app: Appearance) -> tuple[np.ndarray, np.ndarray]:
    up, lo = upper_lid(du, lay), lower_lid(du, lay)
    inside = (np.abs(du) < lay.eye_w) & (v < up) & (v > lo) & (lay.eye_h > 0.004)
    r = np.hypot(du / 1.0, v - lay.eye_v - 0.2 * lay.eye_h)
    colour = np.where((r < 0.055)[:, None], app.iris, np.array([0.82, 0.85, 0.88]))
    colour = np.where((r < 0.022)[:, None], 0.03, colour)
    lash = (np.abs(du) < lay.eye_w * 1.05) & (v >= up - 0.004) & (v < up + 0.012)
    colour = np.where(lash[:, None], 0.06, colour)
    lid_line = (np.abs(du) < lay.eye_w) & (np.abs(v - lo) < 0.006) & (lay.eye_h > 0.004)
    alpha = np.maximum(inside | lash, 0.5 * lid_line).astype(np.float64)
    return alpha, np.where(lid_line[:, None] & ~inside[:, None], 0.25 * app.skin, colour)


def _brows(au: np.ndarray, v: np.ndarray, lay: Layout, app: Appearance) -> tuple[np.ndarray, np.ndarray]:
    t = np.clip((au - BROW_INNER) / (BROW_OUTER - BROW_INNER), 0, 1)
    lo = brow_line(au, lay)
    thick = BROW_THICK * (1.2 - 0.5 * t)
    inside = (au > BROW_INNER) & (au < BROW_OUTER) & (v > lo) & (v < lo + thick)
    alpha = inside * (0.75 + 0.25 * np.sin(90 * au) ** 2)
    return alpha, np.tile(app.brows, (len(au), 1))


def _lips(
    u: np.ndarray, v: np.ndarray, band: np.ndarray, lay: Layout, app: Appearance
) -> tuple[np.ndarray, np.ndarray]:
    vm, shape = mouth_line(u, lay), lip_profile(u, lay)
    bow = 1 - 0.25 * np.exp(-0.5 * (u / (0.08 * lay.mouth_w / 0.31)) ** 2)
    upper = (v >= vm) & (v < vm + lay.lip_upper * shape * bow * 1.25)
    lower = (v <= vm - lay.gap) & (v > vm - lay.gap - lay.lip_lower * shape * 1.2)
    seam = (v < vm) & (v > vm - lay.gap) & (shape > 0)
    opened = (band > 0.04) & (band < 0.96) & (shape > 0.05)
    colour = np.tile(app.lips, (len(u), 1))
    colour[seam] *= 0.45
    colour[opened] = np.array([0.08, 0.06, 0.14])
    teeth = opened & (band < 0.3) & (lay.open > 0.05) & (shape > 0.3)
    colour[teeth] = np.array([0.8, 0.85, 0.88])
    alpha = (upper | lower | seam | opened).astype(np.float64)
    return alpha, colour
