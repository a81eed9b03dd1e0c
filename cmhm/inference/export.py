"""``python -m cmhm export``: the whole cascade (warps included) as ONNX, or TorchScript.

The exported graph takes ``images`` float32 [B, 3, S, S] (RGB, values in [0, 1], S the model file's
``crop.size``; batch dynamic) and returns ``points`` [B, K, 2] (crop pixels, pixel centres at integer
coordinates) and ``confidence`` [B, K] of the last stage. Mapping a face box to the crop and the points
back to the image is left to the caller (``crop.box_scale`` is in the ONNX metadata).
"""

from __future__ import annotations

import io
import json
import logging
import os
import warnings
from pathlib import Path

import torch
from torch import nn

from cmhm.atomic import write_atomic
from cmhm.inference.model_file import CascadeFile, read_cascade
from cmhm.inference.onnx_backend import RECORD_KEY
from cmhm.models.cascade import Cascade

ONNX_OPSET = 20  # grid_sample / affine_grid need opset >= 20


class CascadePoints(nn.Module):
    """A cascade with a tensor-only interface: images [B, 3, S, S] -> (points [B, K, 2], confidence [B, K])."""

    def __init__(self, cascade: Cascade) -> None:
        super().__init__()
        self.cascade = cascade.eval()

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.cascade(images)
        return out["points"][-1], out["confidence"][-1]


def onnx_graph(cascade: Cascade, size: int):
    """``cascade`` (input side ``size``) as an ONNX ``ModelProto`` with a dynamic batch axis.

    Uses PyTorch's ``torch.export``-based exporter (the TorchScript one is deprecated since 2.9); it
    needs ``onnxscript`` (the ``export`` extra)."""
    registration = logging.getLogger("torch.onnx._internal.exporter._registration")
    level = registration.level
    registration.setLevel(logging.ERROR)  # it lists torchvision ops it cannot register; cmhm uses none
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(
                CascadePoints(cascade),
                (torch.rand(2, 3, size, size),),
                input_names=["images"],
                output_names=["points", "confidence"],
                dynamic_shapes=({0: torch.export.Dim("batch")},),
                opset_version=ONNX_OPSET,
                dynamo=True,
                verbose=False,
            )
    finally:
        registration.setLevel(level)
    return program.model_proto


def _metadata(model: CascadeFile) -> dict[str, str]:
    record = {
        "variant": model.variant,
        "markups": model.markups,
        "crop": vars(model.crop),
        "detector": model.detector,
        "tracking": model.tracking,
        "config_digest": model.config_digest,
        "code_version": model.code_version,
        "config": model.config,
    }
    return {
        "cmhm_variant": model.variant,
        "cmhm_markup": model.markup,
        "cmhm_crop": json.dumps(vars(model.crop)),
        "cmhm_code_version": model.code_version,
        "cmhm_config_digest": model.config_digest,
        "cmhm_input": "float32 [B, 3, S, S] RGB in [0, 1]",
        RECORD_KEY: json.dumps(record),  # what cmhm.load needs to run the graph without the cascade.pt
    }


def onnx_model(model: CascadeFile):
    """The cascade of ``model`` as an ONNX ``ModelProto``, its record in the metadata (:func:`onnx_graph`)."""
    graph = onnx_graph(model.cascade, model.crop.size)
    for k, v in _metadata(model).items():
        graph.metadata_props.add(key=k, value=v)
    return graph


def export_onnx(model_path: str | os.PathLike, out: str | os.PathLike) -> Path:
    """Write the cascade of ``model_path`` as an ONNX graph with a dynamic batch axis."""
    data = onnx_model(read_cascade(model_path)).SerializeToString()
    out = Path(out)
    write_atomic(out, lambda tmp: tmp.write_bytes(data))  # a full disk names the file, leaves no partial one
    return out


def export_torchscript(model_path: str | os.PathLike, out: str | os.PathLike) -> Path:
    """Write the cascade of ``model_path`` as a traced TorchScript module (fixed crop size, any batch)."""
    model = read_cascade(model_path)
    size = model.crop.size
    traced = torch.jit.trace(CascadePoints(model.cascade), torch.rand(2, 3, size, size), check_trace=False)
    out = Path(out)
    extra = {"cmhm.json": json.dumps(_metadata(model))}

    # serialised in memory, then written by Python (as export_onnx): a full disk is an OSError naming the
    # file, never PyTorch's C++ writer failing (or aborting) part-way through the file
    buffer = io.BytesIO()
    torch.jit.save(traced, buffer, _extra_files=extra)
    data = buffer.getvalue()
    write_atomic(out, lambda tmp: tmp.write_bytes(data))
    return out
