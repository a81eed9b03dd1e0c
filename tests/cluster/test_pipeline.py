"""The cmhm pipeline through profiles/slurm on a real one-node SLURM: the smoke DAG, and a cancelled
training job that resumes from its checkpoint."""

import re
import subprocess
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
import torch

from .conftest import Slurm, finish_snakemake, kill_snakemake, start_snakemake

pytestmark = pytest.mark.cluster

# One thread per job (threads become sbatch --cpus-per-task): two jobs share the 2-CPU test node, so
# that one job's start-up overlaps another's work, and torch's speed does not collapse when other
# processes load the machine.
ONE_THREAD = ["--max-threads", "1"]
SMOKE_ARGS = [
    "--configfile",
    "configs/smoke.yaml",
    "tests/cluster/smoke_cluster.yaml",
    *ONE_THREAD,
    "--slurm-keep-successful-logs",
]
SMOKE_TIMEOUT_S = 1500  # the smoke DAG, two variants, one seed: ~30 one-CPU jobs
RESUME = ["--configfile", "tests/cluster/resume.yaml", *ONE_THREAD]
RESUME_MODEL = "results/resume/models/baseline/seed0/stage1/model.pt"
RESUME_JOB = "resume_baseline_0"  # the job's wildcards (run, variant, seed), as the SLURM plugin joins them
RESUME_STEPS, RESUME_CHECKPOINT_EVERY = 400, 20  # tests/cluster/resume.yaml
LOCAL_TIMEOUT_S = 300
RESUME_TIMEOUT_S = 300

RULE_BLOCK = re.compile(r"^(?:local)?rule (\w+):\n((?:    .*\n)+)", re.MULTILINE)
SUBMITTED = re.compile(r"^Job (\d+) has been submitted with SLURM jobid (\d+) \(log: (.+)\)\.$", re.MULTILINE)


@dataclass(frozen=True)
class Submission:
    """One sbatch of a snakemake job, as the snakemake log and `scontrol show job -d` tell it."""

    rule: str
    log: str
    gpu: bool
    slurm_id: str
    slurm_log: Path
    scontrol: str

    def field(self, name: str) -> str:
        return re.search(rf"\b{name}=(\S*)", self.scontrol).group(1)

    def seconds(self, name: str) -> float:
        return datetime.fromisoformat(self.field(name)).timestamp()


