"""The cascade that chains hourglass stages through a warp, and each variant's stage plans.

A variant (:mod:`cmhm.pipeline.variants`) lists, per stage, the *target role* that supervises each stack: ``"union2d"`` (the
multi-view 2D union labels, :data:`UNION_MARKUP` channels, masked) or ``"proj3d"`` (2D projections
of the 3D landmarks, in the configured 3D markup). Stage ``i > 0`` sees the input warped by the
similarity that takes stage ``i-1``'s decoded landmarks onto the best-fitting of its mean shapes
(weighted Procrustes, weights = peak confidences; one mean shape per view, see
:func:`cmhm.geometry.warp.fit_to_means`), and its predictions are mapped back through the inverse transform.
No gradient flows between stages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import torch
from torch import nn

from cmhm.data.samples import ARRAY_MARKUPS, PROJ3D_ARRAYS, UNION_ARRAY
from cmhm.geometry.warp import apply_affine_torch, fit_to_means, invert_affine_torch, warp_images
from cmhm.landmarks.markups import Markup, get_markup
from cmhm.models.heatmaps import HeatmapCodec
from cmhm.models.hourglass import ModelConfig, StackedHourglass, build_hourglass
from cmhm.pipeline.variants import Variant, get_variant

UNION_MARKUP: Markup = get_markup(ARRAY_MARKUPS[UNION_ARRAY])


@dataclass(frozen=True)
class StagePlan:
    """What one stage is: its architecture and the label array that supervises each stack."""

    model: ModelConfig
    targets: tuple[str, ...]


def stage_plans(variant: Variant | str, base: ModelConfig, markup3d: Markup) -> list[StagePlan]:
    """Per-stage model configs (block, stacks, head widths, and input size and width relative to ``base``,
    from ``variant``; the rest from ``base``) and targets."""
    v = get_variant(variant) if isinstance(variant, str) else variant
    role_array = {"union2d": UNION_ARRAY, "proj3d": PROJ3D_ARRAYS[markup3d.name]}
    role_points = {"union2d": UNION_MARKUP.n_points, "proj3d": markup3d.n_points}
    plans = []
    for i, roles in enumerate(v.stages):
        cfg = replace(
            base,
            in_size=stage_size(base.in_size, v.scale(i)),
            width=stage_width(base.width, v.width(i)),
            block=v.block,
            n_stacks=len(roles),
            n_points=tuple(role_points[r] for r in roles),
        )
        plans.append(StagePlan(cfg, tuple(role_array[r] for r in roles)))
    return plans


def stage_size(crop_size: int, scale: float) -> int:
    """A stage's input side: ``scale`` of the crop side (ValueError unless it is a whole number of pixels)."""
    size = crop_size * scale
    if size != int(size) or size < 1:
        raise ValueError(
            f"a stage at {scale:g} of {crop_size} px crops would be {size:g} px: not a whole size"
        )
    return int(size)


def stage_width(width: int, scale: float) -> int:
    """A variant's feature channels: ``scale`` of ``model.width``, kept a multiple of 4 (the inception
    block's four branches) and at least 8 (the stem's first block has width / 2 channels, four branches)."""
    w = int(round(width * scale / 4)) * 4
    if w < 8:
        raise ValueError(f"width {width} x {scale:g} leaves fewer than 8 channels")
    return w


def build_stages(variant: Variant | str, base: ModelConfig, markup3d: Markup) -> list[StackedHourglass]:
    """One freshly initialised :class:`StackedHourglass` per stage of ``variant``."""
    return [build_hourglass(p.model) for p in stage_plans(variant, base, markup3d)]


