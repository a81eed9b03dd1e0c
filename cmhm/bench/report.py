"""`python -m cmhm bench`: run the benchmarks of :mod:`cmhm.bench.throughput` and write the CSVs and ``bench.md``."""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import torch

from cmhm.bench.goals import edge_goals
from cmhm.bench.inference import BF16_FORM, LIGHT_VARIANTS, bench_inference, bench_models, ratio, summarise
from cmhm.bench.presets import PAPER_RATIO, bench_compact, bench_predict, compact_goals, predict_goals
from cmhm.bench.profile import profile_table, profile_training
from cmhm.bench.throughput import bench_loader, bench_training, dry_run_seconds, machine
from cmhm.bench.train_modes import bench_train_modes
from cmhm.inference.allocator import keep_freed_memory
from cmhm.models.cascade import Cascade
from cmhm.models.complexity import count_complexity
from cmhm.models.hourglass import ModelConfig
from cmhm.pipeline.variants import PAPER_VARIANTS


def model_costs(cfg: ModelConfig) -> pd.DataFrame:
    """Params (M) and GMACs per face of each bench model (a cascade's stages summed; the warp is free)."""
    rows = []
    with torch.device("meta"):  # counted without arithmetic
        models = bench_models(cfg)
    for name, model in models.items():
        parts = model.stages if isinstance(model, Cascade) else [model]
        costs = [
            count_complexity(p, p.cfg.in_size if isinstance(model, Cascade) else cfg.in_size) for p in parts
        ]
        rows.append(
            {
                "model": name,
                "params_M": sum(c.params for c in costs) / 1e6,
                "GMACs": sum(c.macs for c in costs) / 1e9,
            }
        )
    return pd.DataFrame(rows)


def headline(
    times: pd.DataFrame, costs: pd.DataFrame, batches: Sequence[int], forms: Sequence[str] = ("fast", "eager")
) -> pd.DataFrame:
    """The ratios issue 13 sets goals for, each as median [min, max] over rounds, with its goal, for each
    of ``forms`` (both models in the same form); a ratio whose timings are missing is left out."""
    macs = costs.set_index("model")["GMACs"]
    mac_ratio = macs["inception"] / macs["baseline"]
    big = max(batches)
    specs: list[tuple[str, tuple, tuple, float | None]] = []
    for b in batches:
        for f in forms:
            specs += [
                (f"cmhm / baseline, batch {b}, both {f}", ("cmhm", f, b), ("baseline", f, b), PAPER_RATIO),
                *(
                    (f"{v} / baseline, batch {b}, both {f}", (v, f, b), ("baseline", f, b), PAPER_RATIO)
                    for v in LIGHT_VARIANTS
                ),
                (
                    f"inception / baseline, batch {b}, {f}",
                    ("inception", f, b),
                    ("baseline", f, b),
                    mac_ratio + 0.05,
                ),
                (f"cmhm / FAN-4, batch {b}, {f}", ("cmhm", f, b), ("fan4", f, b), 0.5),
            ]
        for m in ("cmhm", "baseline"):
            specs += [
                (f"{m} {f} / {m} eager, batch {b}", (m, f, b), (m, "eager", b), None)
                for f in forms
                if f != "eager"
            ]
            specs.append((f"{m} onnx / {m} fast, batch {b}", (m, "onnx", b), (m, "fast", b), None))
    if big > 1:
        for m in ("baseline", "cmhm"):
            for form in (*forms, "fast_chunk1"):
                num, den = (m, form, big), (m, "fast" if form == "fast_chunk1" else form, 1)
                specs.append((f"{m} {form}: batch {big} / batch 1 per face", num, den, 1.0))
    timed = set(zip(times["model"], times["form"], times["batch"]))
    rows = []
    for what, num, den, goal in specs:
        if num not in timed or den not in timed:
            continue
        med, lo, hi, of_min = ratio(times, num, den)
        rows.append(
            {
                "ratio": what,
                "median": med,
                "min": lo,
                "max": hi,
                "of_fastest": of_min,
                "goal": goal,
                "met": None if goal is None else med <= goal,
            }
        )
    return pd.DataFrame(rows)


def _preset_sections(compact: pd.DataFrame, predict: pd.DataFrame) -> list[str]:
    """The compact preset's and predict's sections of bench.md (none on CUDA; predict: none without photos)."""
    out = []
    if not compact.empty:
        out.append(
            "## The compact preset (configs/compact.yaml; crop given, both stages and the warp; goals: "
            "<= 10 ms/face at batch 1, <= 2 ms/face batched)\n\n"
            + to_markdown(compact_goals(compact))
            + "\n\n"
            + to_markdown(summarise(compact))
        )
    if not predict.empty:
        out.append(
            "## `cmhm predict` on a folder of real photos (MTCNN, every face, files written; goal: >= 3x the "
            "paper-size cmhm on PyTorch, the default before issue 27)\n\n"
            + to_markdown(predict_goals(predict))
        )
    return out


def _goal_section(goals: pd.DataFrame) -> list[str]:
    """bench.md's section of issue 27's CPU goals re-measured with intervals (none when not run)."""
    if goals.empty:
        return []
    return [
        "## Issue 27's CPU goals, each re-measured in its own alternating rounds (`cmhm/bench/goals.py`: "
        "median per round and its distribution-free interval; met / missed: the whole interval meets / "
        "misses the goal, else undecided; the interval covers this run's rounds only)\n\n"
        + to_markdown(goals)
    ]


