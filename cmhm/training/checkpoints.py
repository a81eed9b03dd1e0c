"""Checkpoint and model files of a training stage: durable writes, what may resume, what a model file is.

A checkpoint resumes only when it was made from the same input files (their content digest), the same
training code (the rule's code hash) and the same config (all but :data:`RESUME_IGNORES`), and when its
step is not past the configured ``steps``; otherwise training starts fresh and the log says why. A
checkpoint that cannot be read (truncated or empty after a power loss or a full disk) is renamed
``<name>.corrupt`` and the previous one (``checkpoint.prev.pt``) is tried. ``model.pt`` records its
variant, stage, target markups and architecture; :func:`check_model` refuses one that is not the model
its path and config say.
"""

from __future__ import annotations

import io
import logging
import os
import pickle
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import torch

from cmhm.data.samples import ARRAY_MARKUPS, PROJ3D_ARRAYS, UNION_ARRAY
from cmhm.landmarks.markups import get_markup
from cmhm.models.cascade import stage_plans
from cmhm.models.hourglass import ModelConfig, StackedHourglass
from cmhm.models.runtime import stage_from_state
from cmhm.pipeline.variants import get_variant

log = logging.getLogger(__name__)
CHECKPOINT, PREVIOUS = "checkpoint.pt", "checkpoint.prev.pt"
RESUME_IGNORES = (
    "steps",
    "checkpoint_every",
    "log_every",
    "num_threads",
    "device",
    "tensorboard",
    "snapshots",
    "val_every",  # how often the held-out crops are scored; which crops are held out (val_size) does count
)
UNREADABLE = (RuntimeError, EOFError, pickle.UnpicklingError, ValueError)  # torch.load on a damaged file


@dataclass(frozen=True)
class Origin:
    """What a stage's weights are made from, recorded in its checkpoints and ``model.pt``.

    ``inputs``: digest of the files it trains on (:func:`cmhm.pipeline.provenance.files_digest`); ``code``: hash
    of the code that trains (the rule's code param; empty: the code version is compared instead);
    ``variant``, ``stage`` (0-based) and ``markup3d``: the model it is.
    """

    inputs: str = ""
    code: str = ""
    variant: str = ""
    stage: int = 0
    markup3d: str = ""


def target_markups(targets: Sequence[str]) -> list[str]:
    """Markup name of each stack's label array (``union2d`` -> the union markup, ``lm3d_84`` -> menpo84)."""
    names = {a: ARRAY_MARKUPS[a] for a in (UNION_ARRAY, *PROJ3D_ARRAYS.values())}
    return [names.get(t, "") for t in targets]


def record(origin: Origin, code_version: str, config: dict) -> dict:
    """The fields every checkpoint and model file carries besides weights: config, code, inputs, identity."""
    return {
        "config": config,
        "code_version": code_version,
        **asdict(replace(origin, code=origin.code or code_version)),
        "markups": target_markups(config["targets"]),
    }


