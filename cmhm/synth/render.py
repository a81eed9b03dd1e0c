"""Camera, vectorised z-buffer rasteriser and Lambertian shading (numpy only).

Camera: scaled orthographic (weak perspective). A head-frame point p maps to camera axes
``q = R p`` (X right, Y up, Z toward the camera) and to the image as
``x = s q_x + t_x``, ``y = -s q_y + t_y``, ``z = -s q_z`` (depth in pixels, larger = farther; the head
frame's origin has depth 0). ``R = Rz(roll) @ Rx(-pitch) @ Ry(yaw)``: positive yaw turns the nose
toward the subject's left (image right), positive pitch lifts the nose (looking up), positive roll
turns the head counter-clockwise as seen in the image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Camera:
    """Pose (degrees), scale (pixels per model unit) and image position of the head-frame origin."""

    yaw: float
    pitch: float
    roll: float
    scale: float
    tx: float
    ty: float

    def rotation(self) -> np.ndarray:
        """[3, 3] head frame -> camera axes (X right, Y up, Z toward the camera)."""
        y, p, r = np.radians([self.yaw, self.pitch, self.roll])
        ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
        rx = np.array([[1, 0, 0], [0, np.cos(p), np.sin(p)], [0, -np.sin(p), np.cos(p)]])
        rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
        return rz @ rx @ ry

    def project(self, points: np.ndarray) -> np.ndarray:
        """[..., 3] head-frame points -> [..., 3] image (x, y, depth) in pixels."""
        q = points @ self.rotation().T
        return np.stack(
            [self.scale * q[..., 0] + self.tx, -self.scale * q[..., 1] + self.ty, -self.scale * q[..., 2]], -1
        )

    def image_direction(self, axis: np.ndarray) -> np.ndarray:
        """[2] image-plane direction (not normalised) of a head-frame direction ``axis`` [3]."""
        q = self.rotation() @ axis
        return np.array([q[0], -q[1]])


@dataclass
class Raster:
    """Per-pixel rasterisation result: ``tri`` [H, W] (-1 = empty), ``bary`` [H, W, 3], ``depth`` [H, W] (inf = empty)."""

    tri: np.ndarray
    bary: np.ndarray
    depth: np.ndarray

    def interpolate(self, triangles: np.ndarray, attrs: np.ndarray) -> np.ndarray:
        """[H, W, C] per-vertex attributes ``attrs`` [V, C] interpolated at covered pixels (0 elsewhere)."""
        h, w = self.tri.shape
        out = np.zeros((h, w, attrs.shape[1]), attrs.dtype)
        m = self.tri >= 0
        t = triangles[self.tri[m]]
        b = self.bary[m]
        out[m] = sum(b[:, k, None] * attrs[t[:, k]] for k in range(3))
        return out


def rasterize(screen: np.ndarray, triangles: np.ndarray, height: int, width: int) -> Raster:
    """Z-buffer the triangles ``triangles`` [T, 3] of image-space vertices ``screen`` [V, 3] (x, y, depth).

    Back faces (clockwise on screen for counter-clockwise-from-outside triangles) are culled.
    Triangles are grouped by bounding-box size and each group is tested against its boxes' pixels at
    once; the nearest fragment per pixel wins.
    """
    p = screen[triangles]
    x, y, z = p[..., 0], p[..., 1], p[..., 2]
    area = (x[:, 1] - x[:, 0]) * (y[:, 2] - y[:, 0]) - (x[:, 2] - x[:, 0]) * (y[:, 1] - y[:, 0])
    x0 = np.maximum(np.ceil(x.min(1)), 0).astype(np.int64)
    x1 = np.minimum(np.floor(x.max(1)), width - 1).astype(np.int64)
    y0 = np.maximum(np.ceil(y.min(1)), 0).astype(np.int64)
    y1 = np.minimum(np.floor(y.max(1)), height - 1).astype(np.int64)
    keep = (area < -1e-9) & (x1 >= x0) & (y1 >= y0)
    ids = np.nonzero(keep)[0]
    side = np.maximum(x1 - x0, y1 - y0)[ids] + 1
    bucket = np.ceil(np.log2(side)).astype(np.int64)
    frags = []
    for b in np.unique(bucket):
        sel = ids[bucket == b]
        frags.append(
            _fragments(
                sel, 1 << int(b), x[sel], y[sel], z[sel], area[sel], x0[sel], y0[sel], x1[sel], y1[sel], width
            )
        )
    tri = np.full(height * width, -1, np.int64)
    bary = np.zeros((height * width, 3), np.float32)
    depth = np.full(height * width, np.inf)
    if frags:
        pix, fz, ft, fb = (np.concatenate(a) for a in zip(*frags))
        order = np.lexsort((fz, pix))
        pix, first = pix[order], np.r_[True, pix[order][1:] != pix[order][:-1]]
        win = order[first]
        tri[pix[first]], bary[pix[first]], depth[pix[first]] = ft[win], fb[win], fz[win]
    return Raster(tri.reshape(height, width), bary.reshape(height, width, 3), depth.reshape(height, width))


def _fragments(sel, s, x, y, z, area, x0, y0, x1, y1, width):
    """Fragments of triangles ``sel`` whose boxes fit in ``s`` x ``s``: (pixel, depth, triangle, barycentrics)."""
    d = np.arange(s)
    px = (x0[:, None] + d[None, :])[:, None, :].astype(np.float64)  # [n, 1, s]
    py = (y0[:, None] + d[None, :])[:, :, None].astype(np.float64)  # [n, s, 1]
    ax, ay = x[:, 0, None, None], y[:, 0, None, None]
    bx, by = x[:, 1, None, None], y[:, 1, None, None]
    cx, cy = x[:, 2, None, None], y[:, 2, None, None]
    inv = 1.0 / area[:, None, None]
    w0 = ((bx - px) * (cy - py) - (cx - px) * (by - py)) * inv
    w1 = ((cx - px) * (ay - py) - (ax - px) * (cy - py)) * inv
    w2 = 1.0 - w0 - w1
    inside = (w0 >= -1e-7) & (w1 >= -1e-7) & (w2 >= -1e-7)
    inside &= (px <= x1[:, None, None]) & (py <= y1[:, None, None])
    n, iy, ix = np.nonzero(inside)
    b0, b1, b2 = w0[n, iy, ix], w1[n, iy, ix], w2[n, iy, ix]
    fz = b0 * z[n, 0] + b1 * z[n, 1] + b2 * z[n, 2]
    pix = (y0[n] + iy) * width + x0[n] + ix
    return pix, fz, sel[n], np.stack([b0, b1, b2], -1).astype(np.float32)


def lambert(
    albedo: np.ndarray, normals: np.ndarray, light: np.ndarray, ambient: float, diffuse: float
) -> np.ndarray:
    """[..., 3] shaded colour: ``albedo * (ambient + diffuse * max(0, n . light))`` plus a faint highlight.

    ``normals`` [..., 3] camera-axes unit normals; ``light`` [3] unit direction toward the light.
    """
    ndl = np.clip(normals @ light, 0, None)
    half = light + np.array([0.0, 0.0, 1.0])
    half /= np.linalg.norm(half)
    spec = 0.12 * np.clip(normals @ half, 0, None) ** 24
    return albedo * (ambient + diffuse * ndl)[..., None] + spec[..., None]
