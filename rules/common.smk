# Config validation first, then wildcard constraints and the input functions the rules share.
import os
import re
from pathlib import Path

from cmhm.data.registry import DATASETS, GENERATED, check_request, gated_names, public_names, shard_counts
from cmhm.models.variants import get_variant
from cmhm.pipeline.config_check import check_config, file_keys, load_yaml, run_name, training_config
from cmhm.pipeline.provenance import import_closure_hash
from cmhm.training.steps import snapshot_steps

# Schema, defaults, cross-key rules (cmhm/pipeline/config_check.py); errors name the key, before any job runs.
SCHEMA = load_yaml(Path(workflow.basedir) / "rules/schemas/config.schema.yaml")
config.update(check_config(config, SCHEMA))
FILE_KEYS = file_keys(SCHEMA)
# This run's folder: results/<RUN>/ holds its models, evaluations, tables and figures (data is shared).
RUN = run_name(config["run"], workflow.overwrite_configfiles, Path(workflow.basedir) / "config.yaml")
SEEDS = config["train"]["seeds"]
# step -> file name of the model snapshots training keeps (train.snapshots, fractions of train.steps)
SNAPSHOTS = snapshot_steps(config["train"]["snapshots"], config["train"]["steps"])


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


def adapter_files(wildcards):
    return configured_files("datasets", wildcards.dataset)


def n_stages(variant):
    return len(get_variant(variant).stages)


wildcard_constraints:
    dataset="[a-z0-9_]+",
    split="[a-z0-9]+",
    shard="[0-9]+",
    variant="|".join(config["variants"]),
    stage="stage[0-9]+",
    run=re.escape(RUN),
    seed="[0-9]+",
    step="[0-9]+",
    arm="gt_warp|step[0-9]+",


def source(role):
    """(dataset, split) that plays ``role`` (train, test_images, test_video)."""
    src = config["data"][role]
    return src["dataset"], src["split"]


def n_shards(dataset, split):
    """Sample-table (and crop) shards of a split (cmhm/data/registry.py: datasets.<name>.shards or synth.<split>.shards)."""
    return shard_counts(dataset, config)[split]


def samples_dirs(dataset, split):
    return expand(
        "results/{dataset}/samples/{split}/shard{shard}",
        dataset=dataset,
        split=split,
        shard=range(n_shards(dataset, split)),
    )


def crop_files(dataset, split, suffixes=("images.npy", "labels.npz", "csv")):
    return expand(
        "results/{dataset}/crops/{split}/shard{shard}.{suffix}",
        dataset=dataset,
        split=split,
        shard=range(n_shards(dataset, split)),
        suffix=suffixes,
    )


def train_samples(wildcards):
    return samples_dirs(wildcards.dataset, source("train")[1])


def synth_common_params(wildcards):
    """The generated dataset's config every generation job depends on (its shard checked first)."""
    check_request(wildcards.dataset, wildcards.split, int(wildcards.shard), config)
    s = config[GENERATED[wildcards.dataset].section]
    return {
        "seed": config["seed"],
        "image_size": s["image_size"],
        "profile_yaw": s["profile_yaw"],
        "render": s["render"],
    }


def synth_split_params(wildcards):
    """The synthetic-data config sub-tree one still-image generation job depends on."""
    section = GENERATED[wildcards.dataset].section
    return {**synth_common_params(wildcards), "split": config[section][wildcards.split]}


def training_params():
    """The config a run's models depend on (recorded in each model file with its digest)."""
    return training_config(config)


def data_targets():
    train_ds, _ = source("train")
    targets = [
        f"results/{train_ds}/union_mapping.csv",
        f"results/{train_ds}/annotations_3d/fit_report.json",
        f"results/{train_ds}/figures/union_mapping.png",
        f"results/{train_ds}/figures/contact_sheet.png",
    ]
    for role in ("train", "test_images", "test_video"):
        targets += crop_files(*source(role))
    return targets


def synth_video_params(wildcards):
    """The synthetic-data config sub-tree the video generation job depends on."""
    section = GENERATED[wildcards.dataset].section
    return {**synth_common_params(wildcards), "video": config[section]["video"]}


