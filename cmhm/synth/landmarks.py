"""Landmarks fixed on the head surface: inner iBUG points, the jaw contour and its marching lines.

Every landmark is a surface point given by surface parameters (u, v) (see :mod:`cmhm.synth.layout`),
turned into barycentric weights on the head grid, so it moves with identity and expression.

Jaw (68: 0..16, 84: 0..32): points on the *frontal silhouette* of the neutral head (where the
surface normal is perpendicular to the frontal view direction), evenly spaced along that curve in the
frontal projection from ear level on the subject's right, through the chin (68-point 8 /
84-point 16), to ear level on the left; the 68 jaw is every second 84 jaw point. Each jaw point
also owns a *marching line*: the horizontal cross-section of the neutral head at the point's height,
from a little in front of it (toward the nose) back toward the ear, sampled on grid columns. The
jaw point is the line's point of largest |X| (so in a frontal view it is the line's most outward
point); the chin keeps a degenerate line (all points equal).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cmhm.synth.head import NECK_CENTRE_Z, NECK_RADIUS, HeadMesh, vertex_normals
from cmhm.synth.layout import (
    BROW_INNER,
    BROW_OUTER,
    BROW_THICK,
    Layout,
    brow_line,
    lower_lid,
    mouth_line,
    upper_lid,
)

JAW_TOP_Y = -0.08  # model height of the first/last jaw point (just below eye level)


@dataclass(frozen=True)
class SurfacePoints:
    """Points on a mesh: ``idx`` [..., 3] vertex indices and ``w`` [..., 3] barycentric weights."""

    idx: np.ndarray
    w: np.ndarray

    def locate(self, vertices: np.ndarray) -> np.ndarray:
        """[..., 3] positions on ``vertices`` [V, 3] (or any per-vertex array [V, C])."""
        return (vertices[self.idx] * self.w[..., None]).sum(-2)


def surface_points(mesh: HeadMesh, u: np.ndarray, v: np.ndarray) -> SurfacePoints:
    """Barycentric surface points of the head grid at parameters ``u``, ``v`` (same shape)."""
    uu, vv = np.asarray(u, np.float64), np.asarray(v, np.float64)
    cols, rows = len(mesh.u), len(mesh.v)
    u_ext = np.append(mesh.u, mesh.u[0] + 2 * np.pi)
    wrapped = (uu - mesh.u[0]) % (2 * np.pi) + mesh.u[0]
    c = np.clip(np.searchsorted(u_ext, wrapped, side="right") - 1, 0, cols - 1)
    r = np.clip(np.searchsorted(mesh.v, vv, side="right") - 1, 0, rows - 2)
    s = np.clip((wrapped - u_ext[c]) / (u_ext[c + 1] - u_ext[c]), 0, 1)
    t = np.clip((vv - mesh.v[r]) / (mesh.v[r + 1] - mesh.v[r]), 0, 1)
    a, b = r * cols + c, r * cols + (c + 1) % cols
    d, e = a + cols, b + cols
    lower = s >= t  # triangle (a, b, e) else (a, e, d)
    idx = np.where(lower[..., None], np.stack([a, b, e], -1), np.stack([a, e, d], -1))
    w = np.where(lower[..., None], np.stack([1 - s, s - t, t], -1), np.stack([1 - t, s, t - s], -1))
    return SurfacePoints(idx.astype(np.int64), w)


def inner_uv(lay: Layout) -> np.ndarray:
    """[51, 2] (u, v) of iBUG points 17..67 (brows, nose, eyes, lips), subject's right = u < 0."""
    bu = np.linspace(BROW_OUTER, BROW_INNER, 5)
    brow_r = np.stack([-bu, brow_line(bu, lay) + BROW_THICK], -1)
    brow_l = np.stack([bu[::-1], brow_line(bu[::-1], lay) + BROW_THICK], -1)
    bridge = np.stack([np.zeros(4), np.linspace(lay.nose_top_v - 0.02, lay.nose_tip_v + 0.01, 4)], -1)
    nb = np.array([-1.0, -0.5, 0.0, 0.5, 1.0]) * lay.nose_w * 0.8
    base = np.stack([nb, lay.nose_base_v + 0.012 * (np.abs(nb) / lay.nose_w) ** 2 * 4], -1)
    eyes = []
    for sgn in (-1.0, 1.0):  # right eye then left eye, each from its outer corner as iBUG orders it
        du = np.array([1.0, 1 / 3, -1 / 3, -1.0, -1 / 3, 1 / 3]) * lay.eye_w
        upper = np.array([False, True, True, False, False, False])
        vv = np.where(upper, upper_lid(du, lay), lower_lid(du, lay))
        vv[[0, 3]] = lower_lid(du[[0, 3]], lay)
        pts = np.stack([sgn * (lay.eye_u + du), vv], -1)
        eyes.append(pts if sgn < 0 else pts[[3, 2, 1, 0, 5, 4]])
    return np.concatenate([brow_r, brow_l, bridge, base, *eyes, _lips_uv(lay)])


