"""A 3D point distribution model (PDM) of the face, learnt from 3D landmarks and contour candidates.

The PDM holds a mean shape and linear modes over one concatenated point set (``P`` points):

  ======================  ===================================================================
  rows                    points
  ======================  ===================================================================
  ``[0, 68)``             the iBUG 68 markup, in markup order (:meth:`PDM.idx68`)
  ``[68, 84)``            the 84 (Menpo-3D) markup's jaw points that are not 68 jaw points
                          (84-jaw indices 1, 3, ..., 31, in that order)
  ``[84, 84 + 17 K)``     contour candidates, row-major ``[jaw landmark j, candidate k]``
                          (:meth:`PDM.idx_contour`); candidate 0 duplicates jaw landmark j
  ======================  ===================================================================

(the counts come from :data:`cmhm.landmarks.markups.IBUG68` / :data:`cmhm.landmarks.markups.MENPO84`). The model
lives in a normalised head frame: x to the subject's left (image right in a frontal view),
y down, z away from the camera in a frontal view (right-handed, like the image frame with depth);
origin at the centroid of the 84 markup points; unit RMS radius of those points.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from cmhm.atomic import write_atomic
from cmhm.landmarks.markups import IBUG68, MENPO84, jaw68_to_84

N68 = IBUG68.n_points
N_JAW68 = len(IBUG68.groups["jaw"])
N_JAW84 = len(MENPO84.groups["jaw"])
N_EXTRA84 = N_JAW84 - N_JAW68
N_LANDMARKS = N68 + N_EXTRA84  # points of the 68 and 84 markups together
FORMAT = "cmhm-pdm-1"


@dataclass(frozen=True)
class PDM:
    """Linear 3D shape model ``X(alpha) = mean + basis @ alpha`` in the normalised head frame.

    ``mean`` [P, 3]; ``basis`` [P, 3, M] (orthonormal over the flattened 3P coordinates);
    ``std`` [M] per-mode standard deviation; ``n_candidates`` = K contour candidates per jaw point.
    """

    mean: np.ndarray
    basis: np.ndarray
    std: np.ndarray
    n_candidates: int

    def __post_init__(self) -> None:
        p = N_LANDMARKS + N_JAW68 * self.n_candidates
        if (
            self.mean.shape != (p, 3)
            or self.basis.shape[:2] != (p, 3)
            or self.std.shape != self.basis.shape[2:]
        ):
            raise ValueError(
                f"PDM: mean {self.mean.shape}, basis {self.basis.shape}, std {self.std.shape} do not fit "
                f"P = {p} points ({N_LANDMARKS} landmarks + {N_JAW68} x {self.n_candidates} candidates)"
            )

    @property
    def n_modes(self) -> int:
        return self.basis.shape[2]

    @property
    def n_points(self) -> int:
        return self.mean.shape[0]

    @staticmethod
    def idx68() -> np.ndarray:
        """[68] PDM rows of the 68 markup points."""
        return np.arange(N68)

    @staticmethod
    def idx84() -> np.ndarray:
        """[84] PDM rows of the 84 markup points (jaw84[2k] is jaw68[k]; inner points shared)."""
        out = np.empty(MENPO84.n_points, dtype=np.int64)
        even = jaw68_to_84()
        odd = np.setdiff1d(np.arange(N_JAW84), even)
        out[even] = np.asarray(IBUG68.groups["jaw"])
        out[odd] = N68 + np.arange(N_EXTRA84)
        out[N_JAW84:] = np.arange(N_JAW68, N68)
        return out

    def idx_contour(self) -> np.ndarray:
        """[17, K] PDM rows of the contour candidates of each 68-markup jaw landmark."""
        return N_LANDMARKS + np.arange(N_JAW68 * self.n_candidates).reshape(N_JAW68, self.n_candidates)

    def shape(self, alpha: np.ndarray | None = None) -> np.ndarray:
        """[P, 3] model shape for mode weights ``alpha`` [M] (the mean for None)."""
        if alpha is None:
            return self.mean.copy()
        return self.mean + self.basis @ np.asarray(alpha, dtype=np.float64)

    def save(self, path: str | os.PathLike) -> None:
        """Write the model to ``path`` (.npz), atomically."""
        arrays = {"mean": self.mean, "basis": self.basis, "std": self.std, "n_candidates": self.n_candidates}
        write_atomic(path, lambda tmp: np.savez_compressed(tmp, format=FORMAT, **arrays))

    @classmethod
    def load(cls, path: str | os.PathLike) -> PDM:
        """The model :meth:`save` wrote to ``path``; a ValueError naming the file if it is not one."""
        with np.load(path, allow_pickle=False) as z:
            fmt = str(z["format"]) if "format" in z.files else None
            if fmt != FORMAT:
                raise ValueError(f"{path}: not a shape model file (format {fmt!r}, expected {FORMAT!r})")
            return cls(z["mean"], z["basis"], z["std"], int(z["n_candidates"]))


def build_pdm_shapes(
    lm3d_68: np.ndarray, lm3d_84: np.ndarray, contour3d: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Assemble PDM training shapes from sample-table arrays.

    ``lm3d_68`` [N, 68, 3], ``lm3d_84`` [N, 84, 3], ``contour3d`` [N, 17, K, 3] -> (shapes
    [N', P, 3] of the samples with no NaN anywhere, kept [N] bool).
    """
    n, k = contour3d.shape[0], contour3d.shape[2]
    extra = np.setdiff1d(np.arange(N_JAW84), jaw68_to_84())
    shapes = np.concatenate(
        [lm3d_68, lm3d_84[:, extra], contour3d.reshape(n, N_JAW68 * k, 3)], axis=1
    ).astype(np.float64)
    kept = np.isfinite(shapes).all(axis=(1, 2))
    return shapes[kept], kept


