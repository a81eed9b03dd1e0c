"""The model file: one self-describing ``cascade.pt`` per trained variant.

It holds everything needed to align faces in a new image, and nothing that has to be found beside it:

- ``format`` / ``format_version``: :data:`FORMAT`, :data:`FORMAT_VERSION` (a file without them is refused);
- ``variant``; ``stages``: per stage its ``ModelConfig`` (plain dict), ``state_dict``, the label arrays
  (``targets``) and landmark markups (``markups``) its stacks are supervised with;
- ``mean_shapes``: [K, 2] tensors, the canonical frame that links stage ``i`` to stage ``i + 1``;
- ``crop``: the crop convention (``size``, ``box_scale``);
- ``detector``: the face detector (``name``, ``cascade_path``) and its ``calibration`` to the crop boxes,
  or None (the synthetic default, whose images carry their boxes: such a model takes boxes from its user);
- ``tracking``: how a video is tracked: the failure ``check`` (heatmap | onet), its ``threshold``, the
  enlargement of the previous frame's landmark box (``enlarge``) and, for onet, MTCNN's box calibration
  (``onet_calibration``);
- ``config_digest``, ``config`` and ``code_version`` of the run that trained it;
- per stage, ``weights_digest`` (:func:`weights_digest`), checked on load with the weights' finiteness;
  :func:`read_cascade` also checks every zip member's CRC (a file with flipped bits is refused).

Everything is plain types and tensors, so :func:`read_cascade` loads with ``weights_only=True``.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from cmhm.models.cascade import Cascade
from cmhm.models.heatmaps import HeatmapCodec
from cmhm.models.hourglass import ModelConfig, build_hourglass
from cmhm.pipeline.variants import get_variant
from cmhm.training.checkpoints import StageSpec, atomic_save, check_model, load_verified

FORMAT, FORMAT_VERSION = "cmhm-cascade", 1


class ModelFileError(ValueError):
    """A file that is not a readable cmhm cascade (named in the message)."""


@dataclass(frozen=True)
class CropConvention:
    """How a face box becomes the model's input: a ``size``² crop of the box scaled by ``box_scale``."""

    size: int
    box_scale: float


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

    def describe(self) -> dict:
        """What an evaluation records about the model it ran: variant, markup, training-config digest, code."""
        return {
            "variant": self.variant,
            "markup": self.markup,
            "training_config_digest": self.config_digest,
            "training_code_version": self.code_version,
        }

    @property
    def markup(self) -> str:
        """Markup of the points the cascade outputs (the last stage's last stack)."""
        return self.markups[-1][-1]


def stage_record(model_file: str | os.PathLike, spec: StageSpec) -> dict:
    """A stage of the model file, read from a training ``model.pt`` that must be the stage ``spec`` says
    (ValueError naming the file and each mismatch otherwise): config, weights, targets, markups, steps,
    and what it was made from (training seed, digest of its input files, code hash)."""
    state = load_verified(model_file)
    check_model(state, model_file, spec)
    cfg = state["config"]
    return {
        "config": cfg["model"],
        "state_dict": state["state_dict"],
        "targets": list(cfg["targets"]),
        "markups": list(state["markups"]),
        "steps": int(state["step"]),
        "seed": cfg.get("train", {}).get("seed"),
        "inputs": state.get("inputs", ""),  # digest of the files the stage trained on
        "code": state.get("code", ""),
        "sigma": float(cfg["train"]["sigma"]),
        "source": str(model_file),
    }


def checked_stages(
    model_files: list[str],
    variant: str,
    markup3d: str | None = None,
    in_size: int | None = None,
    seed: int | None = None,
) -> list[dict]:
    """:func:`stage_record` of each file, file ``i`` checked to be stage ``i`` of ``variant`` (and, where
    given, of that 3D markup, input size and training seed): another model, e.g. one copied over it, is
    refused."""
    n = len(get_variant(variant).stages)
    if len(model_files) != n:
        raise ValueError(f"variant {variant!r} has {n} stage(s), got {len(model_files)}: {model_files}")
    stages = [stage_record(f, StageSpec(variant, i, markup3d, in_size)) for i, f in enumerate(model_files)]
    for st in stages:
        if seed is not None and st["seed"] != seed:
            raise ValueError(
                f"{st['source']}: trained with seed {st['seed']}, expected seed {seed} (another seed's model "
                "copied over it?); retrain it or put back its own file"
            )
    return stages


