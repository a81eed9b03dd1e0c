"""Bad configurations are named before any job runs; code params follow the scripts' import closures.

Issue 10 sections 4 and 5, issue 15 (``1e-4`` as a string, errors that print the whole schema).
The config is checked as ``rules/common.smk`` checks it (cmhm.pipeline.config_check, no Snakemake here); the
dry-run tests are in tests/workflow/test_config_keys.py and test_config_files.py.
"""

import re
import shutil
from pathlib import Path

import pytest

from cmhm.pipeline import provenance
from cmhm.pipeline.config_check import ConfigError, check_config, check_files, load_yaml, merge
from cmhm.pipeline.config_rules import stem_stride
from cmhm.pipeline.provenance import import_closure, import_closure_hash

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "rules/schemas/config.schema.yaml"
FETCH_RULES = {"download", "placed_archive", "extract"}  # no code param: a code change must not fetch again


def check(override: dict) -> dict:
    return check_config(merge(load_yaml(REPO / "config.yaml"), override), SCHEMA)


def error(override: dict) -> str:
    with pytest.raises(ConfigError) as exc:
        check(override)
    return str(exc.value)


def test_the_shipped_configs_are_valid():
    for extra in (
        [],
        ["configs/smoke.yaml"],
        ["configs/paper.yaml"],
        ["configs/paper_300wlp.yaml"],
        ["configs/ablation.yaml", "configs/ablation_light.yaml"],
        ["configs/compact.yaml"],
        ["configs/paper.yaml", "configs/compact.yaml"],
        ["configs/real_faces_b.yaml", *(f"configs/real_faces/{f}.yaml" for f in ("size128_b", "long128_b"))],
        [
            "configs/real_faces_a.yaml",
            *(f"configs/real_faces/{f}.yaml" for f in ("size128_a", "long128_a", "seeds01", "stage2_lr")),
        ],
    ):
        check_files([REPO / "config.yaml", *(REPO / f for f in extra)], SCHEMA)


def test_unknown_key_names_it_and_the_nearest_keys_not_the_schema():
    msg = error({"crop": {"sizee": 64}})
    assert "crop.sizee: unknown key; did you mean size?" in msg
    assert "description" not in msg and len(msg.splitlines()) <= 3
    top = error({"colour": "red"})
    assert "colour: unknown key" in top and len(top) < 400


