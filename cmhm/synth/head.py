"""The procedural 3D head: a deformed-ellipsoid grid with nose, lips, eye sockets, brows, chin, ears,
a hair volume and a neck.

Head frame (model units, eye-to-chin distance ~1): X to the subject's LEFT, Y up, Z forward (out of
the nose), origin at the head's centre at eye level. The surface point at parameters (u, v)
(see :mod:`cmhm.synth.layout`) starts on a flattened ellipsoid whose lower half is stretched into a
tapering jaw and chin; features are added as smooth bumps in Z (ears in X). The mouth opens by moving
everything below the upper inner lip down, stretching the thin band between the inner lips.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cmhm.synth.layout import Layout, hairline, lip_profile, make_layout, mouth_line

NECK_RADIUS = (0.42, 0.42)  # (X, Z) half-axes
NECK_CENTRE_Z = -0.12
NECK_Y = (-0.2, -2.8)


def smoothstep(e0: float | np.ndarray, e1: float | np.ndarray, x: np.ndarray) -> np.ndarray:
    """0 at ``e0``, 1 at ``e1`` (either order), cubic in between."""
    t = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def _g(x: np.ndarray, s: float) -> np.ndarray:
    return np.exp(-0.5 * (x / s) ** 2)


def base_surface(u: np.ndarray, v: np.ndarray, lay: Layout) -> np.ndarray:
    """[..., 3] the featureless head (ellipsoid + jaw) at parameters ``u``, ``v``."""
    idn = lay.identity
    su, cu, sv, cv = np.sin(u), np.cos(u), np.sin(v), np.cos(v)
    front = smoothstep(1.5, 0.3, np.abs(u))
    a = 0.68 * (1 + 0.07 * idn["face_width"])
    lower = 0.92 + (1.54 * (1 + 0.05 * idn["face_height"] + 0.04 * idn["chin"]) - 0.92) * front
    s = np.clip(-sv, 0, 1)
    s = np.where(s > 0.5, s - (s - 0.5) ** 2 / 0.6, s)  # lowest at s = 0.8: the under-chin rises to the neck
    y = np.where(v >= 0, (1.02 + 0.03 * idn["face_height"]) * sv, -lower * s)
    jaw = 0.8 * (1 + 0.08 * idn["jaw_width"])
    taper = 1 - (1 - jaw) * smoothstep(-0.2, -0.85, v)
    x = a * su * cv * taper
    depth = np.where(cu > 0, 0.84, 0.98)
    z = depth * np.sign(cu) * np.abs(cu) ** 0.7 * cv * (1 - 0.12 * smoothstep(-0.3, -0.9, v) * front)
    return np.stack([x, y, z], axis=-1)


def feature_relief(u: np.ndarray, v: np.ndarray, lay: Layout) -> np.ndarray:
    """[...] forward (Z) displacement of the face features at ``u``, ``v``."""
    idn, au = lay.identity, np.abs(u)
    t = np.clip((lay.nose_top_v - v) / (lay.nose_top_v - lay.nose_tip_v), 0, 1)
    height = (
        (0.035 + 0.22 * (1 + 0.15 * idn["nose_length"]) * t**1.5)
        * smoothstep(lay.nose_base_v, lay.nose_tip_v + 0.01, v)
        * smoothstep(0.16, 0.03, v)
    )
    nose = height * _g(u, (0.045 + 0.05 * t) * (1 + 0.12 * idn["nose_width"]))
    alae = 0.06 * _g(au - 0.75 * lay.nose_w, 0.04) * _g(v - lay.nose_tip_v + 0.01, 0.035)
    socket = -0.06 * _g(au - lay.eye_u, 0.2) * _g(v - lay.eye_v - 0.01, 0.08)
    eyeball = 0.035 * _g(au - lay.eye_u, 0.11) * _g(v - lay.eye_v, 0.05)
    brow = 0.035 * _g(au - 0.4, 0.3) * _g(v - lay.brow_v - 0.02, 0.05)
    cheek = (0.04 + 0.02 * max(lay.smile, 0)) * _g(au - 0.52, 0.2) * _g(v + 0.17, 0.12)
    vm = mouth_line(u, lay)
    lips = lip_profile(u, lay) * (
        0.05 * _g(v - vm - 0.5 * lay.lip_upper, 0.6 * lay.lip_upper)
        + 0.055 * _g(v - vm + lay.gap + 0.5 * lay.lip_lower, 0.6 * lay.lip_lower)
    )
    muzzle = 0.05 * _g(u, 0.3) * _g(v - lay.mouth_v, 0.12)
    inside = -0.12 * (lay.open / 0.16) * mouth_band(u, v, lay) * lip_profile(u, lay)
    chin = 0.06 * (1 + 0.4 * idn["chin"]) * _g(u, 0.2) * _g(v - lay.chin_v + 0.04, 0.07)
    return nose + alae + socket + eyeball + brow + cheek + lips + muzzle + inside + chin


def mouth_band(u: np.ndarray, v: np.ndarray, lay: Layout) -> np.ndarray:
    """0 above the upper inner lip, 1 below the lower inner lip, a ramp across the band between."""
    vm = mouth_line(u, lay)
    return smoothstep(vm, vm - lay.gap, v)


def surface(u: np.ndarray, v: np.ndarray, lay: Layout) -> np.ndarray:
    """[..., 3] head surface points (head frame) at parameters ``u``, ``v`` (arrays of one shape)."""
    p = base_surface(u, v, lay)
    au = np.abs(u)
    p[..., 2] += feature_relief(u, v, lay) * smoothstep(1.4, 0.9, au)
    ear = 0.07 * smoothstep(0.15, 0.08, np.hypot(au - np.pi / 2 - 0.22, (v + 0.3) / 2.8))
    p[..., 0] += np.sign(u) * ear
    hair = 0.035 * smoothstep(-0.03, 0.05, v - hairline(u))
    p[..., 0] += hair * np.sin(u) * np.cos(v)
    p[..., 2] += hair * np.cos(u) * np.cos(v)
    fade = smoothstep(1.6, 0.9, au)
    p[..., 1] -= lay.open * mouth_band(u, v, lay) * fade
    return p


def param_grid(columns: int, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """(u [columns], v [rows]) sample positions, denser on the face and around the mouth.

    ``u`` covers [-pi, pi) (the grid wraps around); ``v`` covers [-pi/2, pi/2], ascending.
    """
    fine = np.linspace(-np.pi, np.pi, 4097)
    du = 1 + 2.5 * np.exp(-0.5 * (fine / 0.7) ** 2)
    u = _inverse_cdf(fine, du, columns + 1)[:-1]
    fine_v = np.linspace(-np.pi / 2, np.pi / 2, 4097)
    dv = 1 + 2.0 * smoothstep(-0.85, -0.7, fine_v) * smoothstep(0.75, 0.55, fine_v)
    dv += 4.0 * smoothstep(-0.58, -0.54, fine_v) * smoothstep(-0.34, -0.38, fine_v)
    return u, _inverse_cdf(fine_v, dv, rows)


def _inverse_cdf(x: np.ndarray, density: np.ndarray, n: int) -> np.ndarray:
    cdf = np.concatenate([[0.0], np.cumsum((density[1:] + density[:-1]) / 2 * np.diff(x))])
    return np.interp(np.linspace(0, cdf[-1], n), cdf, x)


@dataclass(frozen=True)
class HeadMesh:
    """A triangle mesh of head + neck.

    ``vertices`` [V, 3] head frame; ``triangles`` [T, 3] (counter-clockwise seen from outside);
    ``uv`` [V, 2] surface parameters (NaN on the neck); ``band`` [V] the mouth band ramp;
    ``part`` [T] 0 = head, 1 = neck. The first ``rows * columns`` vertices are the head grid, row-major
    (row = v index), so vertex ``r * columns + c`` sits at (u[c], v[r]).
    """

    layout: Layout
    u: np.ndarray
    v: np.ndarray
    vertices: np.ndarray
    triangles: np.ndarray
    uv: np.ndarray
    band: np.ndarray
    part: np.ndarray

    @property
    def grid(self) -> np.ndarray:
        """[rows, columns, 3] the head grid vertices."""
        return self.vertices[: len(self.v) * len(self.u)].reshape(len(self.v), len(self.u), 3)


def grid_triangles(rows: int, columns: int, wrap: bool) -> np.ndarray:
    """[T, 3] triangles of a row-major grid (two per quad), wrapping columns if ``wrap``."""
    r, c = np.meshgrid(np.arange(rows - 1), np.arange(columns if wrap else columns - 1), indexing="ij")
    c1 = (c + 1) % columns
    a, b, d, e = r * columns + c, r * columns + c1, (r + 1) * columns + c, (r + 1) * columns + c1
    tris = np.concatenate([np.stack([a, b, e], -1).reshape(-1, 3), np.stack([a, e, d], -1).reshape(-1, 3)])
    return tris.astype(np.int64)


def build_mesh(
    identity: dict[str, float], expression: dict[str, float], columns: int = 96, rows: int = 72
) -> HeadMesh:
    """The head mesh for identity / expression coefficients (see :data:`IDENTITY_MODES`)."""
    lay = make_layout(identity, expression)
    u, v = param_grid(columns, rows)
    uu, vv = np.meshgrid(u, v)
    head = surface(uu, vv, lay).reshape(-1, 3)
    n_neck_c, n_neck_r = max(columns // 3, 12), 6
    a = np.linspace(-np.pi, np.pi, n_neck_c, endpoint=False)
    ys = np.linspace(NECK_Y[0], NECK_Y[1], n_neck_r)
    aa, yy = np.meshgrid(a, ys)
    neck = np.stack(
        [NECK_RADIUS[0] * np.sin(aa), yy, NECK_CENTRE_Z + NECK_RADIUS[1] * np.cos(aa)], -1
    ).reshape(-1, 3)
    t_head = grid_triangles(rows, columns, wrap=True)
    t_neck = grid_triangles(n_neck_r, n_neck_c, wrap=True)
    t_neck = t_neck[:, [0, 2, 1]] + len(head)  # neck rows run downward: flip the winding
    uv = np.concatenate([np.stack([uu.ravel(), vv.ravel()], -1), np.full((len(neck), 2), np.nan)])
    band = np.concatenate([(mouth_band(uu, vv, lay) * (lay.open > 0)).ravel(), np.zeros(len(neck))])
    part = np.concatenate([np.zeros(len(t_head), np.int8), np.ones(len(t_neck), np.int8)])
    verts = np.concatenate([head, neck])
    tris = np.concatenate([t_head, t_neck])
    return HeadMesh(lay, u, v, verts, tris, uv, band, part)


def mean_head(columns: int = 96, rows: int = 72) -> HeadMesh:
    """The head with every identity and expression coefficient at 0."""
    return build_mesh({}, {}, columns, rows)


def vertex_normals(vertices: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """[V, 3] unit area-weighted vertex normals (outward for counter-clockwise triangles)."""
    p = vertices[triangles]
    fn = np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])
    idx = triangles.ravel()
    w = np.repeat(fn, 3, axis=0)
    n = np.stack([np.bincount(idx, w[:, k], minlength=len(vertices)) for k in range(3)], -1)
    return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
