"""Build the 39 -> 68 multi-view union mapping from the training annotations (rule union_mapping)."""

from cmhm.logs import log_to
from cmhm.provenance import code_version, provenance
from cmhm.samples import read_table
from cmhm.union import mapping_from_tables, write_mapping

log = log_to(snakemake.log[0])  # noqa: F821 - injected by Snakemake
sm = snakemake  # noqa: F821
cfg = sm.params.cfg
tables = [read_table(d) for d in sm.input]
um = mapping_from_tables(tables, cfg["frontal_max_yaw"], cfg["profile_min_yaw"], cfg["constrained"])
write_mapping(um, sm.output.csv, sm.output.json, provenance(cfg, code_version(), inputs=list(sm.input)))
log.info("mapping (right-facing profile -> 68): %s", um.mapping["right"].tolist())
