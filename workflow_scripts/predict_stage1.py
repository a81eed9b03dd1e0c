"""Warp the training crops into the canonical frame by stage-1 predictions (rule predict_stage1)."""

import numpy as np

from cmhm.checkpoints import StageSpec
from cmhm.logs import log_to
from cmhm.provenance import code_version, provenance
from cmhm.stages import canonical_mean_shape, stage1_crops, write_canonical_shard

log = log_to(snakemake.log[0])  # noqa: F821 - injected by Snakemake
sm = snakemake  # noqa: F821
prefixes = [p.removesuffix(".images.npy") for p in sm.input.crops if p.endswith(".images.npy")]
crops = stage1_crops(prefixes, sm.input.labels3d or None)
mean = canonical_mean_shape(crops)
np.save(sm.output.mean_shape, mean)
record = provenance({"stage1_model": sm.input.model, "device": sm.params.device}, code_version())
write_canonical_shard(
    sm.input.model,
    crops,
    mean,
    sm.output.images.removesuffix(".images.npy"),
    sm.params.device,
    record,
    StageSpec(sm.wildcards.variant, 0, in_size=crops.size),
)
log.info("canonical crops of %d training faces written", len(crops))