def _submissions(out: str, slurm: Slurm) -> list[Submission]:
    """Every SLURM submission in a snakemake log, with the job's rule, log, GPU request and scontrol record."""
    jobs = {}
    for rule, body in RULE_BLOCK.findall(out):
        fields = dict(re.findall(r"^    (\w+): (.*)$", body, re.MULTILINE))
        jobs[fields["jobid"]] = (rule, fields.get("log", ""), "gpu=1" in fields.get("resources", ""))
    subs = []
    for jobid, slurm_id, slurm_log in SUBMITTED.findall(out):
        rule, log, gpu = jobs[jobid]
        shown = subprocess.run(
            ["scontrol", "show", "job", "-d", slurm_id],
            env=slurm.env,
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
        subs.append(Submission(rule, log, gpu, slurm_id, Path(slurm_log), shown))
    return subs


def _job_stats(out: str) -> dict[str, int]:
    """The first `Job stats` table of a snakemake log: jobs per rule."""
    table = out.split("Job stats:", 1)[1].split("total", 1)[0]
    return {rule: int(n) for rule, n in re.findall(r"^(\w+)\s+(\d+)$", table, re.MULTILINE)}


def test_smoke_dag_runs_through_slurm(slurm, workdir):
    t0 = time.monotonic()
    proc = start_snakemake(workdir, SMOKE_ARGS, slurm)
    out = finish_snakemake(proc, workdir, slurm, SMOKE_TIMEOUT_S)
    print(f"smoke DAG through SLURM: {time.monotonic() - t0:.0f} s")

    for name in ("table1", "table2"):
        assert r"\toprule" in (workdir / "results" / "smoke" / "tables" / f"{name}.tex").read_text()
    stats = _job_stats(out)
    subs = _submissions(out, slurm)
    ran = {}
    for s in subs:
        ran[s.rule] = ran.get(s.rule, 0) + 1
    assert ran == {rule: n for rule, n in stats.items() if rule != "all"}, "a job ran outside SLURM"
    assert len({s.slurm_id for s in subs}) == len(subs)
    for s in subs:
        assert s.field("JobState") == "COMPLETED", s.scontrol
        assert s.field("WorkDir") == str(workdir) and s.field("StdOut") == str(s.slurm_log), s.scontrol
        assert s.field("Comment").startswith(f"rule_{s.rule}"), s.scontrol
        assert f"rule {s.rule}:" in s.slurm_log.read_text(), f"{s.slurm_log} is not the job's SLURM output"
        # the rule's own log was written inside that SLURM job
        mtime = (workdir / s.log).stat().st_mtime
        assert s.seconds("StartTime") - 1 <= mtime <= s.seconds("EndTime") + 1, (s.log, s.scontrol)
        # gpu=1 reaches sbatch as --gpus=1: requested per job and allocated by SLURM, nothing otherwise
        assert s.field("JOB_GRES") == ("gpu:1" if s.gpu else "(null)"), s.scontrol
        assert ("TresPerJob=gres:gpu:1" in s.scontrol) == s.gpu, s.scontrol
    assert {s.rule for s in subs if s.gpu} >= {"train_stage1", "train_stage2"}


def _run_local(workdir: Path, args: list[str], slurm: Slurm) -> None:
    """The jobs upstream of the one under test run locally: only that job goes through SLURM."""
    finish_snakemake(
        start_snakemake(workdir, ["--cores", "2", *args], slurm, profile=None),
        workdir,
        slurm,
        LOCAL_TIMEOUT_S,
    )


def _training_job(slurm: Slurm) -> str | None:
    """The SLURM id of the running train_stage1 job of tests/cluster/resume.yaml, if any."""
    rows = subprocess.run(
        ["squeue", "-h", "-t", "R", "-o", "%i %k"],
        env=slurm.env,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout.splitlines()
    ids = [r.split()[0] for r in rows if r.split()[1:] == [f"rule_train_stage1_wildcards_{RESUME_JOB}"]]
    return ids[0] if ids else None


def _wait_for_checkpoint(ckpt: Path, proc: subprocess.Popen, slurm: Slurm, timeout_s: float) -> str:
    """Wait until the training job has written its first checkpoint; return its SLURM id."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        if ckpt.exists() and (job := _training_job(slurm)):
            return job
        time.sleep(0.2)
    pytest.fail(f"no checkpoint from a running training job (snakemake returncode {proc.poll()})")


def test_cancelled_training_job_resumes_from_its_checkpoint(slurm, workdir):
    _run_local(workdir, [RESUME_MODEL, "--omit-from", "train_stage1", *RESUME], slurm)
    stage = workdir / Path(RESUME_MODEL).parent
    log = workdir / "logs" / "train_stage1" / "resume" / "baseline" / "seed0.log"
    proc = start_snakemake(workdir, [RESUME_MODEL, *RESUME], slurm)
    try:
        first_id = _wait_for_checkpoint(stage / "checkpoint.pt", proc, slurm, timeout_s=RESUME_TIMEOUT_S)
        subprocess.run(["scancel", first_id], env=slurm.env, check=True, timeout=30)
    except BaseException:
        kill_snakemake(proc, workdir, slurm)
        raise
    out = finish_snakemake(proc, workdir, slurm, RESUME_TIMEOUT_S)

    assert f"SLURM-job '{first_id}' failed, SLURM status is: 'CANCELLED'" in out, out[-4000:]
    retry_ids = [i for _, i, _ in SUBMITTED.findall(out) if i != first_id]
    assert len(retry_ids) == 1, out[-4000:]
    resumed = re.findall(r"resuming from step (\d+)", log.read_text())
    assert len(resumed) == 1, log.read_text()
    k = int(resumed[0])
    assert 0 < k < RESUME_STEPS and k % RESUME_CHECKPOINT_EVERY == 0, log.read_text()
    # Snakemake deletes a job's log before each attempt, so the cancelled attempt's record is its
    # SLURM log, which the plugin keeps because the job failed
    cancelled = workdir / ".snakemake" / "slurm_logs" / "rule_train_stage1" / RESUME_JOB / f"{first_id}.log"
    assert "rule train_stage1:" in cancelled.read_text()
    final = torch.load(stage / "model.pt", weights_only=True)
    assert final["step"] == RESUME_STEPS
    steps = [int(line.split(",")[0]) for line in (stage / "log.csv").read_text().splitlines()[1:]]
    assert steps == sorted(set(steps)) and steps[-1] == RESUME_STEPS, steps
