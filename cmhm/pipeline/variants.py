"""The Table-I variants as data (no torch: the workflow reads this table when it builds the DAG).

Each variant is a residual block type and, per stage, the target role of each stack: ``"union2d"``
(multi-view 2D union labels) or ``"proj3d"`` (2D projections of the 3D landmarks); optionally each
stage's input size as a fraction of the crop (``stage_scale``), the width as a fraction of
``model.width`` (``width_scale``, optionally times a per-stage ``stage_width``), and its learning rate
as a multiple of ``train.lr`` (``lr_scale``). The architectures and label arrays they become:
:func:`cmhm.models.cascade.stage_plans`.

Beyond the paper's four rows (issue 27, inference speed): ``cmhm_light`` is the cascade with stage 2
at half the crop size (the Procrustes-normalised face at a quarter of the pixels; stage 1 unchanged),
``cmhm_mid`` and ``cmhm_slim`` the same with stage 2 also at 3/4 and at half the width (the paper's
0.85 time ratio with room: the README's Performance section), ``cmhm_compact`` cmhm_light at half the
width and four times the learning rate, the CPU preset (configs/compact.yaml; its lr_scale chosen on val_nme at the ablation's size: docs/ablation/compact_sizes/).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Variant:
    """A model of Table I: residual block type and, per stage, the target role of each stack."""

    block: str
    stages: tuple[tuple[str, ...], ...]
    stage_scale: tuple[float, ...] = ()  # per stage: input side / crop side (empty: every stage 1.0)
    width_scale: float = 1.0  # feature channels / model.width
    stage_width: tuple[float, ...] = ()  # per stage: a further factor on width_scale (empty: every stage 1.0)
    lr_scale: float = 1.0  # learning rate / train.lr (a smaller network learns faster at a larger rate)

    def scale(self, stage: int) -> float:
        """Input side of stage ``stage`` (0-based) as a fraction of the crop side."""
        return self.stage_scale[stage] if self.stage_scale else 1.0

    def width(self, stage: int) -> float:
        """Feature channels of stage ``stage`` (0-based) as a fraction of ``model.width``."""
        return self.width_scale * (self.stage_width[stage] if self.stage_width else 1.0)


VARIANTS: dict[str, Variant] = {
    "baseline": Variant("bottleneck", (("proj3d", "proj3d"),)),
    "inception": Variant("inception_resnet", (("proj3d", "proj3d"),)),
    "multiview": Variant("inception_resnet", (("union2d", "proj3d"),)),
    "cmhm": Variant("inception_resnet", (("union2d",), ("proj3d",))),
    "cmhm_light": Variant("inception_resnet", (("union2d",), ("proj3d",)), stage_scale=(1.0, 0.5)),
    "cmhm_mid": Variant(
        "inception_resnet", (("union2d",), ("proj3d",)), stage_scale=(1.0, 0.5), stage_width=(1.0, 0.75)
    ),
    "cmhm_slim": Variant(
        "inception_resnet", (("union2d",), ("proj3d",)), stage_scale=(1.0, 0.5), stage_width=(1.0, 0.5)
    ),
    "cmhm_compact": Variant(
        "inception_resnet", (("union2d",), ("proj3d",)), stage_scale=(1.0, 0.5), width_scale=0.5, lr_scale=4.0
    ),
}


PAPER_VARIANTS = ("baseline", "inception", "multiview", "cmhm")  # Table I's rows, the default `variants`


def get_variant(name: str) -> Variant:
    try:
        return VARIANTS[name]
    except KeyError:
        raise KeyError(f"unknown variant {name!r}; known: {sorted(VARIANTS)}") from None