def to_markdown(df: pd.DataFrame) -> str:
    cols = list(df.columns)
    fmt = lambda v: f"{v:.3g}" if isinstance(v, float) else ("" if v is None else str(v))  # noqa: E731
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="cmhm bench", description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=256, help="inference input side (paper 256)")
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--depth", type=int, default=4)
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument(
        "--device",
        default="cpu",
        help="cpu, or cuda: inference and training on the GPU (the loader stays on the CPU)",
    )
    ap.add_argument("--inner", type=int, default=0, help="calls per timing (0: 1 on CPU, 20 on CUDA)")
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads (0 keeps torch's)")
    ap.add_argument("--train-size", type=int, default=128, help="training/loader bench sizes (CPU budget)")
    ap.add_argument("--train-width", type=int, default=64)
    ap.add_argument(
        "--train-depth", type=int, default=2, help="(the ablation's size: 128 px, width 64, depth 2)"
    )
    ap.add_argument("--train-steps", type=int, default=3)
    ap.add_argument(
        "--train-amp", nargs="+", default=[""], help="train.amp value(s) to time ('' = the default)"
    )
    ap.add_argument(
        "--goal-rounds",
        type=int,
        default=41,
        help="alternating rounds per issue-27 CPU goal re-measured with an interval (0 skips; predict's pair: a quarter)",
    )
    ap.add_argument("--dry-run-config", default="configs/paper.yaml", help="'' skips the snakemake -n timing")
    ap.add_argument("--out", default="results/bench")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    malloc = keep_freed_memory()  # as cmhm predict runs; process-wide, so the training rows have it too
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cfg = ModelConfig(in_size=args.size, width=args.width, depth=args.depth)
    t0 = time.perf_counter()
    costs = model_costs(cfg)
    dev = torch.device(args.device)
    inner = args.inner or (20 if dev.type == "cuda" else 1)
    times = bench_inference(cfg, tuple(args.batches), args.rounds, device=dev, inner=inner)
    times.to_csv(out / "inference.csv", index=False)
    forms = (
        ("fast", "fast_bf16", "graph_bf16", "eager")
        if dev.type == "cuda"
        else ("fast", "onnx", BF16_FORM, "eager")
    )
    heads, per_model = headline(times, costs, args.batches, forms), summarise(times).merge(costs, on="model")
    tcfg = ModelConfig(in_size=args.train_size, width=args.train_width, depth=args.train_depth)
    training = pd.concat(
        [
            bench_training(tcfg, list(PAPER_VARIANTS), args.train_steps, device=dev, amp=a or None)
            for a in args.train_amp
        ]
    )
    training.to_csv(out / "training.csv", index=False)
    modes = bench_train_modes(
        tcfg, list(PAPER_VARIANTS), max(args.train_steps, 6), args.threads or 2, str(dev)
    )
    modes.to_csv(out / "training_modes.csv", index=False)
    phases = profile_training(tcfg, PAPER_VARIANTS, max(args.train_steps, 3), device=str(dev))
    phases.to_csv(out / "training_profile.csv", index=False)
    loader = pd.DataFrame(
        [
            {
                "images_per_s": bench_loader(tcfg, 20),
                "fastest_training_images_per_s": training["images_per_s"].max(),
            }
        ]
    )
    loader["loader_over_training"] = loader["images_per_s"] / loader["fastest_training_images_per_s"]
    loader.to_csv(out / "loader.csv", index=False)
    compact = predict = pd.DataFrame()
    if dev.type == "cpu":  # issue 27's CPU goals: the compact preset, predict on a folder of photos
        compact = bench_compact(args.rounds)
        compact.to_csv(out / "compact.csv", index=False)
        predict = bench_predict(cfg, max(2, args.rounds - 1))
        predict.to_csv(out / "predict.csv", index=False)
    goals = pd.DataFrame()
    if dev.type == "cpu" and args.goal_rounds:
        goals = edge_goals(cfg, args.goal_rounds, max(6, args.goal_rounds // 4))
        goals.to_csv(out / "goals.csv", index=False)
    dry = dry_run_seconds(args.dry_run_config) if args.dry_run_config else float("nan")
    text = "\n\n".join(
        [
            f"# make bench\n\nMachine: {machine(dev, malloc)}. Inference: {cfg.in_size}px, width {cfg.width}, depth {cfg.depth}, "
            f"random weights, {args.rounds} rounds side by side, {inner} call(s) per timing. Training/loader: {tcfg.in_size}px, width "
            f"{tcfg.width}, depth {tcfg.depth}, batch 8. `snakemake -n --configfile {args.dry_run_config}`: {dry:.1f} s. "
            f"Bench wall time {time.perf_counter() - t0:.0f} s.",
            "## Ratios within rounds (median, min, max; of_fastest: ratio of the fastest times)\n\n"
            + to_markdown(heads),
            "## Inference ms/face\n\n" + to_markdown(per_model),
            *_preset_sections(compact, predict),
            *_goal_section(goals),
            "## Training and loader\n\n" + to_markdown(training) + "\n\n" + to_markdown(loader),
            "## Training images/s before and after issue 25 (`cmhm/bench/train_modes.py`; goal: after / before >= 2)\n\n"
            + to_markdown(modes),
            "## Where a training step's time goes (ms per step, median; `cmhm/bench/profile.py`)\n\n"
            + to_markdown(profile_table(phases)),
        ]
    )
    (out / "bench.md").write_text(text + "\n")
    print(text)
    return 0
