# Config validation first, then wildcard constraints and the input functions the rules share.
from snakemake.utils import validate

validate(config, "schemas/config.schema.yaml")

from cmhm.models import get_variant
from cmhm.provenance import source_hash


def n_stages(variant):
    return len(get_variant(variant).stages)


wildcard_constraints:
    dataset="[a-z0-9_]+",
    split="[a-z0-9]+",
    shard="[0-9]+",
    variant="|".join(config["variants"]),


def source(role):
    """(dataset, split) that plays ``role`` (train, test_images, test_video)."""
    src = config["data"][role]
    return src["dataset"], src["split"]


def n_shards(dataset, split):
    """Sample-table (and crop) shards of a split: synth.<split>.shards, or datasets.<name>.shards."""
    if dataset == "synth":
        return config["synth"][split]["shards"]
    return config["datasets"][dataset]["shards"]


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


def split_samples(wildcards):
    return samples_dirs(wildcards.dataset, wildcards.split)


def train_samples(wildcards):
    return samples_dirs(wildcards.dataset, source("train")[1])


def synth_split_params(wildcards):
    """The synthetic-data config sub-tree one generation job depends on."""
    s = config["synth"]
    return {
        "seed": config["seed"],
        "image_size": s["image_size"],
        "profile_yaw": s["profile_yaw"],
        "render": s["render"],
        "split": s[wildcards.split],
    }


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
    s = config["synth"]
    return {
        "seed": config["seed"],
        "image_size": s["image_size"],
        "profile_yaw": s["profile_yaw"],
        "render": s["render"],
        "video": s["video"],
    }


def train_first_crop_shard(wildcards):
    return expand(
        "results/{dataset}/crops/{split}/shard0.{suffix}",
        dataset=wildcards.dataset,
        split=source("train")[1],
        suffix=("images.npy", "labels.npz", "csv"),
    )


def train_crops(wildcards):
    return crop_files(wildcards.dataset, source("train")[1])


def fitted_labels(wildcards):
    """The annotations_3d labels when training on fitted 3D labels (the paper's route), else nothing."""
    if config["data"]["train_labels3d"] == "fitted":
        return f"results/{wildcards.dataset}/annotations_3d/train_labels.npz"
    return []


def train_runtime(wildcards, attempt):
    """Minutes per attempt: 4 h, growing with each retry (a retry resumes from the last checkpoint).

    Override per site with `--set-resources train_stage1:runtime=MIN` (see README, cluster section).
    """
    return 240 * attempt


def final_models(dataset, variant):
    """Weights a variant's predictions need: one file per stage."""
    stages = ["stage1"] + (["stage2"] if n_stages(variant) > 1 else [])
    return [f"results/{dataset}/models/{variant}/{s}/model.pt" for s in stages]


def model_targets():
    train_ds, _ = source("train")
    return [m for v in config["variants"] for m in final_models(train_ds, v)]


def models_of(variant):
    """Weights (and, for a cascade, the canonical mean shape) of a variant trained on the training dataset."""
    train_ds, _ = source("train")
    files = final_models(train_ds, variant)
    if n_stages(variant) > 1:
        files.append(f"results/{train_ds}/models/{variant}/stage2_data/mean_shape.npy")
    return files


def variant_models(wildcards):
    return models_of(wildcards.variant)


def all_variant_models(wildcards):
    return [f for v in config["variants"] for f in models_of(v)]


def test_image_crops(wildcards):
    return crop_files(wildcards.dataset, source("test_images")[1])


def test_video_samples(wildcards):
    return samples_dirs(wildcards.dataset, source("test_video")[1])


def configured_train_samples(wildcards):
    return samples_dirs(*source("train"))


def configured_test_samples(role):
    """The sample tables of test role `role` (their skipped.csv counts reach the tables)."""
    return samples_dirs(*source(role))


def expand_eval(name, role):
    """One evaluation file per configured variant, on the dataset that plays ``role``."""
    dataset, _ = source(role)
    return [f"results/{dataset}/eval/{v}/{name}" for v in config["variants"]]


def timing_file(wildcards):
    return f"results/{source('test_images')[0]}/eval/timing.json"


def quoted_rows(table):
    """[the configured quoted-rows CSV of ``table``] or [] (an input: editing the file reruns the table)."""
    path = config["quoted"][table]
    return [path] if path else []


def data_figures():
    train_ds, _ = source("train")
    return expand("results/{ds}/figures/{fig}.{ext}", ds=train_ds, fig=("union_mapping", "contact_sheet"),
                  ext=("png", "pdf"))


# --- real datasets (fetch.smk) ---
import os

from cmhm.data.registry import DATASETS, gated_names, public_names

REAL_DATASETS = "|".join(DATASETS)
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
    provided = DATASETS[wildcards.dataset].split
    if wildcards.split != provided:
        raise ValueError(
            f"dataset {wildcards.dataset} provides split '{provided}' only, not '{wildcards.split}'; check data.* "
            "and annotations_3d.* in the config"
        )
    n = n_shards(wildcards.dataset, wildcards.split)
    if int(wildcards.shard) >= n:
        raise ValueError(
            f"dataset {wildcards.dataset} is cut into {n} shards (datasets.{wildcards.dataset}.shards): "
            f"there is no shard{wildcards.shard}"
        )
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
