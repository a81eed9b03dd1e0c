"""Graph inference: a model captured once per batch size and replayed (issue 27), as a CUDA graph or
as an inductor-compiled graph (``torch.compile``, any device).

At batch 1 on a GPU the cascade is launch-bound (hundreds of small kernels; ``make bench`` on an H100:
a CUDA graph of the fused form ran 4.9-5.8x faster than eager). A graph replays fixed shapes into fixed
buffers, so :class:`GraphedCascade` keeps one graph per *bucket* (batch sizes 1, 2, 4, ... up to
``max_batch``), pads a batch up to its bucket, and copies the rows it was asked for out of the graph's
output buffers before the next replay overwrites them. Rows do not interact in the cascade (evaluation-
mode batch norm, per-face Procrustes fit and warp), so padding changes no face's landmarks.

On a CPU, :func:`capture_compiled` compiles each bucket with inductor (batch norm already folded,
inductor's ``freezing`` option, elementwise work fused around the convolutions): at batch 32 the compact
cascade ran 1.25-1.40x and the full one at 128 px 1.34-1.55x faster per face than the fused PyTorch form
(two ``make bench`` runs, docs/bench/), at the cost of a compile of tens of seconds per bucket on first use (inductor's on-disk cache
shortens later processes' compiles).

CUDA capture needs CUDA; the bucketing, padding and copying run on any device with an injected
``capture`` (the tests' stand-in replays the model into the same buffers, as a graph does).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import torch
from torch import nn

from cmhm.models.fuse import cat_outputs

Replay = Callable[[], object]
Capture = Callable[[Callable[[torch.Tensor], object], torch.Tensor], Replay]


def capture_cuda_graph(
    fn: Callable[[torch.Tensor], object],
    static_x: torch.Tensor,
    warmup: int = 3,
    context: Callable[[], contextlib.AbstractContextManager] = torch.inference_mode,
) -> Replay:
    """``fn(static_x)`` (under ``context()``) captured as a CUDA graph; the returned call replays it and
    returns the graph's output buffers (the same tensors each time: copy what must outlive a replay).
    Feed new inputs by copying them into ``static_x``."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):  # warm-up off the capture stream (cuDNN picks its kernels here)
        for _ in range(warmup):
            with context():
                fn(static_x)
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph), context():
        out = fn(static_x)

    def replay() -> object:
        graph.replay()
        return out

    return replay


def capture_compiled(fn: Callable[[torch.Tensor], object], static_x: torch.Tensor) -> Replay:
    """``fn`` compiled by ``torch.compile`` (inductor, static shapes, its ``freezing`` option) for
    ``static_x``'s shape, compiled now; the returned call runs it on ``static_x`` and returns fresh
    outputs. Needs a C++ compiler on a CPU (inductor's); a failure names it."""
    compiled = torch.compile(fn, dynamic=False, options={"freezing": True})

    def replay() -> object:
        return compiled(static_x)

    try:
        with torch.inference_mode():
            replay()
    except Exception as exc:  # noqa: BLE001 - inductor's failures (no compiler, ...) come in many types
        raise RuntimeError(
            f"torch.compile could not compile the cascade for input {list(static_x.shape)} "
            f"({type(exc).__name__}: {str(exc)[:300]}); run without compiling"
        ) from exc
    return replay


def _tree(fn: Callable[[torch.Tensor], torch.Tensor], value):
    """``fn`` applied to every tensor of ``value`` (a tensor, or lists / tuples / dicts of them)."""
    if isinstance(value, torch.Tensor):
        return fn(value)
    if isinstance(value, dict):
        return {k: _tree(fn, v) for k, v in value.items()}
    return type(value)(_tree(fn, v) for v in value)


def bucket(n: int, max_batch: int) -> int:
    """The captured batch size that serves ``n`` faces: the smallest power of two >= ``n``, at most
    ``max_batch`` (``n`` <= ``max_batch``)."""
    if not 1 <= n <= max_batch:
        raise ValueError(f"a bucket serves 1 to {max_batch} faces, not {n}")
    return min(1 << (n - 1).bit_length(), max_batch)


class GraphedCascade(nn.Module):
    """``model`` (a cascade, typically fused) run through one captured graph per batch-size bucket
    (``capture``: :func:`capture_cuda_graph` or :func:`capture_compiled`).

    Calls take images [B, 3, S, S] of any ``B`` (split into chunks of ``max_batch``) and return what
    ``model`` returns for them, in fresh tensors. A bucket is captured on its first use (seconds), for the
    image size and dtype of that call.
    """

    def __init__(self, model: nn.Module, max_batch: int = 16, capture: Capture = capture_cuda_graph) -> None:
        super().__init__()
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch}")
        self.model, self.max_batch, self.capture = model.eval(), max_batch, capture
        self.graphs: dict[int, tuple[torch.Tensor, Replay]] = {}

    @property
    def stages(self) -> nn.ModuleList:
        """The wrapped cascade's stages (what :func:`cmhm.models.runtime.predict` counts)."""
        return self.model.stages

    def _graph(self, images: torch.Tensor) -> tuple[torch.Tensor, Replay]:
        b = bucket(len(images), self.max_batch)
        if b not in self.graphs:
            # captured on copies of the first face (real pixels); each call copies its faces in
            static_x = images[:1].expand(b, *images.shape[1:]).clone()
            self.graphs[b] = (static_x, self.capture(self.model, static_x))
        return self.graphs[b]

    def _run_chunk(self, images: torch.Tensor):
        static_x, replay = self._graph(images)
        if static_x.shape[1:] != images.shape[1:] or static_x.dtype != images.dtype:
            raise ValueError(
                f"graphs were captured for {static_x.dtype} [*, {', '.join(map(str, static_x.shape[1:]))}], "
                f"got {images.dtype} {list(images.shape)}"
            )
        static_x[: len(images)].copy_(images)
        return _tree(lambda t: t[: len(images)].clone(), replay())

    @torch.inference_mode()
    def forward(self, images: torch.Tensor):
        """``images`` [B, 3, S, S] -> ``model``'s outputs for them (fresh tensors, not graph buffers)."""
        return cat_outputs([self._run_chunk(part) for part in torch.split(images, self.max_batch)])
