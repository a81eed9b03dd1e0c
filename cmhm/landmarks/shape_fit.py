"""Fit a :class:`cmhm.landmarks.shape_model.PDM` to 2D annotations: 3D labels for data that only has 2D labels.

Camera: weak perspective (scaled orthographic). A head-frame point X [3] maps to the image as
``(x, y) = s * R[:2] @ X + t`` and gets depth ``z = s * R[2] @ X`` (pixels, larger = farther, zero
at the head-frame origin, i.e. the centroid of the model's 84 markup points).

Pose angles (degrees) follow ``R = Rz(roll) @ Rx(pitch) @ Ry(yaw)`` with the image frame
(x right, y down, z away): yaw > 0 turns the nose towards image right (the subject turns to their
left, we see more of their right cheek; as in :mod:`cmhm.data.samples`), pitch > 0 turns the nose up
in the image, roll > 0 turns the face clockwise as displayed.

Fitting alternates (a) camera: 2x3 affine by least squares, projected to the nearest scaled
rotation by SVD; (b) mode weights by Tikhonov-regularised least squares (prior: mode std);
(c) landmark marching: each contour point is matched to the candidate on its jaw landmark's line
whose projection lies farthest outward (along the head's horizontal, i.e. image x rotated by roll).
Alternation converges slowly where pose and shape trade off, so it is followed by joint
Levenberg-Marquardt rounds over (rotation, scale, translation, modes). Both first run on the inner
(non-contour) points only, which fixes the pose before any contour correspondence is chosen; then
LM rounds on all points, marching before each round.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cmhm.landmarks.markups import IBUG68
from cmhm.landmarks.shape_model import PDM


@dataclass(frozen=True)
class FitConfig:
    """``reg``: Tikhonov weight = expected landmark noise variance in head-frame units (the model has
    unit RMS radius); ``march``: landmark marching on the jaw; ``n_iter``: alternation rounds;
    ``n_refine``: the most joint Levenberg-Marquardt rounds after them (per stage); ``tol``: rounds
    stop once marching keeps its choice and no parameter moves by more than this (mode weights in
    units of their std, rotation matrix entries)."""

    n_iter: int = 6
    n_refine: int = 30
    tol: float = 1e-7
    reg: float = 1e-5
    march: bool = True


@dataclass(frozen=True)
class FitResult:
    """A fitted face: 3D landmarks in image coordinates (x, y pixels, z depth) and the camera."""

    lm3d_68: np.ndarray  # [68, 3]
    lm3d_84: np.ndarray  # [84, 3]
    yaw: float  # degrees
    pitch: float
    roll: float
    scale: float  # pixels per head-frame unit
    rotation: np.ndarray  # [3, 3]
    translation: np.ndarray  # [2]
    alpha: np.ndarray  # [M]
    residual: float  # RMS 2D distance (pixels) over the fitted annotation points
    rows: np.ndarray  # [V] PDM row matched to each annotation point (after marching)


def euler_to_rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """[3, 3] rotation ``Rz(roll) @ Rx(pitch) @ Ry(yaw)`` from angles in degrees (module docstring)."""
    y, p, r = np.deg2rad([yaw, pitch, roll])
    ry = np.array([[np.cos(y), 0, -np.sin(y)], [0, 1, 0], [np.sin(y), 0, np.cos(y)]])
    rx = np.array([[1, 0, 0], [0, np.cos(p), np.sin(p)], [0, -np.sin(p), np.cos(p)]])
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    return rz @ rx @ ry


def rotation_to_euler(R: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees of a rotation [3, 3]; inverse of :func:`euler_to_rotation`."""
    pitch = np.arcsin(np.clip(-R[2, 1], -1.0, 1.0))
    yaw = np.arctan2(R[2, 0], R[2, 2])
    roll = np.arctan2(-R[0, 1], R[1, 1])
    return tuple(float(v) for v in np.rad2deg([yaw, pitch, roll]))


def jaw_lines(pdm: PDM, midline_tol: float = 0.02) -> tuple[np.ndarray, np.ndarray]:
    """Candidate rows of every 68 point and each point's outward sign.

    Returns cand [68, K] (jaw point j: its contour candidates; other points: their own row, repeated)
    and sign [68]: +1 / -1 for jaw points on the head's +x / -x side of the nose-bridge midline
    (mean shape); for a point within ``midline_tol`` x jaw width of the midline, the direction its
    candidate line runs in x (0, i.e. not marched, if that is within tolerance too).
    """
    cand = np.repeat(pdm.idx68()[:, None], pdm.n_candidates, axis=1)
    jaw = np.asarray(IBUG68.groups["jaw"])
    cand[jaw] = pdm.idx_contour()
    mid = pdm.mean[list(IBUG68.groups["nose_bridge"]), 0].mean()
    tol = midline_tol * np.ptp(pdm.mean[jaw, 0])
    side = pdm.mean[jaw, 0] - mid
    run = pdm.mean[cand[jaw, -1], 0] - pdm.mean[cand[jaw, 0], 0]
    sign = np.zeros(len(cand))
    sign[jaw] = np.where(np.abs(side) > tol, np.sign(side), np.where(np.abs(run) > tol, np.sign(run), 0.0))
    return cand, sign


