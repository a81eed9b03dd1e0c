"""The multi-view union markup (paper Sec. III-B): profile points mapped onto the 68 frontal points.

The paper builds one 68-point label space for semi-frontal (68 points) and profile (39 points)
faces by mapping each profile landmark to its nearest frontal landmark between the two mean
shapes. Here: both mean shapes come from generalised Procrustes analysis of the training
annotations (profile faces facing left are mirrored to face right first); the mean profile shape
is aligned to the mean frontal one by a similarity fitted on anchor correspondences both markups
share (centroids of the eye, brow, nose and lips as seen from the visible side), then refined by
Procrustes on the matched pairs. By default (``constrained``) every profile group is matched in
order along its run of frontal points (:data:`cmhm.landmarks.markups.PROFILE_RUNS_ON_IBUG68`), each
point to a distinct point at the least total distance (:func:`monotone_assignment`): the 12 contour
points go down the visible jaw, ear to chin and past it, where the mean shapes put them; the other
groups' runs are the points the markup defines them on, so the order fixes them (the profile eye's
third point on the outer corner, 36; nearest points put it on a lid point, the mean profile eye being
foreshortened). A channel thus means the same place for profile and frontal faces. ``constrained=False``
gives the paper's nearest-point rule, made one-to-one (Hungarian assignment on Euclidean distance over
all 68 points). A left-facing profile's mapping is the right-facing one relabelled by the 68-point flip
permutation.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from cmhm.atomic import write_atomic, write_json_atomic
from cmhm.geometry.similarity import apply_affine, procrustes
from cmhm.landmarks.markups import IBUG68, PROFILE39, PROFILE_RUNS_ON_IBUG68

SIDES = ("left", "right")

# Anchors for a right-facing profile (the nose points to image right, so the subject's right side
# is visible): a profile group and the frontal points of the same part seen from that side (the
# visible half of the mouth and nose base, midline included), matched by their centroids.
ANCHORS_RIGHT: tuple[tuple[str, tuple[int, ...]], ...] = (
    ("eye", IBUG68.groups["eye_right"]),
    ("brow", IBUG68.groups["brow_right"]),
    ("nose_bridge", IBUG68.groups["nose_bridge"]),
    ("nose_base", (31, 32, 33)),
    ("lip_outer", (48, 49, 50, 51, 57, 58, 59)),
    ("lip_inner", (60, 61, 62, 66, 67)),
)


def monotone_assignment(cost: np.ndarray) -> np.ndarray:
    """[P] strictly increasing column per row of ``cost`` [P, F] (P <= F) with the least total cost,
    by dynamic programming: ``total[i, j]`` = least cost of rows 0..i with row i on column j."""
    p, f = cost.shape
    if p > f:
        raise ValueError(f"monotone_assignment: {p} rows cannot take distinct columns among {f}")
    total = np.full((p, f), np.inf)
    back = np.full((p, f), -1, dtype=np.int64)
    total[0] = cost[0]
    for i in range(1, p):
        best, arg = np.inf, -1
        for j in range(f):
            total[i, j], back[i, j] = cost[i, j] + best, arg
            if total[i - 1, j] < best:
                best, arg = total[i - 1, j], j
    out = np.empty(p, dtype=np.int64)
    out[-1] = int(np.argmin(total[-1]))
    for i in range(p - 1, 0, -1):
        out[i - 1] = back[i, out[i]]
    return out


def assign(cost: np.ndarray, ordered: bool) -> np.ndarray:
    """[39] frontal index per profile point of a right-facing profile, from distances ``cost`` [39, 68].

    ``ordered``: each profile group goes to distinct points along its run of frontal points
    (:data:`PROFILE_RUNS_ON_IBUG68`), in order, at the least total distance (:func:`monotone_assignment`);
    the runs share no point, so the mapping is one-to-one. Otherwise the one-to-one least total distance
    over all 68 points (Hungarian), the paper's nearest-point rule made one-to-one.
    """
    out = np.empty(PROFILE39.n_points, np.int64)
    if not ordered:
        rows, cols = linear_sum_assignment(cost)
        out[rows] = cols
        return out
    for group, idx in PROFILE39.groups.items():
        run = np.asarray(PROFILE_RUNS_ON_IBUG68[group])
        out[list(idx)] = run[monotone_assignment(cost[np.ix_(list(idx), run)])]
    return out


@dataclass(frozen=True)
class UnionMapping:
    """``mapping[side]``: [39] index into the 68 markup for each profile point; shapes for the figure."""

    mapping: dict[str, np.ndarray]
    distance: dict[str, np.ndarray]
    mean_frontal: np.ndarray  # [68, 2]
    mean_profile: np.ndarray  # [39, 2], right-facing, aligned to mean_frontal


def normalise(shape: np.ndarray) -> np.ndarray:
    """Centre a shape [K, 2] (NaN ignored) and scale it to unit RMS radius."""
    c = shape - np.nanmean(shape, axis=0)
    return c / np.sqrt(np.nanmean((c**2).sum(-1)))


def procrustes_mean(shapes: np.ndarray, iterations: int = 10) -> np.ndarray:
    """Generalised Procrustes mean of shapes [N, K, 2] (points with NaN are ignored); unit RMS radius."""
    ok = np.isfinite(shapes).all(-1).sum(-1) >= 2
    shapes = shapes[ok]
    if len(shapes) == 0:
        raise ValueError("procrustes_mean: no shape with at least two annotated points")
    ref = normalise(shapes[0])
    for _ in range(iterations):
        aligned = np.stack([apply_affine(procrustes(s, ref), s) for s in shapes])
        ref = normalise(np.nanmean(aligned, axis=0))
    return ref


def build_union_mapping(
    frontal: np.ndarray,
    profile: np.ndarray,
    profile_side: np.ndarray,
    constrained: bool = True,
    max_refinements: int = 10,
) -> UnionMapping:
    """Build the mapping from frontal shapes [N, 68, 2] and profile shapes [M, 39, 2] with sides [M].

    The anchor similarity starts the alignment; then assignment and a Procrustes fit on all matched
    pairs alternate (at most ``max_refinements`` times) until the assignment no longer changes.
    ``constrained`` matches each profile group in order along its run of frontal points (see the
    module docstring); without it the match is the plain nearest point, as the paper states it.
    """
    flip = np.where(np.asarray(profile_side) == "left", -1.0, 1.0)
    mirrored = profile * np.stack([flip, np.ones_like(flip)], -1)[:, None, :]
    mean_f = procrustes_mean(frontal)
    mean_p = procrustes_mean(mirrored)
    src = np.stack([mean_p[list(PROFILE39.groups[g])].mean(0) for g, _ in ANCHORS_RIGHT])
    dst = np.stack([mean_f[list(idx)].mean(0) for _, idx in ANCHORS_RIGHT])
    A = procrustes(src, dst)
    right = None
    for _ in range(max_refinements):
        aligned = apply_affine(A, mean_p)
        cost = np.linalg.norm(aligned[:, None, :] - mean_f[None, :, :], axis=-1)
        new = assign(cost, ordered=constrained)
        if right is not None and np.array_equal(new, right):
            break
        right = new
        A = procrustes(mean_p, mean_f[right])
    dist = cost[np.arange(len(right)), right]
    left = IBUG68.flip_permutation()[right]
    return UnionMapping({"left": left, "right": right}, {"left": dist, "right": dist}, mean_f, aligned)


def mapping_table(um: UnionMapping) -> pd.DataFrame:
    """One row per (side, profile point): indices, semantic groups and the mean-shape distance."""
    pg, fg = PROFILE39.group_of(), IBUG68.group_of()
    rows = []
    for side in SIDES:
        for p, f in enumerate(um.mapping[side]):
            rows.append((side, p, pg[p], int(f), fg[f], float(um.distance[side][p])))
    cols = ["side", "profile_index", "profile_group", "frontal_index", "frontal_group", "distance"]
    return pd.DataFrame(rows, columns=cols)


def write_mapping(
    um: UnionMapping, csv_path: str | os.PathLike, json_path: str | os.PathLike, prov: dict
) -> None:
    """Write the mapping as CSV (one row per side and profile point) and JSON (mapping + mean shapes)."""
    table = mapping_table(um)
    write_atomic(csv_path, lambda tmp: table.to_csv(tmp, index=False))
    write_json_atomic(
        json_path,
        {
            "mapping": {s: um.mapping[s].tolist() for s in SIDES},
            "distance": {s: um.distance[s].tolist() for s in SIDES},
            "mean_frontal": um.mean_frontal.tolist(),
            "mean_profile_right_aligned": um.mean_profile.tolist(),
            "provenance": prov,
        },
    )


def load_mapping(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read ``side -> [39] frontal index`` from a mapping JSON written by :func:`write_mapping`."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text())["mapping"]
        out = {s: np.asarray(raw[s], dtype=np.int64) for s in SIDES}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not a union-mapping JSON ({exc!r})") from exc
    for s, m in out.items():
        if m.shape != (PROFILE39.n_points,) or m.min() < 0 or m.max() >= IBUG68.n_points:
            raise ValueError(f"{path}: mapping for side {s!r} is not {PROFILE39.n_points} indices into 0..67")
    return out


def profile_to_union(
    lm2d_profile: np.ndarray, side: np.ndarray, mapping: dict[str, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Place profile points [N, 39, 2] into the union markup: ([N, 68, 2] with NaN, mask [N, 68]).

    Samples whose side is neither "left" nor "right" get an all-NaN, all-False row.
    """
    n = len(lm2d_profile)
    pts = np.full((n, IBUG68.n_points, 2), np.nan, dtype=lm2d_profile.dtype)
    for s in SIDES:
        rows = np.flatnonzero(np.asarray(side) == s)
        pts[rows[:, None], mapping[s][None, :]] = lm2d_profile[rows]
    mask = np.isfinite(pts).all(-1)
    return pts, mask


