"""Crop one sample-table shard into square face crops (rule crop)."""

from cmhm.crop import crop_table
from cmhm.logs import log_to
from cmhm.provenance import code_version, provenance
from cmhm.samples import read_table

log = log_to(snakemake.log[0])  # noqa: F821 - injected by Snakemake
sm = snakemake  # noqa: F821
table = read_table(sm.input[0])
prefix = sm.output.images.removesuffix(".images.npy")
crop_table(
    table,
    size=sm.params.crop["size"],
    box_scale=sm.params.crop["box_scale"],
    prefix=prefix,
    provenance=provenance(sm.params.crop, code_version(), samples=str(table.root)),
)
log.info("cropped %d samples from %s into %s", len(table), sm.input[0], prefix)
