"""Residual building blocks of the hourglass, selected by name through :data:`BLOCKS`.

Every block maps ``[B, c_in, H, W] -> [B, c_out, H, W]`` and is built as ``BLOCKS[name](c_in, c_out)``.
Both use pre-activation (BN + ReLU before each convolution) and an identity skip when
``c_in == c_out`` (a 1x1 convolution otherwise).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


def preact_conv(c_in: int, c_out: int, kernel: int) -> nn.Sequential:
    """BN -> ReLU -> ``kernel``x``kernel`` convolution with 'same' padding."""
    return nn.Sequential(
        nn.BatchNorm2d(c_in),
        nn.ReLU(inplace=False),
        nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2, bias=False),
    )


def skip_path(c_in: int, c_out: int) -> nn.Module:
    return nn.Identity() if c_in == c_out else nn.Conv2d(c_in, c_out, 1, bias=False)


class Bottleneck(nn.Module):
    """Newell et al.'s residual bottleneck: 1x1 (c_out/2) -> 3x3 (c_out/2) -> 1x1 (c_out), plus skip."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        mid = max(c_out // 2, 1)
        self.body = nn.Sequential(
            preact_conv(c_in, mid, 1), preact_conv(mid, mid, 3), preact_conv(mid, c_out, 1)
        )
        self.skip = skip_path(c_in, c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` [B, c_in, H, W] -> [B, c_out, H, W]."""
        return self.body(x) + self.skip(x)


def split_width(total: int, parts: int) -> list[int]:
    """Split ``total`` channels into ``parts`` near-equal positive widths (the first ones get the rest)."""
    if total < parts:
        raise ValueError(f"cannot split {total} channels into {parts} branches")
    base, extra = divmod(total, parts)
    return [base + (i < extra) for i in range(parts)]


class InceptionResNet(nn.Module):
    """Multi-scale residual block: four parallel branches concatenated to ``c_out`` and added to the skip.

    Branches (each ``b ~ c_out/4`` wide, after a shared pre-activation):
    1x1; 1x1 -> 3x3; 1x1 -> 3x3 -> 3x3 (a 5x5 receptive field); 3x3 average pool -> 1x1.
    Per output pixel at ``c_in = c_out = w`` this costs ``4 w b + 27 b^2 = 43/16 w^2`` MACs against
    the bottleneck's ``13/4 w^2``, so it is cheaper at equal width.
    """

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        b1, b2, b3, b4 = split_width(c_out, 4)
        self.pre = nn.Sequential(nn.BatchNorm2d(c_in), nn.ReLU(inplace=False))
        self.branches = nn.ModuleList(
            [
                nn.Conv2d(c_in, b1, 1, bias=False),
                nn.Sequential(nn.Conv2d(c_in, b2, 1, bias=False), preact_conv(b2, b2, 3)),
                nn.Sequential(
                    nn.Conv2d(c_in, b3, 1, bias=False), preact_conv(b3, b3, 3), preact_conv(b3, b3, 3)
                ),
                nn.Sequential(
                    nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False),
                    nn.Conv2d(c_in, b4, 1, bias=False),
                ),
            ]
        )
        self.skip = skip_path(c_in, c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` [B, c_in, H, W] -> [B, c_out, H, W]."""
        h = self.pre(x)
        return torch.cat([branch(h) for branch in self.branches], dim=1) + self.skip(x)


BLOCKS: dict[str, Callable[[int, int], nn.Module]] = {
    "bottleneck": Bottleneck,
    "inception_resnet": InceptionResNet,
}


def get_block(name: str) -> Callable[[int, int], nn.Module]:
    """Look a block constructor up by name, with an error that lists the known ones."""
    try:
        return BLOCKS[name]
    except KeyError:
        raise KeyError(f"unknown block {name!r}; known: {sorted(BLOCKS)}") from None