def test_numbers_written_as_strings_are_numbers():
    """PyYAML reads 1e-4 as a string; --config gives every scalar as a string."""
    cfg = check({"train": {"lr": "1e-4", "steps": "7", "lr_steps": ["5"], "deterministic": "false"}})
    assert cfg["train"]["lr"] == pytest.approx(1e-4)
    assert (cfg["train"]["steps"], cfg["train"]["lr_steps"], cfg["train"]["deterministic"]) == (7, [5], False)
    assert cfg["train"]["batch_size"] == 8  # the other keys of the section are kept (a merge, not a replace)
    assert "train.lr: 'fast' is not of type 'number'" in error({"train": {"lr": "fast"}})


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ({"crop": {"size": 72}}, "crop.size: 72 must be divisible by 16"),
        ({"model": {"depth": 5}}, "crop.size: 64 must be divisible by 128"),
        (
            {"synth": {"test": {"yaw_bins": [[0, 30, 0.5], [30, 90, 0.4]]}}},
            "synth.test.yaw_bins: the shares must sum to 1",
        ),
        (
            {"synth": {"test": {"yaw_bins": [[0, 30, 0.5], [40, 90, 0.5]]}}},
            "synth.test.yaw_bins: the bins must cover",
        ),
        (
            {"synth": {"test": {"yaw_bins": [[0, 30, 0.5], [30, 80, 0.5]]}}},
            "synth.test.yaw_bins: the bins must cover",
        ),
        ({"synth": {"train": {"n": 3, "shards": 4}}}, "synth.train.shards: 4 shards for 3 faces"),
        ({"synth": {"video": {"n_videos": 1}}}, "synth.video.shards: 2 shards for 1 videos"),
        (
            {"data": {"test_images": {"dataset": "synth", "split": "tset"}}},
            "data.test_images.split: dataset synth",
        ),
        ({"data": {"test_images": {"dataset": "aflw2000_3d", "split": "train"}}}, "data.test_images.split"),
        ({"annotations_3d": {"heldout_split": "val"}}, "annotations_3d.heldout_split"),
        ({"train": {"steps": 600, "lr_steps": [600]}}, "train.lr_steps: [600] not below train.steps 600"),
        (
            {"train": {"lr_schedule": "cosine", "lr_steps": [9]}},
            "train.lr_steps: [9] are drops of the step schedule",
        ),
        ({"evaluation": {"haar_cascade": "no/such.xml"}}, "evaluation.haar_cascade: no such file"),
        # stage 2's keys replace the shared ones: the result is checked as stage 2 will train on it
        (
            {"train": {"stage2": {"lr_schedule": "cosine"}}},
            "train.stage2 {'lr_schedule': 'cosine'}: train.lr_steps: [1200] are drops of the step schedule",
        ),
        (
            {"train": {"stage2": {"lr_steps": [1500]}}},
            "train.stage2 {'lr_steps': [1500]}: train.lr_steps: [1500] not below train.steps 1500",
        ),
        (
            {"train": {"stage2": {"lr_epochs": [3]}}},
            "train.stage2 {'lr_epochs': [3]}: train.lr_steps [1200] and train.lr_epochs [3] are both set",
        ),
        # the shared keys too (the training job would refuse them only when it starts)
        ({"train": {"lr_epochs": [3]}}, "train.lr_steps [1200] and train.lr_epochs [3] are both set"),
        (
            {"train": {"stage2": {"steps": 10}}},
            "train.stage2.steps: unknown key",
        ),  # shared: snapshots follow it
    ],
)
def test_cross_key_errors_name_the_key(override, named):
    assert named in error(override)


def test_stem_stride_is_the_models():
    from cmhm.models.hourglass import STEM_STRIDE

    assert stem_stride() == STEM_STRIDE


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("crop:\n  size: 64\n box_scale: 1.3\n")
    with pytest.raises(ConfigError, match=rf"{re.escape(str(bad))}:3:2: YAML syntax error"):
        load_yaml(bad)


def test_removed_keys_are_refused():
    """model.n_stacks had no effect (the variant fixes the stacks): it is gone, not ignored."""
    assert "model.n_stacks: unknown key" in error({"model": {"n_stacks": 2}})


def test_import_closure_follows_every_cmhm_import():
    closure = import_closure(REPO / "workflow_scripts/train_stage1.py")
    for module in (
        "landmarks/union.py",
        "landmarks/markups.py",
        "geometry/warp.py",
        "training/loop.py",
        "models/hourglass.py",
        "models/cascade.py",
        "models/__init__.py",
    ):
        assert module in closure
    assert "evaluation/tracking.py" not in closure and "synth/render.py" not in closure


