"""Hourglass models: blocks, the stacked hourglass, the Table-I variants (:mod:`cmhm.models.variants`,
torch-free) and the CMHM cascade (:mod:`cmhm.models.cascade`).

The names below load their module on first use (PEP 562), so that importing the torch-free
:mod:`cmhm.models.variants` (the workflow does, to build the DAG) does not import torch.
"""

from __future__ import annotations

import importlib

_WHERE = {
    "BLOCKS": "blocks",
    "get_block": "blocks",
    "Cascade": "cascade",
    "StagePlan": "cascade",
    "build_stages": "cascade",
    "stage_plans": "cascade",
    "VARIANTS": "variants",
    "Variant": "variants",
    "get_variant": "variants",
    "ModelConfig": "hourglass",
    "StackedHourglass": "hourglass",
    "build_hourglass": "hourglass",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'cmhm.models' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"cmhm.models.{_WHERE[name]}"), name)
    globals()[name] = value
    return value
