"""Train stage 2 of a cascading variant on the canonical crops (rule train_stage2)."""

from cmhm.logs import log_to
from cmhm.provenance import code_version, files_digest
from cmhm.stages import run_configs, stage2_data, train_variant_stage

log = log_to(snakemake.log[0])  # noqa: F821 - injected by Snakemake
sm = snakemake  # noqa: F821
data = stage2_data(sm.input.images.removesuffix(".images.npy"))
base, markup3d, cfg = run_configs(
    sm.params.model, sm.params.train, sm.params.in_size, sm.threads, n_train=len(data)
)
log.info("learning rate x%g at steps %s", cfg.lr_gamma, list(cfg.lr_steps))
out = train_variant_stage(
    sm.wildcards.variant,
    1,
    base,
    markup3d,
    data,
    cfg,
    sm.output.model.removesuffix("/model.pt"),
    code_version(),
    inputs=files_digest(list(sm.input)),
    code=sm.params.code,
)
log.info("stage 2 of %s trained on %d canonical crops: %s", sm.wildcards.variant, len(data), out)
