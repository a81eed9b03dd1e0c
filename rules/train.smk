# Training half: stage 1 of every Table-I variant; for the cascade, stage-1 predictions -> stage 2.


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
        code=script_code("train_stage1.py"),
    threads: 2
    resources:
        gpu=1,
        mem_mb=8000,
        runtime=train_runtime,
    conda:
        "../envs/cmhm.yaml"
    script:
        "../workflow_scripts/train_stage1.py"


rule predict_stage1:
    input:
        model="results/{dataset}/models/{variant}/stage1/model.pt",
        crops=train_crops,
        labels3d=fitted_labels,
    output:
        images=temp("results/{dataset}/models/{variant}/stage2_data/train.images.npy"),
        labels=temp("results/{dataset}/models/{variant}/stage2_data/train.labels.npz"),
        index=temp("results/{dataset}/models/{variant}/stage2_data/train.csv"),
        mean_shape="results/{dataset}/models/{variant}/stage2_data/mean_shape.npy",
    log:
        "logs/predict_stage1/{dataset}/{variant}.log",
    benchmark:
        "benchmarks/predict_stage1/{dataset}/{variant}.tsv"
    params:
        device=config["train"]["device"],
        code=script_code("predict_stage1.py"),
    threads: 2
    resources:
        gpu=1,
        mem_mb=8000,
        runtime=60,
    conda:
        "../envs/cmhm.yaml"
    script:
        "../workflow_scripts/predict_stage1.py"


rule train_stage2:
    input:
        images="results/{dataset}/models/{variant}/stage2_data/train.images.npy",
        labels="results/{dataset}/models/{variant}/stage2_data/train.labels.npz",
        index="results/{dataset}/models/{variant}/stage2_data/train.csv",
    output:
        model=protected("results/{dataset}/models/{variant}/stage2/model.pt"),
    log:
        "logs/train_stage2/{dataset}/{variant}.log",
    benchmark:
        "benchmarks/train_stage2/{dataset}/{variant}.tsv"
    params:
        model=config["model"],
        train=config["train"],
        in_size=config["crop"]["size"],
        code=script_code("train_stage2.py"),
    threads: 2
    resources:
        gpu=1,
        mem_mb=8000,
        runtime=train_runtime,
    conda:
        "../envs/cmhm.yaml"
    script:
        "../workflow_scripts/train_stage2.py"
