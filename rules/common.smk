# Config validation first, then wildcard constraints and the input functions the rules share; each
# phase's own input functions are in rules/inputs_<phase>.smk, included at the end.
import os
import re
from pathlib import Path

from cmhm.data.registry import (
    DATASETS,
    GENERATED,
    check_request,
    gated_names,
    parent_split,
    public_names,
    shard_counts,
)
from cmhm.pipeline.variants import get_variant
from cmhm.pipeline.config_check import check_config, file_keys, load_yaml
from cmhm.pipeline.train_sources import train_sources
from cmhm.pipeline.runs import (
    RUN_RECORD,
    check_run_record,
    check_stage1_from,
    run_name,
    run_record,
    training_config,
    without_idle_appearance,
)
from cmhm.atomic import write_json_atomic
from cmhm.pipeline.data_keys import (
    KEY_PATTERN,
    MADE_FROM,
    carries_fitted_labels,
    check_key,
    crops_dir,
    data_dirs,
    fit_config,
    generator_config,
    heldout_dir,
    heldout_source,
    samples_dir,
    shape_source,
    training_dir,
)
from cmhm.pipeline.provenance import import_closure_hash
from cmhm.training.steps import snapshot_steps

# Schema, defaults, cross-key rules (cmhm/pipeline/config_check.py); errors name the key, before any job runs.
SCHEMA = load_yaml(Path(workflow.basedir) / "rules/schemas/config.schema.yaml")
config.update(check_config(config, SCHEMA))
FILE_KEYS = file_keys(SCHEMA)
# This run's folder: results/<RUN>/ holds its models, evaluations, tables and figures (data is shared).
RUN = run_name(config["run"], workflow.overwrite_configfiles, Path(workflow.basedir) / "config.yaml")
# results/<RUN>/run.json: a run does not replace the models another config trained there without a word
RUN_CONFIG = run_record(workflow.overwrite_configfiles, training_config(config))
check_run_record(f"results/{RUN}", RUN_CONFIG)
check_stage1_from(config, RUN)
SEEDS = config["train"]["seeds"]
# step -> file name of the model snapshots training keeps (train.snapshots, fractions of train.steps)
SNAPSHOTS = snapshot_steps(config["train"]["snapshots"], config["train"]["steps"])


onstart:
    write_json_atomic(f"results/{RUN}/{RUN_RECORD}", RUN_CONFIG)
    # made_from.json in each data folder this run reads: the config its name (a key) is a digest of
    for folder, (_, made_from) in data_dirs(config).items():
        write_json_atomic(f"{folder}/{MADE_FROM}", made_from)


def script_code(script):
    """A rule's `code` param: hash of workflow_scripts/<script> and the cmhm modules it imports."""
    return import_closure_hash(Path(workflow.basedir) / "workflow_scripts" / script)


def config_keys(section, *keys):
    """The keys of config[section] that one job reads, as a param (the other keys do not rerun it)."""
    return {k: config[section][k] for k in keys}


def configured_files(*prefix):
    """Files the config names (schema `format: file`) under `prefix`: inputs, so editing one reruns its reader."""
    found = []
    for path in FILE_KEYS:
        value = config
        for part in path:
            value = value[part]
        if path[: len(prefix)] == prefix and value:
            found.append(value)
    return found


def n_stages(variant):
    return len(get_variant(variant).stages)


wildcard_constraints:
    dataset="[a-z0-9_]+",
    key=KEY_PATTERN,
    hkey=KEY_PATTERN,
    split="[a-z0-9]+",
    shard="[0-9]+",
    variant="|".join(config["variants"]),
    stage="stage[0-9]+",
    run=re.escape(RUN),
    seed="[0-9]+",
    step="[0-9]+",
    arm="gt_warp|step[0-9]+",
    n="[0-9]+",


def source(role):
    """(dataset, split) that plays ``role`` (train, test_images, test_video)."""
    src = config["data"][role]
    return src["dataset"], src["split"]


def train_source_pairs():
    """(dataset, split) of every training source: data.train, then data.train_extra (cmhm/pipeline/train_sources.py)."""
    return [(src["dataset"], src["split"]) for _, src in train_sources(config)]


def n_shards(dataset, split):
    """Sample-table (and crop) shards of a split (cmhm/data/registry.py: datasets.<name>.shards or synth.<split>.shards)."""
    return shard_counts(dataset, config)[split]


def check_samples_key(wildcards):
    """A samples job's folder must be this config's (cmhm/pipeline/data_keys.py), else the error says which is."""
    asked = f"results/{wildcards.dataset}/samples/{wildcards.split}/{wildcards.key}"
    check_key(asked, samples_dir(config, wildcards.dataset, wildcards.split))


def check_crops_key(wildcards):
    asked = f"results/{wildcards.dataset}/crops/{wildcards.split}/{wildcards.key}"
    check_key(asked, crops_dir(config, wildcards.dataset, wildcards.split))


def check_training_key(wildcards):
    check_key(
        f"results/{wildcards.dataset}/training/{wildcards.key}", training_dir(config, wildcards.dataset)
    )


def check_heldout_key(wildcards):
    asked = f"results/{wildcards.dataset}/training/{wildcards.key}/heldout/{wildcards.hkey}"
    check_key(asked, heldout_dir(config, wildcards.dataset))


def samples_dirs(dataset, split):
    """The sample-table shards of one split: results/<dataset>/samples/<split>/<key>/shard<k>."""
    return [f"{samples_dir(config, dataset, split)}/shard{k}" for k in range(n_shards(dataset, split))]


def crop_files(dataset, split, suffixes=("images.npy", "labels.npz", "csv")):
    """The crop shards of one split: results/<dataset>/crops/<split>/<key>/shard<k>.<suffix>."""
    return expand(
        "{folder}/shard{shard}.{suffix}",
        folder=crops_dir(config, dataset, split),
        shard=range(n_shards(dataset, split)),
        suffix=suffixes,
    )


def stage_names(variant):
    return [f"stage{i + 1}" for i in range(n_stages(variant))]


def model_file(variant, seed):
    return f"results/{RUN}/models/{variant}/seed{seed}/cascade.pt"


def eval_dir(role):
    """results/<run>/eval/<test dataset>: evaluation paths name the run (the model) and the test set."""
    return f"results/{RUN}/eval/{source(role)[0]}"


def expand_eval(name, role):
    """One evaluation file per configured variant and seed, on the dataset that plays ``role``."""
    return [f"{eval_dir(role)}/{v}/seed{s}/{name}" for v in config["variants"] for s in SEEDS]


include: "inputs_data.smk"
include: "inputs_train.smk"
include: "inputs_evaluate.smk"
include: "inputs_report.smk"
