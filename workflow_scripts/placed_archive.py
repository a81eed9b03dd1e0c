"""Check the hand-placed archive of a licence-gated dataset, or fail with how to get it (rule placed_archive)."""

import sys

from cmhm.atomic import write_json_atomic
from cmhm.data.archives import check_placed
from cmhm.data.fetch import GatedDataMissing
from cmhm.pipeline.logs import log_to
from cmhm.pipeline.provenance import code_version, provenance

stderr = sys.stderr  # the terminal: the instructions must reach the user, not only the log
log = log_to(snakemake.log[0])  # noqa: F821 - injected by Snakemake
sm = snakemake  # noqa: F821
name = sm.wildcards.dataset
# sha256 is read here, not passed as a param: pinning it later must not re-extract the data.
sha256 = sm.config["datasets"][name]["sha256"]
try:
    record = check_placed(name, sm.params.archive, sha256, extract_to=f"results/{name}/raw")
except GatedDataMissing as exc:
    print(f"\n{exc}\n", file=stderr)
    raise
write_json_atomic(
    sm.output[0], {**record, "provenance": provenance({"archive": sm.params.archive}, code_version())}
)
log.info("%s: %s present (sha256 %s)", name, record["archive"], record["sha256"])
