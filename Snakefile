# cmhm: Cascade Multi-view Hourglass Model (Deng et al., FG 2018) as a reproducible pipeline.
# Run `make run` (default synthetic config) or `snakemake --cores all --configfile configs/paper.yaml`.
from snakemake.utils import min_version

from cmhm.pipeline.config_check import check_syntax

min_version("9.0")


# a YAML syntax error or a key written twice names the file and line (Snakemake's message does not)
check_syntax("config.yaml", *workflow.overwrite_configfiles)


configfile: "config.yaml"


report: "rules/report/workflow.rst"


include: "rules/common.smk"
include: "rules/fetch.smk"
include: "rules/data.smk"
include: "rules/train.smk"
include: "rules/evaluate.smk"
include: "rules/report.smk"


rule all:
    input:
        data_targets(),
        model_targets(),
        rules.tables.input,
        rules.figures.input,
        rules.predict_demo.output,
