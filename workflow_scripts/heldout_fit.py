"""The 3D shape model's fit on held-out faces against their 3D ground truth (rule heldout_fit)."""

from cmhm.atomic import write_atomic, write_json_atomic
from cmhm.data.labels3d import fit_settings, fit_tables, heldout_errors, summarise
from cmhm.data.samples import read_table
from cmhm.landmarks.shape_model import PDM
from cmhm.pipeline.logs import log_to
from cmhm.pipeline.provenance import code_version, provenance

log = log_to(snakemake.log[0])  # noqa: F821 - injected by Snakemake
sm = snakemake  # noqa: F821
cfg = sm.params.cfg
prov = provenance(cfg, code_version(), inputs=list(sm.input))
fit_cfg, mapping = fit_settings(cfg, sm.input.mapping)
held, held_fit = fit_tables(
    PDM.load(sm.input.pdm), [read_table(d) for d in sm.input.heldout], mapping, fit_cfg
)
errors = heldout_errors(held, held_fit)
write_atomic(sm.output.per_sample, lambda tmp: errors.to_csv(tmp, index=False))
report = summarise(errors)
write_json_atomic(sm.output.report, {**report, "provenance": prov})
log.info("held-out fit NME (2D, 68): mean %.4f", report["nme2d_68"]["mean"])
