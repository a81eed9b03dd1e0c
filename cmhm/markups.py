"""Landmark markups: point order, semantic groups and left/right permutations.

All indices follow published markups (facts, not code): iBUG 68 (300-W), Menpo-3D 84
(a 33-point jaw followed by the 51 inner iBUG points), and the Menpo profile 39-point markup in
the order 12 jaw/contour, 4 brow, 4 nose bridge-to-tip, 2 nose base, 5 eye, 7 outer lip, 5 inner lip.
"Right"/"left" name the subject's sides: in a frontal image the subject's right is on the image left.
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
