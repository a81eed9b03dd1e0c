"""Graph inference (issue 27): bucketing, padding and copying out of graph buffers, on the CPU; and
the buckets compiled by ``torch.compile`` (``cmhm predict --compile``), on the CPU.

A CUDA graph replays fixed kernels into fixed output buffers. :class:`BufferReplay` below keeps exactly that
contract on a CPU (one set of output tensors, overwritten in place by every replay), so these tests hold
:class:`GraphedCascade` to what a real graph would do to it. The capture itself needs CUDA
(``make gpu-check`` compares graph and plain predictions there).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch._dynamo.utils import counters as dynamo_counters

from cmhm.bench.inference import random_cascade
from cmhm.inference.api import FaceAligner, load
from cmhm.models.fuse import fuse_for_inference
from cmhm.models.graphs import GraphedCascade, bucket, capture_compiled
from cmhm.models.hourglass import ModelConfig
from cmhm.models.runtime import predict

from .model_files import bare_model_file

SMALL = ModelConfig(in_size=32, width=16, depth=2)


def _copy_into(dst, src) -> None:
    if isinstance(dst, torch.Tensor):
        dst.copy_(src)
    elif isinstance(dst, dict):
        for k in dst:
            _copy_into(dst[k], src[k])
    else:
        for d, s in zip(dst, src, strict=True):
            _copy_into(d, s)


class BufferReplay:
    """A CPU stand-in for a captured graph: each replay runs ``fn`` on the static input and writes the
    result into the *same* output tensors (what a graph's replay does), counting captures."""

    def __init__(self) -> None:
        self.captures: list[int] = []

    def __call__(self, fn, static_x: torch.Tensor):
        self.captures.append(len(static_x))
        out = fn(static_x)

        def replay():
            _copy_into(out, fn(static_x))
            return out

        return replay


@pytest.fixture
def cascade() -> torch.nn.Module:
    return fuse_for_inference(random_cascade("cmhm", SMALL, seed=3))


@pytest.mark.parametrize(
    ("n", "cap", "want"), [(1, 16, 1), (2, 16, 2), (3, 16, 4), (5, 16, 8), (16, 16, 16), (9, 12, 12)]
)
def test_bucket_is_the_next_power_of_two_capped(n: int, cap: int, want: int) -> None:
    assert bucket(n, cap) == want


@pytest.mark.parametrize("n", [0, 17])
def test_bucket_refuses_what_no_graph_serves(n: int) -> None:
    with pytest.raises(ValueError, match="a bucket serves 1 to 16 faces"):
        bucket(n, 16)


def _padded_reference(cascade: torch.nn.Module, x: torch.Tensor, max_batch: int) -> dict:
    """The model run as the graphs run it: chunks of ``max_batch``, each padded to its bucket's batch
    size (with copies of its first face), the padding's rows dropped."""
    parts = []
    for chunk in torch.split(x, max_batch):
        b = bucket(len(chunk), max_batch)
        padded = torch.cat([chunk, chunk[:1].expand(b - len(chunk), *chunk.shape[1:])])
        out = cascade(padded)
        parts.append({k: [t[: len(chunk)] for t in out[k]] for k in ("points", "confidence", "transforms")})
    return {k: [torch.cat([p[k][i] for p in parts]) for i in range(len(parts[0][k]))] for k in parts[0]}


def test_graphed_outputs_equal_the_model_for_any_batch(cascade: torch.nn.Module) -> None:
    """Batches of 1-11 faces (chunks of 4, padded to 1, 2 or 4) give, bit for bit, what the model gives
    the same faces at the bucket's batch size (rows do not interact: the padding, whatever it holds,
    changes no face; a *different* batch size may change a convolution's summation order, so the model
    is run at the bucket's size here), and one graph is captured per bucket, once."""
    capture = BufferReplay()
    graphed = GraphedCascade(cascade, max_batch=4, capture=capture)
    x = torch.rand(11, 3, SMALL.in_size, SMALL.in_size, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        for n in (1, 3, 2, 11, 5):
            got, want = graphed(x[:n]), _padded_reference(cascade, x[:n], 4)
            for key in want:
                for g, w in zip(got[key], want[key], strict=True):
                    assert g.shape == w.shape and torch.equal(g, w), key
    assert capture.captures == [1, 4, 2]


def test_results_outlive_the_next_replay(cascade: torch.nn.Module) -> None:
    """A replay overwrites the graph's buffers: what a call returned must not change with the next call."""
    graphed = GraphedCascade(cascade, max_batch=2, capture=BufferReplay())
    g = torch.Generator().manual_seed(1)
    a, b = (torch.rand(2, 3, SMALL.in_size, SMALL.in_size, generator=g) for _ in range(2))
    first = graphed(a)["points"][-1]
    kept = first.clone()
    graphed(b)
    assert torch.equal(first, kept)
    with torch.inference_mode():
        assert not torch.equal(first, cascade(b)["points"][-1])


def test_a_bucket_refuses_another_image_size(cascade: torch.nn.Module) -> None:
    graphed = GraphedCascade(cascade, max_batch=2, capture=BufferReplay())
    graphed(torch.rand(1, 3, SMALL.in_size, SMALL.in_size))
    with pytest.raises(ValueError, match=r"graphs were captured for torch.float32 \[\*, 3, 32, 32\]"):
        graphed(torch.rand(1, 3, 16, 16))


def test_predict_through_graphs_gives_the_plain_landmarks(cascade: torch.nn.Module) -> None:
    """What ``FaceAligner`` runs on CUDA with ``cuda_graph``: :func:`predict` over the graphed cascade."""
    crops = np.random.default_rng(2).integers(0, 256, (7, SMALL.in_size, SMALL.in_size, 3), dtype=np.uint8)
    graphed = GraphedCascade(cascade, max_batch=4, capture=BufferReplay())
    got = predict(graphed, crops, batch_size=4, device="cpu")
    padded = np.concatenate([crops, crops[4:5]])  # the last chunk of 3 runs padded to 4, as in the graph
    want = predict(cascade, padded, batch_size=4, device="cpu")
    assert set(got) == set(want)
    for k in want:
        np.testing.assert_array_equal(got[k], want[k][: len(crops)])


def test_cuda_graph_off_cuda_is_refused_by_name(cascade: torch.nn.Module, tmp_path) -> None:
    with pytest.raises(ValueError, match="cuda_graph needs a CUDA device; this aligner runs on 'cpu'"):
        FaceAligner(bare_model_file(cascade, SMALL.in_size), device="cpu", cuda_graph=True)
    for option, value in (("cuda_graph", True), ("compiled", True), ("precision", "bf16")):
        with pytest.raises(ValueError, match="cuda_graph, compiled and precision run the PyTorch back end"):
            load(tmp_path / "model.onnx", **{option: value})
    with pytest.raises(ValueError, match="choose cuda_graph or compiled, not both"):
        FaceAligner(bare_model_file(cascade, SMALL.in_size), device="cpu", cuda_graph=True, compiled=True)


def test_a_compiled_aligner_runs_its_batch_through_compiled_buckets(cascade: torch.nn.Module) -> None:
    """``FaceAligner(compiled=True)`` on a CPU: compiled buckets up to ``batch_size``, and ``batch_size``
    faces per call (one face per call is the uncompiled fused form's CPU setting); nothing compiles yet."""
    fa = FaceAligner(bare_model_file(cascade, SMALL.in_size), device="cpu", batch_size=8, compiled=True)
    assert isinstance(fa.net, GraphedCascade) and fa.net.capture is capture_compiled
    assert fa.net.max_batch == fa.net_batch == 8 and fa.net.graphs == {}
    assert FaceAligner(bare_model_file(cascade, SMALL.in_size), device="cpu", batch_size=8).net_batch == 1


def test_compiled_buckets_give_each_stage_of_the_fused_cascade() -> None:
    """``--compile``: 3 faces run in the bucket of 4, compiled once; each stage's heatmaps equal the fused
    stage's on the same stage input. Tolerance: inductor fuses the elementwise work into the
    convolutions (oneDNN post-ops) and vectorises by the CPU's width, so sums run in another order:
    float32 rounding (~6e-8 relative) grows to ~1e-6 through the network's dozen layers of sums over at
    most a few hundred products each; 1e-4 on maps of peak ~1 leaves a factor of 100 for a CPU with
    another vector width. (Stage 2's input comes from stage 1's decoded points, so it is taken from the
    compiled run, not compared end to end: a near-tie between two pixels may decode either way.)
    A second model of the same architecture and shapes, compiled after the first, must give its own
    maps: inductor's caches (in memory and on disk) must never hand back the first model's weights."""
    x = torch.rand(3, 3, SMALL.in_size, SMALL.in_size, generator=torch.Generator().manual_seed(5))
    first_maps = None
    for seed in (3, 4):
        net = fuse_for_inference(random_cascade("cmhm", SMALL, seed=seed), channels_last=True)
        graphs_before = dynamo_counters["stats"]["unique_graphs"]
        compiled = GraphedCascade(net, max_batch=4, capture=capture_compiled)
        with torch.inference_mode():
            out = compiled(x)
            for i in range(len(net.stages)):
                to_input = out["transforms"][i - 1] if i else None
                hms, pts, _ = net.run_stage(i, out["inputs"][i], to_input)
                assert out["heatmaps"][i][-1].shape == hms[-1].shape
                torch.testing.assert_close(out["heatmaps"][i][-1], hms[-1], rtol=0, atol=1e-4)
        assert sorted(compiled.graphs) == [4] and out["points"][-1].shape[0] == 3
        new_graphs = dynamo_counters["stats"]["unique_graphs"] - graphs_before
        # the first model: compiled once, whole (no graph break); the second may reuse that graph
        # (torch passes an inlined module's weights as graph inputs) or compile its own, never more
        assert new_graphs == 1 if first_maps is None else new_graphs <= 1
        if first_maps is None:
            first_maps = out["heatmaps"][0][-1]
        else:  # another model's weights: other maps (the check above ties them to this model's)
            assert (out["heatmaps"][0][-1] - first_maps).abs().max() > 1e-2


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a CUDA device")
def test_real_cuda_graphs_give_the_plain_landmarks() -> None:
    """On a GPU: the captured graphs (float32, TF32 off) against the same fused cascade run plainly."""
    dev = torch.device("cuda")
    prev = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        net = fuse_for_inference(random_cascade("cmhm", SMALL, seed=3).to(dev), channels_last=True)
        graphed = GraphedCascade(net, max_batch=4)
        x = torch.rand(6, 3, SMALL.in_size, SMALL.in_size, device=dev)
        with torch.inference_mode():
            for n in (1, 3, 6):
                got, want = graphed(x[:n])["points"][-1], _padded_reference(net, x[:n], 4)["points"][-1]
                # the same kernels on the same shapes as the plain run at the bucket's size; a small
                # tolerance only for CUDA kernels whose order of summation is not fixed run to run
                torch.testing.assert_close(got, want, rtol=0, atol=1e-3)
        assert sorted(graphed.graphs) == [1, 2, 4]  # 6 faces: a chunk of 4 and one of 2
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = prev
