"""``python -m cmhm export``: the whole cascade (warps included) as ONNX, or TorchScript.

The exported graph takes ``images`` float32 [B, 3, S, S] (RGB, values in [0, 1], S the model file's
``crop.size``; batch dynamic) and returns ``points`` [B, K, 2] (crop pixels, pixel centres at integer
coordinates) and ``confidence`` [B, K] of the last stage. Mapping a face box to the crop and the points
back to the image is left to the caller (``crop.box_scale`` is in the ONNX metadata).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from torch import nn

from cmhm.data.samples import _atomic
from cmhm.inference.model_file import CascadeFile, read_cascade

ONNX_OPSET = 20  # grid_sample / affine_grid need opset >= 20


class CascadePoints(nn.Module):
    """The cascade with a tensor-only interface: images [B, 3, S, S] -> (points [B, K, 2], confidence [B, K])."""

    def __init__(self, model: CascadeFile) -> None:
        super().__init__()
        self.cascade = model.cascade.eval()

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.cascade(images)
        return out["points"][-1], out["confidence"][-1]


def _metadata(model: CascadeFile) -> dict[str, str]:
    return {
        "cmhm_variant": model.variant,
        "cmhm_markup": model.markup,
        "cmhm_crop": json.dumps(vars(model.crop)),
        "cmhm_code_version": model.code_version,
        "cmhm_config_digest": model.config_digest,
        "cmhm_input": "float32 [B, 3, S, S] RGB in [0, 1]",
    }


def export_onnx(model_path: str | os.PathLike, out: str | os.PathLike) -> Path:
    """Write the cascade of ``model_path`` as an ONNX graph with a dynamic batch axis."""
    import onnx

    model = read_cascade(model_path)
    net = CascadePoints(model)
    size = model.crop.size
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    example = torch.rand(2, 3, size, size)

    def write(tmp: Path) -> None:
        torch.onnx.export(
            net,
            (example,),
            str(tmp),
            input_names=["images"],
            output_names=["points", "confidence"],
            dynamic_axes={"images": {0: "batch"}, "points": {0: "batch"}, "confidence": {0: "batch"}},
            opset_version=ONNX_OPSET,
            dynamo=False,
        )
        graph = onnx.load(str(tmp))
        for k, v in _metadata(model).items():
            graph.metadata_props.add(key=k, value=v)
        onnx.save(graph, str(tmp))

    _atomic(out, write)  # a temporary name, then a rename: a full disk leaves no partial file
    return out


def export_torchscript(model_path: str | os.PathLike, out: str | os.PathLike) -> Path:
    """Write the cascade of ``model_path`` as a traced TorchScript module (fixed crop size, any batch)."""
    model = read_cascade(model_path)
    size = model.crop.size
    traced = torch.jit.trace(CascadePoints(model), torch.rand(2, 3, size, size), check_trace=False)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    extra = {"cmhm.json": json.dumps(_metadata(model))}

    def write(tmp: Path) -> None:
        try:
            torch.jit.save(traced, str(tmp), _extra_files=extra)
        except RuntimeError as exc:  # PyTorch's file writer reports a failed write (a full disk) so
            raise OSError(str(exc).splitlines()[0]) from exc

    _atomic(out, write)
    return out
