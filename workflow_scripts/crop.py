"""Crop one sample-table shard into square face crops (rule crop)."""

from cmhm.data.cropping import crop_table
from cmhm.data.samples import read_table
from cmhm.pipeline.logs import log_to
from cmhm.pipeline.provenance import code_version, provenance

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
