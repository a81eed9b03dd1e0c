"""Residual building blocks of the hourglass, selected by name through :data:`BLOCKS`.

Every block maps ``[B, c_in, H, W] -> [B, c_out, H, W]`` and is built as ``BLOCKS[name](c_in, c_out)``.
Both use pre-activation (BN + ReLU before each convolution) and an identity skip when
``c_in == c_out`` (a 1x1 convolution otherwise).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache, partial

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


def bottleneck_macs(c_in: int, c_out: int) -> int:
    """Per-pixel MACs of :class:`Bottleneck`'s body (the skip is the same in every block)."""
    mid = max(c_out // 2, 1)
    return c_in * mid + 9 * mid * mid + mid * c_out


def inception_macs(c_in: int, widths: tuple[int, int, int, int]) -> int:
    """Per-pixel MACs of :class:`InceptionResNet`'s branches with branch widths ``widths``."""
    _, b2, b3, _ = widths
    return c_in * sum(widths) + 9 * b2 * b2 + 18 * b3 * b3


@lru_cache(maxsize=None)
def matched_widths(c_in: int, c_out: int) -> tuple[int, int, int, int]:
    """Branch widths (summing to ``c_out``) whose MACs come closest to the bottleneck's.

    The 1x1 convolutions cost ``c_in * c_out`` whatever the split, so the rule widens the two 3x3
    branches, keeping them within one channel of each other: ``9 b2^2 + 18 b3^2 = bottleneck - c_in c_out``
    (``b2 = b3 ~ 0.29 c_out`` at
    ``c_in = c_out``, against ``c_out / 4`` in the paper's form); the rest goes to the 1x1 and pool branches.
    """
    target = bottleneck_macs(c_in, c_out)
    best: tuple[int, tuple[int, int, int, int]] | None = None
    for b in range(1, c_out // 2):
        for b2, b3 in ((b, b), (b + 1, b), (b, b + 1)):
            if b2 + b3 > c_out - 2:
                continue
            b1, b4 = split_width(c_out - b2 - b3, 2)
            err = abs(inception_macs(c_in, (b1, b2, b3, b4)) - target)
            if best is None or err < best[0]:
                best = (err, (b1, b2, b3, b4))
    if best is None:
        raise ValueError(f"cannot build a compute-matched inception block with {c_out} output channels")
    return best[1]


INCEPTION_WIDTHS: dict[str, Callable[[int, int], tuple[int, int, int, int]]] = {
    "paper": lambda c_in, c_out: tuple(split_width(c_out, 4)),
    "matched": matched_widths,
}


class InceptionResNet(nn.Module):
    """Multi-scale residual block: four parallel branches concatenated to ``c_out`` and added to the skip.

    Branches (after a shared pre-activation): 1x1; 1x1 -> 3x3; 1x1 -> 3x3 -> 3x3 (a 5x5 receptive
    field); 3x3 average pool -> 1x1. ``width_rule`` (a key of :data:`INCEPTION_WIDTHS`) splits ``c_out``:
    'paper' gives each branch ``b ~ c_out/4``, which per output pixel at ``c_in = c_out = w`` costs
    ``4 w b + 27 b^2 = 43/16 w^2`` MACs against the bottleneck's ``13/4 w^2`` (cheaper at equal width);
    'matched' widens the 3x3 branches until the MACs equal the bottleneck's (:func:`matched_widths`).
    """

    def __init__(self, c_in: int, c_out: int, width_rule: str = "paper") -> None:
        super().__init__()
        if width_rule not in INCEPTION_WIDTHS:
            raise ValueError(
                f"unknown inception width rule {width_rule!r}; known: {sorted(INCEPTION_WIDTHS)}"
            )
        b1, b2, b3, b4 = INCEPTION_WIDTHS[width_rule](c_in, c_out)
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


def get_block(name: str, inception_width: str = "paper") -> Callable[[int, int], nn.Module]:
    """Look a block constructor up by name, with an error that lists the known ones.

    ``inception_width`` (a key of :data:`INCEPTION_WIDTHS`) is the inception block's width rule;
    other blocks ignore it.
    """
    if inception_width not in INCEPTION_WIDTHS:
        raise KeyError(f"unknown inception width {inception_width!r}; known: {sorted(INCEPTION_WIDTHS)}")
    try:
        make = BLOCKS[name]
    except KeyError:
        raise KeyError(f"unknown block {name!r}; known: {sorted(BLOCKS)}") from None
    return partial(make, width_rule=inception_width) if make is InceptionResNet else make