def atomic_save(obj: dict, path: Path, keep: Path | None = None) -> None:
    """``torch.save`` durably: to a temporary file, fsynced, renamed over ``path``, directory fsynced.

    ``keep``: where the file it replaces goes (if any). An ``OSError`` (a full disk, a quota) names
    ``path``; the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    buf = io.BytesIO()
    torch.save(obj, buf)
    try:
        with tmp.open("wb") as f:
            f.write(buf.getbuffer())
            f.flush()
            os.fsync(f.fileno())
        if keep is not None and path.is_file():
            os.replace(path, keep)
        os.replace(tmp, path)
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise OSError(e.errno, f"cannot write {path} ({e.strerror or e})") from e


def load_verified(path: str | os.PathLike, map_location="cpu"):
    """``torch.load(path, weights_only=True)`` of a file first checked to be a whole zip archive whose
    every member passes its CRC (``torch.load`` reads a member with flipped bits without a word).

    ValueError naming ``path`` and what is wrong: truncated or not an archive, the corrupt member, or
    objects a weights-only load refuses (unpickling them could run code).
    """
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, EOFError) as exc:
        raise ValueError(f"{path}: not a whole PyTorch file (truncated or not one: {exc})") from None
    if bad is not None:
        raise ValueError(f"{path}: member {bad!r} fails its CRC check (the file is corrupt; copy it again)")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        why = next((ln.strip() for ln in str(exc).splitlines() if "Unsupported" in ln), "")
        raise ValueError(
            f"{path}: refused: it holds objects that a weights-only load does not read (unpickling them "
            f"could run code){'; ' + why if why else ''}"
        ) from None
    except (RuntimeError, EOFError, ValueError) as exc:
        raise ValueError(f"{path}: not a readable PyTorch file ({type(exc).__name__}: {exc})") from None


def save_checkpoint(state: dict, out: Path) -> None:
    """Write ``out/checkpoint.pt``, keeping the one it replaces as ``checkpoint.prev.pt``."""
    atomic_save(state, out / CHECKPOINT, keep=out / PREVIOUS)


def kept_snapshot(out: Path, name: str) -> Path:
    """The side file that holds snapshot ``name`` of ``out`` until training ends."""
    return out / f"snapshot.{name}"


def missing_snapshots(out: Path, snapshots: dict[int, str], now: dict, step: int) -> list[int]:
    """Snapshot steps up to ``step`` without a kept file made from the same inputs, code and config
    (``now``, a :func:`record`): a run resumed at ``step`` could not produce them."""
    missing = []
    for s, name in sorted(snapshots.items()):
        path = kept_snapshot(out, name)
        if s > step:
            continue
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except (OSError, *UNREADABLE):
            missing.append(s)
            continue
        if state.get("step") != s or why_not_resume(state, now, s):
            missing.append(s)
    return missing


def publish_snapshots(out: Path, snapshots: dict[int, str]) -> None:
    """Copy each kept snapshot to ``out/<its name>`` (durably, see :func:`atomic_save`)."""
    for name in snapshots.values():
        atomic_save(torch.load(kept_snapshot(out, name), map_location="cpu", weights_only=True), out / name)


def readable_checkpoints(out: Path, device) -> Iterator[tuple[Path, dict]]:
    """The checkpoints of ``out``, newest first, as ``(path, state)``; unreadable ones are set aside."""
    for name in (CHECKPOINT, PREVIOUS):
        path = out / name
        if not path.is_file():
            continue
        try:
            state = torch.load(path, map_location=device, weights_only=True)
        except UNREADABLE as e:
            aside = path.with_name(path.name + ".corrupt")
            os.replace(path, aside)
            log.error("%s is unreadable (%s bytes; %s): moved to %s", path, aside.stat().st_size, e, aside)
            continue
        yield path, state


def _resume_key(config: dict) -> dict:
    """The config a checkpoint must share to resume; ``steps`` counts under the cosine schedule, whose
    rate at every step depends on the run's length (a step schedule's drops are absolute steps)."""
    train = config["train"]
    ignored = (
        RESUME_IGNORES if train.get("lr_schedule", "step") == "step" else set(RESUME_IGNORES) - {"steps"}
    )
    return {**config, "train": {k: v for k, v in train.items() if k not in ignored}}


def _config_diff(a: dict, b: dict, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two nested dicts."""
    out = []
    for k in sorted(set(a) | set(b), key=str):
        x, y = a.get(k), b.get(k)
        if isinstance(x, dict) and isinstance(y, dict):
            out += _config_diff(x, y, f"{prefix}{k}.")
        elif x != y:
            out.append(f"{prefix}{k}")
    return out


