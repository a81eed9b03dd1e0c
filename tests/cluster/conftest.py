"""A one-node SLURM on localhost (slurm_up.sh / slurm_down.sh), shared by the whole test session."""

import contextlib
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from ..workflow.conftest import workdir  # noqa: F401 - the fixture: a temporary copy of the workflow

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
PROFILE = REPO / "profiles" / "slurm"
TOY = HERE / "toy" / "Snakefile"
UP_TIMEOUT_S = 300
DOWN_TIMEOUT_S = 60
# slurm_up.sh exit codes that mean "no SLURM can be had here" rather than "our set-up is broken".
SKIP_CODES = {
    3: "not root",
    4: "slurm-wlm/munge not installable with apt-get",
    5: "a real SLURM is configured",
}


@dataclass(frozen=True)
class Slurm:
    """A running test cluster: its state directory and the environment its clients need."""

    state: Path
    env: dict[str, str]

    def cancel_all_jobs(self) -> None:
        """Cancel every job of this private cluster (used after a snakemake run had to be killed)."""
        ids = subprocess.run(
            ["squeue", "-h", "-o", "%i"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        ).stdout.split()
        if ids:
            subprocess.run(["scancel", *ids], env=self.env, timeout=30, check=False)


@pytest.fixture(scope="session")
def slurm(tmp_path_factory) -> Slurm:
    """Bring SLURM up once per session; always take it down, even when bringing it up failed."""
    if os.geteuid() != 0:
        pytest.skip("cluster tests need root to install and run the SLURM daemons")
    if shutil.which("slurmctld") is None and shutil.which("apt-get") is None:
        pytest.skip("SLURM is not installed and there is no apt-get to install it")
    state = tmp_path_factory.mktemp("slurm")
    try:
        up = subprocess.run(
            ["bash", str(HERE / "slurm_up.sh"), str(state)],
            capture_output=True,
            text=True,
            timeout=UP_TIMEOUT_S,
            check=False,
        )
        if up.returncode in SKIP_CODES:
            pytest.skip(f"no SLURM here ({SKIP_CODES[up.returncode]}): {up.stderr.strip()}")
        assert up.returncode == 0, (
            f"slurm_up.sh failed ({up.returncode}):\n{up.stderr}\nlogs in {state / 'log'}"
        )
        yield Slurm(state=state, env={**os.environ, "SLURM_CONF": str(state / "slurm.conf")})
    finally:
        subprocess.run(["bash", str(HERE / "slurm_down.sh"), str(state)], timeout=DOWN_TIMEOUT_S, check=False)


@pytest.fixture
def toy(tmp_path: Path) -> Path:
    """A fresh working directory holding the toy workflow."""
    shutil.copy(TOY, tmp_path / "Snakefile")
    return tmp_path


def start_snakemake(
    cwd: Path, args: list[str], slurm: Slurm, profile: Path | None = PROFILE
) -> subprocess.Popen:
    """Start `snakemake --profile PROFILE ARGS` in ``cwd``, in its own process group (``profile=None``:
    no profile, so ARGS choose the executor, e.g. `--cores 2` for local jobs)."""
    cmd = [sys.executable, "-m", "snakemake", *(["--profile", str(profile)] if profile else []), *args]
    return subprocess.Popen(
        cmd,
        cwd=cwd,
        env={**slurm.env, "PYTHONUNBUFFERED": "1"},
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def kill_snakemake(proc: subprocess.Popen, cwd: Path, slurm: Slurm) -> str:
    """SIGKILL a snakemake's process group (a waiting snakemake ignores SIGTERM), unlock its working
    directory and cancel the jobs it left queued, so that the next test starts from a clean cluster."""
    with contextlib.suppress(ProcessLookupError):  # the group may have ended already
        os.killpg(proc.pid, signal.SIGKILL)
    out, _ = proc.communicate()
    subprocess.run(
        [sys.executable, "-m", "snakemake", "--unlock"], cwd=cwd, capture_output=True, timeout=60, check=False
    )
    slurm.cancel_all_jobs()
    return out


def finish_snakemake(proc: subprocess.Popen, cwd: Path, slurm: Slurm, timeout_s: float) -> str:
    """Wait for a snakemake started by start_snakemake and return its output; fail past ``timeout_s``."""
    try:
        out, _ = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        out = kill_snakemake(proc, cwd, slurm)
        pytest.fail(f"snakemake ran past {timeout_s}s and was killed:\n{out[-6000:]}")
    assert proc.returncode == 0, f"snakemake failed ({proc.returncode}):\n{out[-6000:]}"
    return out
