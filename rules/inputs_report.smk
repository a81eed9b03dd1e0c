# Input functions of the report (report.smk): floors, quoted rows, figures, the demo.


def demo_model(wildcards):
    """The model file `make run` demonstrates `cmhm predict` with, first seed: the last configured variant
    of the most stages (in the variant table: cmhm's when it is configured)."""
    return model_file(max(reversed(config["variants"]), key=n_stages), SEEDS[0])


def training_figures():
    """Loss curves (rule plot_training) of every stage model_targets() trains, read from its log.csv."""
    return [
        f"results/{RUN}/figures/training/{v}/seed{s}/loss_{st}.{ext}"
        for v in config["variants"]
        for s in SEEDS
        for st in stage_names(v)
        for ext in ("png", "pdf", "svg")
    ]


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
        return [f"{heldout_dir(config, source('train')[0])}/heldout_fit.csv"]
    return []


def quoted_rows(table):
    """[the configured quoted-rows CSV of ``table``] or [] (an input: editing the file reruns the table)."""
    path = config["quoted"][table]
    return [path] if path else []


def data_figures():
    training, crops = training_dir(config, source("train")[0]), crops_dir(config, *source("train"))
    return [
        f"{folder}/figures/{fig}.{ext}"
        for folder, fig in ((training, "union_mapping"), (crops, contact_sheet_stem()))
        for ext in ("png", "pdf", "svg")
    ]