def train_first_crop_shard(wildcards):
    return crop_files(source("train")[0], source("train")[1], ("images.npy", "labels.npz", "csv"))[:3]


def train_crops(wildcards):
    return crop_files(*source("train"))


def train_mapping(wildcards):
    return f"results/{source('train')[0]}/union_mapping.json"


def crop_labels3d(wildcards):
    """The fitted 3D labels the training split's crops carry when training on fitted labels (the paper's
    route; joined to the crops by sample id when they are cut), else nothing."""
    train = source("train")
    if config["data"]["train_labels3d"] == "fitted" and (wildcards.dataset, wildcards.split) == train:
        return f"results/{train[0]}/annotations_3d/train_labels.npz"
    return []


def train_params(wildcards):
    """The `train` sub-tree one training job reads: its seed is the job's (train.seeds lists them all)."""
    return {**{k: v for k, v in config["train"].items() if k != "seeds"}, "seed": int(wildcards.seed)}


def train_runtime(wildcards, attempt):
    """Minutes per attempt: 4 h, growing with each retry (a retry resumes from the last checkpoint).

    Override per site with `--set-resources train_stage1:runtime=MIN` (see README, cluster section).
    """
    return 240 * attempt


def stage_names(variant):
    return [f"stage{i + 1}" for i in range(n_stages(variant))]


def stage_models(wildcards):
    """The `model.pt` of each stage of one variant and seed, in stage order (with a `step` wildcard: the
    snapshots of that step)."""
    name = SNAPSHOTS[int(wildcards.step)] if "step" in wildcards.keys() else "model.pt"
    return [
        f"results/{RUN}/models/{wildcards.variant}/seed{wildcards.seed}/{s}/{name}"
        for s in stage_names(wildcards.variant)
    ]


def stage_snapshots(stage):
    """Declared outputs of a training rule: its stage's snapshot files (none without train.snapshots)."""
    return [f"results/{{run}}/models/{{variant}}/seed{{seed}}/{stage}/{name}" for name in SNAPSHOTS.values()]


def variant_mean_shape(wildcards):
    """The canonical mean shapes linking a cascade's stages ([] for a one-stage variant)."""
    return (
        [f"results/{RUN}/models/{wildcards.variant}/mean_shape.npy"]
        if n_stages(wildcards.variant) > 1
        else []
    )


def model_file(variant, seed):
    return f"results/{RUN}/models/{variant}/seed{seed}/cascade.pt"


def model_targets():
    """One model file per variant and seed."""
    return [model_file(v, s) for v in config["variants"] for s in SEEDS]


def variant_model(wildcards):
    return model_file(wildcards.variant, wildcards.seed)


def demo_model(wildcards):
    """The model file `make run` demonstrates `cmhm predict` with, first seed: the last configured variant
    of the most stages (in the variant table: cmhm's when it is configured)."""
    return model_file(max(reversed(config["variants"]), key=n_stages), SEEDS[0])


def timing_models(wildcards):
    """Each variant's model file of the first seed (timing does not depend on the weights' values)."""
    return [model_file(v, SEEDS[0]) for v in config["variants"]]


def training_figures():
    """Loss curves (rule plot_training) of every stage model_targets() trains, read from its log.csv."""
    return [
        f"results/{RUN}/figures/training/{v}/seed{s}/loss_{st}.{ext}"
        for v in config["variants"]
        for s in SEEDS
        for st in stage_names(v)
        for ext in ("png", "pdf", "svg")
    ]


def test_image_crops(wildcards):
    return crop_files(*source("test_images"))


def test_video_samples(wildcards):
    return samples_dirs(*source("test_video"))


def configured_train_samples(wildcards):
    return samples_dirs(*source("train"))


def configured_test_samples(role):
    """The sample tables of test role `role` (their skipped.csv counts reach the tables)."""
    return samples_dirs(*source(role))


def eval_dir(role):
    """results/<run>/eval/<test dataset>: evaluation paths name the run (the model) and the test set."""
    return f"results/{RUN}/eval/{source(role)[0]}"


def expand_eval(name, role):
    """One evaluation file per configured variant and seed, on the dataset that plays ``role``."""
    return [f"{eval_dir(role)}/{v}/seed{s}/{name}" for v in config["variants"] for s in SEEDS]


