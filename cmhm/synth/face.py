"""Render one synthetic face and compute all of its labels.

Profile annotation (39 points, the visible side; "right" = nose toward image right = yaw > 0 = the
subject's right side visible; a "left" profile uses the mirrored definitions), in the Menpo profile
markup's point order (:mod:`cmhm.landmarks.markups`, which also names the 68 point each point sits on):
  contour: 3D jaw-contour points (see :mod:`cmhm.synth.landmarks`) at the markup's positions along
        the jaw, from ear level (68-jaw 0) down to just past the chin (68-jaw 8);
  nose bridge to tip: at the heights of 68-points 27..30, the point of a horizontal line across
        the nose (|u| <= 0.3) that projects farthest toward the image direction of the nose (the
        profile silhouette);
  brow, nose base, eye, outer and inner lip: the 68 points they sit on, of the visible side.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cmhm.landmarks.markups import IBUG68, PROFILE39, PROFILE_ON_IBUG68, profile_contour_positions
from cmhm.synth.config import SynthConfig
from cmhm.synth.head import HeadMesh, build_mesh, vertex_normals
from cmhm.synth.landmarks import SurfacePoints, contour_lines, inner_uv, surface_points
from cmhm.synth.render import Camera, Raster, lambert, rasterize
from cmhm.synth.texture import Appearance, albedo

N_JAW84 = 33
N_PROFILE_JAW = len(PROFILE39.groups["jaw"])
N_JAW68 = len(IBUG68.groups["jaw"])  # inner_uv starts at the first point after the jaw


@dataclass(frozen=True)
class FaceParams:
    """Everything that defines one rendered face (besides the background)."""

    identity: dict[str, float]
    expression: dict[str, float]
    camera: Camera
    appearance: Appearance
    light: np.ndarray  # [3] toward the light, camera axes
    ambient: float
    diffuse: float


@dataclass
class RenderedFace:
    """A rendered face: ``image`` [H, W, 3] uint8, ``raster``, ``mask`` [H, W] head pixels, labels (pixels)."""

    image: np.ndarray
    raster: Raster
    mask: np.ndarray
    mesh: HeadMesh
    labels: dict[str, np.ndarray]
    view: str
    side: str


def render_face(p: FaceParams, background: np.ndarray, cfg: SynthConfig) -> RenderedFace:
    """Render face ``p`` over ``background`` [H, W, 3] uint8 and compute its labels."""
    mesh = build_mesh(p.identity, p.expression, cfg.mesh_columns, cfg.mesh_rows)
    neutral = build_mesh(p.identity, {}, cfg.mesh_columns, cfg.mesh_rows)
    cam, h, w = p.camera, background.shape[0], background.shape[1]
    raster = rasterize(cam.project(mesh.vertices), mesh.triangles, h, w)
    normals = vertex_normals(mesh.vertices, mesh.triangles) @ cam.rotation().T
    image, mask = _shade(p, mesh, raster, normals, background)
    labels, view, side = face_labels(p, mesh, neutral, raster, normals, cfg)
    return RenderedFace(image, raster, mask, mesh, labels, view, side)


def _shade(p: FaceParams, mesh: HeadMesh, raster: Raster, normals: np.ndarray, background: np.ndarray):
    uv = np.nan_to_num(mesh.uv)
    attrs = np.column_stack([np.sin(uv[:, 0]), np.cos(uv[:, 0]), uv[:, 1], mesh.band, normals]).astype(
        np.float32
    )
    pix = raster.interpolate(mesh.triangles, attrs)
    covered = raster.tri >= 0
    head = covered & (mesh.part[np.maximum(raster.tri, 0)] == 0)
    a = np.tile(p.appearance.skin * 0.88, (int(covered.sum()), 1))
    on_head = head[covered]
    q = pix[head]
    a[on_head] = albedo(np.arctan2(q[:, 0], q[:, 1]), q[:, 2], q[:, 3], mesh.layout, p.appearance)
    n = pix[covered][:, 4:7]
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-9)
    col = lambert(a, n, p.light, p.ambient, p.diffuse)
    out = background.astype(np.float64)
    out[covered] = np.clip(col, 0, 1) * 255
    return np.clip(out + 0.5, 0, 255).astype(np.uint8), head


def face_labels(
    p: FaceParams, mesh: HeadMesh, neutral: HeadMesh, raster: Raster, normals: np.ndarray, cfg: SynthConfig
):
    """The label arrays of one face (see :mod:`cmhm.data.samples`), its view and profile side."""
    cam = p.camera
    k, refine = cfg.contour_candidates, cfg.contour_refine
    fine = (k - 1) * refine + 1
    pos = np.linspace(0, 1, N_JAW84)
    prof = profile_contour_positions()
    lines, on_line = contour_lines(neutral, np.concatenate([pos, prof, 1 - prof]), fine)
    jaw = SurfacePoints(
        lines.idx[np.arange(len(on_line)), on_line], lines.w[np.arange(len(on_line)), on_line]
    )
    inner = inner_uv(mesh.layout)
    inner_pts = surface_points(mesh, inner[:, 0], inner[:, 1])
    jaw3d = cam.project(jaw.locate(mesh.vertices))
    lm84 = np.concatenate([jaw3d[:N_JAW84], cam.project(inner_pts.locate(mesh.vertices))])
    lm68 = np.concatenate([lm84[0:N_JAW84:2], lm84[N_JAW84:]])
    line68 = cam.project(lines.locate(mesh.vertices)[0:N_JAW84:2])  # [17, fine, 3]
    n68 = np.concatenate([jaw.locate(normals)[0:N_JAW84:2], inner_pts.locate(normals)])
    tol = cfg.visibility_tolerance * cam.scale
    vis3d = visible(lm68, n68, raster, tol)
    labels = {
        "lm3d_68": lm68,
        "lm3d_84": lm84,
        "vis3d_68": vis3d,
        "contour3d": line68[:, ::refine],
        "lm2d": np.full((68, 2), np.nan),
        "vis2d": np.zeros(68, bool),
        "lm2d_profile": np.full((39, 2), np.nan),
    }
    if abs(cam.yaw) > cfg.profile_yaw:
        side = "right" if cam.yaw > 0 else "left"
        labels["lm2d_profile"] = _profile(cam, mesh, lm68, jaw3d[N_JAW84:], side)
        return labels, "profile", side
    labels["lm2d"] = np.concatenate([march(line68, cam), lm68[17:, :2]])
    labels["vis2d"] = np.concatenate([np.ones(17, bool), vis3d[17:]])
    return labels, "semifrontal", ""


def march(lines: np.ndarray, cam: Camera) -> np.ndarray:
    """[17, 2] 2D jaw: per marching line [17, L, 3], the point farthest along the projected outward axis.

    Lines 0..7 (subject's right) use the head's -X axis, 9..16 its +X axis; the chin line 8 keeps its point.
    """
    n = len(lines)
    out = np.empty((n, 2))
    for j in range(n):
        if j == n // 2:
            out[j] = lines[j, 0, :2]
            continue
        d = cam.image_direction(np.array([-1.0 if j < n // 2 else 1.0, 0.0, 0.0]))
        out[j] = lines[j, int(np.argmax(lines[j, :, :2] @ d)), :2]
    return out


def visible(points: np.ndarray, normals: np.ndarray, raster: Raster, tol: float) -> np.ndarray:
    """[P] self-occlusion visibility of image points ``points`` [P, 3] with camera-axes normals [P, 3].

    Visible = facing the camera (n_z > -0.15) and, among the 4 pixels nearest the point, some
    pixel's depth is not in front of the point by more than ``tol`` (or a pixel is uncovered).
    """
    h, w = raster.depth.shape
    nz = normals[:, 2] / np.maximum(np.linalg.norm(normals, axis=1), 1e-9)
    x, y = np.floor(points[:, 0]).astype(int), np.floor(points[:, 1]).astype(int)
    best = np.full(len(points), -np.inf)
    for dy in (0, 1):
        for dx in (0, 1):
            xi, yi = np.clip(x + dx, 0, w - 1), np.clip(y + dy, 0, h - 1)
            best = np.maximum(best, raster.depth[yi, xi])
    inside = (x >= 0) & (x < w) & (y >= 0) & (y < h)
    return inside & (nz > -0.15) & (best >= points[:, 2] - tol)


def _profile(cam: Camera, mesh: HeadMesh, lm68: np.ndarray, prof_jaw: np.ndarray, side: str) -> np.ndarray:
    """[39, 2] profile annotation on the visible side (see the module docstring)."""
    g = PROFILE39.groups
    out = np.full((PROFILE39.n_points, 2), np.nan)
    jaw = prof_jaw[:N_PROFILE_JAW] if side == "right" else prof_jaw[N_PROFILE_JAW:]
    out[list(g["jaw"])] = jaw[:, :2]
    across = np.linspace(-0.3, 0.3, 41)
    bridge_v = inner_uv(mesh.layout)[np.asarray(PROFILE_ON_IBUG68["nose_bridge"]) - N_JAW68, 1]
    uu, vv = np.meshgrid(across, bridge_v)
    lines = cam.project(surface_points(mesh, uu, vv).locate(mesh.vertices))[..., :2]
    d = cam.image_direction(np.array([0.0, 0.0, 1.0]))
    out[list(g["nose_bridge"])] = lines[np.arange(len(bridge_v)), np.argmax(lines @ d, axis=1)]
    flip = IBUG68.flip_permutation()
    for group, idx in PROFILE_ON_IBUG68.items():
        if group != "nose_bridge":
            on = np.asarray(idx) if side == "right" else flip[list(idx)]
            out[list(g[group])] = lm68[on, :2]
    return out
