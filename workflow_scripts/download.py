"""Download a public dataset's archive, resumably and hash-checked (rule download)."""

from cmhm.data.archives import fetch_public
from cmhm.pipeline.logs import log_to
from cmhm.pipeline.provenance import code_version

log = log_to(snakemake.log[0])  # noqa: F821 - injected by Snakemake
sm = snakemake  # noqa: F821
# url and sha256 are read here, not passed as params: switching mirrors or pinning the hash after a
# download must not make Snakemake delete the archive and fetch it again.
cfg = sm.config["datasets"][sm.wildcards.dataset]
digest = fetch_public(sm.wildcards.dataset, cfg["url"], sm.output[0], cfg["sha256"])
log.info("%s: %s (sha256 %s; code %s)", sm.wildcards.dataset, sm.output[0], digest, code_version())
