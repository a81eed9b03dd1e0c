"""Train stage 1 of a Table-I variant (rule train_stage1): the whole model unless the variant cascades."""

from cmhm.pipeline.logs import log_to
from cmhm.pipeline.provenance import code_version, files_digest
from cmhm.training.stages import run_configs, stage1_data, train_variant_stage

log = log_to(snakemake.log[0])  # noqa: F821 - injected by Snakemake
sm = snakemake  # noqa: F821
prefixes = [p.removesuffix(".images.npy") for p in sm.input.crops if p.endswith(".images.npy")]
_, data = stage1_data(prefixes, sm.input.mapping)
base, markup3d, cfg = run_configs(
    sm.params.model, sm.params.train, sm.params.in_size, sm.threads, n_train=len(data)
)
log.info("learning rate x%g at steps %s", cfg.lr_gamma, list(cfg.lr_steps))
out = train_variant_stage(
    sm.wildcards.variant,
    0,
    base,
    markup3d,
    data,
    cfg,
    sm.output.model.removesuffix("/model.pt"),
    code_version(),
    inputs=files_digest(list(sm.input)),
    code=sm.params.code,
)
log.info("stage 1 of %s trained on %d crops: %s", sm.wildcards.variant, len(data), out)
