"""Square face crops stored compactly, each with the transform that maps it back to its image.

A crop shard ``PREFIX`` is three files:
  - ``PREFIX.images.npy``: uint8 [N, S, S, 3] RGB crops (memory-mappable; written one crop at a
    time, so writing needs about one crop of memory, not N);
  - ``PREFIX.labels.npz``: ``transform`` [N, 2, 3] (image -> crop affine, see :mod:`cmhm.geometry.similarity`)
    and every landmark array of the sample table mapped into crop pixels (same names and shapes
    as :data:`cmhm.data.samples.ARRAY_SPECS`; 3D z is scaled by the crop scale), and ``provenance``
    (0-d string: the writer's JSON record, config + code version; shards written before it lack it);
  - ``PREFIX.csv``: the sample table's index rows, in the order of the crops (row i of the CSV is crop i).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from cmhm.geometry.similarity import apply_affine, invert_affine

PROVENANCE_KEY = "provenance"

log = logging.getLogger(__name__)


class CropShardError(ValueError):
    """A crop shard on disk is malformed; the message names the file and the problem."""


class ShardedImages:
    """Read-only row-wise concatenation of image arrays [N_i, S, S, 3] (e.g. memory maps), never copied whole.

    Indexing with an int, a slice, an index or boolean array (optionally followed by more indices in a
    tuple) reads only the rows asked for; ``np.asarray`` reads them all.
    """

    def __init__(self, parts: list[np.ndarray]) -> None:
        if not parts or any(p.shape[1:] != parts[0].shape[1:] or p.dtype != parts[0].dtype for p in parts):
            raise ValueError("ShardedImages: need one or more arrays of the same row shape and dtype")
        self.parts = parts
        self.offsets = np.cumsum([0] + [len(p) for p in parts])
        self.shape: tuple[int, ...] = (int(self.offsets[-1]), *parts[0].shape[1:])
        self.dtype = parts[0].dtype
        self.ndim = len(self.shape)

    def __len__(self) -> int:
        return self.shape[0]

    def take(self, rows: np.ndarray) -> np.ndarray:
        """Rows ``rows`` (non-negative ints [B]) as one in-memory array [B, S, S, 3], in that order."""
        rows = np.asarray(rows, dtype=np.int64)
        out = np.empty((len(rows), *self.shape[1:]), self.dtype)
        part = np.searchsorted(self.offsets, rows, side="right") - 1
        for k in np.unique(part):
            sel = part == k
            out[sel] = self.parts[k][rows[sel] - self.offsets[k]]
        return out

    def __getitem__(self, key: int | slice | np.ndarray | list | tuple) -> np.ndarray:
        """Rows ``key`` (int, slice, index or bool array), then basic indices of the other axes if a tuple."""
        rest = ()
        if isinstance(key, tuple):
            key, rest = key[0], key[1:]
            if any(not isinstance(r, (int, np.integer, slice, type(Ellipsis))) for r in rest):
                raise TypeError("ShardedImages: only the first axis takes an array index")
        if isinstance(key, (int, np.integer)):
            row = range(len(self))[key]
            k = int(np.searchsorted(self.offsets, row, side="right")) - 1
            return np.asarray(self.parts[k][(row - self.offsets[k], *rest)])
        return self.take(np.arange(len(self))[key])[(slice(None), *rest)]

    def __array__(self, dtype: np.dtype | None = None, copy: bool | None = None) -> np.ndarray:
        out = self.take(np.arange(len(self)))
        return out if dtype is None else out.astype(dtype, copy=False)


@dataclass
class CropSet:
    """Crops of one or more shards, concatenated.

    ``images``: uint8 [N, S, S, 3], in memory, a read-only memory map or a :class:`ShardedImages` of
    them; ``transforms``: [N, 2, 3] image -> crop; ``arrays``: landmark arrays in crop pixels, keyed as
    in :data:`cmhm.data.samples.ARRAY_SPECS`; ``provenance``: each shard's record (``{}`` if it has none).
    """

    images: np.ndarray | ShardedImages
    transforms: np.ndarray
    arrays: dict[str, np.ndarray]
    index: pd.DataFrame
    provenance: list[dict] = field(default_factory=list)  # per shard: the record its writer stored

    def __len__(self) -> int:
        return len(self.images)

    @property
    def size(self) -> int:
        return int(self.images.shape[1])

    def to_image(self, pts: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """Map crop-pixel points [N, K, 2] (for ``rows``, default all) back into image pixels."""
        T = self.transforms if rows is None else self.transforms[rows]
        return apply_affine(invert_affine(T), pts)


def shard_paths(prefix: str | os.PathLike) -> tuple[Path, Path, Path]:
    p = str(prefix)
    return Path(p + ".images.npy"), Path(p + ".labels.npz"), Path(p + ".csv")


def load_crops(prefixes: list[str | os.PathLike], mmap: bool = True) -> CropSet:
    """Load and concatenate crop shards written by :func:`cmhm.data.cropping.crop_table`.

    Labels and index are read into memory. Images: with ``mmap`` (the default) each shard's
    ``.images.npy`` is memory-mapped read-only and several shards are joined by a
    :class:`ShardedImages`, so only the rows a caller indexes are read (300W-LP at 256 px is ~12 GB);
    without, every image is read into one in-memory array. Shards of several datasets (a mixed
    training set) join on the label arrays they all carry: one dataset's own extras (the synthetic
    heads' ``contour3d``) are left out; the landmark arrays every sample table has are always there.
    """
    parts = []
    for prefix in prefixes:
        img_p, lab_p, csv_p = shard_paths(prefix)
        for p in (img_p, lab_p, csv_p):
            if not p.is_file():
                raise CropShardError(f"{p}: missing (crop shard {prefix})")
        images = np.load(img_p, mmap_mode="r" if mmap else None, allow_pickle=False)
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1] != images.shape[2]:
            raise CropShardError(f"{img_p}: expected uint8 [N, S, S, 3], got {images.dtype} {images.shape}")
        with np.load(lab_p, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        prov = json.loads(str(arrays.pop(PROVENANCE_KEY))) if PROVENANCE_KEY in arrays else {}
        index = pd.read_csv(csv_p, keep_default_na=False, dtype={"side": str, "video": str})
        if "transform" not in arrays:
            raise CropShardError(f"{lab_p}: missing array 'transform'")
        for name, arr in arrays.items():
            if len(arr) != len(images) or len(index) != len(images):
                raise CropShardError(f"{lab_p}: {name!r} has {len(arr)} rows, {img_p} has {len(images)}")
        parts.append((images, arrays, index, prov))
    if not parts:
        raise CropShardError("load_crops: no shard given")
    if len(parts) == 1:
        images = parts[0][0]
    else:
        images = ShardedImages([p[0] for p in parts]) if mmap else np.concatenate([p[0] for p in parts])
    shared = [k for k in parts[0][1] if all(k in p[1] for p in parts)]  # several datasets: what all carry
    left_out = sorted({k for p in parts for k in p[1]} - set(shared))
    if left_out:  # named, never silent: a required array's absence still fails where it is read
        log.info("load_crops: label arrays %s are not in every shard of %s: left out", left_out, prefixes)
    arrays = {k: np.concatenate([p[1][k] for p in parts]) for k in shared}
    transforms = arrays.pop("transform")
    index = pd.concat([p[2] for p in parts], ignore_index=True)
    return CropSet(images, transforms, arrays, index, [p[3] for p in parts])


def write_shard(
    prefix: str | os.PathLike,
    images: np.ndarray | Iterable[np.ndarray],
    labels: dict[str, np.ndarray],
    index: pd.DataFrame,
    image_shape: tuple[int, ...] | None = None,
    provenance: dict | None = None,
) -> None:
    """Write a crop shard through temporary names: all three files or none.

    ``images``: uint8 [N, S, S, 3], or an iterable of N crops [S, S, 3] (then ``image_shape`` =
    (S, S, 3)), streamed to disk one crop at a time; N = ``len(index)``. ``labels`` must hold the
    image -> crop ``transform``. ``provenance`` (config + code version) is stored in the labels file.
    """
    if "transform" not in labels:
        raise ValueError(f"write_shard {prefix}: labels need the image -> crop 'transform'")
    if image_shape is None:
        image_shape = tuple(np.shape(images)[1:])
    paths = shard_paths(prefix)
    paths[0].parent.mkdir(parents=True, exist_ok=True)
    tmps = [p.with_name(f".{p.name}.tmp{p.suffix}") for p in paths]
    try:
        write_images(tmps[0], images, (len(index), *image_shape))
        record = {PROVENANCE_KEY: np.array(json.dumps(provenance, default=str))} if provenance else {}
        np.savez(tmps[1], **labels, **record)
        index.to_csv(tmps[2], index=False)
        for tmp, final in zip(tmps, paths):
            os.replace(tmp, final)
    finally:
        for tmp in tmps:
            if tmp.exists():
                tmp.unlink()


def write_images(path: Path, images: Iterable[np.ndarray], shape: tuple[int, ...]) -> None:
    """Write uint8 ``images`` (rows [S, S, 3]) as the ``.npy`` array ``shape`` [N, S, S, 3], row by row.

    Plain sequential writes, not a writable memory map: a map would count every written page in the
    process's resident memory (what batch schedulers watch), so a 12 GB shard would look like 12 GB.
    """
    header = {
        "descr": np.lib.format.dtype_to_descr(np.dtype(np.uint8)),
        "fortran_order": False,
        "shape": shape,
    }
    n = 0
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, header)
        for img in images:
            img = np.asarray(img)
            if img.shape != shape[1:] or img.dtype != np.uint8:
                raise CropShardError(
                    f"{path}: crop {n} is {img.dtype} {img.shape}, expected uint8 {shape[1:]}"
                )
            if n == shape[0]:
                raise CropShardError(f"{path}: more than the {shape[0]} crops the index lists")
            f.write(np.ascontiguousarray(img).data)
            n += 1
    if n != shape[0]:
        raise CropShardError(f"{path}: {n} crops written, the index lists {shape[0]}")
