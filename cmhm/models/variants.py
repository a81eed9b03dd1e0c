"""The Table-I variants as data (no torch: the workflow reads this table when it builds the DAG).

Each variant is a residual block type and, per stage, the target role of each stack: ``"union2d"``
(multi-view 2D union labels) or ``"proj3d"`` (2D projections of the 3D landmarks). The architectures
and label arrays they become: :func:`cmhm.models.cascade.stage_plans`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Variant:
    """A model of Table I: residual block type and, per stage, the target role of each stack."""

    block: str
    stages: tuple[tuple[str, ...], ...]


VARIANTS: dict[str, Variant] = {
    "baseline": Variant("bottleneck", (("proj3d", "proj3d"),)),
    "inception": Variant("inception_resnet", (("proj3d", "proj3d"),)),
    "multiview": Variant("inception_resnet", (("union2d", "proj3d"),)),
    "cmhm": Variant("inception_resnet", (("union2d",), ("proj3d",))),
}


def get_variant(name: str) -> Variant:
    try:
        return VARIANTS[name]
    except KeyError:
        raise KeyError(f"unknown variant {name!r}; known: {sorted(VARIANTS)}") from None
