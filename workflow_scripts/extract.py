"""Unpack a dataset archive safely, check its layout and list every file with its hash (rule extract)."""

from cmhm.data.archives import unpack
from cmhm.pipeline.logs import log_to
from cmhm.pipeline.provenance import code_version

log = log_to(snakemake.log[0])  # noqa: F821 - injected by Snakemake
sm = snakemake  # noqa: F821
cfg = sm.config["datasets"][sm.wildcards.dataset]
# sha256 is read here, not passed as a param: pinning it after a first run must not re-extract.
out = unpack(
    sm.wildcards.dataset, sm.params.archive, cfg["sha256"], sm.output.raw, sm.output.manifest, cfg["subdir"]
)
log.info(
    "%s: unpacked %s (sha256 %s): %d files, dataset check %d; code %s",
    sm.wildcards.dataset,
    sm.params.archive,
    out["sha256"],
    out["files"],
    out["checked"],
    code_version(),
)
