# Training half: every Table-I variant and seed; for the cascade, mean shapes and stage 2 (online, through
# stage 1); then each variant and seed is assembled into its one model file, cascade.pt.
# One torch thread per training job: on 2 cores two such jobs side by side train 1.3-2x more images/s
# than one job of two threads (README, Performance); on a larger machine --set-threads train_stage1=N.


if config["train"]["stage1_from"]:

    # stage 1 copied from another run, checked to be the model train_stage1 would train here
    rule reuse_stage1:
        input:
            source=stage1_source,
            crops=train_crops,
            mapping=train_mapping,
        output:
            model="results/{run}/models/{variant}/seed{seed}/stage1/model.pt",
            snapshots=stage_snapshots("stage1"),
        log:
            "logs/reuse_stage1/{run}/{variant}/seed{seed}.log",
        wildcard_constraints:
            run=RUN,
        conda:
            "../envs/cmhm.yaml"
        threads: 1
        resources:
            mem_mb=4000,
            runtime=30,
        params:
            model=config["model"],
            train=train_params,
            in_size=config["crop"]["size"],
            stage1_code=script_code("train_stage1.py"),
            code=script_code("reuse_stage1.py"),
        script:
            "../workflow_scripts/reuse_stage1.py"

else:

    rule train_stage1:
        input:
            crops=train_crops,
            mapping=train_mapping,
        output:
            model="results/{run}/models/{variant}/seed{seed}/stage1/model.pt",
            snapshots=stage_snapshots("stage1"),
        log:
            "logs/train_stage1/{run}/{variant}/seed{seed}.log",
        benchmark:
            "benchmarks/train_stage1/{run}/{variant}/seed{seed}.tsv"
        conda:
            "../envs/cmhm.yaml"
        threads: 1
        resources:
            gpu=1,
            mem_mb=8000,
            runtime=train_runtime,
        params:
            model=config["model"],
            train=train_params,
            in_size=config["crop"]["size"],
            code=script_code("train_stage1.py"),
        script:
            "../workflow_scripts/train_stage1.py"


rule mean_shapes:
    input:
        crops=train_crops,
        mapping=train_mapping,
    output:
        mean_shape="results/{run}/models/{variant}/mean_shape.npy",
        report="results/{run}/models/{variant}/mean_shape.json",
    log:
        "logs/mean_shapes/{run}/{variant}.log",
    conda:
        "../envs/cmhm.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        model=config["model"],
        in_size=config["crop"]["size"],
        code=script_code("mean_shapes.py"),
    script:
        "../workflow_scripts/mean_shapes.py"


rule train_stage2:
    input:
        stage1="results/{run}/models/{variant}/seed{seed}/stage1/model.pt",
        mean_shape="results/{run}/models/{variant}/mean_shape.npy",
        crops=train_crops,
    output:
        model="results/{run}/models/{variant}/seed{seed}/stage2/model.pt",
        snapshots=stage_snapshots("stage2"),
    log:
        "logs/train_stage2/{run}/{variant}/seed{seed}.log",
    benchmark:
        "benchmarks/train_stage2/{run}/{variant}/seed{seed}.tsv"
    conda:
        "../envs/cmhm.yaml"
    threads: 1
    resources:
        gpu=1,
        mem_mb=8000,
        runtime=train_runtime,
    params:
        model=config["model"],
        train=stage2_train_params,
        cascade=config["cascade"],
        in_size=config["crop"]["size"],
        code=script_code("train_stage2.py"),
    script:
        "../workflow_scripts/train_stage2.py"


rule assemble_model:
    input:
        stages=stage_models,
        mean_shape=variant_mean_shape,
        train=configured_train_samples,
        files=configured_files("evaluation"),
    output:
        "results/{run}/models/{variant}/seed{seed}/cascade.pt",
    log:
        "logs/assemble_model/{run}/{variant}/seed{seed}.log",
    conda:
        "../envs/cmhm.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        crop=config["crop"],
        markup3d=config["model"]["markup3d"],
        evaluation=config_keys(
            "evaluation",
            "detector",
            "haar_cascade",
            "calibration_faces",
            "failure_check",
            "failure_confidence",
            "onet_threshold",
        ),
        training=training_params(),
        code=script_code("assemble_model.py"),
    script:
        "../workflow_scripts/assemble_model.py"


use rule assemble_model as assemble_snapshot with:
    output:
        "results/{run}/models/{variant}/seed{seed}/step{step}/cascade.pt",
    log:
        "logs/assemble_snapshot/{run}/{variant}/seed{seed}/step{step}.log",
