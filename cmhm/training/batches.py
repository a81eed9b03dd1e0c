"""Training batches from crops: label arrays, flip permutations, augmentation and heatmap targets.

Label arrays are in crop pixels, NaN where a sample has no such label. A stack's target is one
array name; its mask ``v_n`` is "that point is finite", so a profile face supervises only the union
channels its 39 points map to, a semi-frontal face all of them. Stage 2 of a cascade draws its
batches from :class:`CanonicalBatches` (online, through the frozen stage 1).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from cmhm.data.crop_shards import CropSet, ShardedImages
from cmhm.data.samples import ARRAY_MARKUPS, UNION_ARRAY
from cmhm.geometry.similarity import compose_affine
from cmhm.geometry.warp import affine_scale, warp_images
from cmhm.landmarks.markups import get_markup
from cmhm.models.cascade import Cascade
from cmhm.models.heatmaps import HeatmapCodec
from cmhm.models.hourglass import StackedHourglass
from cmhm.models.runtime import to_tensor
from cmhm.training.appearance import jitter_appearance
from cmhm.training.augment import AugmentConfig, augment_batch, sample_similarity, transform_arrays

Batch = tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor]]
JITTER_REFERENCE_SIZE = AugmentConfig.reference_size  # stage-2 jitter: pixels at this crop size, like shifts


@dataclass
class TrainData:
    """Crops and their labels: images uint8 [N, S, S, 3]; arrays name -> [N, K, D] or [N, K]; side [N].

    ``images`` may be a read-only memory map or a :class:`cmhm.data.crop_shards.ShardedImages` (what
    :func:`cmhm.data.crop_shards.load_crops` gives): batches index only their rows.
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
    """:class:`TrainData` from a :class:`cmhm.data.crop_shards.CropSet` (crop pixels).

    ``union_pts`` [N, K_union, 2] / ``union_mask`` [N, K_union]: the multi-view 2D targets (e.g. from
    :func:`cmhm.landmarks.union.union_targets` on the crop arrays); stored as array ``"union2d"``, NaN where unmasked.
    """
    arrays = dict(crops.arrays)
    if union_pts is not None:
        mask = np.isfinite(union_pts).all(-1) if union_mask is None else union_mask
        arrays[UNION_ARRAY] = masked_points(union_pts, mask)
    side = crops.index["side"].fillna("").to_numpy(dtype=object)
    return TrainData(images=crops.images, arrays=arrays, side=side)


def heatmap_targets(
    arrays: dict[str, np.ndarray], targets: Sequence[str], crop_size: int, map_size: int, sigma: float
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Per stack: (heatmaps [B, K, h, h], mask [B, K]) encoded from the named crop-pixel arrays by the
    :class:`cmhm.models.heatmaps.HeatmapCodec` of ``crop_size``, ``map_size`` and ``sigma``."""
    codec, maps, masks = HeatmapCodec(crop_size, map_size, sigma), [], []
    for name in targets:
        pts = torch.from_numpy(np.ascontiguousarray(arrays[name][..., :2], dtype=np.float32))
        mask = torch.isfinite(pts).all(-1)
        maps.append(codec.encode(pts, mask))
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
) -> Batch:
    """Augmented batch of ``rows``: (images [B, 3, S, S], per-stack heatmaps [B, K, h, h], masks [B, K])."""
    names = sorted(set(targets))
    images = np.asarray(data.images[rows])
    arrays = {n: data.arrays[n][rows] for n in names}
    if augment is not None:
        images, arrays, _ = augment_batch(images, arrays, data.perms(names), data.side[rows], augment, rng)
    maps, masks = heatmap_targets(arrays, targets, data.size, map_size, sigma)
    return to_tensor(images), maps, masks


def compose_batch_affines(*affines: np.ndarray) -> np.ndarray:
    """The affine [B, 2, 3] that applies ``affines[-1]`` first and ``affines[0]`` last."""
    out = affines[-1]
    for A in affines[-2::-1]:
        out = compose_affine(A, out)
    return out


def jitter_affines(n: int, size: int, max_shift: float, rng: np.random.Generator) -> np.ndarray:
    """[n, 2, 3] random translations of at most ``max_shift`` pixels at a 256 px crop (scaled to ``size``)."""
    A = np.tile(np.eye(2, 3), (n, 1, 1))
    A[:, :, 2] = rng.uniform(-1.0, 1.0, (n, 2)) * max_shift * size / JITTER_REFERENCE_SIZE
    return A


@dataclass
class CanonicalBatches:
    """Stage-2 batches made online: warp(augment(crop)) by the frozen stage 1's prediction, one resampling.

    Per batch: draw the augmentation ``A_aug`` (the stage-1 one); stage 1 (eval mode, no gradient) sees the
    augmented crops; its last-stack points are fitted to ``means`` [V, K, 2] (:meth:`Cascade.canonical_transform`,
    the cascade's own code) giving ``A_can``; an optional translation jitter ``J`` follows. The stored crop
    is warped once by ``J A_can A_aug`` with :func:`cmhm.geometry.warp.warp_images` and the labels move with it.
    ``last`` keeps the latest batch's affines for inspection and tests.
    """

    data: TrainData
    stage1: StackedHourglass
    means: torch.Tensor
    targets: Sequence[str]
    map_size: int
    sigma: float
    augment: AugmentConfig | None
    jitter: float = 0.0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    out_size: int | None = None  # side of the canonical images (stage 2's input; None: the crop side)
    last: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.stage1 = self.stage1.to(self.device).eval().requires_grad_(False)
        self.means = torch.as_tensor(self.means, dtype=torch.float32, device=self.device)

    def unaugmented(self) -> CanonicalBatches:
        """The same source without augmentation or jitter (validation batches: only the canonical warp)."""
        return replace(self, augment=None, jitter=0.0, last={})

    def __call__(self, rows: np.ndarray, rng: np.random.Generator) -> Batch:
        """Images [B, 3, S, S] (on ``device``), per-stack heatmaps [B, K, h, h] and masks [B, K]."""
        names, size, n = sorted(set(self.targets)), self.data.size, len(rows)
        out = self.out_size or size
        crops = np.asarray(self.data.images[rows])
        if self.augment is None:
            A_aug, flipped = np.tile(np.eye(2, 3), (n, 1, 1)), np.zeros(n, bool)
        else:
            A_aug, flipped, _ = sample_similarity(n, size, self.augment, rng)
            crops = jitter_appearance(crops, self.augment.appearance, rng)  # stage 1 sees it too
        crops = to_tensor(crops).to(self.device)
        with torch.inference_mode():
            seen = warp_images(crops, torch.from_numpy(A_aug).float().to(self.device), size)
            A_can = Cascade.canonical_transform(self.stage1, seen, self.means)[0].double().cpu().numpy()
        A = compose_batch_affines(jitter_affines(n, out, self.jitter, rng), A_can, A_aug)
        images = warp_images(crops, torch.from_numpy(A).float().to(self.device), out)
        arrays = {k: self.data.arrays[k][rows] for k in names}
        arrays = transform_arrays(arrays, self.data.perms(names), A, flipped, affine_scale(A))
        self.last = {
            "A_aug": A_aug,
            "A_can": A_can,
            "A": A,
            "stage1_input": seen.cpu().numpy(),
            "arrays": arrays,
        }
        maps, masks = heatmap_targets(arrays, self.targets, out, self.map_size, self.sigma)
        return images, maps, masks
