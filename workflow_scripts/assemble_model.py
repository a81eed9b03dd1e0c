"""Assemble one trained variant (one seed) into its model file, cascade.pt (rule assemble_model)."""

from cmhm.data.samples import concat_tables, read_table
from cmhm.inference.assemble import assemble_cascade
from cmhm.pipeline.logs import log_to
from cmhm.pipeline.provenance import code_version

log = log_to(snakemake.log[0])  # noqa: F821 - injected by Snakemake
sm = snakemake  # noqa: F821
tables = [read_table(d) for d in sm.input.train]
training = sm.params.training
training = {**training, "train": {**training["train"], "seed": int(sm.wildcards.seed)}}  # this model's seed
out = assemble_cascade(
    sm.output[0],
    sm.wildcards.variant,
    list(sm.input.stages),
    list(sm.input.mean_shape),
    concat_tables(tables, tables[0].root),
    sm.params.crop,
    sm.params.evaluation,
    sm.params.markup3d,
    training,
    code_version(),
)
log.info(
    "%s seed %s: %d stage(s) assembled into %s",
    sm.wildcards.variant,
    sm.wildcards.seed,
    len(sm.input.stages),
    out,
)
