"""train.stage1_from (issue 26's stage-2 experiments): a run under its own name copies a finished run's
stage 1, checked to be the model it would train, and trains only stage 2; a stage 1 trained otherwise is
refused, naming what differs; a run cannot copy from itself."""

from pathlib import Path

import pytest

from .conftest import scheduled_rules, snakemake

pytestmark = pytest.mark.workflow

SMOKE = ["--configfile", "configs/smoke.yaml"]
MODEL = "results/{run}/models/cmhm/seed0/{what}"


def _run(workdir: Path, run: str, *config: str, target: str = "cascade.pt", ok: bool = True) -> str:
    args = [MODEL.format(run=run, what=target), "--cores", "2", *SMOKE, "--config", f"run={run}", *config]
    res = snakemake(args, cwd=workdir)
    out = res.stdout + res.stderr
    assert (res.returncode == 0) == ok, out[-4000:]
    return out


@pytest.mark.long(60)
def test_a_run_takes_stage1_from_a_finished_run_and_trains_only_stage2(workdir):
    _run(workdir, "first")
    out = _run(workdir, "second", "train={stage1_from: first, stage2: {lr: 0.01}}")
    jobs = scheduled_rules(out)
    assert "reuse_stage1" in jobs and "train_stage2" in jobs and "train_stage1" not in jobs, jobs
    first, second = (workdir / MODEL.format(run=r, what="stage1") for r in ("first", "second"))
    for name in ("model.pt", "log.csv"):
        assert (second / name).read_bytes() == (first / name).read_bytes(), name
    log = (workdir / "logs/reuse_stage1/second/cmhm/seed0.log").read_text()
    assert "stage 1 of cmhm seed 0 taken from results/first/models/cmhm/seed0/stage1/model.pt" in log
    # the second run's stage 2 is its own (another learning rate), so its model file differs
    assert (workdir / MODEL.format(run="second", what="stage2/model.pt")).read_bytes() != (
        workdir / MODEL.format(run="first", what="stage2/model.pt")
    ).read_bytes()

    # another stage-1 learning rate: not the stage 1 this run would train, refused naming the field
    _run(workdir, "third", "train={stage1_from: first, lr: 0.01}", target="stage1/model.pt", ok=False)
    out = (workdir / "logs/reuse_stage1/third/cmhm/seed0.log").read_text()
    assert "train.stage1_from: results/first/models/cmhm/seed0/stage1/model.pt is not the stage 1" in out
    assert "config.train.lr: 0.003 there, 0.01 here" in out, out[-3000:]
    assert not (workdir / MODEL.format(run="third", what="stage1/model.pt")).exists()


def test_a_run_cannot_take_stage1_from_itself(workdir):
    res = snakemake(["-n", *SMOKE, "--config", "run=same", "train={stage1_from: same}"], cwd=workdir)
    assert res.returncode != 0
    assert "train.stage1_from: 'same' is this run's own name" in res.stdout + res.stderr
