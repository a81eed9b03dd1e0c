"""FAN-4, for ``make bench`` only: the 4-stack face alignment network of Bulat & Tzimiropoulos
(ICCV 2017, "How far are we from solving the 2D & 3D face alignment problem?"), built from its
published description, random weights. No part of the pipeline trains or loads it.

Its residual unit is the hierarchical, parallel, multi-scale block (Bulat & Tzimiropoulos 2017):
three chained pre-activated 3x3 convolutions of widths c/2, c/4, c/4 whose outputs are concatenated
to c channels, plus the skip. Stem: 7x7 stride-2 convolution to 64 channels, block to 128, 2x2
average pool, blocks to 128 and to 256; then 4 hourglasses (depth 4, average-pool down-sampling,
nearest up-sampling), each followed by a block, a 1x1 convolution + BN + ReLU and a 1x1 head, with
the usual re-injection of features and predictions between stacks.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from cmhm.models.blocks import preact_conv


class MultiScaleBlock(nn.Module):
    """``[B, c_in, H, W] -> [B, c_out, H, W]``: 3x3 (c_out/2) -> 3x3 (c_out/4) -> 3x3 (c_out/4), concatenated."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        half, quarter = c_out // 2, c_out // 4
        self.c1 = preact_conv(c_in, half, 3)
        self.c2 = preact_conv(half, quarter, 3)
        self.c3 = preact_conv(quarter, c_out - half - quarter, 3)
        self.skip = nn.Identity() if c_in == c_out else preact_conv(c_in, c_out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.c1(x)
        b = self.c2(a)
        return torch.cat([a, b, self.c3(b)], dim=1) + self.skip(x)


class FanHourglass(nn.Module):
    """One FAN hourglass: ``[B, C, H, W] -> [B, C, H, W]`` with ``depth`` average-pool levels."""

    def __init__(self, depth: int, width: int) -> None:
        super().__init__()
        self.up = MultiScaleBlock(width, width)
        self.down = MultiScaleBlock(width, width)
        self.inner = FanHourglass(depth - 1, width) if depth > 1 else MultiScaleBlock(width, width)
        self.after = MultiScaleBlock(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        low = self.after(self.inner(self.down(F.avg_pool2d(x, 2))))
        return self.up(x) + F.interpolate(low, scale_factor=2, mode="nearest")


class Fan(nn.Module):
    """``[B, 3, S, S]`` -> list over stacks of heatmaps ``[B, n_points, S/4, S/4]``."""

    def __init__(self, n_points: int, n_stacks: int = 4, depth: int = 4, width: int = 256) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, width // 4, 7, stride=2, padding=3),
            nn.BatchNorm2d(width // 4),
            nn.ReLU(),
            MultiScaleBlock(width // 4, width // 2),
            nn.AvgPool2d(2),
            MultiScaleBlock(width // 2, width // 2),
            MultiScaleBlock(width // 2, width),
        )
        self.stacks = nn.ModuleList(
            nn.Sequential(
                FanHourglass(depth, width),
                MultiScaleBlock(width, width),
                nn.Conv2d(width, width, 1),
                nn.BatchNorm2d(width),
                nn.ReLU(),
            )
            for _ in range(n_stacks)
        )
        self.heads = nn.ModuleList(nn.Conv2d(width, n_points, 1) for _ in range(n_stacks))
        self.merge_features = nn.ModuleList(nn.Conv2d(width, width, 1) for _ in range(n_stacks - 1))
        self.merge_preds = nn.ModuleList(nn.Conv2d(n_points, width, 1) for _ in range(n_stacks - 1))

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        x, out = self.stem(images), []
        for s, (stack, head) in enumerate(zip(self.stacks, self.heads)):
            f = stack(x)
            out.append(head(f))
            if s < len(self.merge_features):
                x = x + self.merge_features[s](f) + self.merge_preds[s](out[-1])
        return out
