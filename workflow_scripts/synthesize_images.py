"""Render one shard of a synthetic image split (rule synthesize_images): the default config's "download"."""

from cmhm.pipeline.logs import log_to
from cmhm.pipeline.provenance import code_version, provenance
from cmhm.synth import SynthConfig, generate_images

log = log_to(snakemake.log[0])  # noqa: F821 - injected by Snakemake
sm = snakemake  # noqa: F821
p, split = sm.params.synth, sm.params.synth["split"]
cfg = SynthConfig(image_size=p["image_size"], profile_yaw=p["profile_yaw"], **p["render"])
bins = [tuple(b) for b in split["yaw_bins"]] if split.get("yaw_bins") else None
table = generate_images(
    sm.output[0],
    n=split["n"],
    seed=p["seed"],
    shard=int(sm.wildcards.shard),
    n_shards=split["shards"],
    cfg=cfg,
    yaw_bins=bins,
    prefix=sm.wildcards.split,
    provenance=provenance(p, code_version()),
)
log.info("rendered %d faces into %s", len(table), sm.output[0])
