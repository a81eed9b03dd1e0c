"""profiles/slurm against a real one-node SLURM: jobs, GPU requests, and a cancelled job's resume."""

import re
import subprocess
import time
from pathlib import Path

import pytest

from .conftest import finish_snakemake, kill_snakemake, start_snakemake

pytestmark = pytest.mark.cluster

RUN_TIMEOUT_S = 150
COUNTER_STEPS = 8
CANCEL_AT_STEP = 2


def _record(path: Path) -> dict[str, str]:
    """The first lines of a toy output (`key=value`) and the `scontrol show job -d` text after them."""
    text = path.read_text()
    fields = dict(re.findall(r"^(slurm_job_id|cuda_visible_devices)=(\S+)$", text, re.MULTILINE))
    return {**fields, "scontrol": text}


def test_every_job_is_a_slurm_job_and_gpu_jobs_get_their_gres(slurm, toy):
    proc = start_snakemake(toy, ["--config", "counter_steps=2"], slurm)
    finish_snakemake(proc, toy, slurm, RUN_TIMEOUT_S)

    records = {rule: _record(toy / "out" / f"{rule}.txt") for rule in ("plain", "gpus", "gres")}
    ids = {rule: rec["slurm_job_id"] for rule, rec in records.items()}
    ids["counter"] = re.search(r"slurm_job_id=(\d+)", (toy / "out" / "counter.txt").read_text()).group(1)
    assert all(i.isdigit() for i in ids.values()), ids
    assert len(set(ids.values())) == len(ids), f"jobs shared a SLURM job: {ids}"
    for rule, rec in records.items():
        assert f"JobId={ids[rule]} " in rec["scontrol"], rec["scontrol"]

    for rule, request in (("gpus", "TresPerJob=gres:gpu:1"), ("gres", "TresPerNode=gres:gpu:1")):
        rec = records[rule]
        assert request in rec["scontrol"], f"{rule}: sbatch did not carry the GPU request\n{rec['scontrol']}"
        assert re.search(r"GRES=gpu:1\(IDX:0\)", rec["scontrol"]), f"{rule}: no GPU allocated\n{rec['scontrol']}"
        assert rec["cuda_visible_devices"] == "0", rec
    assert "JOB_GRES=(null)" in records["plain"]["scontrol"]
    assert records["plain"]["cuda_visible_devices"] == "none"


def _wait_for_step(ckpt: Path, step: int, proc: subprocess.Popen, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        if ckpt.exists() and ckpt.read_text().strip().isdigit() and int(ckpt.read_text()) >= step:
            return
        time.sleep(0.2)
    pytest.fail(f"the counter never reached step {step} (snakemake returncode {proc.poll()})")


def test_cancelled_job_is_retried_and_resumes_from_its_checkpoint(slurm, toy):
    proc = start_snakemake(toy, ["out/counter.txt", "--config", f"counter_steps={COUNTER_STEPS}"], slurm)
    try:
        _wait_for_step(toy / "ckpt" / "counter.step", CANCEL_AT_STEP, proc, timeout_s=90)
        first_id = re.search(r"slurm_job_id=(\d+)", (toy / "logs" / "counter.log").read_text()).group(1)
        subprocess.run(["scancel", first_id], env=slurm.env, check=True, timeout=30)
    except BaseException:
        kill_snakemake(proc, toy, slurm)
        raise
    out = finish_snakemake(proc, toy, slurm, RUN_TIMEOUT_S)

    assert f"SLURM-job '{first_id}' failed, SLURM status is: 'CANCELLED'" in out, out[-4000:]
    log = (toy / "logs" / "counter.log").read_text()
    resumed = re.search(r"resuming from step (\d+)", log)
    assert resumed, log
    k = int(resumed.group(1))
    assert CANCEL_AT_STEP <= k < COUNTER_STEPS, log
    assert re.findall(r"^step (\d+)$", log, re.MULTILINE) == [str(s) for s in range(k + 1, COUNTER_STEPS + 1)]
    retry_id = re.search(r"slurm_job_id=(\d+)", log).group(1)
    assert retry_id != first_id
    assert (toy / "out" / "counter.txt").read_text().split() == [f"slurm_job_id={retry_id}",
                                                                 f"steps={COUNTER_STEPS}"]
