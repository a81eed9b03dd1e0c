import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
COPY_IGNORE = shutil.ignore_patterns(
    ".venv",
    ".git",
    "results",
    "logs",
    "benchmarks",
    ".snakemake",
    "__pycache__",
    "*.egg-info",
    ".pytest_cache",
    "report.html",
)


def snakemake(args: list[str], cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run the installed snakemake (same interpreter as the tests) in ``cwd``; output captured as text."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [sys.executable, "-m", "snakemake", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


def data_dirs(cwd: Path, *args: str) -> dict[str, str]:
    """{"<dataset> <split> samples" | "<dataset> <split> crops" | "<dataset> training": folder} of the config
    that ``args`` give (config files, ``--config KEY=VALUE ...``, ``--split DATASET:SPLIT ...``), as
    ``python -m cmhm data-dir`` prints them in ``cwd``."""
    res = subprocess.run(
        [sys.executable, "-m", "cmhm", "data-dir", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    return dict(line.split("\t") for line in res.stdout.splitlines())


def scheduled_rules(out: str) -> set[str]:
    """Rule names a (dry) run's output schedules."""
    return {
        line.split()[1].rstrip(":") for line in out.splitlines() if line.startswith(("rule ", "localrule "))
    }


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A temporary copy of the workflow (no results, no venv), as a user's fresh checkout would be."""
    dest = tmp_path / "wf"
    shutil.copytree(REPO, dest, ignore=COPY_IGNORE)
    (dest / "results").mkdir(exist_ok=True)
    return dest
