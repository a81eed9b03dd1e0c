"""Stacked hourglass network (Newell, Yang & Deng, ECCV 2016) with swappable residual blocks.

Input ``[B, 3, S, S]`` (float, RGB in [0, 1]); output: a list with one heatmap tensor per stack,
``[B, K_s, S/4, S/4]`` (stack heads may differ in width ``K_s``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from cmhm.models.blocks import get_block

STEM_STRIDE = 4  # 7x7 stride-2 convolution, then a 2x2 max-pool


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of one stacked hourglass.

    ``in_size``: input side S (maps are S/4); ``n_stacks``: hourglasses in sequence; ``depth``:
    down-sampling levels per hourglass; ``width``: feature channels; ``block``: a key of
    :data:`cmhm.models.blocks.BLOCKS`; ``n_points``: heatmap channels of each stack's head
    (one entry per stack: the one way to give them); ``inception_width``: the inception
    block's width rule, 'paper' (four branches of width/4) or 'matched' (MACs of the bottleneck's).
    """

    in_size: int = 256
    n_stacks: int = 2
    depth: int = 4
    width: int = 256
    block: str = "bottleneck"
    n_points: tuple[int, ...] = ()
    inception_width: str = "paper"

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        """Inverse of ``dataclasses.asdict`` (lists become tuples); unknown keys raise TypeError."""
        return cls(**{**d, "n_points": tuple(d.get("n_points", ()))})

    @property
    def map_size(self) -> int:
        return self.in_size // STEM_STRIDE

    def make_block(self) -> Callable[[int, int], nn.Module]:
        """The residual block constructor ``(c_in, c_out) -> module`` this config selects."""
        return get_block(self.block, self.inception_width)

    def validate(self) -> None:
        self.make_block()
        if self.in_size % (STEM_STRIDE * 2**self.depth):
            raise ValueError(f"in_size {self.in_size} must be divisible by {STEM_STRIDE * 2**self.depth}")
        if self.width % 4 or self.n_stacks < 1 or self.depth < 1:
            raise ValueError(f"bad model config {self}: width % 4 == 0, n_stacks >= 1, depth >= 1")


class Hourglass(nn.Module):
    """One recursive hourglass: ``[B, C, H, W] -> [B, C, H, W]`` with ``depth`` pooling levels."""

    def __init__(self, depth: int, width: int, make: Callable[[int, int], nn.Module]) -> None:
        super().__init__()
        self.up = make(width, width)
        self.down = make(width, width)
        self.inner = Hourglass(depth - 1, width, make) if depth > 1 else make(width, width)
        self.after = make(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        low = self.after(self.inner(self.down(F.max_pool2d(x, 2))))
        return self.up(x) + F.interpolate(low, scale_factor=2, mode="nearest")


def conv_bn_relu(c_in: int, c_out: int, kernel: int = 1, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=False),
    )


class StackedHourglass(nn.Module):
    """Stem, then ``n_stacks`` hourglasses with intermediate heads and re-injection between them."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        cfg.validate()
        if len(cfg.n_points) != cfg.n_stacks:
            raise ValueError(
                f"need one head width per stack ({cfg.n_stacks}) in n_points, got {list(cfg.n_points)}"
            )
        self.cfg = cfg
        self.n_points = tuple(int(k) for k in cfg.n_points)
        make, w = cfg.make_block(), cfg.width
        self.stem = nn.Sequential(
            conv_bn_relu(3, w // 4, 7, stride=2),
            make(w // 4, w // 2),
            nn.MaxPool2d(2),
            make(w // 2, w // 2),
            make(w // 2, w),
        )
        self.hourglasses = nn.ModuleList(Hourglass(cfg.depth, w, make) for _ in self.n_points)
        self.features = nn.ModuleList(nn.Sequential(make(w, w), conv_bn_relu(w, w)) for _ in self.n_points)
        self.heads = nn.ModuleList(nn.Conv2d(w, k, 1) for k in self.n_points)
        self.merge_features = nn.ModuleList(nn.Conv2d(w, w, 1) for _ in self.n_points[:-1])
        self.merge_preds = nn.ModuleList(nn.Conv2d(k, w, 1) for k in self.n_points[:-1])

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        """``images`` [B, 3, S, S] -> list over stacks of heatmaps [B, K_s, S/4, S/4]."""
        x = self.stem(images)
        out = []
        for s, (hg, feat, head) in enumerate(zip(self.hourglasses, self.features, self.heads)):
            f = feat(hg(x))
            out.append(head(f))
            if s < len(self.merge_features):
                x = x + self.merge_features[s](f) + self.merge_preds[s](out[-1])
        return out


def build_hourglass(cfg: ModelConfig) -> StackedHourglass:
    """Build a stacked hourglass; ``cfg.n_points`` gives each stack's head width (the one way to pass them)."""
    return StackedHourglass(cfg)
