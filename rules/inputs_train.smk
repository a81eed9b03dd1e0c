# Input functions of the training phase (train.smk): crops and labels in, stage models, model files.


def training_params():
    """The config a run's models depend on (recorded in each model file with its digest)."""
    return training_config(config)


def first_crop_shard(wildcards):
    """The contact sheet's crops: the first shard of its folder (checked to be this config's)."""
    check_crops_key(wildcards)
    return crop_files(wildcards.dataset, wildcards.split)[:3]


def train_crops(wildcards):
    """The crops of every training source (data.train, then data.train_extra)."""
    return [f for pair in train_source_pairs() for f in crop_files(*pair)]


def train_mapping(wildcards):
    return f"{training_dir(config, source('train')[0])}/union_mapping.json"


def train_params(wildcards):
    """The `train` sub-tree one training job reads: its seed is the job's (train.seeds lists them all).
    Stage 1 never sees train.stage2, so setting it reruns stage 2 alone; train.stage1_from changes no model.
    """
    kept = {k: v for k, v in config["train"].items() if k not in ("seeds", "stage2", "stage1_from")}
    return {**without_idle_appearance(kept), "seed": int(wildcards.seed)}


def stage2_train_params(wildcards):
    """Stage 2's `train`: train_params with train.stage2's keys in place of the shared ones."""
    return {**train_params(wildcards), **config["train"].get("stage2", {})}


def stage1_source(wildcards):
    """Rule reuse_stage1: the stage-1 model and snapshots of the run train.stage1_from names."""
    folder = (
        f"results/{config['train']['stage1_from']}/models/{wildcards.variant}/seed{wildcards.seed}/stage1"
    )
    return [f"{folder}/model.pt", *(f"{folder}/{name}" for name in SNAPSHOTS.values())]


def train_runtime(wildcards, attempt):
    """Minutes per attempt: 4 h, growing with each retry (a retry resumes from the last checkpoint).

    Override per site with `--set-resources train_stage1:runtime=MIN` (see README, cluster section).
    """
    return 240 * attempt


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


def model_targets():
    """One model file per variant and seed."""
    return [model_file(v, s) for v in config["variants"] for s in SEEDS]


def variant_model(wildcards):
    return model_file(wildcards.variant, wildcards.seed)
