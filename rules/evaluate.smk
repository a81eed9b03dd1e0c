# Evaluation: still-image predictions and metrics (Table I), video tracking (Table II), timing.


rule predict_images:
    input:
        models=variant_models,
        crops=test_image_crops,
    output:
        "results/{dataset}/eval/{variant}/predictions.npz",
    log:
        "logs/predict_images/{dataset}/{variant}.log",
    benchmark:
        "benchmarks/predict_images/{dataset}/{variant}.tsv"
    params:
        markup3d=config["model"]["markup3d"],
        evaluation=config["evaluation"],
        device=config["train"]["device"],
        code=source_hash("evaluate.py", "models", "heatmaps.py"),
    threads: 2
    resources:
        gpu=1,
        mem_mb=4000,
    conda:
        "../envs/cmhm.yaml"
    script:
        "../workflow_scripts/predict_images.py"


rule image_metrics:
    input:
        "results/{dataset}/eval/{variant}/predictions.npz",
    output:
        per_image="results/{dataset}/eval/{variant}/per_image.csv",
        metrics="results/{dataset}/eval/{variant}/image_metrics.json",
    log:
        "logs/image_metrics/{dataset}/{variant}.log",
    params:
        code=source_hash("metrics.py", "evaluate.py"),
    conda:
        "../envs/cmhm.yaml"
    script:
        "../workflow_scripts/image_metrics.py"


rule track_video:
    input:
        models=variant_models,
        samples=test_video_samples,
        train=configured_train_samples,
    output:
        tracks="results/{dataset}/eval/{variant}/tracks.npz",
        per_frame="results/{dataset}/eval/{variant}/per_frame.csv",
        metrics="results/{dataset}/eval/{variant}/tracking_metrics.json",
    log:
        "logs/track_video/{dataset}/{variant}.log",
    benchmark:
        "benchmarks/track_video/{dataset}/{variant}.tsv"
    params:
        markup3d=config["model"]["markup3d"],
        crop=config["crop"],
        evaluation=config["evaluation"],
        device=config["train"]["device"],
        code=source_hash("evaluate.py", "tracking.py", "detectors.py", "mtcnn.py", "metrics.py", "models"),
    threads: 2
    resources:
        gpu=1,
        mem_mb=4000,
    conda:
        "../envs/cmhm.yaml"
    script:
        "../workflow_scripts/track_video.py"


rule timing:
    input:
        models=all_variant_models,
    output:
        "results/{dataset}/eval/timing.json",
    log:
        "logs/timing/{dataset}.log",
    params:
        variants=config["variants"],
        in_size=config["crop"]["size"],
        device=config["train"]["device"],
    threads: 2
    resources:
        gpu=1,
        mem_mb=4000,
    conda:
        "../envs/cmhm.yaml"
    script:
        "../workflow_scripts/timing.py"
