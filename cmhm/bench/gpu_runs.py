"""The measurements of `gpu-check` (:mod:`cmhm.bench.gpu_check`), written for any device so that unit tests
run them on a CPU with tiny models. Each returns rows ``{"part", "what", "value", "note"}``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import torch
import yaml

from cmhm.bench.inference import LIGHT_VARIANTS, bench_models, random_cascade, run_in, time_rounds
from cmhm.bench.throughput import random_data, sync
from cmhm.landmarks.markups import IBUG68
from cmhm.models.fuse import fuse_for_inference
from cmhm.models.graphs import Capture, GraphedCascade, capture_cuda_graph
from cmhm.models.hourglass import ModelConfig
from cmhm.pipeline.config_check import load_yaml
from cmhm.training.loop import TrainConfig, init_state, train_step

REPO = Path(__file__).resolve().parents[2]
COPY = (
    "Snakefile",
    "rules",
    "workflow_scripts",
    "configs",
    "config.yaml",
    "cmhm",
    "envs",
    "profiles",
    "pyproject.toml",
)
FORWARD_TOL = 1e-3  # |CPU - CUDA| of heatmaps in float32 with TF32 off (max abs; maps peak near 1)
LOSS_TOL = 1e-3  # relative difference of one training step's loss
GRAPH_VARIANTS = ("baseline", "cmhm", *LIGHT_VARIANTS)  # what `cmhm predict --cuda-graph` is timed on


def _row(part: str, what: str, value: float | str, note: str = "") -> dict:
    return {"part": part, "what": what, "value": value, "note": note}


def training_modes(bf16: bool) -> dict[str, dict]:
    """Precision/layout modes of the training bench: amp value, channels_last, compile."""
    modes = {"fp32": {"amp": "off"}, "fp16+scaler": {"amp": "fp16"}}
    half = "bf16" if bf16 else "fp16"
    if bf16:
        modes["bf16"] = {"amp": "bf16"}
    modes[f"{half}+channels_last"] = {"amp": half, "channels_last": True}
    modes[f"{half}+compile"] = {"amp": half, "compile": True}
    return modes


def time_training(model: ModelConfig, mode: dict, steps: int, dev: torch.device, batch: int = 8) -> float:
    """Seconds per training step in ``mode`` (after 3 warm-up steps), random crops of ``model``'s size."""
    data = random_data(4 * batch, model.in_size)
    cfg = TrainConfig(steps=steps, batch_size=batch, device=dev.type, amp=mode["amp"])
    st = init_state(model, cfg, dev)
    if mode.get("channels_last"):
        st.model = st.model.to(memory_format=torch.channels_last)
    if mode.get("compile"):
        st.model = torch.compile(st.model)
    for _ in range(3):
        train_step(st, data, ["lm3d_68"] * model.n_stacks, cfg, dev)
    sync(dev)
    t0 = time.perf_counter()
    for _ in range(steps):
        train_step(st, data, ["lm3d_68"] * model.n_stacks, cfg, dev)
    sync(dev)
    return (time.perf_counter() - t0) / steps


def training_rows(
    model: ModelConfig, steps: int, dev: torch.device, card: str, macs: int, paper_s: float, peak: Callable
) -> list[dict]:
    """s/step, images/s and model FLOP utilisation per mode (3 x forward FLOPs = 6 x MACs per image)."""
    bf16 = dev.type == "cuda" and torch.cuda.is_bf16_supported()
    model = replace(model, n_points=(IBUG68.n_points,) * model.n_stacks)
    rows = []
    for name, mode in training_modes(bf16).items():
        try:
            s = time_training(model, mode, steps, dev)
        except (RuntimeError, AssertionError) as exc:  # torch.compile failures surface as these
            rows.append(_row("train", name, "failed", f"{type(exc).__name__}: {str(exc)[:120]}"))
            continue
        p = peak(card, mode["amp"] != "off")
        mfu = (
            f"MFU {6 * macs * 8 / s / 1e12 / p:.1%} of {p} TFLOPS" if p else "MFU: card not in the peak table"
        )
        if mode["amp"] == "off" and torch.backends.cudnn.allow_tf32:
            mfu += " (fp32 peak; cuDNN runs the convolutions in TF32 by default, a ~7x higher peak)"
        rows.append(
            _row(
                "train",
                f"{name} s/step (batch 8)",
                round(s, 4),
                f"{8 / s:.1f} images/s; {s / paper_s:.2f} x paper's {paper_s} s; {mfu}",
            )
        )
    return rows


def inference_rows(
    model: ModelConfig, dev: torch.device, paper_ratio: float, batches=(1, 32), repeats: int = 5
) -> list[dict]:
    """ms/face of baseline and cmhm in fp32 and under autocast, and the cmhm/baseline ratio."""
    models = {k: v.to(dev) for k, v in bench_models(model).items() if k in ("baseline", "cmhm")}
    half = torch.bfloat16 if dev.type == "cuda" and torch.cuda.is_bf16_supported() else torch.float16
    rows = []
    for b in batches:
        x = torch.rand(b, 3, model.in_size, model.in_size, device=dev)
        for prec in ("fp32", "autocast"):
            calls = {}
            for name, net in models.items():

                def run(net=net) -> object:
                    with (
                        torch.inference_mode(),
                        torch.autocast(dev.type, half, enabled=prec == "autocast" and dev.type == "cuda"),
                    ):
                        return net(x)

                calls[(name, prec, b)] = run
            median_s = time_rounds(calls, repeats, dev).groupby("model")["seconds"].median()
            ms = {name: 1000 * median_s[name] / b for name in models}
            for name in models:
                rows.append(_row("inference", f"{name} {prec} batch {b} ms/face", round(ms[name], 3)))
            rows.append(
                _row(
                    "inference",
                    f"cmhm/baseline {prec} batch {b}",
                    round(ms["cmhm"] / ms["baseline"], 3),
                    f"paper {paper_ratio:.2f}",
                )
            )
    return rows


