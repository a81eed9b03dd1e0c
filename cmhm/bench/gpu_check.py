"""`make gpu-check`: exercise everything that differs on CUDA and bring back the numbers (issue 16).

On a CUDA machine: device facts; the smoke DAG on ``cuda`` in a temporary copy; paper-size training
steps in fp32 / bf16 / fp16 (+ GradScaler) / channels_last / ``torch.compile`` with s/step, images/s
and model FLOP utilisation; inference ms/face for baseline and cmhm at batch 1 and 32; ``cmhm predict
--cuda-graph``'s form against the fused one (baseline, cmhm, cmhm_light at batch 1 and 8); CPU-vs-CUDA
agreement of every variant's forward pass and of one training step's loss. Writes
``results/bench/gpu-<card>.csv`` and prints a Markdown table. Without CUDA it says so in one line,
runs the CPU-side checks (option parsing, scaler wiring, a tiny training step per amp mode, the
fused inference form) in well under a minute, and exits 0.
"""

from __future__ import annotations

import argparse
import re
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pandas as pd
import torch

from cmhm.bench.gpu_runs import agreement, graph_rows, inference_rows, smoke_dag, training_rows
from cmhm.bench.report import to_markdown
from cmhm.bench.throughput import random_data
from cmhm.landmarks.markups import IBUG68
from cmhm.models.complexity import count_complexity
from cmhm.models.fuse import fuse_for_inference
from cmhm.models.hourglass import ModelConfig, build_hourglass
from cmhm.models.runtime import AMP_DTYPES, parse_amp
from cmhm.training.loop import TrainConfig, init_state, train_step
from cmhm.training.precision import make_scaler

PAPER = ModelConfig(in_size=256, n_stacks=2, depth=4, width=256)
PAPER_S_PER_STEP = 1.02  # Deng et al., FG 2018: one training step at batch 8 on a GTX Titan X (Pascal)
PAPER_MS_RATIO = 20.76 / 24.42  # the same paper: CMHM vs 2-stack hourglass, ms per 256 px face
PEAK_TFLOPS = {  # dense fp32 / bf16-or-fp16 tensor peaks from the vendors' data sheets
    "H200": (67.0, 989.0),
    "H100": (67.0, 989.0),
    "A100": (19.5, 312.0),
    "A10": (31.2, 125.0),
    "L4": (30.3, 121.0),
    "V100": (15.7, 125.0),
    "T4": (8.1, 65.0),
    "TITAN X": (11.0, 11.0),
}


def device_facts() -> dict:
    """GPU name, memory, torch/CUDA versions and bf16 support (CUDA fields empty without CUDA)."""
    facts = {
        "torch": torch.__version__,
        "cuda_build": torch.version.cuda,
        "cuda_available": torch.cuda.is_available(),
    }
    if facts["cuda_available"]:
        p = torch.cuda.get_device_properties(0)
        facts.update(
            gpu=p.name, memory_GiB=round(p.total_memory / 2**30, 1), bf16=torch.cuda.is_bf16_supported()
        )
    return facts


def peak_tflops(name: str, half: bool) -> float | None:
    """Data-sheet peak of a known card (fp32, or the 16-bit tensor peak), ``None`` for unknown cards."""
    for key, (fp32, tensor16) in PEAK_TFLOPS.items():
        if key.lower() in name.lower():
            return tensor16 if half else fp32
    return None


def cpu_checks(steps: int = 1) -> pd.DataFrame:
    """The CPU-side parts: amp parsing, scaler wiring, one tiny step per amp mode, fused == unfused."""
    rows = [
        {
            "check": "parse train.amp",
            "result": ", ".join(f"{v!r}->{parse_amp(v)}" for v in (*AMP_DTYPES, True, False)),
        }
    ]
    cpu = torch.device("cpu")
    rows.append(
        {"check": "fp16 scaler on CPU (expected off)", "result": str(make_scaler("fp16", cpu).is_enabled())}
    )
    tiny = ModelConfig(in_size=64, n_stacks=1, depth=2, width=16, n_points=(IBUG68.n_points,))
    data = random_data(8, tiny.in_size)
    for amp in AMP_DTYPES:
        cfg = TrainConfig(steps=steps, batch_size=4, device="cpu", amp=amp)
        st = init_state(tiny, cfg, cpu)
        loss = train_step(st, data, ["lm3d_68"], cfg, cpu)[0]
        rows.append({"check": f"train step amp={amp} (CPU: float32)", "result": f"loss {loss:.6g}"})
    net = build_hourglass(tiny).eval()
    x = torch.rand(2, 3, tiny.in_size, tiny.in_size)
    with torch.inference_mode():
        err = (fuse_for_inference(net)(x)[-1] - net(x)[-1]).abs().max().item()
    rows.append({"check": "fused inference form vs unfused, max |diff|", "result": f"{err:.2e}"})
    return pd.DataFrame(rows)


def card_slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower()


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="cmhm gpu-check", description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=50, help="training steps per precision mode")
    ap.add_argument("--skip-dag", action="store_true", help="skip the smoke DAG on cuda")
    ap.add_argument("--out", default="results/bench")
    args = ap.parse_args(argv)
    facts = device_facts()
    if not facts["cuda_available"]:
        print(
            f"gpu-check: no CUDA device (torch {facts['torch']}, CUDA build {facts['cuda_build']}); CPU-side checks only"
        )
        t0 = time.perf_counter()
        print(to_markdown(cpu_checks()))
        print(f"CPU-side checks took {time.perf_counter() - t0:.1f} s")
        return 0
    print("## Device\n\n" + to_markdown(pd.DataFrame([facts])))
    dev = torch.device("cuda")
    with torch.device("meta"):
        macs = count_complexity(
            build_hourglass(replace(PAPER, n_points=(IBUG68.n_points,) * PAPER.n_stacks)), PAPER.in_size
        ).macs
    rows = training_rows(PAPER, args.steps, dev, facts["gpu"], macs, PAPER_S_PER_STEP, peak_tflops)
    rows += inference_rows(PAPER, dev, PAPER_MS_RATIO)
    rows += graph_rows(PAPER, dev, PAPER_MS_RATIO)
    rows += agreement(ModelConfig(in_size=64, n_stacks=2, depth=2, width=32), dev)
    if not args.skip_dag:
        rows.append(smoke_dag())
    table = pd.DataFrame(rows)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / f"gpu-{card_slug(facts['gpu'])}.csv", index=False)
    print(f"\n## gpu-check on {facts['gpu']}\n\n" + to_markdown(table))
    return 0