def floor_arms():
    """Rows of the floors table measured by the pipeline: {label: [per_image.csv of each seed]}."""
    arms = {}
    for v in (v for v in config["variants"] if n_stages(v) == 2):  # the warp links stage 1 to stage 2
        arms[f"{v}, ground-truth landmark warp"] = [
            f"{eval_dir('test_images')}/{v}/seed{s}/gt_warp/per_image.csv" for s in SEEDS
        ]
    for step in SNAPSHOTS:
        for v in config["variants"]:
            share = round(100 * step / config["train"]["steps"])
            arms[f"{v} at {share} % of training"] = [
                f"{eval_dir('test_images')}/{v}/seed{s}/step{step}/per_image.csv" for s in SEEDS
            ]
    return arms


def floor_arm_files(wildcards):
    return [p for paths in floor_arms().values() for p in paths]


def codec_model_file(wildcards):
    """A model file of the run (the first variant's first seed): the heatmap codec it records (crop size,
    map size, sigma) is every variant's, so the decoding floor reads it there, not from the config."""
    return model_file(config["variants"][0], SEEDS[0])


def heldout_fit(wildcards):
    """The 3D fit's held-out table (the label floor) when the training labels are fitted, else nothing."""
    if config["data"]["train_labels3d"] == "fitted":
        return [f"results/{source('train')[0]}/annotations_3d/heldout_fit.csv"]
    return []


def timing_file(wildcards):
    return f"{eval_dir('test_images')}/timing.json"


def quoted_rows(table):
    """[the configured quoted-rows CSV of ``table``] or [] (an input: editing the file reruns the table)."""
    path = config["quoted"][table]
    return [path] if path else []


def data_figures():
    train_ds, _ = source("train")
    return expand(
        "results/{ds}/figures/{fig}.{ext}",
        ds=train_ds,
        fig=("union_mapping", "contact_sheet"),
        ext=("png", "pdf", "svg"),
    )


# --- real datasets (fetch.smk) ---
REAL_DATASETS = "|".join(DATASETS)
GENERATED_DATASETS = "|".join(GENERATED)
PUBLIC_DATASETS = "|".join(public_names())
GATED_DATASETS = "|".join(gated_names())


def archive_path(wildcards):
    return config["datasets"][wildcards.dataset]["archive"]


def placed_archive_file(wildcards):
    """The hand-placed archive once it exists (so replacing it reruns the check), else nothing."""
    path = archive_path(wildcards)
    return path if os.path.isfile(path) else []


def archive_input(wildcards):
    """What extraction waits for: a public archive itself (downloaded or placed), a gated one's check."""
    if DATASETS[wildcards.dataset].gated is None:
        return archive_path(wildcards)
    return f"results/{wildcards.dataset}/archive_check.json"


def raw_dir(wildcards):
    """The unpacked archive, once the requested split and shard are ones the dataset provides."""
    check_request(wildcards.dataset, wildcards.split, int(wildcards.shard), config)
    return f"results/{wildcards.dataset}/raw"


def shape_source():
    """(dataset, split) whose 3D shapes the annotations_3d shape model is learned from."""
    src = config["annotations_3d"]["shape_source"] or config["data"]["train"]
    return src["dataset"], src["split"]


def shape_samples(wildcards):
    return samples_dirs(*shape_source())


def shape_heldout_samples(wildcards):
    return samples_dirs(shape_source()[0], config["annotations_3d"]["heldout_split"])


def adapt_shard_count(wildcards):
    """Shards the adapt job's split is cut into (a param: changing it rewrites every shard)."""
    return n_shards(wildcards.dataset, wildcards.split)


def bad_sample_policy(wildcards):
    """data.on_bad_sample of the adapted split: 'fail' or 'skip' (cmhm/data/bad.py)."""
    return config["data"]["on_bad_sample"][wildcards.split]


def adapter_options(wildcards):
    """The adapter's config keys for this dataset (and `subdir`), not its url, hash or shard count (own param)."""
    cfg = config["datasets"][wildcards.dataset]
    return {k: cfg[k] for k in (*DATASETS[wildcards.dataset].options, "subdir")}
