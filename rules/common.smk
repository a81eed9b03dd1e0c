# Config validation first, then wildcard constraints and the input functions the rules share.
from snakemake.utils import validate

validate(config, "schemas/config.schema.yaml")

from cmhm.provenance import code_version, source_hash

CODE_VERSION = code_version()


wildcard_constraints:
    dataset="[a-z0-9_]+",
    split="[a-z0-9]+",
    shard="[0-9]+",


def source(role):
    """(dataset, split) that plays ``role`` (train, test_images, test_video)."""
    src = config["data"][role]
    return src["dataset"], src["split"]


def n_shards(dataset, split):
    if dataset == "synth":
        return config["synth"][split]["shards"]
    return 1


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


def heldout_samples(wildcards):
    return samples_dirs(wildcards.dataset, config["annotations_3d"]["heldout_split"])


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