@pytest.mark.parametrize(
    "script",
    ["train_stage1.py", "train_stage2.py", "predict_images.py", "track_video.py", "table1.py", "crop.py"],
)
def test_import_closure_holds_every_module_the_script_loads(script):
    """The static closure (a rule's code hash) covers what importing the script's modules loads at run
    time: a lazy import the static reading cannot see would let a code change leave results stale."""
    import ast  # noqa: PLC0415
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    path = REPO / "workflow_scripts" / script
    mods = sorted(
        {
            n.module
            for n in ast.walk(ast.parse(path.read_text()))
            if isinstance(n, ast.ImportFrom) and n.module
        }
        | {
            a.name
            for n in ast.walk(ast.parse(path.read_text()))
            if isinstance(n, ast.Import)
            for a in n.names
        }
    )
    mods = [m for m in mods if m.startswith("cmhm")]
    code = (
        "import importlib, sys\n"
        f"for m in {mods!r}: importlib.import_module(m)\n"
        "print('\\n'.join(getattr(v, '__file__', '') or '' for k, v in sys.modules.items() if k.startswith('cmhm')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    package = provenance.PACKAGE_DIR
    loaded = {Path(f).resolve().relative_to(package).as_posix() for f in out.stdout.split() if f}
    missing = loaded - set(import_closure(path))
    assert not missing, f"{script} loads {sorted(missing)}, which its code hash does not cover"


def test_closure_hash_changes_with_an_imported_module_only(tmp_path, monkeypatch):
    package = tmp_path / "cmhm"
    shutil.copytree(provenance.PACKAGE_DIR, package, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(provenance, "PACKAGE_DIR", package)
    script = REPO / "workflow_scripts/train_stage1.py"

    def fresh_hash() -> str:
        import_closure_hash.cache_clear()
        return import_closure_hash(script)

    before = fresh_hash()
    (package / "evaluation/tracking.py").write_text(
        (package / "evaluation/tracking.py").read_text() + "\n# edit\n"
    )
    assert fresh_hash() == before
    (package / "landmarks/union.py").write_text((package / "landmarks/union.py").read_text() + "\n# edit\n")
    assert fresh_hash() != before
    import_closure_hash.cache_clear()


def rule_blocks() -> dict[str, str]:
    text = "".join(p.read_text() for p in sorted((REPO / "rules").glob("*.smk")))
    return dict(re.findall(r"^rule (\w+):\n((?:[ \t]+.*\n|\n)+)", text, re.MULTILINE))


def test_every_script_rule_hashes_its_own_script():
    """code=script_code(X) with X the rule's own script (not a hand-kept module list), fetch rules aside."""
    for rule, body in rule_blocks().items():
        script = re.search(r'script:\s+"\.\./workflow_scripts/(\w+\.py)"', body)
        code = re.search(r"code=(\w+)\(([^)]*)\)", body)
        if script is None or rule in FETCH_RULES:
            assert rule in FETCH_RULES or code is None, rule
            continue
        assert code is not None, f"rule {rule} has no code param"
        assert code.groups() == ("script_code", f'"{script[1]}"'), f"rule {rule}: {code[0]}"


def test_scripts_read_the_config_through_params_only():
    """A key read outside params would not rerun its reader; the fetch scripts do so on purpose (README)."""
    fetch_scripts = {"download.py", "extract.py", "placed_archive.py"}
    for script in sorted((REPO / "workflow_scripts").glob("*.py")):
        if script.name not in fetch_scripts:
            assert ".config" not in script.read_text(), f"{script.name} reads the config outside its params"


def test_every_param_is_read_by_its_script():
    """A param the script never reads would rerun the rule for nothing (`code` is the rerun trigger itself)."""
    for rule, body in rule_blocks().items():
        script = re.search(r'script:\s+"\.\./workflow_scripts/(\w+\.py)"', body)
        params = re.search(r"^    params:\n((?:        .*\n)+)", body, re.MULTILINE)
        if script is None or params is None:
            continue
        text = (REPO / "workflow_scripts" / script[1]).read_text()
        for name in re.findall(r"^        (\w+)=", params[1], re.MULTILINE):
            assert name == "code" or f"params.{name}" in text, f"rule {rule}: param {name} is never read"


def test_run_name_follows_the_first_configfile_but_not_the_default_one(tmp_path):
    """`make run` passes config.yaml itself: that is the 'default' run, not a run named 'config'."""
    from cmhm.pipeline.runs import run_name

    own = tmp_path / "config.yaml"
    assert run_name(None, [], own) == "default"
    assert run_name(None, [str(own)], own) == "default"
    assert run_name(None, [str(own), "configs/paper.yaml"], own) == "paper"
    assert run_name(None, ["configs/ablation.yaml", "configs/ablation_gt3d.yaml"], own) == "ablation"
    assert run_name("mine", [str(own)], own) == "mine"


def test_a_key_written_twice_names_the_file_the_key_and_both_lines(tmp_path):
    """Issue 28: a YAML loader keeps the last of two equal keys silently; the config check refuses it."""
    twice = tmp_path / "twice.yaml"
    twice.write_text("train:\n  lr: 1e-3\n  steps: 10\n  lr: 1e-2\n")
    with pytest.raises(ConfigError) as exc:
        load_yaml(twice)
    msg = str(exc.value)
    assert f"{twice}:4: key 'train.lr' is written twice (lines 2 and 4)" in msg
    top = tmp_path / "top.yaml"
    top.write_text("seed: 1\nrun: a\nseed: 2\n")
    with pytest.raises(ConfigError, match=r"top.yaml:3: key 'seed' is written twice \(lines 1 and 3\)"):
        check_files([REPO / "config.yaml", top], SCHEMA)


def test_the_shipped_configs_write_no_key_twice():
    for path in [REPO / "config.yaml", *sorted((REPO / "configs").glob("*.yaml"))]:
        load_yaml(path)


def test_scale_min_above_scale_max_names_both_keys():
    msg = error({"train": {"augment": {"scale_min": 1.5, "scale_max": 0.8}}})
    assert "train.augment.scale_min: 1.5 is above train.augment.scale_max 0.8" in msg


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("", "empty config file"),
        ("# only a comment\n", "empty config file"),
        ("\n- a\n- b\n", ":2: a config file holds keys at top level, not a list"),
        ("crop:\n  size: 64\n box_scale: 1.3\n", ":3:2: YAML syntax error"),
    ],
)
def test_check_config_refuses_what_the_run_refuses_naming_the_file(tmp_path, capsys, text, named):
    """`cmhm check-config` on an empty file used to answer 'config OK'; Snakemake refuses it."""
    from cmhm.cli import main

    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    assert main(["check-config", str(bad), "--schema", str(SCHEMA)]) == 2
    out = capsys.readouterr()
    assert "config OK" not in out.out
    assert f"{bad}{named}" in out.err or (f"{bad}: {named}" in out.err)


