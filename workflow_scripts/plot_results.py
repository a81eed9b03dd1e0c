"""CED curves, NME by yaw and qualitative examples from stored evaluation files (rule plot_results)."""

from cmhm.pipeline.logs import log_to
from cmhm.pipeline.provenance import code_version
from cmhm.report.plots_eval import render_results

log_to(snakemake.log[0])  # noqa: F821 - injected by Snakemake
sm = snakemake  # noqa: F821
render_results(sm.params.variants, dict(sm.input), dict(sm.output), sm.params.evaluation, code_version())
