"""Fit the sparse 3D shape model to the 2D training labels (rule annotations_3d); its held-out accuracy is rule heldout_fit's."""

from cmhm.atomic import write_json_atomic
from cmhm.data.labels3d import fit_settings, fit_tables, learn_from_tables, write_fitted
from cmhm.data.samples import read_table
from cmhm.pipeline.logs import log_to
from cmhm.pipeline.provenance import code_version, provenance

log = log_to(snakemake.log[0])  # noqa: F821 - injected by Snakemake
sm = snakemake  # noqa: F821
cfg = sm.params.cfg
prov = provenance(cfg, code_version(), inputs=list(sm.input))
fit_cfg, mapping = fit_settings(cfg, sm.input.mapping)
tables = {d: read_table(d) for d in {*sm.input.shapes, *sm.input.train}}  # shapes are usually the train split
pdm = learn_from_tables([tables[d] for d in sm.input.shapes], cfg["n_modes"])
pdm.save(sm.output.pdm)
train, fitted = fit_tables(pdm, [tables[d] for d in sm.input.train], mapping, fit_cfg)
write_fitted(sm.output.labels, train.index["sample_id"].to_numpy(str), fitted)
failed = int((~fitted["ok"]).sum())
write_json_atomic(
    sm.output.report, {"n_train": len(fitted["ok"]), "n_train_failed": failed, "provenance": prov}
)
log.info("fitted %d training faces (%d fits failed)", len(fitted["ok"]), failed)