def _lips_uv(lay: Layout) -> np.ndarray:
    """[20, 2] (u, v) of iBUG 48..67."""
    w = lay.mouth_w
    uo = np.array([-1.0, -0.6, -0.25, 0.0, 0.25, 0.6, 1.0, 0.6, 0.3, 0.0, -0.3, -0.6]) * w
    vm = mouth_line(uo, lay)
    shape = np.sqrt(np.clip(1 - (uo / w) ** 2, 0, 1))
    bow = 1 - 0.25 * np.exp(-0.5 * (uo / (0.08 * w / 0.31)) ** 2)
    up = vm + lay.lip_upper * shape * bow * 1.25
    lo = vm - lay.gap - lay.lip_lower * shape * 1.2
    vo = np.where(np.arange(12) <= 6, up, lo)
    vo[[0, 6]] = vm[[0, 6]] - lay.gap / 2
    ui = np.array([-0.92, -0.45, 0.0, 0.45, 0.92, 0.45, 0.0, -0.45]) * w
    vmi = mouth_line(ui, lay)
    vi = np.where(np.arange(8) <= 4, vmi, vmi - lay.gap)
    vi[[0, 4]] = vmi[[0, 4]] - lay.gap / 2
    return np.concatenate([np.stack([uo, vo], -1), np.stack([ui, vi], -1)])


def frontal_silhouette(neutral: HeadMesh) -> np.ndarray:
    """[M, 2] (X, Y) of the frontal silhouette of the lower face, right ear level -> chin -> left.

    The zero crossings of the normal's forward component n_z, searched outward from the nose along
    grid rows and downward along grid columns, merged and ordered by angle around (0, JAW_TOP_Y);
    the curve is cut at :data:`JAW_TOP_Y`.
    """
    g = neutral.grid
    n = vertex_normals(neutral.vertices, neutral.triangles)[: g.shape[0] * g.shape[1]].reshape(g.shape)
    top = int(np.searchsorted(neutral.v, 0.05))
    pts = []
    for side in (-1.0, 1.0):
        cols = np.nonzero((side * neutral.u >= 0) & (side * neutral.u < np.pi / 2 + 0.12))[0]
        cols = cols[np.argsort(side * neutral.u[cols])]
        behind = side * neutral.u[cols] > np.pi / 2  # the back of the head is never on it
        for r in range(top):  # along rows, outward
            pts += _first_crossing(np.where(behind, -np.abs(n[r, cols, 2]) - 0.01, n[r, cols, 2]), g[r, cols])
        for j in cols[side * neutral.u[cols] < np.pi / 2 - 0.02]:  # along columns, downward
            pts += _first_crossing(n[top - 1 :: -1, j, 2], g[top - 1 :: -1, j])
    sil = np.array(pts)[:, :2]
    sil = sil[sil[:, 1] <= JAW_TOP_Y]
    angle = np.arctan2(sil[:, 0], JAW_TOP_Y - sil[:, 1])
    return sil[np.argsort(angle)]


