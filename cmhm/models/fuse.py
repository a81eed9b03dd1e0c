"""Inference-only rewrite of a trained model: the same function, fewer and larger kernels.

:func:`fuse_for_inference` returns an eval-mode copy in which
- every BatchNorm that follows a convolution is folded into that convolution's weights and bias;
- the inception block's four parallel 1x1 convolutions become one convolution whose output is split
  (the pool branch's average pool moves after its 1x1, which commutes with it: both are linear);
- a block's leading BatchNorm (it acts on the sum entering the block, after no convolution) stays;
- a block's output is built in the tensor its last convolution wrote: the inception branches' tails are
  written over the slices of the merged 1x1's output they were computed from and the skip is added in
  place, so no concatenation and no second block-sized tensor; every ReLU acts in place on the tensor the
  BN or convolution before it made. A block never writes its input (the hourglass reuses it).
Outputs equal the unfused model's to float rounding (tests: within 1e-5). The copy cannot be trained.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn import functional as F

from cmhm.models.blocks import Bottleneck, InceptionResNet


def _like(conv: nn.Conv2d) -> dict:
    return {"dtype": conv.weight.dtype, "device": conv.weight.device}


def fold_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    """A convolution equal to ``bn(conv(x))`` in eval mode (weights scaled per output channel, plus a bias)."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    out = nn.Conv2d(
        conv.in_channels,
        conv.out_channels,
        conv.kernel_size,
        conv.stride,
        conv.padding,
        bias=True,
        **_like(conv),
    )
    bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
    with torch.no_grad():
        out.weight.copy_(conv.weight * scale[:, None, None, None])
        out.bias.copy_((bias - bn.running_mean) * scale + bn.bias)
    return out


def _with_bias(conv: nn.Conv2d) -> tuple[torch.Tensor, torch.Tensor]:
    bias = conv.bias if conv.bias is not None else conv.weight.new_zeros(conv.out_channels)
    return conv.weight, bias


def concat_convs(convs: list[nn.Conv2d]) -> nn.Conv2d:
    """One convolution computing ``torch.cat([c(x) for c in convs], 1)`` (same input, kernel and stride)."""
    first = convs[0]
    weights, biases = zip(*(_with_bias(c) for c in convs))
    width = sum(c.out_channels for c in convs)
    out = nn.Conv2d(first.in_channels, width, first.kernel_size, bias=True, **_like(first))
    with torch.no_grad():
        out.weight.copy_(torch.cat(weights))
        out.bias.copy_(torch.cat(biases))
    return out