def test_make_targets_check_the_config_first():
    """Snakemake reads --configfile itself and names no file for an empty or bad one: make checks first."""
    text = (REPO / "Makefile").read_text()
    assert "CHECK_CONFIG = $(PY) -m cmhm check-config $(CONFIG)" in text and "PY ?= $(BIN)/python" in text
    for target in ("run", "dry-run", "report", "figures"):
        recipe = re.search(rf"^{re.escape(target)}: .*\n\t(.*)\n", text, re.MULTILINE)
        assert recipe and recipe[1] == "$(CHECK_CONFIG)", target


def _workflow_copy(tmp_path):
    """The repository without venv, git and run outputs, under ``tmp_path / "wf"`` (a run's scratch copy)."""
    wf = tmp_path / "wf"
    ignore = shutil.ignore_patterns(".venv", ".git", "results", "logs", ".snakemake", "__pycache__")
    shutil.copytree(REPO, wf, ignore=ignore)
    return wf


@pytest.mark.workflow
def test_snakemake_refuses_a_configfile_with_a_key_written_twice(tmp_path):
    """A duplicate key is valid YAML to Snakemake (it keeps the last); the Snakefile names it."""
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    wf = _workflow_copy(tmp_path)
    (wf / "twice.yaml").write_text("train:\n  steps: 10\n  steps: 20\n")
    res = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--configfile", "twice.yaml"],
        cwd=wf,
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode != 0
    assert "twice.yaml:3: key 'train.steps' is written twice (lines 2 and 3)" in res.stdout + res.stderr