def _first_crossing(nz: np.ndarray, p: np.ndarray) -> list[np.ndarray]:
    """The point where ``nz`` [L] first turns from > 0 to <= 0 along a polyline ``p`` [L, 3]."""
    pos = np.nonzero(nz > 0)[0]
    if len(pos) == 0 or pos[0] > 0:
        return []
    neg = np.nonzero(nz <= 0)[0]
    if len(neg) == 0:
        return []
    k = neg[0]
    f = nz[k - 1] / (nz[k - 1] - nz[k])
    return [p[k - 1] + f * (p[k] - p[k - 1])]


def _arc_heights(sil: np.ndarray, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Heights Y and X of the silhouette at arc-length fractions ``positions`` (0 = right top, 1 = left top)."""
    seg = np.r_[0.0, np.cumsum(np.linalg.norm(np.diff(sil, axis=0), axis=1))]
    a = positions * seg[-1]
    return np.interp(a, seg, sil[:, 1]), np.interp(a, seg, sil[:, 0])


def contour_lines(
    neutral: HeadMesh, positions: np.ndarray, n_points: int
) -> tuple[SurfacePoints, np.ndarray]:
    """Marching lines of jaw points at silhouette arc fractions ``positions`` [P].

    Returns the lines as surface points [P, n_points] (front -> back) and [P] the index of each jaw
    point on its line (the point of largest outward |X| on the neutral head).
    """
    sil = frontal_silhouette(neutral)
    heights, xs = _arc_heights(sil, np.asarray(positions, np.float64))
    g, top = neutral.grid, int(np.searchsorted(neutral.v, 0.3))
    r0 = np.argmin(g[:top, :, 1], axis=0)  # rows above a column's lowest point: Y ascends
    cross_v = np.stack([np.interp(heights, g[r:top, j, 1], neutral.v[r:top]) for j, r in enumerate(r0)])
    cross_p = np.stack(
        [
            np.stack([np.interp(heights, g[r:top, j, 1], g[r:top, j, k]) for k in range(3)], -1)
            for j, r in enumerate(r0)
        ]
    )  # [C, P, 3]
    valid = g[r0, np.arange(len(r0)), 1][:, None] < heights[None, :]
    inside_neck = (cross_p[..., 0] / NECK_RADIUS[0]) ** 2 + (
        (cross_p[..., 2] - NECK_CENTRE_Z) / NECK_RADIUS[1]
    ) ** 2 < 1.05
    ok = valid & ~(inside_neck & (heights[None, :] < -0.2))
    us, vs = np.zeros((len(heights), n_points)), np.zeros((len(heights), n_points))
    for k, x in enumerate(xs):
        side = 1.0 if x >= 0 else -1.0
        us[k], vs[k] = _line_uv(
            neutral.u, cross_v[:, k], cross_p[:, k, 0], ok[:, k], side, n_points, abs(x) < 1e-3
        )
    pts = surface_points(neutral, us, vs)
    outward = np.sign(xs)[:, None] * pts.locate(neutral.vertices)[..., 0]
    return pts, np.argmax(outward, axis=1)


def _line_uv(u, cv, cx, ok, side, n_points, chin):
    """(u, v) [n_points] of one horizontal marching line on the ``side`` (+1 = subject's left).

    ``cv``, ``cx``, ``ok`` [C]: per grid column, the cross-section's v, X and whether it exists there.
    """
    cols = np.nonzero((side * u >= 0) & (side * u <= np.pi / 2 + 0.05))[0]
    cols = cols[np.argsort(side * u[cols])]
    good = ok[cols]
    first = int(np.argmax(good))
    stop = first + int(np.argmin(good[first:])) if not good[first:].all() else len(good)
    cols = cols[first:stop]
    uc, vc, xc = side * u[cols], cv[cols], side * cx[cols]
    if chin:
        return np.zeros(n_points), np.full(n_points, np.interp(0.0, uc, vc))
    u_sil = uc[np.argmax(xc)]
    n_front = n_points // 3 + 1
    u_back = min(u_sil + 0.6, uc[-1])
    line = np.concatenate(
        [np.linspace(0.3 * u_sil, u_sil, n_front), np.linspace(u_sil, u_back, n_points - n_front + 1)[1:]]
    )
    return side * line, np.interp(line, uc, vc)