def why_not_resume(state: dict, now: dict, steps: int) -> str | None:
    """Why checkpoint ``state`` cannot continue the run described by ``now`` (a :func:`record`), or None."""
    reasons = []
    if state.get("inputs") != now["inputs"]:
        reasons.append(f"inputs differ (digest {state.get('inputs')} then, {now['inputs']} now)")
    if state.get("code") != now["code"]:
        reasons.append(f"code differs ({state.get('code')} then, {now['code']} now)")
    keys = ("variant", "stage", "markup3d")
    if other := [f"{k} {state.get(k)!r} then, {now[k]!r} now" for k in keys if state.get(k) != now[k]]:
        reasons.append(f"model differs ({'; '.join(other)})")
    if "config" not in state:
        reasons.append("config missing")
    elif diff := _config_diff(_resume_key(state["config"]), _resume_key(now["config"])):
        reasons.append(f"config differs ({', '.join(diff)})")
    if not reasons and int(state.get("step", 0)) > steps:
        reasons.append(f"its step {state['step']} is past train.steps = {steps}")
    return "; ".join(reasons) or None


@dataclass(frozen=True)
class StageSpec:
    """What a stage's ``model.pt`` must be, from its path and the config: ``variant``, ``stage`` (0-based),
    and where known ``markup3d`` and the architecture's ``in_size`` / ``depth`` / ``width``."""

    variant: str
    stage: int
    markup3d: str | None = None
    in_size: int | None = None
    depth: int | None = None
    width: int | None = None


def check_model(state: dict, path: str | os.PathLike, spec: StageSpec) -> None:
    """Raise ValueError naming ``path`` and each mismatch if ``state`` is not the model ``spec`` says."""
    got = {k: state.get(k) for k in ("variant", "stage", "markup3d", "markups")}
    if not got["variant"] or "config" not in state:
        raise ValueError(f"{path}: records no variant or config (written by an older cmhm?); retrain it")
    expected = {"variant": spec.variant, "stage index (0-based)": spec.stage, "markup3d": spec.markup3d}
    got["stage index (0-based)"] = got.pop("stage")
    wrong = [f"{k} {got[k]!r}, expected {v!r}" for k, v in expected.items() if v is not None and got[k] != v]
    recorded = ModelConfig.from_dict(state["config"]["model"])
    variant = get_variant(spec.variant)
    sizes = {f.name: getattr(spec, f.name) for f in fields(ModelConfig) if getattr(spec, f.name, None)}
    if spec.stage < len(variant.stages):  # the run's sizes the recorded stage was scaled from
        unscaled = {
            "in_size": round(recorded.in_size / variant.scale(spec.stage)),
            "width": round(recorded.width / variant.width(spec.stage)),
        }
        sizes = {**unscaled, **sizes}
    plans = stage_plans(variant, replace(recorded, **sizes), get_markup(spec.markup3d or got["markup3d"]))
    if spec.stage >= len(plans):
        wrong.append(f"variant {spec.variant!r} has {len(plans)} stage(s), not a stage {spec.stage + 1}")
    else:
        plan = plans[spec.stage]
        if got["markups"] != target_markups(plan.targets):
            wrong.append(f"target markups {got['markups']}, expected {target_markups(plan.targets)}")
        wrong += [
            f"architecture {f.name} {getattr(recorded, f.name)!r}, expected {getattr(plan.model, f.name)!r}"
            for f in fields(ModelConfig)
            if getattr(recorded, f.name) != getattr(plan.model, f.name)
        ]
    if wrong:
        what = f"stage {spec.stage + 1} of variant {spec.variant!r}"
        raise ValueError(f"{path}: not the model of {what}: " + "; ".join(wrong))


def load_stage(
    path: str | os.PathLike, device: str = "cpu", spec: StageSpec | None = None
) -> StackedHourglass:
    """Rebuild a trained stage from ``model.pt`` or ``checkpoint.pt`` (``weights_only=True``).

    ``spec``: what the file must be (variant, stage, markup, architecture); ValueError naming the file
    and each mismatch otherwise.
    """
    state = load_verified(path, device)
    if spec is not None:
        check_model(state, path, spec)
    return stage_from_state(state, device)