def add_skip(out: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
    """``out + skip``, written into ``out`` (a tensor the block made) when both have one dtype; otherwise
    a new tensor of the promoted dtype (under autocast: bf16 branches plus a float32 skip give float32, as
    the unfused block does)."""
    return out.add_(skip) if out.dtype == skip.dtype else out + skip


class FusedBottleneck(nn.Module):
    """:class:`Bottleneck` for inference: BN -> ReLU -> 1x1 -> ReLU -> 3x3 -> ReLU -> 1x1 (+ skip)."""

    def __init__(self, block: Bottleneck) -> None:
        super().__init__()
        (bn1, _, c1), (bn2, _, c2), (bn3, _, c3) = block.body
        self.pre = nn.Sequential(bn1, nn.ReLU(inplace=True))
        self.body = nn.Sequential(fold_bn(c1, bn2), nn.ReLU(True), fold_bn(c2, bn3), nn.ReLU(True), c3)
        self.skip = block.skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` [B, c_in, H, W] -> [B, c_out, H, W]."""
        return add_skip(self.body(self.pre(x)), self.skip(x))


class FusedInception(nn.Module):
    """:class:`InceptionResNet` for inference: one 1x1 convolution for all branches, then split."""

    def __init__(self, block: InceptionResNet) -> None:
        super().__init__()
        one, (c2, t2), (c3, t3a, t3b), (pool, c4) = block.branches
        self.pre = nn.Sequential(block.pre[0], nn.ReLU(inplace=True))
        self.reduce = concat_convs([one, fold_bn(c2, t2[0]), fold_bn(c3, t3a[0]), c4])
        self.widths = [one.out_channels, c2.out_channels, c3.out_channels, c4.out_channels]
        self.tail2 = t2[2]
        self.tail3 = nn.Sequential(fold_bn(t3a[2], t3b[0]), nn.ReLU(inplace=True), t3b[2])
        self.pool = pool
        self.skip = block.skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` [B, c_in, H, W] -> [B, c_out, H, W]."""
        out = self.reduce(self.pre(x))
        _, y2, y3, y4 = torch.split(out, self.widths, dim=1)  # views of out; the first branch is done
        tails = (self.tail2(F.relu(y2)), self.tail3(F.relu(y3)), self.pool(y4))
        for y, tail in zip((y2, y3, y4), tails):  # each tail over the slice it came from: out is the concat
            y.copy_(tail)
        return add_skip(out, self.skip(x))


def _is_conv_bn_relu(m: nn.Module) -> bool:
    kinds = (nn.Conv2d, nn.BatchNorm2d, nn.ReLU)
    return isinstance(m, nn.Sequential) and len(m) == 3 and all(isinstance(a, k) for a, k in zip(m, kinds))


def _fuse_children(module: nn.Module) -> None:
    for name, child in module.named_children():
        if isinstance(child, Bottleneck):
            setattr(module, name, FusedBottleneck(child))
        elif isinstance(child, InceptionResNet):
            setattr(module, name, FusedInception(child))
        elif _is_conv_bn_relu(child):
            setattr(module, name, nn.Sequential(fold_bn(child[0], child[1]), nn.ReLU(inplace=True)))
        else:
            _fuse_children(child)


def fuse_for_inference(model: nn.Module, channels_last: bool = False) -> nn.Module:
    """An eval-mode, gradient-free copy of ``model`` with BN folded and inception 1x1s merged.

    ``channels_last``: also store the weights in NHWC order (feed NHWC inputs to profit from it).
    """
    fused = copy.deepcopy(model).eval()
    if isinstance(fused, (Bottleneck, InceptionResNet)):
        fused = nn.Sequential(fused)
    _fuse_children(fused)
    fused.requires_grad_(False)
    if channels_last:
        fused = fused.to(memory_format=torch.channels_last)
    return fused


def cat_outputs(parts: list):
    """Concatenate chunked outputs along the batch: tensors, or lists / dicts of them (nested)."""
    first = parts[0]
    if isinstance(first, torch.Tensor):
        return torch.cat(parts)
    if isinstance(first, dict):
        return {k: cat_outputs([p[k] for p in parts]) for k in first}
    return [cat_outputs([p[i] for p in parts]) for i in range(len(first))]


class FastInference(nn.Module):
    """``model`` fused for inference, fed NHWC (``channels_last``) in chunks of ``chunk`` faces (0: whole batch).

    On a CPU a batch of one face per call is fastest per face (measured by ``make bench``: larger
    batches' activations leave the caches), so there ``chunk=1`` makes batch-``B`` calls cost ``B``
    batch-1 calls instead of more. Outputs as ``model``'s, concatenated over chunks.
    """

    def __init__(self, model: nn.Module, channels_last: bool = True, chunk: int = 0) -> None:
        super().__init__()
        self.model = fuse_for_inference(model, channels_last=channels_last)
        self.channels_last, self.chunk = channels_last, chunk

    def forward(self, images: torch.Tensor):
        """``images`` [B, 3, S, S] -> what ``model`` returns for them."""
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        if not self.chunk or len(images) <= self.chunk:
            return self.model(images)
        return cat_outputs([self.model(part) for part in torch.split(images, self.chunk)])
