"""Build the 39 -> 68 multi-view union mapping from the training annotations (rule union_mapping)."""

from cmhm.data.samples import read_table
from cmhm.landmarks.union import mapping_from_tables, write_mapping
from cmhm.pipeline.logs import log_to
from cmhm.pipeline.provenance import code_version, provenance

log = log_to(snakemake.log[0])  # noqa: F821 - injected by Snakemake
sm = snakemake  # noqa: F821
cfg = sm.params.cfg
tables = [read_table(d) for d in sm.input]
um = mapping_from_tables(tables, cfg["frontal_max_yaw"], cfg["profile_min_yaw"], cfg["constrained"])
write_mapping(um, sm.output.csv, sm.output.json, provenance(cfg, code_version(), inputs=list(sm.input)))
log.info("mapping (right-facing profile -> 68): %s", um.mapping["right"].tolist())
