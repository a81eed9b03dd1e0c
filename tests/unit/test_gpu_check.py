"""`gpu-check` on a CPU-only machine, train.amp / train.deterministic parsing, and the fp16 scaler's wiring."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import pytest
import torch
import yaml

from cmhm.bench import gpu_check
from cmhm.bench.gpu_runs import agreement, graph_rows, inference_rows, time_training
from cmhm.cli import main as cli_main
from cmhm.landmarks.markups import IBUG68
from cmhm.models.hourglass import ModelConfig
from cmhm.models.runtime import AMP_DTYPES, autocast, parse_amp
from cmhm.training.loop import TrainConfig
from cmhm.training.precision import deterministic_mode, make_scaler, optimizer_step

TINY = ModelConfig(in_size=32, n_stacks=1, depth=1, width=8, n_points=(IBUG68.n_points,))
TINY_CASCADE = ModelConfig(in_size=32, depth=1, width=16)  # run-level sizes; each variant sets its stages
SCHEMA = Path(__file__).resolve().parents[2] / "rules" / "schemas" / "config.schema.yaml"


def test_gpu_check_without_cuda_says_so_and_exits_0(monkeypatch, capsys) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    t0 = time.perf_counter()
    assert cli_main(["gpu-check"]) == 0
    out = capsys.readouterr().out
    assert time.perf_counter() - t0 < 60
    assert out.splitlines()[0].startswith("gpu-check: no CUDA device")
    assert "train step amp=fp16" in out and "fp16 scaler on CPU (expected off) | False" in out


@pytest.mark.parametrize(
    ("value", "want"), [("bf16", "bf16"), ("fp16", "fp16"), ("off", "off"), (True, "bf16"), (False, "off")]
)
def test_amp_values_and_old_booleans(value, want) -> None:
    assert parse_amp(value) == want
    assert TrainConfig.from_dict({"amp": value}).amp == want


def test_bad_amp_names_the_key() -> None:
    with pytest.raises(ValueError, match=r"train.amp: 'fp8'"):
        TrainConfig(amp="fp8")


def test_schema_amp_enum_is_the_code_s() -> None:
    props = yaml.safe_load(SCHEMA.read_text())["properties"]["train"]["properties"]
    assert {v for v in props["amp"]["enum"] if isinstance(v, str)} == set(AMP_DTYPES)
    assert props["deterministic"]["default"] is TrainConfig().deterministic
    assert parse_amp(props["amp"]["default"]) == TrainConfig().amp


def test_autocast_and_scaler_only_on_cuda() -> None:
    cpu = torch.device("cpu")
    for amp in AMP_DTYPES:
        with autocast(amp, cpu):
            assert torch.nn.Linear(2, 2)(torch.ones(1, 2)).dtype == torch.float32
        assert not make_scaler(amp, cpu).is_enabled()
    assert not make_scaler("bf16", torch.device("cuda")).is_enabled()  # bf16 needs no scaler


def _sgd(seed: int = 0) -> tuple[torch.nn.Linear, torch.optim.Optimizer]:
    torch.manual_seed(seed)
    lin = torch.nn.Linear(3, 1)
    return lin, torch.optim.SGD(lin.parameters(), lr=0.1)


def test_scaler_unscales_gradients_and_skips_inf_steps() -> None:
    x = torch.randn(4, 3)
    ref, opt = _sgd()
    optimizer_step(ref(x).square().mean(), opt, torch.amp.GradScaler("cpu", enabled=False))
    lin, opt = _sgd()
    scaler = torch.amp.GradScaler("cpu", init_scale=1024.0)
    optimizer_step(lin(x).square().mean(), opt, scaler)
    torch.testing.assert_close(lin.weight, ref.weight)  # the scaled loss's gradients were unscaled
    before = lin.weight.detach().clone()
    optimizer_step(lin(x).sum() * float("inf"), opt, scaler)
    assert torch.equal(lin.weight, before) and scaler.get_scale() < 1024.0  # skipped, scale backed off


def test_deterministic_mode_sets_env_logs_and_restores(monkeypatch, caplog) -> None:
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    before = torch.are_deterministic_algorithms_enabled()
    with caplog.at_level(logging.WARNING, logger="cmhm.training.precision"), deterministic_mode(True):
        assert torch.are_deterministic_algorithms_enabled()
        torch.zeros(3).put_(torch.tensor([0, 0]), torch.tensor([1.0, 2.0]))  # no deterministic kernel
    assert (
        "put_ does not have a deterministic implementation" in caplog.text
        and "not deterministic" in caplog.text
    )
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
    assert torch.are_deterministic_algorithms_enabled() == before


def test_gpu_measurements_run_on_cpu() -> None:
    cpu = torch.device("cpu")
    assert time_training(TINY, {"amp": "fp16", "channels_last": True}, 1, cpu, batch=2) > 0
    rows = agreement(ModelConfig(in_size=32, n_stacks=2, depth=1, width=16), cpu, ("baseline", "cmhm"))
    assert all(r["note"].startswith("ok") for r in rows), rows
    rows = inference_rows(ModelConfig(in_size=32, depth=1, width=16), cpu, 0.85, batches=(2,), repeats=1)
    assert [r["what"] for r in rows][-1] == "cmhm/baseline autocast batch 2"
    # the graph form with a CPU stand-in for the capture (a call that reruns the model on the static input)
    rows = graph_rows(TINY_CASCADE, cpu, 0.85, batches=(3,), repeats=1, capture=lambda fn, x: lambda: fn(x))
    what = {r["what"]: r["value"] for r in rows}
    assert {f"{v}/baseline graph batch 3" for v in ("cmhm_light", "cmhm_mid", "cmhm_slim")} <= set(what)
    assert "baseline graph batch 3 ms/face" in what
    assert float(what["cmhm max |graph - fast| batch 3 (px)"]) < 1e-3  # same kernels, same batch
    assert gpu_check.peak_tflops("NVIDIA H100 80GB HBM3", half=True) == 989.0
    assert gpu_check.card_slug("NVIDIA H100 80GB HBM3") == "nvidia-h100-80gb-hbm3"


def test_smoke_dag_copy_holds_every_folder_the_rules_name() -> None:
    """gpu-check runs the workflow from a temporary copy: a folder the rules reference (``../envs/...``)
    but the copy lacks fails the DAG (seen on the first GPU run: envs/ was missing)."""
    import re  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    from cmhm.bench.gpu_runs import COPY, REPO  # noqa: PLC0415

    named = {m for f in (REPO / "rules").glob("*.smk") for m in re.findall(r"\.\./([\w.-]+)/", f.read_text())}
    assert named and named <= set(COPY), named - set(COPY)
    assert all((REPO / n).exists() for n in COPY), [n for n in COPY if not (REPO / n).exists()]
    assert Path(REPO / "Snakefile").exists()
