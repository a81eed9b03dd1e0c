"""The cascade's canonical mean 2D shapes, one per view, and their canonical scale by |yaw| (rule mean_shapes)."""

from cmhm.pipeline.logs import log_to
from cmhm.pipeline.provenance import code_version, provenance
from cmhm.training.stages import run_configs, stage1_data, write_mean_shapes

log = log_to(snakemake.log[0])  # noqa: F821 - injected by Snakemake
sm = snakemake  # noqa: F821
base, markup3d, _ = run_configs(sm.params.model, {}, sm.params.in_size, sm.threads)
prefixes = [p.removesuffix(".images.npy") for p in sm.input.crops if p.endswith(".images.npy")]
stage1 = stage1_data(prefixes, sm.input.mapping)
record = provenance({"model": sm.params.model, "in_size": sm.params.in_size}, code_version())
out = write_mean_shapes(
    sm.wildcards.variant, base, markup3d, stage1, sm.output.mean_shape, sm.output.report, record
)
log.info("mean shapes %s; canonical scale by |yaw|: %s", out["views"], out["canonical_scale_by_yaw"])
