"""Landmark markups: point order, semantic groups and left/right permutations.

All indices follow published markups (facts, not code): iBUG 68 (300-W), Menpo-3D 84
(a 33-point jaw followed by the 51 inner iBUG points), and the Menpo profile 39-point markup in
the order 12 jaw/contour, 4 brow, 4 nose bridge-to-tip, 2 nose base, 5 eye, 7 outer lip, 5 inner lip.
"Right"/"left" name the subject's sides: in a frontal image the subject's right is on the image left.

Point order of the profile markup, for a face whose visible side is the subject's right (the nose
points to image right; a left-facing profile is its mirror image, same order on the other side):

* contour (12, group ``jaw``): from the top of the visible jaw line down to the chin, its point
  :data:`PROFILE_CHIN_INDEX`, then the last points rise up the front of the chin (here: evenly along
  the frontal jaw from its top end to :data:`PROFILE_CONTOUR_END` of its length, where 0.5 is the chin);
* brow (4): outer end to inner end, skipping the middle of the brow;
* nose bridge (4): top to tip; nose base (2): the point under the tip (subnasale), then the
  nostril wing;
* eye (5): upper lid from the inner side outwards, the outer corner, then the lower lid from outer
  to inner (the inner corner is not marked);
* outer lip (7): top-lip centre, along the upper lip to the mouth corner, then along the lower lip
  to the bottom-lip centre;
* inner lip (5): upper inner-lip centre, out to the inner corner, back along the lower inner lip to
  its centre.

:data:`PROFILE_ON_IBUG68` names the iBUG 68 point each non-contour profile point sits on (in that
order); :func:`profile_semantic_mapping` adds the contour. The synthetic renderer, the union
mapping, the 3D fit and the Menpo adapter all take the order from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Markup:
    """A named landmark markup.

    ``groups`` maps a semantic group name to the point indices it holds (in markup order);
    ``flip`` is the permutation that relabels points after a horizontal image flip.
    """

    name: str
    n_points: int
    groups: dict[str, tuple[int, ...]] = field(hash=False)
    flip: tuple[int, ...] = field(hash=False)

    def group_of(self) -> np.ndarray:
        """[n_points] array of group names, one per point."""
        out = np.empty(self.n_points, dtype=object)
        for name, idx in self.groups.items():
            out[list(idx)] = name
        return out

    def flip_permutation(self) -> np.ndarray:
        return np.asarray(self.flip, dtype=np.int64)


def _r(a: int, b: int) -> tuple[int, ...]:
    return tuple(range(a, b))


def _inner_flip(offset: int) -> list[int]:
    """Flip permutation of the 51 inner iBUG points (iBUG 17..67) placed at ``offset``."""
    pairs = {}
    # brows 17-21 <-> 26-22
    for a, b in zip(range(17, 22), range(26, 21, -1)):
        pairs[a], pairs[b] = b, a
    for i in range(27, 31):  # nose bridge is on the midline
        pairs[i] = i
    for a, b in zip(range(31, 36), range(35, 30, -1)):  # nose base
        pairs[a] = b
    eye_r, eye_l = [36, 37, 38, 39, 40, 41], [45, 44, 43, 42, 47, 46]
    for a, b in zip(eye_r, eye_l):
        pairs[a], pairs[b] = b, a
    outer = {48: 54, 49: 53, 50: 52, 51: 51, 55: 59, 56: 58, 57: 57}
    inner = {60: 64, 61: 63, 62: 62, 65: 67, 66: 66}
    for table in (outer, inner):
        for a, b in table.items():
            pairs[a], pairs[b] = b, a
    return [pairs[i] - 17 + offset for i in range(17, 68)]


def _inner_groups(offset: int) -> dict[str, tuple[int, ...]]:
    o = offset - 17
    return {
        "brow_right": _r(17 + o, 22 + o),
        "brow_left": _r(22 + o, 27 + o),
        "nose_bridge": _r(27 + o, 31 + o),
        "nose_base": _r(31 + o, 36 + o),
        "eye_right": _r(36 + o, 42 + o),
        "eye_left": _r(42 + o, 48 + o),
        "lip_outer": _r(48 + o, 60 + o),
        "lip_inner": _r(60 + o, 68 + o),
    }


IBUG68 = Markup(
    name="ibug68",
    n_points=68,
    groups={"jaw": _r(0, 17), **_inner_groups(17)},
    flip=tuple(list(range(16, -1, -1)) + _inner_flip(17)),
)

MENPO84 = Markup(
    name="menpo84",
    n_points=84,
    groups={"jaw": _r(0, 33), **_inner_groups(33)},
    flip=tuple(list(range(32, -1, -1)) + _inner_flip(33)),
)

PROFILE39 = Markup(
    name="profile39",
    n_points=39,
    groups={
        "jaw": _r(0, 12),
        "brow": _r(12, 16),
        "nose_bridge": _r(16, 20),
        "nose_base": _r(20, 22),
        "eye": _r(22, 27),
        "lip_outer": _r(27, 34),
        "lip_inner": _r(34, 39),
    },
    # a profile markup has no left/right pairs: a flip changes the facing side, not the order
    flip=_r(0, 39),
)

# Right-facing profile: the iBUG 68 point each non-contour point stands for, in profile order.
PROFILE_ON_IBUG68: dict[str, tuple[int, ...]] = {
    "brow": (17, 18, 20, 21),
    "nose_bridge": (27, 28, 29, 30),
    "nose_base": (33, 31),
    "eye": (38, 37, 36, 41, 40),
    "lip_outer": (51, 50, 49, 48, 59, 58, 57),
    "lip_inner": (62, 61, 60, 67, 66),
}
# Right-facing profile: the run of iBUG 68 points each profile group follows, in the group's order. The
# union mapping (:mod:`cmhm.landmarks.union`) sends a group's points to distinct points along its run, in
# order. The contour's run is the whole jaw, and the geometry decides where along it each contour point
# falls; every other group's run is the points the markup defines it on (:data:`PROFILE_ON_IBUG68`: the
# profile eye does not mark the inner corner, the brow skips its middle), as many as the group has, so
# the order leaves no choice. Matched by distance instead, mean shapes of such different views disagree
# with the markup: a profile eye or brow is foreshortened, and its outer points land on inner ones.
PROFILE_RUNS_ON_IBUG68: dict[str, tuple[int, ...]] = {
    "jaw": _r(0, 17),  # the visible (subject's right) jaw's top end, 0, down to the chin and on
    **PROFILE_ON_IBUG68,
}
# The contour point on the chin (its lowest point) in the real Menpo 2D training release: index 9 in
# about 65 % of its 2,300 profile faces, 8 in about 28 %, 10 in under 1 % (issue 26); the official
# markup figure agrees. Points after it rise up the front of the chin.
PROFILE_CHIN_INDEX = 9
# the last contour point, as a fraction of the frontal jaw's length (chin 0.5), evenly spaced so that
# point PROFILE_CHIN_INDEX sits on the chin
PROFILE_CONTOUR_END = 0.5 * (len(PROFILE39.groups["jaw"]) - 1) / PROFILE_CHIN_INDEX


def profile_contour_positions() -> np.ndarray:
    """[12] position of each profile contour point along the frontal jaw (0 = the visible side's top
    end, 0.5 = chin, 1 = the other end), evenly from 0 to :data:`PROFILE_CONTOUR_END`."""
    return np.linspace(0.0, PROFILE_CONTOUR_END, len(PROFILE39.groups["jaw"]))


def profile_semantic_mapping() -> dict[str, np.ndarray]:
    """``side -> [39]`` the iBUG 68 point each profile point sits on (contour points: the nearest jaw
    point to their position, so neighbours may share one). "right": the visible side is the subject's
    right; "left" is it relabelled by the 68 flip permutation."""
    jaw = np.asarray(IBUG68.groups["jaw"])
    right = np.empty(PROFILE39.n_points, dtype=np.int64)
    right[list(PROFILE39.groups["jaw"])] = jaw[
        np.round(profile_contour_positions() * (len(jaw) - 1)).astype(int)
    ]
    for group, idx in PROFILE_ON_IBUG68.items():
        right[list(PROFILE39.groups[group])] = idx
    return {"right": right, "left": IBUG68.flip_permutation()[right]}


# The order each 2D group must run in, along a face axis, first point to last. A path
# (axis, sign, None): its points' positions along ``axis`` rise with their index (sign +1) or fall
# (-1). A loop (axis, +1, c) starts at one corner, runs along one lid or lip to the other corner, its
# point c, and back: its points 0 and c span it along ``axis`` wider than the points a reversal would
# put there. Axes come from group means, which a group's point order does not change: "down" from the
# ``from`` groups' mean to the ``to`` groups', "across" likewise, made perpendicular to "down". iBUG 68:
# across = right eye -> left eye (image left -> right in a frontal view); profile 39: across = eye ->
# nose (towards the face's front, on either facing side).
ORDER_AXES: dict[str, dict[str, tuple[tuple[str, ...], tuple[str, ...]]]] = {
    "ibug68": {
        "down": (("eye_right", "eye_left"), ("lip_outer",)),
        "across": (("eye_right",), ("eye_left",)),
    },
    "profile39": {"down": (("eye",), ("lip_outer",)), "across": (("eye",), ("nose_bridge", "nose_base"))},
}
GROUP_RUNS: dict[str, dict[str, tuple[str, int, int | None]]] = {
    "ibug68": {
        "jaw": ("across", 1, None),  # subject's right end to left end
        "brow_right": ("across", 1, None),  # outer to inner
        "brow_left": ("across", 1, None),  # inner to outer
        "nose_bridge": ("down", 1, None),  # top to tip
        "nose_base": ("across", 1, None),
        "eye_right": ("across", 1, 3),  # outer corner, upper lid, inner corner (39), lower lid
        "eye_left": ("across", 1, 3),  # inner corner, upper lid, outer corner (45), lower lid
        "lip_outer": ("across", 1, 6),  # right corner, upper lip, left corner (54), lower lip
        "lip_inner": ("across", 1, 4),  # right corner, upper lip, left corner (64), lower lip
    },
    "profile39": {
        "jaw": ("down", 1, None),  # top of the visible jaw line down to the chin
        "brow": ("across", 1, None),  # outer end (back) to inner end (front)
        "nose_bridge": ("down", 1, None),  # top to tip
        # nose_base (2 points) is not checked: whether the wing lies behind the subnasale in a real
        # profile is unverified here, and the synthetic head puts it in front
        "eye": ("down", 1, None),  # upper lid, outer corner, lower lid
        "lip_outer": ("down", 1, None),  # top-lip centre, corner, bottom-lip centre
        "lip_inner": ("down", 1, None),
    },
}
REVERSED_CORR = 0.3  # a path is reversed when index and position along its axis correlate below -this
ORDER_MIN_EXTENT = 0.02  # ... and it spans at least this fraction of the face's landmark box diagonal


def order_axes(pts: np.ndarray, markup: Markup) -> dict[str, np.ndarray]:
    """axis name -> unit vector [2] of a face annotated in ``markup`` (:data:`ORDER_AXES`)."""

    def mean(groups: tuple[str, ...]) -> np.ndarray:
        return pts[[i for g in groups for i in markup.groups[g]]].mean(0)

    axes = {k: mean(b) - mean(a) for k, (a, b) in ORDER_AXES[markup.name].items()}
    down = axes["down"] / np.linalg.norm(axes["down"])
    across = axes["across"] - (axes["across"] @ down) * down
    return {"down": down, "across": across / np.linalg.norm(across)}


def _runs_backwards(along: np.ndarray, corner: int | None) -> bool:
    """Whether positions ``along`` [n] (already signed) run against their group's order (see :data:`GROUP_RUNS`)."""
    n = len(along)
    if corner is not None:  # reversed, the corners sit at n - 1 and n - 1 - corner: which pair spans wider?
        return bool(along[n - 1 - corner] - along[n - 1] > along[corner] - along[0])
    rank, spread = np.arange(n) - (n - 1) / 2, along - along.mean()
    return float(rank @ spread / (np.linalg.norm(rank) * np.linalg.norm(spread))) < -REVERSED_CORR