def graph_rows(
    model: ModelConfig,
    dev: torch.device,
    paper_ratio: float,
    batches=(1, 8),
    repeats: int = 5,
    capture: Capture = capture_cuda_graph,
) -> list[dict]:
    """What ``cmhm predict --cuda-graph`` runs (issue 27): ms/face of :data:`GRAPH_VARIANTS` fused
    (``fast``, float32) and replayed from CUDA graphs (``graph``, :class:`GraphedCascade`), the ratios
    to the baseline in the graph form, and max |graph - fast| of cmhm's landmarks (px). ``capture``: the
    tests' CPU stand-in."""
    nets = {
        k: fuse_for_inference(random_cascade(k, model).to(dev), channels_last=True) for k in GRAPH_VARIANTS
    }
    rows = []
    for b in batches:
        x = torch.rand(b, 3, model.in_size, model.in_size, device=dev)
        graphed = {k: GraphedCascade(n, max_batch=b, capture=capture) for k, n in nets.items()}
        calls = {}
        for name in nets:
            calls[(name, "fast", b)] = lambda n=nets[name]: run_in(n, x)
            calls[(name, "graph", b)] = lambda n=graphed[name]: n(x)
        t = time_rounds(calls, repeats, dev)
        ms = (1000 * t.groupby(["model", "form"])["seconds"].median() / b).to_dict()
        for (name, form), v in sorted(ms.items()):
            rows.append(_row("graph predict", f"{name} {form} batch {b} ms/face", round(v, 3)))
        for name in GRAPH_VARIANTS[1:]:
            r = ms[(name, "graph")] / ms[("baseline", "graph")]
            rows.append(
                _row(
                    "graph predict",
                    f"{name}/baseline graph batch {b}",
                    round(r, 3),
                    f"paper {paper_ratio:.2f}",
                )
            )
        diff = (graphed["cmhm"](x)["points"][-1] - run_in(nets["cmhm"], x)["points"][-1]).abs().max()
        rows.append(_row("graph predict", f"cmhm max |graph - fast| batch {b} (px)", f"{diff.item():.2e}"))
    return rows


def agreement(model: ModelConfig, dev: torch.device, names: tuple[str, ...] | None = None) -> list[dict]:
    """Max |CPU - dev| of each variant's last heatmaps and the relative difference of one step's loss."""
    cpu, rows = torch.device("cpu"), []
    prev_tf32 = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        x = torch.rand(2, 3, model.in_size, model.in_size, generator=torch.Generator().manual_seed(0))
        for name, net in bench_models(model).items():
            if names is not None and name not in names:
                continue
            with torch.inference_mode():
                a = net.eval()(x)
                b = net.to(dev)(x.to(dev))
            last = (lambda o: o["heatmaps"][-1][-1]) if isinstance(a, dict) else (lambda o: o[-1])
            err = (last(a) - last(b).cpu()).abs().max().item()
            rows.append(
                _row(
                    "agree",
                    f"{name} forward max|cpu-{dev.type}|",
                    f"{err:.2e}",
                    f"{'ok' if err <= FORWARD_TOL else 'FAIL'} (tol {FORWARD_TOL})",
                )
            )
        losses = []
        for d in (cpu, dev):
            cfg = TrainConfig(steps=1, batch_size=4, device=d.type, amp="off")
            m = replace(model, n_points=(IBUG68.n_points,) * model.n_stacks)
            losses.append(
                float(
                    train_step(
                        init_state(m, cfg, d),
                        random_data(8, model.in_size),
                        ["lm3d_68"] * model.n_stacks,
                        cfg,
                        d,
                    )[0]
                )
            )
        rel = abs(losses[0] - losses[1]) / abs(losses[0])
        rows.append(
            _row(
                "agree",
                "train step loss rel. diff",
                f"{rel:.2e}",
                f"{'ok' if rel <= LOSS_TOL else 'FAIL'} (tol {LOSS_TOL}); {losses}",
            )
        )
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = prev_tf32
    return rows


def smoke_dag(timeout: int = 240) -> dict:
    """The smoke DAG with ``train.device: cuda`` in a temporary copy of the workflow.

    Training and evaluation rules read ``train.device``; 'cuda' (not 'auto') makes any of them fail
    rather than fall back to the CPU, so a zero exit status means each ran on the GPU."""
    with tempfile.TemporaryDirectory(prefix="cmhm-gpu-check-") as tmp:
        root = Path(tmp)
        for name in COPY:
            src = REPO / name
            (shutil.copytree if src.is_dir() else shutil.copy)(src, root / name)
        cfg = load_yaml(REPO / "configs" / "smoke.yaml")
        cfg.setdefault("train", {})["device"] = "cuda"
        (root / "gpu_smoke.yaml").write_text(yaml.safe_dump(cfg))
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])),
        }
        cmd = [sys.executable, "-m", "snakemake", "--cores", "4", "--configfile", "gpu_smoke.yaml"]
        t0 = time.perf_counter()
        try:
            res = subprocess.run(
                cmd, cwd=root, env=env, capture_output=True, text=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired:
            return _row("dag", "smoke DAG on cuda (s)", timeout, f"FAIL: not finished within {timeout} s")
        note = "ok" if res.returncode == 0 else f"FAIL: {res.stderr[-300:]}"
        return _row("dag", "smoke DAG on cuda (s)", round(time.perf_counter() - t0, 1), note)
