"""The run configuration's cross-key rules (the schema checks each key alone; :mod:`config_check` runs both).

Pure Python (no torch): each rule returns its errors as ``key: what is wrong`` lines.
"""

from __future__ import annotations

import ast
import math
from pathlib import Path

from cmhm.data.registry import DATASETS, GENERATED, shard_counts
from cmhm.pipeline.train_sources import train_source_errors, train_sources
from cmhm.pipeline.variants import get_variant

HOURGLASS = Path(__file__).resolve().parents[1] / "models" / "hourglass.py"


def stem_stride() -> int:
    """The hourglass stem's down-sampling (``STEM_STRIDE`` in cmhm/models/hourglass.py, read without torch)."""
    for node in ast.parse(HOURGLASS.read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "STEM_STRIDE" for t in node.targets):
            return int(ast.literal_eval(node.value))
    raise RuntimeError(f"{HOURGLASS} defines no STEM_STRIDE")


def _yaw_bin_errors(key: str, bins: list) -> list[str]:
    errors = []
    rows = [tuple(float(x) for x in row) for row in bins]
    if any(lo >= hi for lo, hi, _ in rows) or any(share < 0 for *_, share in rows):
        errors.append(f"{key}: each row is [lo, hi, share] with lo < hi and share >= 0, got {bins}")
    edges = [(a[1], b[0]) for a, b in zip(rows, rows[1:])]
    if rows and (rows[0][0] != 0 or rows[-1][1] != 90 or any(hi != lo for hi, lo in edges)):
        errors.append(
            f"{key}: the bins must cover |yaw| [0, 90] in order without gaps or overlaps, got {bins}"
        )
    total = sum(share for *_, share in rows)
    if rows and not math.isclose(total, 1.0, abs_tol=1e-6):
        errors.append(f"{key}: the shares must sum to 1, they sum to {total:.6g}")
    return errors


def _split_errors(config: dict) -> list[str]:
    """Each (dataset, split) the config names must be one the dataset (real or generated) has."""
    known = {name: set(shard_counts(name, config)) for name in (*DATASETS, *GENERATED)}
    a3d = config["annotations_3d"]
    shape = a3d["shape_source"] or config["data"]["train"]
    named = [
        (f"data.{role}.split", src)
        for role, src in config["data"].items()
        if isinstance(src, dict) and "dataset" in src
    ]
    named += [(f"{key}.split", src) for key, src in train_sources(config)[1:]]
    named.append(("annotations_3d.heldout_split", {**shape, "split": a3d["heldout_split"]}))
    if a3d["shape_source"]:
        named.append(("annotations_3d.shape_source.split", shape))
    errors = []
    for key, src in named:
        splits = known.get(src["dataset"], set())
        if src["split"] not in splits:
            have = ", ".join(sorted(splits))
            errors.append(f"{key}: dataset {src['dataset']} has no split '{src['split']}' (it has: {have})")
    return errors


def _schedule_errors(train: dict) -> list[str]:
    """The learning-rate drops must be given once (in lr_steps or lr_epochs) and be able to happen: below
    ``steps``, and only under the step schedule (a cosine schedule has no drops: its lr_steps / lr_epochs
    would be silently unused)."""
    errors = []
    if train.get("lr_steps") and train.get("lr_epochs"):
        errors.append(
            f"train.lr_steps {train['lr_steps']} and train.lr_epochs {train['lr_epochs']} are both set: give "
            "the drops in one of them (set the other to [])"
        )
    if train.get("lr_schedule", "step") != "step":
        return errors + [
            f"train.{k}: {train[k]} are drops of the step schedule; with train.lr_schedule: "
            f"{train['lr_schedule']} the rate follows its own curve: set {k}: []"
            for k in ("lr_steps", "lr_epochs")
            if train.get(k)
        ]
    late = [s for s in train["lr_steps"] if s >= train["steps"]]
    if late:
        errors.append(
            f"train.lr_steps: {late} not below train.steps {train['steps']} (a drop there never happens)"
        )
    return errors


def _stage_size_errors(config: dict, stride: int) -> list[str]:
    """A variant whose smaller stage (``Variant.stage_scale``) would not be a size the hourglass takes."""
    errors = []
    for name in config["variants"]:
        variant = get_variant(name)
        for i in range(len(variant.stages)):
            size = config["crop"]["size"] * variant.scale(i)
            if size != int(size) or int(size) % stride:
                errors.append(
                    f"variants: {name}'s stage {i + 1} takes {variant.scale(i):g} x crop.size "
                    f"{config['crop']['size']} = {size:g} px, not divisible by {stride} (choose crop.size "
                    "or model.depth to fit)"
                )
    return errors


def semantic_errors(config: dict) -> list[str]:
    """Rules that span keys (the schema checks each key alone)."""
    errors = []
    stride = stem_stride() * 2 ** config["model"]["depth"]
    if config["crop"]["size"] % stride:
        errors.append(
            f"crop.size: {config['crop']['size']} must be divisible by {stride} (the stem's stride "
            f"{stem_stride()} x 2^model.depth {config['model']['depth']})"
        )
    errors += _stage_size_errors(config, stride)
    for name, split in config["synth"].items():
        if not isinstance(split, dict):
            continue
        if split.get("yaw_bins"):
            errors += _yaw_bin_errors(f"synth.{name}.yaw_bins", split["yaw_bins"])
        faces = split.get("n", split.get("n_videos"))
        if faces is not None and split.get("shards", 1) > faces:
            what = "videos" if "n_videos" in split else "faces"
            errors.append(
                f"synth.{name}.shards: {split['shards']} shards for {faces} {what} (at most one per item)"
            )
    split_errors = _split_errors(config)
    errors += split_errors or train_source_errors(config)  # a test split never shares a face with training
    augment = config["train"]["augment"]
    if augment["scale_min"] > augment["scale_max"]:
        errors.append(
            f"train.augment.scale_min: {augment['scale_min']} is above train.augment.scale_max "
            f"{augment['scale_max']} (the scale is drawn from [scale_min, scale_max])"
        )
    errors += _schedule_errors(config["train"])
    stage2 = config["train"].get("stage2") or {}
    if stage2:  # stage 2 trains on the shared keys with these in their place: the result must hold too
        errors += [f"train.stage2 {stage2}: {e}" for e in _schedule_errors({**config["train"], **stage2})]
    return errors
