# Training half: stage 1 of every Table-I variant; for the cascade, mean shapes and stage 2 (online, through stage 1).


rule train_stage1:
    input:
        crops=train_crops,
        mapping="results/{dataset}/union_mapping.json",
        labels3d=fitted_labels,
    output:
        model=protected("results/{dataset}/models/{variant}/stage1/model.pt"),
    log:
        "logs/train_stage1/{dataset}/{variant}.log",
    benchmark:
        "benchmarks/train_stage1/{dataset}/{variant}.tsv"
    params:
        model=config["model"],
        train=config["train"],
        in_size=config["crop"]["size"],
        code=source_hash("models", "train.py", "train_data.py", "augment.py", "heatmaps.py", "losses.py", "stages.py"),
    threads: 2
    resources:
        gpu=1,
        mem_mb=8000,
        runtime=train_runtime,
    conda:
        "../envs/cmhm.yaml"
    script:
        "../workflow_scripts/train_stage1.py"


rule mean_shapes:
    input:
        crops=train_crops,
        mapping="results/{dataset}/union_mapping.json",
        labels3d=fitted_labels,
    output:
        mean_shape="results/{dataset}/models/{variant}/stage2_data/mean_shape.npy",
        report="results/{dataset}/models/{variant}/stage2_data/mean_shape.json",
    log:
        "logs/mean_shapes/{dataset}/{variant}.log",
    params:
        model=config["model"],
        in_size=config["crop"]["size"],
        code=source_hash("models", "stages.py", "warp.py", "train_data.py", "union.py", "metrics.py"),
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../envs/cmhm.yaml"
    script:
        "../workflow_scripts/mean_shapes.py"


rule train_stage2:
    input:
        stage1="results/{dataset}/models/{variant}/stage1/model.pt",
        mean_shape="results/{dataset}/models/{variant}/stage2_data/mean_shape.npy",
        crops=train_crops,
        labels3d=fitted_labels,
    output:
        model=protected("results/{dataset}/models/{variant}/stage2/model.pt"),
    log:
        "logs/train_stage2/{dataset}/{variant}.log",
    benchmark:
        "benchmarks/train_stage2/{dataset}/{variant}.tsv"
    params:
        model=config["model"],
        train=config["train"],
        cascade=config["cascade"],
        in_size=config["crop"]["size"],
        code=source_hash("models", "train.py", "train_data.py", "augment.py", "heatmaps.py", "losses.py", "stages.py", "warp.py"),
    threads: 2
    resources:
        gpu=1,
        mem_mb=8000,
        runtime=train_runtime,
    conda:
        "../envs/cmhm.yaml"
    script:
        "../workflow_scripts/train_stage2.py"
