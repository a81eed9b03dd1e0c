"""Take this run's stage 1 from the run train.stage1_from names (rule reuse_stage1), checked first."""

from cmhm.pipeline.logs import log_to
from cmhm.pipeline.provenance import files_digest
from cmhm.training.reuse import check_source, copy_stage, expected_record, read_source, recorded_threads
from cmhm.training.stages import stage1_data

log = log_to(snakemake.log[0])  # noqa: F821 - injected by Snakemake
sm = snakemake  # noqa: F821
source = sm.input.source[0]
found = read_source(source)
# the digest train_stage1 records: its inputs in its order (crops, then the mapping)
inputs = files_digest([*sm.input.crops, sm.input.mapping])
prefixes = [p.removesuffix(".images.npy") for p in sm.input.crops if p.endswith(".images.npy")]
_, data = stage1_data(prefixes, sm.input.mapping)  # as train_stage1 reads them (train.lr_epochs -> steps)
n_train = len(data)
expected = expected_record(
    sm.wildcards.variant,
    sm.params.model,
    sm.params.train,
    sm.params.in_size,
    recorded_threads(found),
    n_train,
    inputs,
    sm.params.stage1_code,
)
check_source(source, found, expected)
copied = copy_stage(source, [sm.output.model, *sm.output.snapshots])
log.info("stage 1 of %s seed %s taken from %s: %s", sm.wildcards.variant, sm.wildcards.seed, source, copied)