def test_a_run_does_not_replace_another_configs_models(tmp_path):
    """Issue 28: `--configfile configs/smoke.yaml other.yaml` kept the name smoke and replaced its models;
    two configs named exp.yaml in two folders both wrote results/exp/."""
    from cmhm.atomic import write_json_atomic  # noqa: PLC0415
    from cmhm.pipeline.runs import RUN_RECORD, check_run_record, run_record, training_config  # noqa: PLC0415

    smoke = check_files([REPO / "config.yaml", REPO / "configs/smoke.yaml"], SCHEMA)
    run_dir = tmp_path / "results" / "smoke"
    first = run_record([REPO / "configs/smoke.yaml"], training_config(smoke))
    check_run_record(run_dir, first)  # nothing recorded yet
    write_json_atomic(run_dir / RUN_RECORD, first)
    check_run_record(run_dir, first)
    edited = merge(smoke, {"train": {"steps": smoke["train"]["steps"] + 1}})
    check_run_record(run_dir, run_record([REPO / "configs/smoke.yaml"], training_config(edited)))  # an edit
    quoted = tmp_path / "quoted.yaml"
    check_run_record(run_dir, run_record([REPO / "configs/smoke.yaml", quoted], training_config(smoke)))
    other = tmp_path / "elsewhere" / "smoke.yaml"
    with pytest.raises(ConfigError) as exc:
        check_run_record(run_dir, run_record([REPO / "configs/smoke.yaml", other], training_config(edited)))
    msg = str(exc.value)
    assert f"{run_dir} holds models trained from {REPO / 'configs/smoke.yaml'} (training config" in msg
    assert f"this run, from {REPO / 'configs/smoke.yaml'} + {other}, has another training config" in msg
    assert "`run: <name>`" in msg and f"delete {run_dir / RUN_RECORD}" in msg


def test_a_key_added_with_a_neutral_default_keeps_a_finished_runs_record():
    """train.stage2 came after runs had finished: empty (the default), it is not in the training config, so
    their run.json and model files' records stay valid; set, it is."""
    from cmhm.pipeline.provenance import config_digest  # noqa: PLC0415
    from cmhm.pipeline.runs import training_config  # noqa: PLC0415

    default = check_files([REPO / "config.yaml"], SCHEMA)
    assert default["train"]["stage2"] == {} and "stage2" not in training_config(default)["train"]
    before_the_key = {**default, "train": {k: v for k, v in default["train"].items() if k != "stage2"}}
    assert config_digest(training_config(default)) == config_digest(training_config(before_the_key))
    stage2 = merge(default, {"train": {"stage2": {"lr": 1.0e-3}}})
    assert training_config(stage2)["train"]["stage2"] == {"lr": 1.0e-3}
    assert config_digest(training_config(stage2)) != config_digest(training_config(default))
    # train.augment.appearance (session 16): off by default, it is not recorded either; on, it is
    assert default["train"]["augment"]["appearance"]["prob"] == 0
    assert "appearance" not in training_config(default)["train"]["augment"]
    augment = {k: v for k, v in default["train"]["augment"].items() if k != "appearance"}
    before_appearance = {**default, "train": {**default["train"], "augment": augment}}
    assert config_digest(training_config(default)) == config_digest(training_config(before_appearance))
    on = merge(default, {"train": {"augment": {"appearance": {"prob": 0.8}}}})
    assert training_config(on)["train"]["augment"]["appearance"]["prob"] == 0.8
    assert config_digest(training_config(on)) != config_digest(training_config(default))


@pytest.mark.workflow
def test_snakemake_refuses_to_replace_another_configs_models(tmp_path):
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    wf = _workflow_copy(tmp_path)
    (wf / "results" / "exp").mkdir(parents=True)
    (wf / "results" / "exp" / "run.json").write_text(
        '{"configfiles": ["/elsewhere/exp.yaml"], "training_config_digest": "0123456789ab"}\n'
    )
    (wf / "exp.yaml").write_text("train:\n  lr: 0.002\n")

    def dry_run(*args: str) -> subprocess.CompletedProcess:
        cmd = [sys.executable, "-m", "snakemake", "-n", "--configfile", "exp.yaml", *args]
        return subprocess.run(cmd, cwd=wf, capture_output=True, text=True, check=False)

    res = dry_run()
    assert res.returncode != 0
    assert "results/exp holds models trained from /elsewhere/exp.yaml" in res.stdout + res.stderr
    assert dry_run("--config", "run=exp2").returncode == 0
