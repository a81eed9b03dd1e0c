"""Square face crops stored compactly, each with the transform that maps it back to its image.

A crop shard ``PREFIX`` is three files:
  - ``PREFIX.images.npy``: uint8 [N, S, S, 3] RGB crops (memory-mappable);
  - ``PREFIX.labels.npz``: ``transform`` [N, 2, 3] (image -> crop affine, see :mod:`cmhm.geometry`)
    and every landmark array of the sample table mapped into crop pixels (same names and shapes
    as :data:`cmhm.samples.ARRAY_SPECS`; 3D z is scaled by the crop scale);
  - ``PREFIX.csv``: the sample table's index rows plus ``shard_row``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cmhm.geometry import apply_affine, invert_affine


class CropShardError(ValueError):
    """A crop shard on disk is malformed; the message names the file and the problem."""


@dataclass
class CropSet:
    """Crops of one or more shards, concatenated.

    ``images``: uint8 [N, S, S, 3]; ``transforms``: [N, 2, 3] image -> crop; ``arrays``: landmark
    arrays in crop pixels, keyed as in :data:`cmhm.samples.ARRAY_SPECS`.
    """

    images: np.ndarray
    transforms: np.ndarray
    arrays: dict[str, np.ndarray]
    index: pd.DataFrame

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


def load_crops(prefixes: list[str | os.PathLike], mmap: bool = False) -> CropSet:
    """Load and concatenate crop shards written by :func:`cmhm.crop.crop_table`."""
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
        index = pd.read_csv(csv_p, keep_default_na=False, dtype={"side": str, "video": str})
        if "transform" not in arrays:
            raise CropShardError(f"{lab_p}: missing array 'transform'")
        for name, arr in arrays.items():
            if len(arr) != len(images) or len(index) != len(images):
                raise CropShardError(f"{lab_p}: {name!r} has {len(arr)} rows, {img_p} has {len(images)}")
        parts.append((images, arrays, index))
    if not parts:
        raise CropShardError("load_crops: no shard given")
    images = parts[0][0] if len(parts) == 1 else np.concatenate([p[0] for p in parts])
    arrays = {k: np.concatenate([p[1][k] for p in parts]) for k in parts[0][1]}
    transforms = arrays.pop("transform")
    index = pd.concat([p[2] for p in parts], ignore_index=True)
    return CropSet(images=images, transforms=transforms, arrays=arrays, index=index)


def write_shard(
    prefix: str | os.PathLike, images: np.ndarray, labels: dict[str, np.ndarray], index: pd.DataFrame
) -> None:
    """Write a crop shard (``labels`` must hold ``transform``) through temporary names: all three files or none."""
    if "transform" not in labels:
        raise ValueError(f"write_shard {prefix}: labels need the image -> crop 'transform'")
    paths = shard_paths(prefix)
    paths[0].parent.mkdir(parents=True, exist_ok=True)
    tmps = [p.with_name(f".{p.name}.tmp{p.suffix}") for p in paths]
    try:
        np.save(tmps[0], images)
        np.savez(tmps[1], **labels)
        index.to_csv(tmps[2], index=False)
        for tmp, final in zip(tmps, paths):
            os.replace(tmp, final)
    finally:
        for tmp in tmps:
            if tmp.exists():
                tmp.unlink()
