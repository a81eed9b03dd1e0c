"""Training batches from crops: label arrays, flip permutations, augmentation and heatmap targets.

Label arrays are in crop pixels, NaN where a sample has no such label. A stack's target is one
array name; its mask ``v_n`` is "that point is finite", so a profile face supervises only the union
channels its 39 points map to, a semi-frontal face all of them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from cmhm.augment import AugmentConfig, augment_batch
from cmhm.crop import transform_landmarks
from cmhm.crops import CropSet, ShardedImages
from cmhm.heatmaps import crop_to_map, render_heatmaps
from cmhm.markups import get_markup
from cmhm.models.cascade import UNION_ARRAY, UNION_MARKUP
from cmhm.warp import similarity_procrustes_np, warp_images

ARRAY_MARKUPS: dict[str, str] = {
    "lm2d": "ibug68",
    "vis2d": "ibug68",
    "lm2d_profile": "profile39",
    "lm3d_68": "ibug68",
    "vis3d_68": "ibug68",
    "lm3d_84": "menpo84",
    UNION_ARRAY: UNION_MARKUP.name,
}


@dataclass
class TrainData:
    """Crops and their labels: images uint8 [N, S, S, 3]; arrays name -> [N, K, D] or [N, K]; side [N].

    ``images`` may be a read-only memory map or a :class:`cmhm.crops.ShardedImages` (what
    :func:`cmhm.crops.load_crops` gives): batches index only their rows.
    """

    images: np.ndarray | ShardedImages
    arrays: dict[str, np.ndarray]
    side: np.ndarray

    def __len__(self) -> int:
        return len(self.images)

    @property
    def size(self) -> int:
        return int(self.images.shape[1])

    def perms(self, names: Sequence[str]) -> dict[str, np.ndarray]:
        """Flip permutation of each named array, from :data:`ARRAY_MARKUPS`."""
        return {n: get_markup(ARRAY_MARKUPS[n]).flip_permutation() for n in names}


def masked_points(pts: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Points [N, K, 2] with the unsupervised ones (``mask`` [N, K] False) set to NaN."""
    return np.where(np.asarray(mask, dtype=bool)[..., None], pts, np.nan).astype(np.float32)


def from_crops(
    crops: CropSet, union_pts: np.ndarray | None = None, union_mask: np.ndarray | None = None
) -> TrainData:
    """:class:`TrainData` from a :class:`cmhm.crops.CropSet` (crop pixels).

    ``union_pts`` [N, K_union, 2] / ``union_mask`` [N, K_union]: the multi-view 2D targets (e.g. from
    :func:`cmhm.union.union_targets` on the crop arrays); stored as array ``"union2d"``, NaN where unmasked.
    """
    arrays = dict(crops.arrays)
    if union_pts is not None:
        mask = np.isfinite(union_pts).all(-1) if union_mask is None else union_mask
        arrays[UNION_ARRAY] = masked_points(union_pts, mask)
    side = crops.index["side"].fillna("").to_numpy(dtype=object)
    return TrainData(images=crops.images, arrays=arrays, side=side)


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 [B, S, S, 3] -> float32 [B, 3, S, S] in [0, 1] (a read-only batch, e.g. a memory-map slice, is copied)."""
    batch = np.require(images, requirements=("C", "W"))
    return torch.from_numpy(batch).permute(0, 3, 1, 2).float().div_(255.0)


def heatmap_targets(
    arrays: dict[str, np.ndarray], targets: Sequence[str], crop_size: int, map_size: int, sigma: float
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Per stack: (heatmaps [B, K, h, h], mask [B, K]) rendered from the named crop-pixel arrays."""
    maps, masks = [], []
    for name in targets:
        pts = torch.from_numpy(np.ascontiguousarray(arrays[name][..., :2], dtype=np.float32))
        pts = crop_to_map(pts, crop_size, map_size)
        mask = torch.isfinite(pts).all(-1)
        maps.append(render_heatmaps(pts, map_size, sigma, mask))
        masks.append(mask)
    return maps, masks


def make_batch(
    data: TrainData,
    rows: np.ndarray,
    targets: Sequence[str],
    map_size: int,
    sigma: float,
    augment: AugmentConfig | None,
    rng: np.random.Generator,
) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:
    """Augmented batch of ``rows``: (images [B, 3, S, S], per-stack heatmaps [B, K, h, h], masks [B, K])."""
    names = sorted(set(targets))
    images = np.asarray(data.images[rows])
    arrays = {n: data.arrays[n][rows] for n in names}
    if augment is not None:
        images, arrays, _ = augment_batch(images, arrays, data.perms(names), data.side[rows], augment, rng)
    maps, masks = heatmap_targets(arrays, targets, data.size, map_size, sigma)
    return to_tensor(images), maps, masks


def canonical_frame(
    arrays: dict[str, np.ndarray], points: np.ndarray, confidence: np.ndarray, mean_shape: np.ndarray
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The weighted Procrustes similarities A [N, 2, 3] taking predicted ``points`` [N, K, 2] (weights
    ``confidence`` [N, K]) onto ``mean_shape`` [K, 2], and ``arrays`` moved by them: point arrays
    [N, K, D] get x, y mapped and z scaled by the similarity's scale; [N, K] arrays are copied."""
    A = similarity_procrustes_np(points, mean_shape, np.clip(confidence, 0.0, None))
    return A, transform_landmarks(arrays, A)


def canonical_images(
    images: np.ndarray | ShardedImages, A: np.ndarray, out_size: int, batch_size: int = 64
) -> Iterator[np.ndarray]:
    """Crops uint8 [N, S, S, 3] warped by ``A`` [N, 2, 3], yielded one [out, out, 3] at a time.

    Uses :func:`cmhm.warp.warp_images`, the warp the cascade applies between stages at test time, so
    stage 2 trains on the pixels it will see; ``batch_size`` crops are in memory at once.
    """
    for lo in range(0, len(A), batch_size):
        batch = torch.from_numpy(np.asarray(images[lo : lo + batch_size])).permute(0, 3, 1, 2).float()
        out = warp_images(batch, torch.from_numpy(np.asarray(A[lo : lo + batch_size])).float(), out_size)
        yield from out.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