def union_targets(
    lm2d: np.ndarray,
    lm2d_profile: np.ndarray,
    view: np.ndarray,
    side: np.ndarray,
    mapping: dict[str, np.ndarray],
) -> tuple[np.ndarray, np.ndarray]:
    """Stage-1 (multi-view 2D) targets: semi-frontal rows use ``lm2d``, profile rows their mapped points.

    Returns points [N, 68, 2] and the per-landmark mask v_n of paper Eq. 2 [N, 68].
    """
    prof_pts, _ = profile_to_union(lm2d_profile, side, mapping)
    pts = np.where((np.asarray(view) == "profile")[:, None, None], prof_pts, lm2d)
    return pts, np.isfinite(pts).all(-1)


def mapping_from_tables(
    tables: list, frontal_max_yaw: float, profile_min_yaw: float, constrained: bool = True
) -> UnionMapping:
    """Build the mapping from sample tables: near-frontal semi-frontal faces and strong profiles.

    ``frontal_max_yaw`` / ``profile_min_yaw`` (degrees) choose which faces form each mean shape.
    """
    frontal, profile, sides = [], [], []
    for t in tables:
        yaw = np.abs(t.index["yaw"].to_numpy(np.float64))
        unknown = ~np.isfinite(yaw)  # e.g. Menpo 2D has no pose: its view label decides alone
        view = t.index["view"].to_numpy()
        f = (view == "semifrontal") & (unknown | (yaw <= frontal_max_yaw))
        p = (view == "profile") & (unknown | (yaw >= profile_min_yaw))
        frontal.append(t.arrays["lm2d"][f])
        profile.append(t.arrays["lm2d_profile"][p])
        sides.append(t.index["side"].to_numpy()[p])
    frontal, profile, sides = np.concatenate(frontal), np.concatenate(profile), np.concatenate(sides)
    if len(frontal) == 0:
        raise ValueError(
            f"union mapping needs semi-frontal training faces with |yaw| <= {frontal_max_yaw}; found none"
        )
    if len(profile) == 0:
        return semantic_union_mapping(procrustes_mean(frontal))
    return build_union_mapping(frontal, profile, sides, constrained)


def read_union_mapping(path: str | os.PathLike) -> tuple[UnionMapping, dict]:
    """Read the full :class:`UnionMapping` and its provenance from a mapping JSON."""
    mapping = load_mapping(path)
    raw = json.loads(Path(path).read_text())
    um = UnionMapping(
        mapping=mapping,
        distance={s: np.asarray(raw["distance"][s]) for s in SIDES},
        mean_frontal=np.asarray(raw["mean_frontal"]),
        mean_profile=np.asarray(raw["mean_profile_right_aligned"]),
    )
    return um, raw.get("provenance", {})


def semantic_union_mapping(mean_frontal: np.ndarray) -> UnionMapping:
    """The mapping for training data without profile faces (e.g. 300W-LP): the markup's semantic
    correspondence (unused by such data's targets, but a complete mapping for the files that follow)."""
    from cmhm.landmarks.markups import profile_semantic_mapping

    m = profile_semantic_mapping()
    nan = np.full(PROFILE39.n_points, np.nan)
    return UnionMapping(
        m, {"left": nan, "right": nan}, mean_frontal, np.full((PROFILE39.n_points, 2), np.nan)
    )
