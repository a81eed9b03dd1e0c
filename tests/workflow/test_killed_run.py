"""After a SIGKILL of the whole Snakemake process group (issue 28): what README "After a SIGKILL of the whole
Snakemake process" tells the user, done for real on a one-job run of the workflow, a job killed mid-way."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import data_dirs, snakemake

pytestmark = pytest.mark.workflow

# the smoke config with one training shard of 100 synthetic faces: ~10 s of work, long enough to be killed
ONE_SHARD = "synth: {train: {n: 100, shards: 1}}\n"


def _started(workdir: Path) -> bool:
    """A job has started: Snakemake marks its output incomplete before running it."""
    incomplete = workdir / ".snakemake" / "incomplete"
    return incomplete.is_dir() and any(incomplete.iterdir())


@pytest.mark.long(27)
def test_a_killed_run_needs_unlock_then_reruns_the_killed_job(workdir: Path) -> None:
    (workdir / "one_shard.yaml").write_text(ONE_SHARD)
    config = ["--configfile", "configs/smoke.yaml", "one_shard.yaml"]
    target = f"{data_dirs(workdir, *config[1:])['synth train samples']}/shard0"
    args = [target, "--cores", "1", *config]
    with (workdir / "killed.log").open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "snakemake", *args],
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, as `kill -9 -PGID` of a terminal's job
        )
        deadline = time.monotonic() + 300
        while not _started(workdir) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, (
            "the run ended before it could be killed:\n" + (workdir / "killed.log").read_text()
        )
        assert _started(workdir), "no job started within 300 s"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)

    plain = snakemake(args, cwd=workdir)
    assert plain.returncode != 0 and "Directory cannot be locked" in plain.stdout + plain.stderr

    unlock = snakemake(["--unlock", *config], cwd=workdir)
    assert unlock.returncode == 0, unlock.stderr[-2000:]

    # the killed job left nothing under its output's name (cmhm writes under a temporary name and renames),
    # so the plain rerun after --unlock runs it again from the start, no --rerun-incomplete needed
    rerun = snakemake(args, cwd=workdir)
    assert rerun.returncode == 0, rerun.stdout[-2000:] + rerun.stderr[-2000:]
    assert f"Missing output files: {target}" in rerun.stdout + rerun.stderr
    assert not _started(workdir) and len(list((workdir / target).iterdir())) > 0