def similarity3d(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Batched least-squares 3D similarity (no reflection) mapping ``src`` onto ``dst`` (Umeyama 1991).

    ``src``, ``dst``: [..., K, 3]. Returns scale [...], rotation [..., 3, 3], translation [..., 3]
    with ``dst ≈ scale * src @ R.T + t``.
    """
    mu_s, mu_d = src.mean(-2, keepdims=True), dst.mean(-2, keepdims=True)
    xs, xd = src - mu_s, dst - mu_d
    cov = np.swapaxes(xd, -1, -2) @ xs / src.shape[-2]
    U, S, Vt = np.linalg.svd(cov)
    d = np.sign(np.linalg.det(U @ Vt))
    D = np.ones(S.shape)
    D[..., -1] = d
    R = (U * D[..., None, :]) @ Vt
    var_s = (xs**2).sum((-1, -2)) / src.shape[-2]
    scale = (S * D).sum(-1) / var_s
    t = mu_d[..., 0, :] - scale[..., None] * np.einsum("...ij,...j->...i", R, mu_s[..., 0, :])
    return scale, R, t


def _normalise(shape: np.ndarray) -> np.ndarray:
    """Centre [P, 3] on its landmark centroid and scale the landmarks to unit RMS radius."""
    c = shape - shape[:N_LANDMARKS].mean(0)
    return c / np.sqrt((c[:N_LANDMARKS] ** 2).sum(-1).mean())


def generalised_procrustes(shapes: np.ndarray, iterations: int = 10, tol: float = 1e-10) -> np.ndarray:
    """Align shapes [N, P, 3] to their common mean by 3D similarities fitted on the landmark rows.

    Returns the aligned shapes [N, P, 3]; their mean has unit RMS landmark radius (arbitrary rotation).
    """
    ref = _normalise(shapes[0])
    aligned = shapes
    for _ in range(iterations):
        s, R, t = similarity3d(
            shapes[:, :N_LANDMARKS], np.broadcast_to(ref[:N_LANDMARKS], shapes[:, :N_LANDMARKS].shape)
        )
        aligned = s[:, None, None] * shapes @ np.swapaxes(R, -1, -2) + t[:, None, :]
        new = _normalise(aligned.mean(0))
        s1, R1, t1 = similarity3d(new[:N_LANDMARKS], ref[:N_LANDMARKS])
        new = s1 * new @ R1.T + t1
        done = np.abs(new - ref).max() < tol
        ref = new
        if done:
            break
    return aligned


def canonical_rotation(mean: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray:
    """[3, 3] rotation taking ``mean`` [P, 3] into the head frame.

    With ``reference`` [P, 3] (or [>=68, 3]: only the 68 rows are used) the rotation best aligns the
    68 points onto it. Otherwise the frame is semantic: x from the right-eye to the left-eye centroid,
    y from the eye midpoint towards the mouth (orthogonalised), z = x cross y (away from the viewer).
    """
    if reference is not None:
        _, R, _ = similarity3d(mean[:N68], np.asarray(reference, dtype=np.float64)[:N68])
        return R
    g = IBUG68.groups
    eye_r, eye_l = mean[list(g["eye_right"])].mean(0), mean[list(g["eye_left"])].mean(0)
    mouth = mean[list(g["lip_outer"])].mean(0)
    x = eye_l - eye_r
    x /= np.linalg.norm(x)
    y = mouth - (eye_r + eye_l) / 2
    y -= (y @ x) * x
    y /= np.linalg.norm(y)
    return np.stack([x, y, np.cross(x, y)])


def learn_pdm(
    shapes3d: np.ndarray,
    n_candidates: int,
    n_modes: int | None = None,
    var_fraction: float = 0.98,
    reference: np.ndarray | None = None,
) -> PDM:
    """Learn a PDM from training shapes [N, P, 3] (see :func:`build_pdm_shapes` for the layout).

    Each shape's 3D similarity is removed by generalised Procrustes, the mean is rotated into the
    head frame (:func:`canonical_rotation`), then PCA keeps ``n_modes`` modes, or (if None) the
    fewest modes that explain ``var_fraction`` of the variance.
    """
    shapes3d = np.asarray(shapes3d, dtype=np.float64)
    if shapes3d.ndim != 3 or len(shapes3d) < 2 or not np.isfinite(shapes3d).all():
        raise ValueError(f"learn_pdm: need [N >= 2, P, 3] finite shapes, got {shapes3d.shape}")
    aligned = generalised_procrustes(shapes3d)
    R = canonical_rotation(aligned.mean(0), reference)
    aligned = aligned @ R.T
    mean = aligned.mean(0)
    X = (aligned - mean).reshape(len(aligned), -1)
    _, S, Vt = np.linalg.svd(X, full_matrices=False)
    var = S**2 / (len(aligned) - 1)
    if n_modes is None:
        frac = np.cumsum(var) / max(var.sum(), np.finfo(float).tiny)
        n_modes = int(np.searchsorted(frac, var_fraction) + 1)
    n_modes = max(1, min(n_modes, int((var > var.max() * 1e-12).sum())))
    basis = Vt[:n_modes].T.reshape(mean.shape[0], 3, n_modes)
    return PDM(mean=mean, basis=basis, std=np.sqrt(var[:n_modes]), n_candidates=n_candidates)
