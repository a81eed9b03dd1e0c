"""`make bench`'s timing plumbing: every asked-for timing is there, the headline takes ratios only of
timings that exist, and (on CUDA) the bf16 and CUDA-graph forms compute what the eager model does."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from cmhm.bench.inference import bench_inference, bench_models, cpu_forms, make_call
from cmhm.bench.presets import (
    bench_compact,
    bench_predict,
    compact_forms,
    compact_goals,
    compact_preset,
    photo_folder,
    predict_goals,
)
from cmhm.bench.report import headline, model_costs
from cmhm.bench.throughput import bench_training, cpu_name, machine
from cmhm.bench.train_modes import BEFORE, JOBS, ONE_JOB, bench_train_modes
from cmhm.models.hourglass import ModelConfig
from cmhm.models.runtime import native_bf16
from cmhm.pipeline.provenance import code_version

TINY = ModelConfig(in_size=32, depth=1, width=16)  # cmhm_slim halves stage 2: 8, the fewest it takes
SMALL = ModelConfig(in_size=32, depth=1, width=16)  # the compact variant halves it
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (run on a GPU machine)")


def test_inference_times_every_model_form_and_batch_once_per_round() -> None:
    t = bench_inference(TINY, batches=(1, 2), rounds=2, forms=("eager", "fast"))
    keys = set(zip(t["model"], t["form"], t["batch"]))
    # multiview (inception's architecture) is timed at batch 1 only
    want = {
        (m, f, b)
        for m in ("baseline", "inception", "cmhm", "cmhm_light", "cmhm_mid", "cmhm_slim", "fan4")
        for f in ("eager", "fast")
        for b in (1, 2)
    }
    assert keys == want | {("multiview", f, 1) for f in ("eager", "fast")}
    assert (t.groupby(["model", "form", "batch"]).size() == 2).all()
    assert (t["ms_per_face"] > 0).all()
    assert (t["ms_per_face"] == 1000 * t["seconds"] / t["batch"]).all()


def test_headline_leaves_out_ratios_without_timings() -> None:
    rows = [
        (m, f, 1, r, 2.0 if m == "cmhm" else 1.0)
        for m in ("baseline", "cmhm")
        for f in ("fast",)
        for r in (0, 1)
    ]
    times = pd.DataFrame(rows, columns=["model", "form", "batch", "round", "seconds"])
    times["ms_per_face"] = 1000 * times["seconds"]
    costs = pd.DataFrame({"model": ["baseline", "inception"], "GMACs": [1.0, 0.8]})
    h = headline(times, costs, [1], forms=("fast", "graph_bf16"))
    assert list(h["ratio"]) == ["cmhm / baseline, batch 1, both fast"]  # no inception, FAN-4 or graph timings
    assert h["median"].item() == pytest.approx(2.0) and not h["met"].item()


def test_model_costs_counts_both_cascade_stages() -> None:
    costs = model_costs(TINY).set_index("model")
    assert (
        costs.loc["cmhm", "GMACs"] > costs.loc["inception", "GMACs"] > 0
    )  # two one-stack stages + their stems


def test_training_bench_reports_rate_and_arithmetic() -> None:
    df = bench_training(TINY, ["baseline", "cmhm"], steps=1, batch=2, device="cpu")
    assert list(zip(df["variant"], df["stage"])) == [("baseline", 1), ("cmhm", 1), ("cmhm", 2)]
    assert (df["images_per_s"] > 0).all() and (df["TFLOPS"] > 0).all()
    assert df["s_per_step"].to_numpy() == pytest.approx(2 / df["images_per_s"].to_numpy())


def test_train_modes_time_before_after_and_two_one_thread_processes() -> None:
    df = bench_train_modes(TINY, ["baseline"], steps=1, threads=2)
    assert list(df["stage"]) == [1]
    for mode in (BEFORE, ONE_JOB, JOBS):
        assert (df[f"{mode} img/s"] > 0).all(), mode
    assert df[f"{JOBS} / before"].to_numpy() == pytest.approx(
        (df[f"{JOBS} img/s"] / df[f"{BEFORE} img/s"]).to_numpy()
    )
    assert torch.get_num_threads() == 2 and torch.utils.deterministic.fill_uninitialized_memory


@cuda
@pytest.mark.parametrize("name", ["baseline", "cmhm"])
def test_cuda_bf16_and_graph_forms_match_eager(name: str) -> None:
    """The CUDA graph replays what the bf16 form computes; both stay near the float32 model.

    Seen on an H100 (width 16, random weights): ``fast`` (TF32 convolutions, cuDNN's default) within
    1.7e-3 of the maps' peak, ``fast_bf16`` within 0.1 (bf16 operands through two random stacks)."""
    model = bench_models(ModelConfig(in_size=64, depth=2, width=16))[name].cuda()
    x = torch.rand(2, 3, 64, 64, device="cuda")
    last = lambda o: o["heatmaps"][-1][-1].float()  # noqa: E731  (every bench model is a Cascade)
    want = last(make_call(model, "eager", x)())
    peak = want.abs().max()
    got = {form: last(make_call(model, form, x)()) for form in ("fast", "fast_bf16", "graph_bf16")}
    assert all(torch.isfinite(g).all() for g in got.values())
    assert (got["fast"] - want).abs().max() <= 5e-3 * peak
    assert (got["fast_bf16"] - want).abs().max() <= 0.25 * peak
    assert (got["graph_bf16"] - got["fast_bf16"]).abs().max() <= 1e-2 * peak  # the same bf16 computation


def test_onnx_form_runs_the_exported_cascade() -> None:
    models = bench_models(TINY)
    x = torch.rand(2, 3, TINY.in_size, TINY.in_size)
    points, _ = make_call(models["baseline"], "onnx", x)()
    assert points.shape == (2, models["baseline"].stages[-1].n_points[-1], 2)
    with pytest.raises(RuntimeError, match="only a cascade"):
        make_call(models["fan4"], "onnx", x)


def test_bf16_form_runs_the_stage_networks_in_bf16_and_is_timed_where_the_cpu_has_it() -> None:
    models = bench_models(TINY)
    x = torch.rand(2, 3, TINY.in_size, TINY.in_size)
    call = make_call(models["cmhm"], "bf16", x)
    out = call()
    assert out["points"][-1].dtype == torch.float32 and out["heatmaps"][0][-1].dtype == torch.float32
    assert models["cmhm"].net_dtype is None  # the bench's model itself stays float32
    with pytest.raises(RuntimeError, match="only a cascade runs its stage networks in bf16"):
        make_call(models["fan4"], "bf16", x)
    assert ("bf16" in cpu_forms()) is native_bf16(torch.device("cpu"))


def test_training_profile_splits_every_step_into_its_phases() -> None:
    from cmhm.bench.profile import PHASES, profile_table, profile_training

    df = profile_training(TINY, ["baseline", "cmhm"], steps=2)
    assert set(zip(df["variant"], df["stage"])) == {("baseline", 1), ("cmhm", 1), ("cmhm", 2)}
    assert (df.groupby(["variant", "stage"])["phase"].apply(list) == [list(PHASES)] * 3).all()
    assert (df.loc[df["phase"] != "other", "ms_per_step"] > 0).all()
    assert np.allclose(df.groupby(["variant", "stage"])["share"].sum(), 1.0)
    wide = profile_table(df)
    assert np.allclose(wide["total"], wide[list(PHASES)].sum(axis=1)) and len(wide) == 3


def test_the_machine_line_names_the_cpu_and_the_code() -> None:
    line = machine()
    assert f"code {code_version()}" in line and f"{os.cpu_count()} CPUs" in line
    assert cpu_name() in line
    if Path("/proc/cpuinfo").exists():  # Linux: the widest vector extension, which changes timings
        assert cpu_name().endswith(("(AVX-512)", "(AVX2)", "(AVX)", "(no AVX)"))


def test_compact_preset_is_timed_as_configs_compact_yaml_says() -> None:
    variant, base = compact_preset()
    assert variant == "cmhm_compact" and (base.in_size, base.width, base.depth) == (128, 96, 2)
    # PyTorch only here: an ONNX export takes seconds (test_onnx_form_runs_the_exported_cascade covers it)
    # bf16 runs everywhere (emulated where the CPU has no native bf16, where make bench leaves it out)
    assert compact_forms()[:3] == ("fast", "onnx", "compiled")
    times = bench_compact(rounds=1, batches=(1, 2), preset=(variant, SMALL), forms=("fast", "bf16"))
    assert set(zip(times["model"], times["form"], times["batch"])) == {
        (m, f, b) for m in (variant, "cmhm") for f in ("fast", "bf16") for b in (1, 2)
    }
    goals = compact_goals(times)
    assert list(goals["goal_ms"]) == [10.0, 2.0] and goals["ms_per_face"].gt(0).all()


@pytest.mark.skipif(not photo_folder(), reason="needs ../shared/fixtures (the real photos the bench reads)")
def test_predict_bench_runs_cmhm_predict_per_model_and_back_end() -> None:
    photos = photo_folder()[:2]
    times = bench_predict(TINY, rounds=1, photos=photos, preset=("cmhm_compact", SMALL), backends=("torch",))
    assert set(zip(times["model"], times["form"])) == {
        (m, "torch") for m in ("cmhm", "cmhm_light", "cmhm_compact")
    }
    goals = predict_goals(times)
    ref = goals[(goals["model"] == "cmhm") & (goals["backend"] == "torch")]
    assert float(ref["speed-up"].iloc[0]) == 1.0 and (goals["images"] == 2).all()
