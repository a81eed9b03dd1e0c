"""Crop one sample-table shard into square face crops (rule crop), with fitted 3D labels if given."""

from cmhm.data.cropping import crop_table
from cmhm.data.labels3d import fitted_by_id
from cmhm.data.samples import read_table
from cmhm.pipeline.logs import log_to
from cmhm.pipeline.provenance import code_version, provenance

log = log_to(snakemake.log[0])  # noqa: F821 - injected by Snakemake
sm = snakemake  # noqa: F821
table = read_table(sm.input.samples)
fitted = sm.input.labels3d or None  # a path, or an empty input list
prefix = sm.output.images.removesuffix(".images.npy")
crop_table(
    table,
    size=sm.params.crop["size"],
    box_scale=sm.params.crop["box_scale"],
    prefix=prefix,
    provenance=provenance(
        sm.params.crop,
        code_version(),
        samples=str(table.root),
        labels3d=f"fitted, joined by sample id from {fitted}" if fitted else "the sample table's own",
    ),
    labels=fitted_by_id(fitted, table.index["sample_id"].to_numpy(str)) if fitted else None,
)
log.info(
    "cropped %d samples from %s into %s (3D labels: %s)",
    len(table),
    sm.input.samples,
    prefix,
    fitted or "table",
)
