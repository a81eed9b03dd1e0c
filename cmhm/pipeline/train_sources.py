"""The training sources of a run: ``data.train`` and, for a mixed model, each of ``data.train_extra``.

One home for which (dataset, split) pairs a run trains on: the rules take their crops and sample
tables from here, the config check refuses a test source any of them can share a face with, and the
model file records them (:func:`cmhm.pipeline.runs.training_config`). The union mapping and the fitted
3D labels come from ``data.train`` alone, so extra sources train on their own 3D labels
(``data.train_labels3d: ground_truth``); their profile faces, if any, take ``data.train``'s mapping.
"""

from __future__ import annotations

from collections.abc import Mapping

from cmhm.data.registry import overlap_errors

EXTRA_KEY = "train_extra"
TEST_ROLES = ("test_images", "test_video")


def train_sources(config: Mapping) -> list[tuple[str, Mapping]]:
    """(config key, {dataset, split}) of every training source, ``data.train`` first."""
    data = config["data"]
    extra = data.get(EXTRA_KEY) or []
    return [("data.train", data["train"])] + [(f"data.{EXTRA_KEY}[{i}]", s) for i, s in enumerate(extra)]


def train_source_errors(config: Mapping) -> list[str]:
    """Errors naming the keys: a training source given twice, extra sources without their own 3D labels,
    and any test source that can share a face with any training source."""
    sources = train_sources(config)
    errors = []
    seen: dict[tuple[str, str], str] = {}
    for key, src in sources:
        pair = (src["dataset"], src["split"])
        if pair in seen:
            errors.append(f"{key}: {pair[0]} split '{pair[1]}' is already a training source ({seen[pair]})")
        seen.setdefault(pair, key)
    if len(sources) > 1 and config["data"]["train_labels3d"] != "ground_truth":
        errors.append(
            f"data.{EXTRA_KEY}: extra training sources need data.train_labels3d: ground_truth (the fitted "
            f"3D labels are made for data.train alone), got '{config['data']['train_labels3d']}'"
        )
    for key, src in sources:
        role = key.removeprefix("data.")
        data = {role: src, **{r: config["data"][r] for r in TEST_ROLES}}
        errors += overlap_errors({**config, "data": data}, train_role=role)
    return errors
