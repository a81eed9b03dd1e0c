"""Run namespaces and seeds (issues 11, 12): one model file per variant and seed, no two configs writing the
same model or evaluation path, and the ablation's control arms in its DAG."""

import re
from pathlib import Path

import pytest
import yaml

from .conftest import snakemake

pytestmark = pytest.mark.workflow

CONFIGS = {
    "default": [],
    "paper": ["--configfile", "configs/paper.yaml"],
    "paper_300wlp": ["--configfile", "configs/paper_300wlp.yaml"],
    "ablation": ["--configfile", "configs/ablation.yaml"],
    "ablation_gt3d": ["--configfile", "configs/ablation.yaml", "configs/ablation_gt3d.yaml"],
    "ablation_matched": ["--configfile", "configs/ablation.yaml", "configs/ablation_matched.yaml"],
    "smoke": ["--configfile", "configs/smoke.yaml"],
    "real_faces_a": ["--configfile", "configs/real_faces_a.yaml"],
    "real_faces_b": ["--configfile", "configs/real_faces_b.yaml"],
    "real_faces_sim": ["--configfile", "configs/real_faces_sim.yaml"],
}


def outputs(workdir: Path, args: list[str]) -> tuple[set[str], dict[str, int]]:
    """Every output path of a dry run, and its job counts per rule."""
    res = snakemake(["-n", *args], cwd=workdir)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    paths = {
        p.strip()
        for line in re.findall(r"^    output: (.*)$", res.stdout, re.MULTILINE)
        for p in line.split(",")
    }
    counts = {
        m[1]: int(m[2])
        for m in re.finditer(r"^(\w+)\s+(\d+)\s*$", res.stdout.split("Job stats:")[1], re.MULTILINE)
    }
    return paths, counts


def merged(workdir: Path, args: list[str]) -> dict:
    cfg = yaml.safe_load((workdir / "config.yaml").read_text())
    for path in args[1:]:
        over = yaml.safe_load((workdir / path).read_text())
        for key, value in over.items():
            cfg[key] = (
                {**cfg[key], **value} if isinstance(value, dict) and isinstance(cfg.get(key), dict) else value
            )
    return cfg


@pytest.mark.long(55)
def test_one_model_file_per_variant_and_seed_and_no_shared_paths(workdir):
    owned: dict[str, str] = {}
    for run, args in CONFIGS.items():
        paths, counts = outputs(workdir, args)
        cfg = merged(workdir, args)
        variants, seeds = cfg["variants"], cfg["train"]["seeds"]
        models = {p for p in paths if p.endswith("/cascade.pt") and "/step" not in p}
        assert models == {f"results/{run}/models/{v}/seed{s}/cascade.pt" for v in variants for s in seeds}, (
            run
        )
        assert counts["predict_images"] == len(variants) * len(seeds), (run, counts)
        for p in paths:
            if re.search(r"/(models|eval|tables|figures/training|predict)/", p) and "annotations_3d" not in p:
                assert p.startswith(f"results/{run}/"), (run, p)  # what a run trains and measures is its own
            if p.startswith(f"results/{run}/"):
                assert owned.setdefault(p, run) == run, f"{p} is written by runs {owned[p]} and {run}"
        assert not any(
            p.startswith(f"results/{other}/") for other in set(owned.values()) - {run} for p in paths
        )


@pytest.mark.long(20)
def test_the_ablation_runs_its_controls(workdir):
    _, counts = outputs(workdir, CONFIGS["ablation"])
    cfg = merged(workdir, CONFIGS["ablation"])
    n = len(cfg["variants"]) * len(cfg["train"]["seeds"])
    snapshots = len(cfg["train"]["snapshots"])
    assert counts["train_stage1"] == n and counts["predict_gt_warp"] == len(cfg["train"]["seeds"])
    assert counts["assemble_snapshot"] == counts["predict_snapshot"] == n * snapshots, counts
    assert counts["floors"] == 1 and counts["table1"] == 1, counts
    _, gt3d = outputs(workdir, CONFIGS["ablation_gt3d"])
    n_gt3d = len(cfg["variants"]) * len(merged(workdir, CONFIGS["ablation_gt3d"])["train"]["seeds"])
    assert gt3d["train_stage1"] == n_gt3d and gt3d["floors"] == 1, (
        gt3d
    )  # every arm, on ground-truth 3D labels
    _, matched = outputs(workdir, CONFIGS["ablation_matched"])
    assert matched["train_stage1"] == len(cfg["train"]["seeds"]) and matched["table1"] == 1, matched
