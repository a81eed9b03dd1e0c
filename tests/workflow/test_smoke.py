"""Smoke run: the whole DAG on configs/smoke.yaml in a temporary copy of the workflow."""

import json
import subprocess
import sys
import time

import numpy as np
import pytest

from cmhm.data.crop_shards import load_crops
from cmhm.data.samples import read_table
from cmhm.inference.model_file import read_codec
from cmhm.inspect.explain import inspect_path

from .conftest import data_dirs, scheduled_rules, snakemake

pytestmark = pytest.mark.workflow


def _jobs(res) -> set[str]:
    """Rule names a (dry) run schedules."""
    return scheduled_rules(res.stdout + res.stderr)


# this run also trains issue 27's lighter cascades (the cluster tests' smoke DAG keeps the paper's four)
ALL_VARIANTS = (
    "variants: [baseline, inception, multiview, cmhm, cmhm_light, cmhm_mid, cmhm_slim, cmhm_compact]\n"
)


@pytest.mark.long(300)
def test_smoke_run_builds_every_target(workdir):
    with (workdir / "configs" / "smoke.yaml").open("a") as f:
        f.write(ALL_VARIANTS)
    t0 = time.monotonic()
    res = snakemake(["--cores", "2", "--configfile", "configs/smoke.yaml"], cwd=workdir, timeout=900)
    elapsed = time.monotonic() - t0
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-8000:]
    print(f"smoke DAG: {elapsed:.1f} s")
    # data: in folders named by the config they are made from, shared by runs that agree on it
    data = {what: workdir / folder for what, folder in data_dirs(workdir, "configs/smoke.yaml").items()}
    made_from = json.loads((data["synth test crops"] / "made_from.json").read_text())
    assert made_from["crop"]["size"] == 64 and made_from["samples"] == data["synth test samples"].name, (
        made_from
    )
    run = workdir / "results" / "smoke"  # this run's models, evaluations, tables and figures
    train = [read_table(data["synth train samples"] / f"shard{k}") for k in range(2)]
    assert sum(len(t) for t in train) == 48
    views = set().union(*(set(t.index["view"]) for t in train))
    assert views == {"semifrontal", "profile"}
    crops = load_crops([data["synth test crops"] / "shard0"])
    assert crops.images.shape[1:] == (64, 64, 3)
    fit = json.loads((data["synth training"] / "annotations_3d" / "fit_report.json").read_text())
    assert fit["n_train"] == 48 and 0 <= fit["n_train_failed"] < 48, fit
    report = json.loads((data["synth held-out fit"] / "heldout_report.json").read_text())
    assert np.isfinite(report["nme2d_68"]["mean"])
    assert data["synth held-out fit"].parent.parent == data["synth training"]  # the fit it scores
    # the contact sheet's name carries its crop count (smoke.yaml: figures.contact_sheet_samples 8)
    for folder, fig in (("synth training", "union_mapping"), ("synth train crops", "contact_sheet_8")):
        for ext in ("png", "pdf", "svg"):
            assert (data[folder] / "figures" / f"{fig}.{ext}").stat().st_size > 1000
    sheet = inspect_path(data["synth train crops"] / "figures" / "contact_sheet_8.png")
    assert "training crops with their 2D and 3D annotations" in sheet and '"n": 8' in sheet, sheet
    # provenance travels with every table
    prov = json.loads((data["synth train samples"] / "shard0" / "provenance.json").read_text())
    assert prov["code_version"] and prov["config"]["seed"] == 1
    for name in ("table1", "table2"):
        tex = (run / "tables" / f"{name}.tex").read_text()
        assert r"\toprule" in tex and "cmhm" in (run / "tables" / f"{name}.csv").read_text().lower()
    for fig in ("ced_images", "ced_video", "nme_by_yaw", "qualitative"):
        for ext in ("png", "pdf", "svg"):
            assert (run / "figures" / f"{fig}.{ext}").stat().st_size > 1000
    # the lighter cascades: stage 2 at half the crop size, sigma halved with its maps (issue 27)
    sigma = 2.0  # config.yaml's train.sigma (configs/smoke.yaml keeps it)
    for variant, widths in (
        ("cmhm", (16,)),
        ("cmhm_light", (16,)),
        ("cmhm_mid", (16, 12)),
        ("cmhm_slim", (16, 8)),
        ("cmhm_compact", (8,)),
    ):
        model = run / "models" / variant / "seed0" / "cascade.pt"
        s1, s2 = read_codec(model, 0), read_codec(model, 1)
        half = variant != "cmhm"
        assert (s1.crop_size, s2.crop_size) == (64, 32 if half else 64), variant
        assert (s1.sigma, s2.sigma) == (sigma, sigma / 2 if half else sigma), variant
        assert all(f"width {w}" in inspect_path(model) for w in widths), variant
    # the report, and inspect on a checkpoint and on metrics
    res = snakemake(["--report", "report.html", "--configfile", "configs/smoke.yaml"], cwd=workdir)
    assert res.returncode == 0 and (workdir / "report.html").stat().st_size > 10000, res.stderr[-3000:]
    out = inspect_path(run / "models" / "cmhm" / "seed0" / "stage2" / "model.pt")
    assert "trained weights" in out and "step 6" in out and "inception_resnet" in out
    assert '"auc"' in inspect_path(run / "eval" / "synth" / "cmhm" / "seed0" / "tracking_metrics.json")
    shard = inspect_path(data["synth test crops"] / "shard0.csv")  # a crop shard records the crop config
    assert "box_scale" in shard and "code version" in shard, shard
    # nothing left to do: a second run schedules no job
    res = snakemake(["-n", "--configfile", "configs/smoke.yaml"], cwd=workdir)
    assert "Nothing to be done" in res.stdout + res.stderr, res.stdout
    # figures come back from stored metrics alone
    for f in (run / "figures").glob("*.*"):
        f.unlink()
    res = snakemake(["figures", "-n", "--configfile", "configs/smoke.yaml"], cwd=workdir)
    jobs = _jobs(res)
    assert jobs and jobs <= {"plot_results", "plot_union_mapping", "contact_sheet", "figures"}, jobs
    smoke = ["--configfile", "configs/smoke.yaml"]
    res = snakemake(["figures", "--cores", "2", "--configfile", "configs/smoke.yaml"], cwd=workdir)
    assert res.returncode == 0, res.stderr[-4000:]
    assert (run / "figures" / "ced_video.png").stat().st_size > 1000
    # on a finished run `snakemake figures` has nothing to do; `make figures` re-renders every figure
    figures = [*(run / "figures").rglob("*.*"), *(workdir / "results" / "synth").rglob("figures/*.*")]
    # 4 result figures, 2 data figures, a loss curve per stage and seed (8 variants + the stage 2 of the
    # five cascades, configs/smoke.yaml's one seed)
    assert any(f.name == "loss_stage2.svg" for f in figures) and len(figures) == 3 * (4 + 2 + 13), figures
    res = snakemake(["figures", "-n", *smoke], cwd=workdir)
    assert "Nothing to be done" in res.stdout + res.stderr
    before = {f: f.stat().st_mtime_ns for f in figures}
    make = [
        f"SNAKEMAKE={sys.executable} -m snakemake",
        f"PY={sys.executable}",
        "CONFIG=configs/smoke.yaml",
        "CORES=2",
    ]
    res = subprocess.run(  # -o: the venv the Makefile would build is taken as made
        ["make", "-o", ".venv/bin/snakemake", "figures", *make], cwd=workdir, capture_output=True, text=True
    )
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-4000:]
    assert _jobs(res) == {"plot_results", "plot_union_mapping", "contact_sheet", "plot_training", "figures"}
    assert all(f.stat().st_mtime_ns > t for f, t in before.items())
    # quoted rows: a CSV named by the config joins Table I; only that table is redone
    (workdir / "q1.csv").write_text(
        'method,source,"[0, 30]","(30, 60]","(60, 90]",Mean\nCMHM,Paper Table I,1,2,3,2\n'
    )
    (workdir / "quoted.yaml").write_text("quoted: {table1: q1.csv}\n")
    cfg = ["--configfile", "configs/smoke.yaml", "quoted.yaml"]
    assert _jobs(snakemake(["tables", "-n", *cfg], cwd=workdir)) == {"table1", "tables"}
    res = snakemake(["tables", "--cores", "1", *cfg], cwd=workdir)
    assert res.returncode == 0, res.stderr[-4000:]
    tex = (run / "tables" / "table1.tex").read_text()
    assert r"\textit{CMHM}\textsuperscript{\dag} & \textit{\textbf{1.00}}" in tex
    assert r"\textit{Quoted from} Paper Table I." in tex and "measured" not in tex
    (workdir / "q1.csv").write_text("method,source,AUC\nX,Y,0.5\n")
    res = snakemake(["tables", "--cores", "1", "--show-failed-logs", *cfg], cwd=workdir)
    assert res.returncode != 0 and "q1.csv: header must be" in res.stdout + res.stderr
    assert not (run / "tables" / "table1.tex").exists()  # nothing half-written left
