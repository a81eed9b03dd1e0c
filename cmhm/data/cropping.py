"""Crop each face of a sample table into a square, keeping the image -> crop transform."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from cmhm.data.crop_shards import CropShardError, write_shard
from cmhm.data.samples import SampleTable
from cmhm.geometry.image_warp import warp_image
from cmhm.geometry.similarity import apply_affine, box_to_crop_affine


def read_image(path: Path) -> np.ndarray:
    """Read an image file as RGB uint8 [H, W, 3]; a clear error if it cannot be decoded."""
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise CropShardError(f"{path}: missing or not a decodable image")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def check_boxes(table: SampleTable) -> None:
    """:class:`CropShardError` naming the table, sample and image of the first non-finite or zero-area box."""
    boxes = table.boxes()
    bad = ~np.isfinite(boxes).all(1) | (boxes[:, 2] <= boxes[:, 0]) | (boxes[:, 3] <= boxes[:, 1])
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise CropShardError(
            f"{table.root / 'index.csv'}: sample {table.index['sample_id'].iloc[i]!r} ({table.image_path(i)}) "
            f"has a non-finite or zero-area face box {boxes[i].tolist()}; {int(bad.sum())} such boxes in all"
        )


def transform_landmarks(arrays: dict[str, np.ndarray], A: np.ndarray) -> dict[str, np.ndarray]:
    """Map the landmark arrays of a table ([N, K, 2] or [N, K, 3], plus [N, 17, C, 3]) by ``A`` [N, 2, 3].

    2D coordinates go through the affine; a third (depth) coordinate is multiplied by the
    affine's scale so that 3D shapes keep their proportions. Other arrays are copied.
    """
    scale = np.sqrt(np.abs(np.linalg.det(A[:, :, :2])))
    out = {}
    for name, arr in arrays.items():
        if arr.dtype == bool or arr.shape[-1] not in (2, 3) or arr.ndim < 3:
            out[name] = arr.copy()
            continue
        lead = arr.shape[:-1]
        flat = arr.reshape(len(arr), -1, arr.shape[-1]).astype(np.float64)
        xy = apply_affine(A, flat[..., :2])
        parts = [xy]
        if arr.shape[-1] == 3:
            parts.append(flat[..., 2:] * scale[:, None, None])
        out[name] = np.concatenate(parts, axis=-1).reshape(*lead, arr.shape[-1]).astype(arr.dtype)
    return out


def crop_table(
    table: SampleTable,
    size: int,
    box_scale: float,
    prefix: str | os.PathLike,
    provenance: dict | None = None,
    labels: dict[str, np.ndarray] | None = None,
) -> None:
    """Crop every sample of ``table`` around its face box and write the crop shard ``prefix``.

    Writes ``prefix.images.npy`` (uint8 [N, size, size, 3]), ``prefix.labels.npz`` (``transform``
    [N, 2, 3] and the landmark arrays in crop pixels) and ``prefix.csv`` (the index plus
    ``crop_scale``), each through a temporary name, so a failure leaves no partial shard; ``provenance``
    (the crop config and code version) goes into the labels file. Crops are
    streamed to disk as they are made: memory holds one source image and one crop, not N crops.

    ``labels``: arrays (image pixels, in the table's row order) that replace the table's arrays of the
    same name, e.g. fitted 3D labels; they are stored in the table's dtype.
    """
    check_boxes(table)
    replaced = _replacements(table, labels or {})
    A = box_to_crop_affine(table.boxes(), size, box_scale)
    crops = (warp_image(read_image(table.image_path(i)), A[i], size) for i in range(len(table)))
    labels = transform_landmarks({**table.arrays, **table.extra, **replaced}, A)
    labels.update({k: labels[k].astype(table.arrays[k].dtype) for k in replaced})
    index = table.index.copy()
    index["crop_scale"] = np.sqrt(np.abs(np.linalg.det(A[:, :, :2])))
    write_shard(prefix, crops, {"transform": A, **labels}, index, (size, size, 3), provenance)


def _replacements(table: SampleTable, labels: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``labels`` checked against the table: each names one of its label arrays and has its shape."""
    for name, arr in labels.items():
        if name not in table.arrays:
            raise CropShardError(
                f"{table.root}: no label array {name!r} to replace; it has {sorted(table.arrays)}"
            )
        if arr.shape != table.arrays[name].shape:
            raise CropShardError(
                f"{table.root}: replacement {name!r} has shape {arr.shape}, the table's {table.arrays[name].shape}"
            )
    return labels