def reversed_groups(pts: np.ndarray, markup: Markup) -> list[str]:
    """The groups of ``pts`` [K, 2] (x, y image points in ``markup``) whose points run against
    :data:`GROUP_RUNS`; groups spanning under :data:`ORDER_MIN_EXTENT` of the face cannot tell and pass,
    and so do groups :data:`GROUP_RUNS` leaves out."""
    pts = np.asarray(pts, dtype=np.float64)[:, :2]
    axes = order_axes(pts, markup)
    face = float(np.linalg.norm(pts.max(0) - pts.min(0)))
    out = []
    for group, (axis, sign, corner) in GROUP_RUNS[markup.name].items():
        along = pts[list(markup.groups[group])] @ axes[axis] * sign
        if np.ptp(along) >= ORDER_MIN_EXTENT * face and _runs_backwards(along, corner):
            out.append(group)
    return out


def contour_reach(pts: np.ndarray) -> float:
    """How far the contour of a 39-point profile annotation ``pts`` [39, 2] reaches towards the face's
    front, past its nose tip, along the face's "across" axis (eye -> nose, :func:`order_axes`), as a
    fraction of its landmark box diagonal. A profile's contour (jaw line and chin) lies behind the nose
    tip: negative. The same 39 points placed on a semi-frontal face run across the face and past the chin,
    beside the nose tip: about zero or positive. On AFLW2000-3D's real faces (their 68 points taken to 39 by
    :func:`profile_semantic_mapping`): at most -0.14 on the visible side of all 485 faces with |yaw| in
    [45, 90] deg; above -0.08 for 97.9 % of the 1,784 (face, side) pairs with |yaw| < 15 deg."""
    pts = np.asarray(pts, dtype=np.float64)[:, :2]
    across = order_axes(pts, PROFILE39)["across"]
    tip = pts[PROFILE39.groups["nose_bridge"][-1]] @ across
    reach = float((pts[list(PROFILE39.groups["jaw"])] @ across).max() - tip)
    return reach / float(np.linalg.norm(pts.max(0) - pts.min(0)))