def weights_digest(state_dict: dict[str, torch.Tensor]) -> str:
    """SHA-256 (16 hex digits) of a stage's weights: each tensor's name, dtype, shape and bytes, by name."""
    h = hashlib.sha256()
    for name in sorted(state_dict):
        t = state_dict[name].detach().cpu().contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)};".encode())
        h.update(t.view(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()[:16]


def _check_weights(st: dict, i: int, where: str) -> None:
    """ModelFileError naming ``where`` for non-finite weights, or weights that are not those the file
    recorded a digest of when it was written (a stage replaced after assembly)."""
    bad = [k for k, v in st["state_dict"].items() if v.is_floating_point() and not v.isfinite().all()]
    if bad:
        raise ModelFileError(
            f"{where}: stage {i} weights hold NaN or infinite values in {len(bad)} tensor(s), first {bad[0]};"
            " the model file is damaged or its training diverged"
        )
    recorded = st.get("weights_digest")
    if recorded is not None and recorded != weights_digest(st["state_dict"]):
        raise ModelFileError(
            f"{where}: stage {i} weights are not the ones this file was written with (digest "
            f"{weights_digest(st['state_dict'])}, recorded {recorded}): the file was edited after assembly"
        )


def build_cascade(stages: list[dict], mean_shapes: list[torch.Tensor], where: str = "") -> Cascade:
    """The :class:`Cascade` of stage records and the mean shapes linking them (in evaluation mode)."""
    models = []
    for i, st in enumerate(stages):
        _check_weights(st, i, where)
        model = build_hourglass(ModelConfig.from_dict(st["config"]))
        try:
            model.load_state_dict(st["state_dict"])
        except RuntimeError as exc:
            raise ModelFileError(f"{where}: stage {i} weights do not fit its architecture: {exc}") from None
        models.append(model)
    return Cascade(models, [torch.as_tensor(m, dtype=torch.float32) for m in mean_shapes]).eval()


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
        "stages": [{**st, "weights_digest": weights_digest(st["state_dict"])} for st in stages],
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
        obj = load_verified(path)
    except OSError as exc:
        raise ModelFileError(f"{path}: not a readable PyTorch file ({type(exc).__name__}: {exc})") from None
    except ValueError as exc:
        raise ModelFileError(str(exc)) from None
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        hint = " (a single stage's model.pt? use the assembled cascade.pt)" if isinstance(obj, dict) else ""
        raise ModelFileError(f"{path}: not a cmhm cascade model file{hint}")
    if obj.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: model file format version {obj.get('format_version')}, this code reads {FORMAT_VERSION}"
        )
    return obj


def read_cascade(
    path: str | os.PathLike,
    device: str | torch.device = "cpu",
    variant: str | None = None,
    seed: int | None = None,
) -> CascadeFile:
    """Load a model file written by :func:`write_cascade`; a clear :class:`ModelFileError` otherwise,
    also when ``variant`` or ``seed`` (the training seed its config records) is given and the file holds
    another."""
    path = Path(path)
    obj = _load_raw(path)
    if variant is not None and obj["variant"] != variant:
        raise ModelFileError(f"{path}: holds variant {obj['variant']!r}, expected {variant!r}")
    recorded = (obj.get("config") or {}).get("train", {}).get("seed")
    if seed is not None and recorded != seed:
        raise ModelFileError(
            f"{path}: holds the model of seed {recorded}, expected seed {seed} (another seed's model file "
            "copied over it?)"
        )
    cascade = build_cascade(obj["stages"], obj["mean_shapes"], str(path)).to(device)
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


def read_codec(path: str | os.PathLike, stage: int = -1) -> HeatmapCodec:
    """The heatmap codec (crop size, map size, sigma) of stage ``stage`` of the model file ``path``; a
    :class:`ModelFileError` naming the file when it predates the recorded sigma."""
    path = Path(path)
    st = _load_raw(path)["stages"][stage]
    if "sigma" not in st:
        raise ModelFileError(
            f"{path}: stage {stage} records no heatmap sigma (assembled before model files recorded it); "
            "assemble it again (snakemake --forcerun assemble_model)"
        )
    return HeatmapCodec.of(ModelConfig.from_dict(st["config"]), st["sigma"])
