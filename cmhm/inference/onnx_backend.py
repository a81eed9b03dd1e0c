"""ONNX Runtime as the CPU inference back end of ``cmhm.load`` and ``cmhm predict``.

An exported graph (:func:`cmhm.inference.export.onnx_model`) carries, besides the weights, the model
file's record (:data:`RECORD_KEY`: variant, markups, crop convention, detector, tracking, config digest,
code version), so a ``.onnx`` file is loaded on its own: no ``cascade.pt`` and no PyTorch kernels.
Session settings (all graph optimisations; one intra-op pool of ``threads``; no spinning, because on a
small machine a spinning pool takes the cores the crop warps and the detector need between calls) are
the ones ``make bench`` measured.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

RECORD_KEY = "cmhm_model"


class OnnxCascade:
    """The exported cascade in an ONNX Runtime session: crops uint8 [N, S, S, 3] -> points / confidence."""

    def __init__(self, source: bytes | str | os.PathLike, threads: int = 0) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.intra_op_num_threads = threads  # 0: ONNX Runtime's default (one per physical core)
        opts.inter_op_num_threads = 1
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        data = source if isinstance(source, bytes) else str(source)
        self.session = ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])

    def __call__(self, crops: np.ndarray, batch_size: int = 16) -> dict[str, np.ndarray]:
        """``points`` [N, K, 2] (crop pixels) and ``confidence`` [N, K] of the last stage, ``batch_size``
        crops per call (the input is the same float32 [B, 3, S, S] in [0, 1] the PyTorch path feeds)."""
        points, conf = [], []
        for lo in range(0, len(crops), batch_size):
            batch = np.ascontiguousarray(np.asarray(crops[lo : lo + batch_size]).transpose(0, 3, 1, 2))
            p, c = self.session.run(None, {"images": batch.astype(np.float32) / np.float32(255.0)})
            points.append(p)
            conf.append(c)
        return {"points": np.concatenate(points), "confidence": np.concatenate(conf)}

    def record(self, path: str | os.PathLike) -> dict:
        """The model file's record stored in the graph's metadata (``path`` names the file in errors)."""
        meta = self.session.get_modelmeta().custom_metadata_map
        if RECORD_KEY not in meta:
            raise ValueError(
                f"{path}: an ONNX graph without the {RECORD_KEY!r} record: not written by `cmhm export "
                "--onnx` of this version (export the cascade.pt again)"
            )
        return json.loads(meta[RECORD_KEY])


def is_onnx(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() == ".onnx"
