"""CED curves, NME by yaw and qualitative examples from stored evaluation files (rule plot_results)."""

from cmhm.logs import log_to
from cmhm.plots_eval import render_results
from cmhm.provenance import code_version

log_to(snakemake.log[0])  # noqa: F821 - injected by Snakemake
sm = snakemake  # noqa: F821
render_results(sm.params.variants, dict(sm.input), dict(sm.output), sm.params.evaluation, code_version())