MARKUPS: dict[str, Markup] = {m.name: m for m in (IBUG68, MENPO84, PROFILE39)}


def get_markup(name: str) -> Markup:
    """Look a markup up by name, with an error that lists the known ones."""
    try:
        return MARKUPS[name]
    except KeyError:
        raise KeyError(f"unknown markup {name!r}; known: {sorted(MARKUPS)}") from None


def jaw68_to_84() -> np.ndarray:
    """[17] indices into the 84-point jaw that coincide with the 68-point jaw (every second point)."""
    return np.arange(0, 33, 2)


CONTOUR_GROUP = "jaw"  # a 2D markup's jaw is the visible outline, a 3D markup's the projected mesh contour


def shared_points(
    a: Markup, b: Markup, skip: tuple[str, ...] = (CONTOUR_GROUP,)
) -> tuple[np.ndarray, np.ndarray]:
    """([M] indices into ``a``, [M] indices into ``b``) of the points both markups name alike: the groups
    of the same name and size in both, in ``a``'s group order, except ``skip`` (by default the jaw, whose
    points differ in meaning between a 2D and a 3D markup). iBUG 68 vs Menpo-3D 84: the 51 inner points."""
    ia, ib = [], []
    for name, idx in a.groups.items():
        if name not in skip and len(b.groups.get(name, ())) == len(idx):
            ia += idx
            ib += b.groups[name]
    if not ia:
        raise ValueError(f"markups {a.name} and {b.name} share no group outside {list(skip)}")
    return np.asarray(ia, dtype=np.int64), np.asarray(ib, dtype=np.int64)
