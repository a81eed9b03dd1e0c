"""profiles/slurm against a real one-node SLURM, on a toy workflow: every job is a SLURM job, and GPU
requests (`gpu: 1` and `gres: "gpu:1"`) are allocated while the job runs (test_pipeline.py runs cmhm)."""

import re
from pathlib import Path

import pytest

from .conftest import finish_snakemake, start_snakemake

pytestmark = pytest.mark.cluster

RUN_TIMEOUT_S = 150


def _record(path: Path) -> dict[str, str]:
    """The first lines of a toy output (`key=value`) and the `scontrol show job -d` text after them."""
    text = path.read_text()
    fields = dict(re.findall(r"^(slurm_job_id|cuda_visible_devices)=(\S+)$", text, re.MULTILINE))
    return {**fields, "scontrol": text}


def test_every_job_is_a_slurm_job_and_gpu_jobs_get_their_gres(slurm, toy):
    proc = start_snakemake(toy, [], slurm)
    finish_snakemake(proc, toy, slurm, RUN_TIMEOUT_S)

    records = {rule: _record(toy / "out" / f"{rule}.txt") for rule in ("plain", "gpus", "gres")}
    ids = {rule: rec["slurm_job_id"] for rule, rec in records.items()}
    assert all(i.isdigit() for i in ids.values()), ids
    assert len(set(ids.values())) == len(ids), f"jobs shared a SLURM job: {ids}"
    for rule, rec in records.items():
        assert f"JobId={ids[rule]} " in rec["scontrol"], rec["scontrol"]

    for rule, request in (("gpus", "TresPerJob=gres:gpu:1"), ("gres", "TresPerNode=gres:gpu:1")):
        rec = records[rule]
        assert request in rec["scontrol"], f"{rule}: sbatch did not carry the GPU request\n{rec['scontrol']}"
        allocated = re.search(r"GRES=gpu:1\(IDX:(\d)\)", rec["scontrol"])
        assert allocated, f"{rule}: no GPU allocated\n{rec['scontrol']}"
        assert rec["cuda_visible_devices"] == allocated.group(1), rec  # the node's two GPUs: 0 and 1
    assert "JOB_GRES=(null)" in records["plain"]["scontrol"]
    assert records["plain"]["cuda_visible_devices"] == "none"
