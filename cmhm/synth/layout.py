"""Where the facial features sit in the head's surface parameters (u, v), per identity and expression.

The head surface is parametrised by ``u`` (radians around the vertical axis: 0 = the nose,
negative = the subject's right, +-pi = the back of the head) and ``v`` (radians of elevation:
0 = eye level, +pi/2 = the crown, -pi/2 = under the head). Features, landmarks and the texture are
all defined in (u, v), so they move with the surface when identity or expression changes it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

IDENTITY_MODES: tuple[str, ...] = (
    "face_width",
    "face_height",
    "jaw_width",
    "chin",
    "nose_length",
    "nose_width",
    "eye_size",
    "eye_spacing",
    "mouth_width",
    "lip_thickness",
)
EXPRESSION_MODES: tuple[str, ...] = ("mouth_open", "smile", "brow_raise", "eye_closure")


@dataclass(frozen=True)
class Layout:
    """Feature positions in (u, v) (radians) plus the raw identity/expression coefficients."""

    identity: dict[str, float]
    expression: dict[str, float]
    eye_u: float  # |u| of the eye centres
    eye_v: float
    eye_w: float  # half-width of the eye opening, in u
    eye_h: float  # upper-lid height above the eye line, in v (0 when closed)
    brow_v: float  # v of the brow arch's lower edge at its peak
    nose_top_v: float  # nasion
    nose_tip_v: float
    nose_base_v: float  # subnasale
    nose_w: float  # half-width of the nose base (alae), in u
    mouth_v: float  # v of the upper inner lip at the mouth centre
    mouth_w: float  # half-width of the mouth, in u
    smile: float  # mouth corners rise by smile * SMILE_LIFT
    lip_upper: float  # upper-lip height in v
    lip_lower: float  # lower-lip height in v
    gap: float  # v band between the inner lips (stretched when the mouth opens)
    open: float  # mouth opening, in model units of the jaw's drop
    chin_v: float


SMILE_LIFT = 0.035


def make_layout(identity: dict[str, float], expression: dict[str, float]) -> Layout:
    """Feature positions for identity coefficients (each ~[-1, 1]) and expression ones.

    Unknown names raise ``KeyError``; missing names count as 0.
    """
    unknown = (set(identity) - set(IDENTITY_MODES)) | (set(expression) - set(EXPRESSION_MODES))
    if unknown:
        raise KeyError(f"make_layout: unknown modes {sorted(unknown)}")
    i = {k: float(identity.get(k, 0.0)) for k in IDENTITY_MODES}
    e = {k: float(expression.get(k, 0.0)) for k in EXPRESSION_MODES}
    eye_w = 0.17 * (1 + 0.12 * i["eye_size"])
    return Layout(
        identity=i,
        expression=e,
        eye_u=0.40 * (1 + 0.08 * i["eye_spacing"]),
        eye_v=0.0,
        eye_w=eye_w,
        eye_h=0.062 * (1 + 0.15 * i["eye_size"]) * (1 - np.clip(e["eye_closure"], 0, 1)),
        brow_v=0.13 + 0.045 * e["brow_raise"],
        nose_top_v=0.06,
        nose_tip_v=-0.27 * (1 + 0.08 * i["nose_length"]),
        nose_base_v=-0.32 * (1 + 0.07 * i["nose_length"]),
        nose_w=0.14 * (1 + 0.15 * i["nose_width"]),
        mouth_v=-0.445 - 0.01 * i["nose_length"],
        mouth_w=0.31 * (1 + 0.1 * i["mouth_width"] + 0.08 * max(e["smile"], 0.0)),
        smile=e["smile"],
        lip_upper=0.036 * (1 + 0.25 * i["lip_thickness"]),
        lip_lower=0.048 * (1 + 0.25 * i["lip_thickness"]),
        gap=0.03,
        open=0.16 * np.clip(e["mouth_open"], 0, 1),
        chin_v=-0.8,
    )


def mouth_line(u: np.ndarray, lay: Layout) -> np.ndarray:
    """v of the upper inner lip along ``u`` (corners raised by a smile)."""
    r = np.clip(np.abs(u) / lay.mouth_w, 0, 1.5)
    return lay.mouth_v + lay.smile * SMILE_LIFT * r**2


def lip_profile(u: np.ndarray, lay: Layout) -> np.ndarray:
    """0..1 lip fullness across the mouth (1 at the centre, 0 at the corners)."""
    return np.sqrt(np.clip(1 - (u / lay.mouth_w) ** 2, 0, 1))


def upper_lid(du: np.ndarray, lay: Layout) -> np.ndarray:
    """v of the upper eyelid at offset ``du`` (in u) from the eye centre, measured outward."""
    t = np.clip(du / lay.eye_w, -1, 1)
    return lay.eye_v + lay.eye_h * (1 - t**2) * (1 + 0.15 * t) + 0.01 * t


def lower_lid(du: np.ndarray, lay: Layout) -> np.ndarray:
    """v of the lower eyelid at outward offset ``du`` from the eye centre."""
    t = np.clip(du / lay.eye_w, -1, 1)
    return lay.eye_v - 0.55 * max(lay.eye_h, 0.004) * (1 - t**2) + 0.01 * t


def brow_line(au: np.ndarray, lay: Layout) -> np.ndarray:
    """v of the brow's lower edge at ``au`` = |u| (arched, highest above the eye centre)."""
    t = (au - lay.eye_u - 0.03) / 0.3
    return lay.brow_v + 0.035 * (1 - t**2)


BROW_INNER, BROW_OUTER, BROW_THICK = 0.1, 0.72, 0.035


def hairline(u: np.ndarray) -> np.ndarray:
    """v of the hair's lower boundary: high on the forehead, low at the nape."""
    au = np.abs(u)
    front = 0.72 - 0.25 * np.clip((au - 0.6) / 0.9, 0, 1)
    back = 0.47 - 1.1 * np.clip((au - 1.5) / 1.0, 0, 1)
    return np.where(au < 1.5, front, back)
