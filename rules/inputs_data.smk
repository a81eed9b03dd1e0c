# Input functions of the data phase (fetch.smk, data.smk): datasets, archives, generation, adapters, crops.


def adapter_files(wildcards):
    return configured_files("datasets", wildcards.dataset)


def train_samples(wildcards):
    check_training_key(wildcards)
    return samples_dirs(wildcards.dataset, source("train")[1])


def synth_common_params(wildcards):
    """The generated dataset's config every generation job depends on (its shard checked first)."""
    check_request(wildcards.dataset, wildcards.split, int(wildcards.shard), config)
    check_samples_key(wildcards)
    return generator_config(config, wildcards.dataset)


def synth_split_params(wildcards):
    """The synthetic-data config sub-tree one still-image generation job depends on."""
    section = GENERATED[wildcards.dataset].section
    return {**synth_common_params(wildcards), "split": config[section][wildcards.split]}


def contact_sheet_stem():
    """The contact sheet's file stem: the number of crops it shows is in its name (figures.contact_sheet_samples),
    so two runs that share the crops but show different numbers each keep their own sheet."""
    return f"contact_sheet_{config['figures']['contact_sheet_samples']}"


def data_targets():
    training = training_dir(config, source("train")[0])
    targets = [
        f"{training}/union_mapping.csv",
        f"{training}/annotations_3d/fit_report.json",
        f"{heldout_dir(config, source('train')[0])}/heldout_report.json",
        f"{training}/figures/union_mapping.png",
        f"{crops_dir(config, *source('train'))}/figures/{contact_sheet_stem()}.png",
    ]
    for pair in (*train_source_pairs(), source("test_images"), source("test_video")):
        targets += crop_files(*pair)
    return targets


def synth_video_params(wildcards):
    """The synthetic-data config sub-tree the video generation job depends on."""
    section = GENERATED[wildcards.dataset].section
    return {**synth_common_params(wildcards), "video": config[section]["video"]}


def crop_samples(wildcards):
    """The sample-table shard a crop job cuts (its crops folder checked to be this config's first)."""
    check_crops_key(wildcards)
    return f"{samples_dir(config, wildcards.dataset, wildcards.split)}/shard{wildcards.shard}"


def crop_labels3d(wildcards):
    """The fitted 3D labels the training split's crops carry when training on fitted labels (the paper's
    route; joined to the crops by sample id when they are cut), else nothing."""
    if carries_fitted_labels(config, wildcards.dataset, wildcards.split):
        return f"{training_dir(config, wildcards.dataset)}/annotations_3d/train_labels.npz"
    return []


def configured_train_samples(wildcards):
    return [d for pair in train_source_pairs() for d in samples_dirs(*pair)]


# real datasets (fetch.smk): wildcard patterns of the registry's names
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
    check_samples_key(wildcards)
    return f"results/{wildcards.dataset}/raw"


def shape_samples(wildcards):
    return samples_dirs(*shape_source(config))


def heldout_samples(wildcards):
    """The held-out faces the 3D fit is scored on (its folder checked to be this config's first)."""
    check_heldout_key(wildcards)
    return samples_dirs(*heldout_source(config))


def adapt_shard_count(wildcards):
    """Shards the adapt job's split is cut into (a param: changing it rewrites every shard)."""
    return n_shards(wildcards.dataset, wildcards.split)


def bad_sample_policy(wildcards):
    """data.on_bad_sample of the adapted split: 'fail' or 'skip' (cmhm/data/bad.py)."""
    return config["data"]["on_bad_sample"][parent_split(wildcards.dataset, wildcards.split)]


def adapter_options(wildcards):
    """The adapter's config keys for this dataset (and `subdir`, `folds`), not its url, hash or shard count (own param)."""
    cfg = config["datasets"][wildcards.dataset]
    return {k: cfg[k] for k in (*DATASETS[wildcards.dataset].options, "subdir", "folds") if k in cfg}