def march(X: np.ndarray, R: np.ndarray, cand: np.ndarray, sign: np.ndarray) -> np.ndarray:
    """[V] rows: per annotation point, the candidate (of cand [V, K]) projecting farthest outward.

    ``X`` [P, 3] head-frame shape, ``R`` [3, 3] rotation, ``sign`` [V] (0 keeps candidate 0).
    """
    roll = np.arctan2(-R[0, 1], R[1, 1])
    outward = R[:2].T @ np.array([np.cos(roll), np.sin(roll)])  # [3]
    score = sign[:, None] * (X[cand] @ outward)  # [V, K]
    return cand[np.arange(len(cand)), np.argmax(score, axis=1)]


def fit_camera(X: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Weak-perspective camera (s, R [3, 3], t [2]) from 3D points X [V, 3] to 2D y [V, 2], weights w [V]."""
    wn = w / w.sum()
    mx, my = wn @ X, wn @ y
    xc, yc = X - mx, y - my
    C = (xc * w[:, None]).T @ xc
    A = ((yc * w[:, None]).T @ xc) @ np.linalg.inv(C + 1e-9 * np.trace(C) * np.eye(3))
    U, _, Vt = np.linalg.svd(A, full_matrices=False)
    r12 = U @ Vt
    proj = xc @ r12.T
    s = float((w * (yc * proj).sum(-1)).sum() / (w * (proj**2).sum(-1)).sum())
    R = np.vstack([r12, np.cross(r12[0], r12[1])])
    return s, R, my - s * r12 @ mx


def solve_alpha(
    pdm: PDM, rows: np.ndarray, y: np.ndarray, w: np.ndarray, camera: tuple, reg: float
) -> np.ndarray:
    """[M] mode weights minimising ``sum_v w_v |proj(X_rows_v) - y_v|^2 / s^2 + reg * sum_m (alpha_m/std_m)^2``."""
    s, R, t = camera
    J = np.einsum("ij,vjm->vim", R[:2], pdm.basis[rows]).reshape(-1, pdm.n_modes)  # [2V, M]
    r = ((y - t) / s - pdm.mean[rows] @ R[:2].T).reshape(-1)  # [2V]
    ww = np.repeat(w, 2)
    H = J.T @ (J * ww[:, None]) + reg * np.diag(1.0 / pdm.std**2)
    return np.linalg.solve(H, J.T @ (ww * r))


def fit_points(
    pdm: PDM, y: np.ndarray, w: np.ndarray, cand: np.ndarray, sign: np.ndarray, cfg: FitConfig
) -> FitResult:
    """Fit the PDM to annotation points y [V, 2] (NaN = missing) with weights w [V].

    Point v corresponds to one of the PDM rows cand[v] [K] (chosen by marching where sign[v] != 0,
    else cand[v, 0]).
    """
    w = np.where(np.isfinite(y).all(-1), np.asarray(w, dtype=np.float64), 0.0)
    y = np.nan_to_num(np.asarray(y, dtype=np.float64))
    if (w > 0).sum() < 4:
        raise ValueError(f"fit_points: need at least 4 weighted finite points, got {(w > 0).sum()}")
    rows = cand[:, 0]
    X = pdm.shape()
    inner = w * (sign == 0)
    w0 = inner if (inner > 0).sum() >= 4 else w  # stage 1 ignores the contour points
    camera = fit_camera(X[rows], y, w0)
    alpha = np.zeros(pdm.n_modes)
    for _ in range(cfg.n_iter):
        camera = fit_camera(X[rows], y, w0)
        alpha = solve_alpha(pdm, rows, y, w0, camera, cfg.reg)
        X = pdm.shape(alpha)
    damping = 1e-3
    for stage_w in (w0, w):
        for _ in range(cfg.n_refine):
            new_rows = march(X, camera[1], cand, sign) if cfg.march else rows
            new_camera, new_alpha, damping = refine(
                pdm, new_rows, y, stage_w, camera, alpha, cfg.reg, damping
            )
            step = max(np.abs((new_alpha - alpha) / pdm.std).max(), np.abs(new_camera[1] - camera[1]).max())
            converged = (new_rows == rows).all() and step < cfg.tol
            rows, camera, alpha, X = new_rows, new_camera, new_alpha, pdm.shape(new_alpha)
            if converged:
                break
    return _result(pdm, X, camera, alpha, rows, y, w)


def _skew(v: np.ndarray) -> np.ndarray:
    """[..., 3, 3] cross-product matrices of vectors [..., 3]."""
    z = np.zeros(v.shape[:-1])
    return np.stack(
        [
            np.stack([z, -v[..., 2], v[..., 1]], -1),
            np.stack([v[..., 2], z, -v[..., 0]], -1),
            np.stack([-v[..., 1], v[..., 0], z], -1),
        ],
        -2,
    )


def _rodrigues(w: np.ndarray) -> np.ndarray:
    th = np.linalg.norm(w)
    K = _skew(w / th) if th > 0 else np.zeros((3, 3))
    return np.eye(3) + np.sin(th) * K + (1 - np.cos(th)) * K @ K


def _objective(pdm: PDM, rows, y, w, camera: tuple, alpha: np.ndarray, s0: float, reg: float) -> float:
    s, R, t = camera
    e = s * pdm.shape(alpha)[rows] @ R[:2].T + t - y
    return float((w * (e**2).sum(-1)).sum() / s0**2 + reg * ((alpha / pdm.std) ** 2).sum())


def refine(
    pdm: PDM, rows, y, w, camera: tuple, alpha: np.ndarray, reg: float, damping: float
) -> tuple[tuple, np.ndarray, float]:
    """One Levenberg-Marquardt step on the objective of :func:`solve_alpha` over camera and modes jointly.

    Parameters: rotation increment (R <- R @ exp([omega]x)), scale, translation [2], alpha [M].
    Returns the (possibly unchanged) camera, alpha and the next damping.
    """
    s, R, t = camera
    X = pdm.shape(alpha)[rows]  # [V, 3]
    r12 = R[:2]
    J = (
        np.concatenate(
            [
                -s * np.einsum("ij,vjk->vik", r12, _skew(X)),  # rotation [V, 2, 3]
                (X @ r12.T)[..., None],  # scale [V, 2, 1]
                np.broadcast_to(np.eye(2), (len(X), 2, 2)),  # translation
                s * np.einsum("ij,vjm->vim", r12, pdm.basis[rows]),  # modes [V, 2, M]
            ],
            axis=-1,
        ).reshape(2 * len(X), -1)
        / s
    )
    e = ((s * X @ r12.T + t - y) / s).reshape(-1)
    ww = np.repeat(w, 2)
    prior = np.concatenate([np.zeros(6), reg / pdm.std**2])
    H = J.T @ (J * ww[:, None]) + np.diag(prior)
    g = J.T @ (ww * e) + prior * np.concatenate([np.zeros(6), alpha])
    before = _objective(pdm, rows, y, w, camera, alpha, s, reg)
    while damping < 1e8:
        d = -np.linalg.solve(H + damping * np.diag(np.diag(H) + 1e-12), g)
        cam = (s + d[3], R @ _rodrigues(d[:3]), t + d[4:6])
        if cam[0] > 0 and _objective(pdm, rows, y, w, cam, alpha + d[6:], s, reg) < before:
            return cam, alpha + d[6:], max(damping / 10, 1e-9)
        damping *= 10
    return camera, alpha, 1e-3


def _result(pdm: PDM, X: np.ndarray, camera: tuple, alpha: np.ndarray, rows, y, w) -> FitResult:
    s, R, t = camera
    img = np.concatenate([s * X @ R[:2].T + t, s * X @ R[2:].T], axis=1)  # [P, 3]
    err = ((img[rows, :2] - y) ** 2).sum(-1)
    yaw, pitch, roll = rotation_to_euler(R)
    return FitResult(
        lm3d_68=img[pdm.idx68()],
        lm3d_84=img[pdm.idx84()],
        yaw=yaw,
        pitch=pitch,
        roll=roll,
        scale=s,
        rotation=R,
        translation=t,
        alpha=alpha,
        residual=float(np.sqrt((w * err).sum() / w.sum())),
        rows=rows,
    )


def fit_semifrontal(
    pdm: PDM, lm2d: np.ndarray, vis: np.ndarray | None = None, cfg: FitConfig = FitConfig()
) -> FitResult:
    """Fit a 68-point semi-frontal annotation lm2d [68, 2] (jaw on the visible contour); vis [68] bool."""
    cand, sign = jaw_lines(pdm)
    w = np.ones(len(lm2d)) if vis is None else np.asarray(vis, dtype=np.float64)
    return fit_points(pdm, lm2d, w, cand, sign, cfg)


def fit_profile(
    pdm: PDM, lm2d_profile: np.ndarray, mapping68: np.ndarray, cfg: FitConfig = FitConfig()
) -> FitResult:
    """Fit a 39-point profile annotation lm2d_profile [39, 2].

    ``mapping68`` [39]: the 68-markup point each profile point stands for, for this face's side
    (e.g. ``load_mapping(...)[side]`` or :func:`cmhm.landmarks.markups.profile_semantic_mapping`); points
    mapped to a jaw landmark are matched to its contour candidates by marching.
    """
    cand, sign = jaw_lines(pdm)
    mapping68 = np.asarray(mapping68, dtype=np.int64)
    return fit_points(pdm, lm2d_profile, np.ones(len(mapping68)), cand[mapping68], sign[mapping68], cfg)
