"""The model file: one self-describing ``cascade.pt`` per trained variant.

It holds everything needed to align faces in a new image, and nothing that has to be found beside it:

- ``format`` / ``format_version``: :data:`FORMAT`, :data:`FORMAT_VERSION` (a file without them is refused);
- ``variant``; ``stages``: per stage its ``ModelConfig`` (plain dict), ``state_dict``, the label arrays
  (``targets``) and landmark markups (``markups``) its stacks are supervised with;
- ``mean_shapes``: [K, 2] tensors, the canonical frame that links stage ``i`` to stage ``i + 1``;
- ``crop``: the crop convention (``size``, ``box_scale``, ``box_enlargement`` of tracked boxes);
- ``detector``: the face detector and its calibration to the crop boxes (or None: boxes must be given);
- ``tracking``: how a video is tracked: the failure ``check`` and its ``threshold``;
- ``config_digest``, ``config`` and ``code_version`` of the run that trained it.

Everything is plain types and tensors, so :func:`read_cascade` loads with ``weights_only=True``.
"""

from __future__ import annotations

import os
import pickle
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from cmhm.checkpoints import StageSpec, atomic_save, check_model
from cmhm.models import Cascade, ModelConfig, build_hourglass

FORMAT, FORMAT_VERSION = "cmhm-cascade", 1


class ModelFileError(ValueError):
    """A file that is not a readable cmhm cascade (named in the message)."""


@dataclass(frozen=True)
class CropConvention:
    """How a face box becomes the model's input: a ``size``² crop of the box scaled by ``box_scale``;
    in tracking, the previous frame's landmark box is first scaled by ``box_enlargement``."""

    size: int
    box_scale: float
    box_enlargement: float = 1.0


@dataclass
class CascadeFile:
    """A loaded model file: the assembled :class:`Cascade` and what describes it."""

    cascade: Cascade
    variant: str
    markups: list[list[str]]
    crop: CropConvention
    detector: dict | None
    tracking: dict
    config_digest: str
    code_version: str
    config: dict

    @property
    def markup(self) -> str:
        """Markup of the points the cascade outputs (the last stage's last stack)."""
        return self.markups[-1][-1]


def stage_record(model_file: str | os.PathLike, spec: StageSpec) -> dict:
    """A stage of the model file, read from a training ``model.pt`` that must be the stage ``spec`` says
    (config, weights, targets, markups, and the digest of the data it was trained on)."""
    state = torch.load(model_file, map_location="cpu", weights_only=True)
    check_model(state, model_file, spec)
    cfg = state["config"]
    return {
        "config": cfg["model"],
        "state_dict": state["state_dict"],
        "targets": list(cfg["targets"]),
        "markups": list(state["markups"]),
        "steps": int(state["step"]),
        "source": str(model_file),
    }


def write_cascade(
    path: str | os.PathLike,
    variant: str,
    stages: list[dict],
    mean_shapes: list[torch.Tensor],
    crop: CropConvention,
    detector: dict | None,
    tracking: dict,
    config: dict,
    config_digest: str,
    code_version: str,
) -> Path:
    """Write the model file (durably, through a temporary name: a failure leaves nothing half-written)."""
    if len(mean_shapes) != len(stages) - 1:
        raise ValueError(f"{path}: {len(stages)} stages need {len(stages) - 1} mean shapes")
    obj = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "variant": variant,
        "stages": stages,
        "mean_shapes": [torch.as_tensor(m, dtype=torch.float32) for m in mean_shapes],
        "crop": asdict(crop),
        "detector": detector,
        "tracking": tracking,
        "config": config,
        "config_digest": config_digest,
        "code_version": code_version,
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_save(obj, path)
    return path


def _load_raw(path: Path) -> dict:
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, OSError, ValueError, pickle.UnpicklingError) as exc:
        raise ModelFileError(f"{path}: not a readable PyTorch file ({type(exc).__name__}: {exc})") from None
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        hint = " (a single stage's model.pt? use the assembled cascade.pt)" if isinstance(obj, dict) else ""
        raise ModelFileError(f"{path}: not a cmhm cascade model file{hint}")
    if obj.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: model file format version {obj.get('format_version')}, this code reads {FORMAT_VERSION}"
        )
    return obj


def read_cascade(
    path: str | os.PathLike, device: str | torch.device = "cpu", variant: str | None = None
) -> CascadeFile:
    """Load a model file written by :func:`write_cascade`; a clear :class:`ModelFileError` otherwise,
    also when ``variant`` is given and the file holds another."""
    path = Path(path)
    obj = _load_raw(path)
    if variant is not None and obj["variant"] != variant:
        raise ModelFileError(f"{path}: holds variant {obj['variant']!r}, expected {variant!r}")
    stages = []
    for i, st in enumerate(obj["stages"]):
        model = build_hourglass(ModelConfig.from_dict(st["config"]))
        try:
            model.load_state_dict(st["state_dict"])
        except RuntimeError as exc:
            raise ModelFileError(f"{path}: stage {i} weights do not fit its architecture: {exc}") from None
        stages.append(model)
    cascade = Cascade(stages, obj["mean_shapes"]).to(device).eval()
    return CascadeFile(
        cascade=cascade,
        variant=obj["variant"],
        markups=[list(st["markups"]) for st in obj["stages"]],
        crop=CropConvention(**obj["crop"]),
        detector=obj["detector"],
        tracking=obj["tracking"],
        config_digest=obj["config_digest"],
        code_version=obj["code_version"],
        config=obj["config"],
    )
