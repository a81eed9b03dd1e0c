# Data half: synthesize (or adapt) -> crop -> union mapping -> 3D labels, plus the data figures.


ruleorder: synthesize_video > synthesize_images


rule synthesize_images:
    output:
        directory("results/{dataset}/samples/{split}/{key}/shard{shard}"),
    log:
        "logs/synthesize_images/{dataset}/{split}/{key}/shard{shard}.log",
    benchmark:
        "benchmarks/synthesize_images/{dataset}/{split}/{key}/shard{shard}.tsv"
    wildcard_constraints:
        dataset=GENERATED_DATASETS,
    conda:
        "../envs/cmhm.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        synth=synth_split_params,
        code=script_code("synthesize_images.py"),
    script:
        "../workflow_scripts/synthesize_images.py"


rule synthesize_video:
    output:
        directory("results/{dataset}/samples/{split}/{key}/shard{shard}"),
    log:
        "logs/synthesize_video/{dataset}/{split}/{key}/shard{shard}.log",
    benchmark:
        "benchmarks/synthesize_video/{dataset}/{split}/{key}/shard{shard}.tsv"
    wildcard_constraints:
        dataset=GENERATED_DATASETS,
        split="video",
    conda:
        "../envs/cmhm.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        synth=synth_video_params,
        code=script_code("synthesize_video.py"),
    script:
        "../workflow_scripts/synthesize_video.py"


rule crop:
    input:
        samples=crop_samples,
        labels3d=crop_labels3d,
    output:
        images="results/{dataset}/crops/{split}/{key}/shard{shard}.images.npy",
        labels="results/{dataset}/crops/{split}/{key}/shard{shard}.labels.npz",
        index="results/{dataset}/crops/{split}/{key}/shard{shard}.csv",
    log:
        "logs/crop/{dataset}/{split}/{key}/shard{shard}.log",
    benchmark:
        "benchmarks/crop/{dataset}/{split}/{key}/shard{shard}.tsv"
    conda:
        "../envs/cmhm.yaml"
    threads: 1
    resources:
        # crops stream to disk: ~110 MB + ~13 kB per face of labels (5k faces at 256 px: 180 MB peak)
        mem_mb=1000,
    params:
        crop=config["crop"],
        code=script_code("crop.py"),
    script:
        "../workflow_scripts/crop.py"


rule union_mapping:
    input:
        train_samples,
    output:
        csv="results/{dataset}/training/{key}/union_mapping.csv",
        json="results/{dataset}/training/{key}/union_mapping.json",
    log:
        "logs/union_mapping/{dataset}/{key}.log",
    conda:
        "../envs/cmhm.yaml"
    params:
        cfg=config["union_mapping"],
        code=script_code("union_mapping.py"),
    script:
        "../workflow_scripts/union_mapping.py"


rule plot_union_mapping:
    input:
        "results/{dataset}/training/{key}/union_mapping.json",
    output:
        png=report(
            "results/{dataset}/training/{key}/figures/union_mapping.png",
            caption="report/union_mapping.rst",
            category="Data",
        ),
        pdf="results/{dataset}/training/{key}/figures/union_mapping.pdf",
        svg="results/{dataset}/training/{key}/figures/union_mapping.svg",
    log:
        "logs/plot_union_mapping/{dataset}/{key}.log",
    conda:
        "../envs/cmhm.yaml"
    params:
        code=script_code("plot_union_mapping.py"),
    script:
        "../workflow_scripts/plot_union_mapping.py"


rule annotations_3d:
    input:
        shapes=shape_samples,
        train=train_samples,
        mapping="results/{dataset}/training/{key}/union_mapping.json",
    output:
        pdm="results/{dataset}/training/{key}/annotations_3d/pdm.npz",
        labels="results/{dataset}/training/{key}/annotations_3d/train_labels.npz",
        report="results/{dataset}/training/{key}/annotations_3d/fit_report.json",
    log:
        "logs/annotations_3d/{dataset}/{key}.log",
    benchmark:
        "benchmarks/annotations_3d/{dataset}/{key}.tsv"
    conda:
        "../envs/cmhm.yaml"
    threads: 1
    resources:
        mem_mb=4000,
    params:
        cfg=fit_config(config),
        code=script_code("annotations_3d.py"),
    script:
        "../workflow_scripts/annotations_3d.py"


rule heldout_fit:
    input:
        pdm="results/{dataset}/training/{key}/annotations_3d/pdm.npz",
        mapping="results/{dataset}/training/{key}/union_mapping.json",
        heldout=heldout_samples,
    output:
        per_sample="results/{dataset}/training/{key}/heldout/{hkey}/heldout_fit.csv",
        report="results/{dataset}/training/{key}/heldout/{hkey}/heldout_report.json",
    log:
        "logs/heldout_fit/{dataset}/{key}/{hkey}.log",
    benchmark:
        "benchmarks/heldout_fit/{dataset}/{key}/{hkey}.tsv"
    conda:
        "../envs/cmhm.yaml"
    threads: 1
    resources:
        mem_mb=4000,
    params:
        cfg=fit_config(config),
        code=script_code("heldout_fit.py"),
    script:
        "../workflow_scripts/heldout_fit.py"


rule contact_sheet:
    input:
        crops=first_crop_shard,
    output:
        png=report(
            "results/{dataset}/crops/{split}/{key}/figures/contact_sheet_{n}.png",
            caption="report/contact_sheet.rst",
            category="Data",
        ),
        pdf="results/{dataset}/crops/{split}/{key}/figures/contact_sheet_{n}.pdf",
        svg="results/{dataset}/crops/{split}/{key}/figures/contact_sheet_{n}.svg",
    log:
        "logs/contact_sheet/{dataset}/{split}/{key}/{n}.log",
    conda:
        "../envs/cmhm.yaml"
    params:
        code=script_code("contact_sheet.py"),
    script:
        "../workflow_scripts/contact_sheet.py"
