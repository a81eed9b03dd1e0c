# Real datasets: download (public) or check (licence-gated) the archive -> unpack and verify -> adapt
# into sample tables, one adapt job per shard (datasets.<name>.shards; shard k of n = a contiguous run
# of the sorted samples, cmhm/data/shards.py). The adapter, split and checks of each name:
# cmhm/data/registry.py (no name is special-cased here). The synthetic dataset keeps its own rules
# (data.smk): `dataset` below is always one of the registry's names.
# Downloads and archive checks run on the submitting host: cluster nodes often have no internet.


localrules:
    download,
    placed_archive,


rule download:
    output:
        "data/archives/{dataset}/{filename}",
    log:
        "logs/download/{dataset}/{filename}.log",
    benchmark:
        "benchmarks/download/{dataset}/{filename}.tsv"
    wildcard_constraints:
        dataset=PUBLIC_DATASETS,
    retries: 2
    conda:
        "../envs/cmhm.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=240,
    script:
        "../workflow_scripts/download.py"


rule placed_archive:
    input:
        placed_archive_file,
    output:
        "results/{dataset}/archive_check.json",
    log:
        "logs/placed_archive/{dataset}.log",
    wildcard_constraints:
        dataset=GATED_DATASETS,
    conda:
        "../envs/cmhm.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=30,
    params:
        archive=archive_path,
    script:
        "../workflow_scripts/placed_archive.py"


rule extract:
    input:
        archive_input,
    output:
        raw=directory("results/{dataset}/raw"),
        manifest="results/{dataset}/raw_manifest.csv",
    log:
        "logs/extract/{dataset}.log",
    benchmark:
        "benchmarks/extract/{dataset}.tsv"
    wildcard_constraints:
        dataset=REAL_DATASETS,
    conda:
        "../envs/cmhm.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=120,
    params:
        archive=archive_path,
    script:
        "../workflow_scripts/extract.py"


rule adapt:
    input:
        raw=raw_dir,
        manifest="results/{dataset}/raw_manifest.csv",
        files=adapter_files,
    output:
        directory("results/{dataset}/samples/{split}/{key}/shard{shard}"),
    log:
        "logs/adapt/{dataset}/{split}/{key}/shard{shard}.log",
    benchmark:
        "benchmarks/adapt/{dataset}/{split}/{key}/shard{shard}.tsv"
    wildcard_constraints:
        dataset=REAL_DATASETS,
    conda:
        "../envs/cmhm.yaml"
    threads: 1
    resources:
        # one image decoded at a time plus ~4 kB of labels per sample (16 AFLW2000-3D faces: 130 MB peak)
        mem_mb=1000,
        runtime=120,
    params:
        options=adapter_options,
        shards=adapt_shard_count,
        on_bad_sample=bad_sample_policy,
        code=script_code("adapt.py"),
    script:
        "../workflow_scripts/adapt.py"
