"""The DAG as Snakemake sees it: dry runs, lint, config validation."""

import pytest
import yaml
from snakemake.utils import validate

from .conftest import REPO, snakemake

pytestmark = pytest.mark.workflow

DATA_RULES = (
    "synthesize_images",
    "synthesize_video",
    "crop",
    "union_mapping",
    "annotations_3d",
    "plot_union_mapping",
    "contact_sheet",
)


def test_dry_run_prints_the_data_dag(workdir):
    res = snakemake(["-n", "--cores", "2"], cwd=workdir)  # a fresh copy: a run in the repo has no jobs left
    assert res.returncode == 0, res.stderr
    out = res.stdout + res.stderr
    for rule in DATA_RULES:
        assert rule in out, f"rule {rule} missing from the dry run"


def test_lint_is_clean(workdir):
    # in a fresh copy: a finished run in the repository, made under another config, would be refused
    res = snakemake(["--lint"], cwd=workdir)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Lints for" not in res.stdout + res.stderr, res.stdout + res.stderr


@pytest.mark.parametrize(
    ("yaml_text", "named"),
    [
        ("crop:\n  sizee: 64\n", "sizee"),
        ("crop:\n  size: -4\n", "size"),
        ("synth:\n  train: {n: 10, shards: 0}\n", "shards"),
        ("colour: red\n", "colour"),
    ],
)
def test_bad_config_fails_before_any_job_naming_the_key(workdir, yaml_text, named):
    (workdir / "bad.yaml").write_text(yaml_text)
    res = snakemake(["-n", "--configfile", "bad.yaml"], cwd=workdir)
    assert res.returncode != 0
    err = res.stdout + res.stderr
    assert named in err, err
    assert not (workdir / "results" / "synth").exists()


def test_no_output_is_write_protected():
    """protected() weights made a rerun that must retrain stop with ProtectedOutputException for a non-root
    user (root ignores the read-only bit, so this cannot be reproduced as root); no rule marks its outputs so."""
    for smk in (REPO / "rules").glob("*.smk"):
        assert "protected(" not in smk.read_text(), smk


def _leaves(tree: dict, path: tuple = ()) -> dict:
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            out.update(_leaves(value, (*path, key)))
        else:
            out[(*path, key)] = value
    return out


def test_config_yaml_values_are_the_schema_defaults():
    """One source of defaults: config.yaml is always loaded, so a schema default that differed from it would
    never apply; every value in config.yaml is the default the schema fills in for an empty config."""
    effective = {}
    validate(effective, str(REPO / "rules" / "schemas" / "config.schema.yaml"))
    config = _leaves(yaml.safe_load((REPO / "config.yaml").read_text()))
    defaults = _leaves(effective)
    assert {k: defaults.get(k, "<no default>") for k in config} == config


def test_nested_keys_override_on_the_command_line(workdir):
    """--config gives `{steps: 7}` as strings, merged into train: the check converts and keeps the rest."""
    ok = snakemake(["-n", "--config", "train={steps: 7, lr_steps: [5]}", "crop={size: 32}"], cwd=workdir)
    assert ok.returncode == 0, ok.stderr[-3000:]
    res = snakemake(["-n", "--config", "train={steps: 7}"], cwd=workdir)
    assert res.returncode != 0
    assert "train.lr_steps: [1200] not below train.steps 7" in res.stdout + res.stderr


def test_yaml_syntax_error_names_file_and_line(workdir):
    cfg = workdir / "config.yaml"
    cfg.write_text(cfg.read_text() + "crop:\n  size: 64\n box_scale: 1.3\n")
    res = snakemake(["-n"], cwd=workdir)
    assert res.returncode != 0
    n = len(cfg.read_text().splitlines())
    assert f"config.yaml:{n}:2: YAML syntax error" in res.stdout + res.stderr, res.stderr[-2000:]


@pytest.mark.parametrize(
    ("variants", "demo", "gt_warp"),
    [(["cmhm", "baseline"], "cmhm", True), (["multiview", "baseline"], "baseline", False)],
)
def test_the_stage_count_chooses_the_demo_model_and_the_warp_arm(workdir, variants, demo, gt_warp):
    """The variant table's stage count, not a variant's name: the demo uses the last variant of the most
    stages, and the ground-truth warp arm of the floors exists for two-stage variants only."""
    res = snakemake(["-n", "--cores", "1", "--config", f"variants={variants}"], cwd=workdir)
    assert res.returncode == 0, res.stderr
    out = res.stdout + res.stderr
    demo_job = out[out.index("rule predict_demo:") :].split("\n")[1]
    assert f"/models/{demo}/seed0/cascade.pt" in demo_job, demo_job
    assert ("rule predict_gt_warp:" in out) == gt_warp
