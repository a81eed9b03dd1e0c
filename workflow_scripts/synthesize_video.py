"""Render one shard of the synthetic test videos (rule synthesize_video)."""

from cmhm.pipeline.logs import log_to
from cmhm.pipeline.provenance import code_version, provenance
from cmhm.synth import SynthConfig, generate_videos

log = log_to(snakemake.log[0])  # noqa: F821 - injected by Snakemake
sm = snakemake  # noqa: F821
p, video = sm.params.synth, sm.params.synth["video"]
cfg = SynthConfig(image_size=p["image_size"], profile_yaw=p["profile_yaw"], **p["render"])
table = generate_videos(
    sm.output[0],
    n_videos=video["n_videos"],
    n_frames=video["n_frames"],
    seed=p["seed"],
    shard=int(sm.wildcards.shard),
    n_shards=video["shards"],
    cfg=cfg,
    provenance=provenance(p, code_version()),
)
log.info("rendered %d frames into %s", len(table), sm.output[0])
