"""Stage 1 taken from another run (config key ``train.stage1_from``, rule ``reuse_stage1``).

A stage-2 experiment (another ``train.stage2``, say) under its own run name would otherwise train stage 1
again, although it is the same model. Rule ``reuse_stage1`` copies the other run's stage-1 folder instead,
after checking that its ``model.pt`` records exactly what this run's ``train_stage1`` job would train: the
same training config, the same training files (digest), the same training code (hash), variant, stage and
markup. Only the thread count may differ (it changes float rounding, not the model). Anything else
differing is refused, naming the fields, so a copied stage 1 is never another run's model under this run's
name.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import torch

from cmhm.models.cascade import stage_plans
from cmhm.training.checkpoints import Origin, _config_diff, record
from cmhm.training.loop import run_config
from cmhm.training.stages import run_configs, variant_train_config

# what a stage-1 model file records, compared field by field (code_version, a git commit, may differ)
COMPARED = ("config", "inputs", "code", "variant", "stage", "markup3d", "markups")


def expected_record(
    variant: str, model: dict, train: dict, in_size: int, threads: int, n_train: int, inputs: str, code: str
) -> dict:
    """The record (:func:`cmhm.training.checkpoints.record`) this run's train_stage1 job would write."""
    base, markup3d, cfg = run_configs(model, train, in_size, threads, n_train=n_train)
    plan = stage_plans(variant, base, markup3d)[0]
    origin = Origin(inputs, code, variant, 0, markup3d.name)
    return record(origin, "", run_config(plan.model, variant_train_config(variant, cfg), plan.targets))


def _differences(found: dict, expected: dict) -> list[str]:
    """Each recorded leaf that differs (dotted, as the resume check finds them), with both values."""
    return [
        f"{key}: {_at(found, key)!r} there, {_at(expected, key)!r} here"
        for key in _config_diff(found, expected)
    ]


def _at(record: dict, dotted: str):
    for part in dotted.split("."):
        record = record.get(part) if isinstance(record, dict) else None
    return record


def recorded_threads(found: dict) -> int:
    """The thread count a stage-1 model file was trained with (``train.num_threads`` of its record)."""
    return int(found["config"]["train"].get("num_threads", 0))


def read_source(source: str | os.PathLike) -> dict:
    """The other run's stage-1 ``model.pt``, read once (its thread count and its record are both needed)."""
    try:
        return torch.load(source, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is named with the reason
        raise ValueError(
            f"{source}: not a readable stage-1 model file ({type(exc).__name__}: {exc})"
        ) from None


def check_source(source: str | os.PathLike, found: dict, expected: dict) -> None:
    """ValueError naming ``source`` and every field of its record ``found`` that differs from ``expected``."""
    # JSON-like comparison: tuples in the expected record are lists once saved
    want = {k: expected.get(k) for k in COMPARED}
    have = {k: found.get(k) for k in COMPARED}
    diffs = _differences(_plain(have), _plain(want))
    if diffs:
        raise ValueError(
            f"train.stage1_from: {source} is not the stage 1 this run would train ("
            + "; ".join(diffs[:8])
            + (f"; {len(diffs) - 8} more" if len(diffs) > 8 else "")
            + "). Train stage 1 here (remove train.stage1_from) or name a run with this stage-1 config."
        )


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def copy_stage(source_model: str | os.PathLike, outputs: list[str | os.PathLike]) -> list[Path]:
    """Copy ``source_model``'s folder's files named like ``outputs`` (model.pt, snapshots) and its loss log
    (log.csv, for the loss figure) into the output folder, each under a temporary name then renamed."""
    src = Path(source_model).parent
    names = [Path(o).name for o in outputs]
    dest = Path(outputs[0]).parent
    dest.mkdir(parents=True, exist_ok=True)
    if (src / "log.csv").is_file():
        names.append("log.csv")
    done = []
    for name in names:
        tmp = dest / f".{name}.copying"
        shutil.copy2(src / name, tmp)
        os.replace(tmp, dest / name)
        done.append(dest / name)
    return done
