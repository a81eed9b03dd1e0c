"""Loss curves of one training stage from the log.csv beside its weights (rule plot_training)."""

from pathlib import Path

from cmhm.pipeline.logs import log_to
from cmhm.pipeline.provenance import code_version
from cmhm.report.plots_eval import plot_training_log

log_to(snakemake.log[0])  # noqa: F821 - injected by Snakemake
sm = snakemake  # noqa: F821
w = sm.wildcards
plot_training_log(
    Path(sm.input.model).with_name("log.csv"),
    f"{w.variant}, seed {w.seed}, {w.stage} ({w.run})",
    [sm.output.png, sm.output.pdf, sm.output.svg],
    note=f"cmhm {code_version()}",
)
