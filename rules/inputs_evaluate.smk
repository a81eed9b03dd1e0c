# Input functions of evaluation (evaluate.smk): test crops and videos, timing.


def timing_models(wildcards):
    """Each variant's model file of the first seed (timing does not depend on the weights' values)."""
    return [model_file(v, SEEDS[0]) for v in config["variants"]]


def test_image_crops(wildcards):
    return crop_files(*source("test_images"))


def test_video_samples(wildcards):
    return samples_dirs(*source("test_video"))


def configured_test_samples(role):
    """The sample tables of test role `role` (their skipped.csv counts reach the tables)."""
    return samples_dirs(*source(role))


def timing_file(wildcards):
    return f"{eval_dir('test_images')}/timing.json"
