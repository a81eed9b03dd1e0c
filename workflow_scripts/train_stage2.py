"""Train stage 2 of a cascading variant on online canonical batches through the frozen stage 1 (rule train_stage2)."""

from cmhm.data.crop_shards import load_crops
from cmhm.pipeline.logs import log_to
from cmhm.pipeline.provenance import code_version, files_digest
from cmhm.training.stages import run_configs, train_cascade_stage2

log = log_to(snakemake.log[0])  # noqa: F821 - injected by Snakemake
sm = snakemake  # noqa: F821
prefixes = [p.removesuffix(".images.npy") for p in sm.input.crops if p.endswith(".images.npy")]
crops = load_crops(prefixes)
configs = run_configs(sm.params.model, sm.params.train, sm.params.in_size, sm.threads, n_train=len(crops))
log.info("learning rate x%g at steps %s", configs[2].lr_gamma, list(configs[2].lr_steps))
out = train_cascade_stage2(
    sm.wildcards.variant,
    configs,
    crops,
    sm.input.stage1,
    sm.input.mean_shape,
    sm.params.cascade["stage2_jitter"],
    sm.output.model.removesuffix("/model.pt"),
    code_version(),
    inputs=files_digest(list(sm.input)),
    code=sm.params.code,
)
log.info(
    "stage 2 of %s trained on %d crops through its frozen stage 1: %s", sm.wildcards.variant, len(crops), out
)
