# Evaluation: still-image predictions and metrics (Table I), video tracking (Table II), timing.


rule predict_images:
    input:
        model=variant_model,
        crops=test_image_crops,
    output:
        "results/{run}/eval/{dataset}/{variant}/seed{seed}/predictions.npz",
    log:
        "logs/predict_images/{run}/{dataset}/{variant}/seed{seed}.log",
    benchmark:
        "benchmarks/predict_images/{run}/{dataset}/{variant}/seed{seed}.tsv"
    conda:
        "../envs/cmhm.yaml"
    threads: 2
    resources:
        gpu=1,
        mem_mb=4000,
    params:
        evaluation=config_keys("evaluation", "n_examples"),
        device=config["evaluation"]["device"],
        code=script_code("predict_images.py"),
    script:
        "../workflow_scripts/predict_images.py"


rule image_metrics:
    input:
        "results/{run}/eval/{dataset}/{variant}/seed{seed}/predictions.npz",
    output:
        per_image="results/{run}/eval/{dataset}/{variant}/seed{seed}/per_image.csv",
        metrics="results/{run}/eval/{dataset}/{variant}/seed{seed}/image_metrics.json",
    log:
        "logs/image_metrics/{run}/{dataset}/{variant}/seed{seed}.log",
    conda:
        "../envs/cmhm.yaml"
    params:
        code=script_code("image_metrics.py"),
    script:
        "../workflow_scripts/image_metrics.py"


rule track_video:
    input:
        model=variant_model,
        samples=test_video_samples,
    output:
        tracks="results/{run}/eval/{dataset}/{variant}/seed{seed}/tracks.npz",
        per_frame="results/{run}/eval/{dataset}/{variant}/seed{seed}/per_frame.csv",
        metrics="results/{run}/eval/{dataset}/{variant}/seed{seed}/tracking_metrics.json",
    log:
        "logs/track_video/{run}/{dataset}/{variant}/seed{seed}.log",
    benchmark:
        "benchmarks/track_video/{run}/{dataset}/{variant}/seed{seed}.tsv"
    conda:
        "../envs/cmhm.yaml"
    threads: 2
    resources:
        gpu=1,
        mem_mb=4000,
    params:
        evaluation=config_keys("evaluation", "tracking_threshold"),
        device=config["evaluation"]["device"],
        code=script_code("track_video.py"),
    script:
        "../workflow_scripts/track_video.py"


rule timing:
    input:
        models=timing_models,
    output:
        "results/{run}/eval/{dataset}/timing.json",
    log:
        "logs/timing/{run}/{dataset}.log",
    conda:
        "../envs/cmhm.yaml"
    threads: 2
    resources:
        gpu=1,
        mem_mb=4000,
    params:
        variants=config["variants"],
        device=config["evaluation"]["device"],
        code=script_code("timing.py"),
    script:
        "../workflow_scripts/timing.py"


use rule predict_images as predict_snapshot with:
    input:
        model="results/{run}/models/{variant}/seed{seed}/step{step}/cascade.pt",
        crops=test_image_crops,
    output:
        "results/{run}/eval/{dataset}/{variant}/seed{seed}/step{step}/predictions.npz",
    log:
        "logs/predict_snapshot/{run}/{dataset}/{variant}/seed{seed}/step{step}.log",
    benchmark:
        "benchmarks/predict_snapshot/{run}/{dataset}/{variant}/seed{seed}/step{step}.tsv"


rule predict_gt_warp:
    input:
        model=variant_model,
        crops=test_image_crops,
    output:
        "results/{run}/eval/{dataset}/{variant}/seed{seed}/gt_warp/predictions.npz",
    log:
        "logs/predict_gt_warp/{run}/{dataset}/{variant}/seed{seed}.log",
    conda:
        "../envs/cmhm.yaml"
    threads: 2
    resources:
        gpu=1,
        mem_mb=4000,
    params:
        device=config["evaluation"]["device"],
        code=script_code("predict_gt_warp.py"),
    script:
        "../workflow_scripts/predict_gt_warp.py"


use rule image_metrics as arm_metrics with:
    input:
        "results/{run}/eval/{dataset}/{variant}/seed{seed}/{arm}/predictions.npz",
    output:
        per_image="results/{run}/eval/{dataset}/{variant}/seed{seed}/{arm}/per_image.csv",
        metrics="results/{run}/eval/{dataset}/{variant}/seed{seed}/{arm}/image_metrics.json",
    log:
        "logs/arm_metrics/{run}/{dataset}/{variant}/seed{seed}/{arm}.log",
