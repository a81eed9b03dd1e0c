"""Turn one shard of an unpacked real dataset into a sample table with the dataset's adapter (rule adapt)."""

from cmhm.data.registry import adapt
from cmhm.data.shards import Shard
from cmhm.pipeline.logs import log_to
from cmhm.pipeline.provenance import code_version, provenance

log = log_to(snakemake.log[0])  # noqa: F821 - injected by Snakemake
sm = snakemake  # noqa: F821
shard = Shard(int(sm.wildcards.shard), sm.params.shards)
prov = provenance(
    sm.params.options,
    code_version(),
    dataset=sm.wildcards.dataset,
    shard=str(shard),
    inputs=[sm.input.manifest],
)
table = adapt(
    sm.wildcards.dataset,
    sm.input.raw,
    sm.output[0],
    sm.params.options,
    prov,
    shard,
    sm.params.on_bad_sample,
    split=sm.wildcards.split,
)
log.info(
    "shard %s: %d samples in %s (skipped samples: %s/skipped.csv)",
    shard,
    len(table),
    sm.output[0],
    sm.output[0],
)
