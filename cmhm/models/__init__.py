"""Hourglass models: blocks, the stacked hourglass and the CMHM cascade (see :mod:`cmhm.models.cascade`)."""

from cmhm.models.blocks import BLOCKS, get_block
from cmhm.models.cascade import VARIANTS, Cascade, StagePlan, Variant, build_stages, get_variant, stage_plans
from cmhm.models.hourglass import ModelConfig, StackedHourglass, build_hourglass

__all__ = [
    "BLOCKS",
    "VARIANTS",
    "Cascade",
    "ModelConfig",
    "StackedHourglass",
    "StagePlan",
    "Variant",
    "build_hourglass",
    "build_stages",
    "get_block",
    "get_variant",
    "stage_plans",
]