class Cascade(nn.Module):
    """Hourglass stages chained by Procrustes warps; a one-stage cascade is a plain stacked hourglass.

    ``mean_shapes[i]`` [K, 2] or [V, K, 2] (one per view; NaN where a view has no such point):
    canonical landmarks (in stage ``i+1`` input pixels) that stage ``i``'s last-stack predictions are
    aligned to; K must equal that head's width. Stored as [V, K, 2].
    """

    def __init__(self, stages: Sequence[StackedHourglass], mean_shapes: Sequence[torch.Tensor] = ()) -> None:
        super().__init__()
        if len(mean_shapes) != len(stages) - 1:
            raise ValueError(
                f"{len(stages)} stages need {len(stages) - 1} mean shapes, got {len(mean_shapes)}"
            )
        means = [torch.as_tensor(m, dtype=torch.float32) for m in mean_shapes]
        for i, m in enumerate(means):
            if m.ndim not in (2, 3) or m.shape[-2:] != (stages[i].n_points[-1], 2):
                raise ValueError(
                    f"mean shape {i} is {tuple(m.shape)}, stage {i} predicts {stages[i].n_points[-1]} points"
                )
        self.stages = nn.ModuleList(stages)
        # inference only: the dtype the stage networks compute in under autocast (None: their weights').
        # Decoding, the Procrustes fit and the warp between stages stay float32 whatever it is.
        self.net_dtype: torch.dtype | None = None
        for i, m in enumerate(means):
            self.register_buffer(f"mean_shape_{i}", m.reshape(-1, *m.shape[-2:]).clone())

    def mean_shape(self, i: int) -> torch.Tensor:
        """[V, K, 2] mean shapes that link stage ``i`` to stage ``i+1``."""
        return getattr(self, f"mean_shape_{i}")

    @staticmethod
    def canonical_fit(points: torch.Tensor, weights: torch.Tensor, means: torch.Tensor) -> torch.Tensor:
        """A [B, 2, 3] (detached): the weighted Procrustes fit of ``points`` [B, K, 2] (``weights`` [B, K])
        onto the best of ``means`` [V, K, 2]; the one link between a stage's points and the next input."""
        return fit_to_means(points, weights, means)[0].detach()

    @staticmethod
    def canonical_transform(
        stage: StackedHourglass, images: torch.Tensor, means: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Run ``stage`` on ``images`` [B, 3, S, S] and fit its last-stack points to ``means`` [V, K, 2].

        Returns (A [B, 2, 3] input pixels -> canonical pixels, points [B, K, 2], confidence [B, K]);
        what the cascade does between stages, and what stage-2 training does with the frozen stage 1.
        """
        hms = stage(images)
        pts, conf = Cascade.decode(stage, hms[-1])
        return Cascade.canonical_fit(pts, conf, means), pts, conf

    @staticmethod
    def decode(stage: StackedHourglass, heatmaps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Stage heatmaps [B, K, h, h] -> (points [B, K, 2] in that stage's input pixels, confidence [B, K])."""
        return HeatmapCodec(stage.cfg.in_size, heatmaps.shape[-1]).decode(heatmaps.detach().float())

    def link(
        self, i: int, images: torch.Tensor, points: torch.Tensor, weights: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Stage ``i + 1``'s input: the crops ``images`` [B, 3, S, S] warped by :meth:`canonical_fit` of
        stage ``i``'s ``points`` [B, K, 2] (crop pixels, ``weights`` [B, K]) onto mean shape ``i`` ->
        (input [B, 3, s, s], A [B, 2, 3] crop -> that input). The forward pass links stages with it, and
        the ground-truth warp of :mod:`cmhm.evaluation.floors` with the true points in place of stage ``i``'s."""
        A = self.canonical_fit(points, weights, self.mean_shape(i))
        return warp_images(images, A, self.stages[i + 1].cfg.in_size), A

    def run_net(self, stage: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
        """``stage``'s heatmaps per stack on ``x``, computed under autocast to :attr:`net_dtype` when set
        (then returned as float32)."""
        if self.net_dtype is None:
            return stage(x)
        with torch.autocast(x.device.type, self.net_dtype):
            hms = stage(x)
        return [h.float() for h in hms]

    def run_stage(
        self, i: int, x: torch.Tensor, to_input: torch.Tensor | None = None
    ) -> tuple[list[torch.Tensor], torch.Tensor, torch.Tensor]:
        """Stage ``i`` on its input ``x`` -> (heatmaps per stack, points [B, K, 2], confidence [B, K]); the
        points in crop pixels: mapped back through the inverse of ``to_input`` (the :meth:`link` affine;
        None: ``x`` is the crop)."""
        stage = self.stages[i]
        hms = self.run_net(stage, x)
        pts, conf = self.decode(stage, hms[-1])
        if to_input is not None:
            pts = apply_affine_torch(invert_affine_torch(to_input), pts)
        return hms, pts, conf

    def forward(self, images: torch.Tensor) -> dict[str, list]:
        """``images`` [B, 3, S, S] -> {"heatmaps": per stage, list per stack of [B, K, h, h];
        "transforms": per later stage, [B, 2, 3] crop -> that stage's input; "inputs": per stage, the
        images it saw [B, 3, s, s] (later stages: the crop through this warp); "points"/"confidence":
        per stage, last-stack decode in crop pixels [B, K, 2] / [B, K]}."""
        out: dict[str, list] = {
            "heatmaps": [],
            "transforms": [],
            "inputs": [],
            "points": [],
            "confidence": [],
        }
        x, A = images, None
        for i in range(len(self.stages)):
            if i > 0:
                x, A = self.link(i - 1, images, out["points"][-1], out["confidence"][-1])
                out["transforms"].append(A)
            out["inputs"].append(x)
            hms, pts, conf = self.run_stage(i, x, A)
            out["heatmaps"].append(hms)
            out["points"].append(pts)
            out["confidence"].append(conf)
        return out
