"""Draw the union mapping like the paper's Fig. 3 (rule plot_union_mapping)."""

from cmhm.landmarks.union import read_union_mapping
from cmhm.pipeline.logs import log_to
from cmhm.report.plots_data import plot_union_mapping

log_to(snakemake.log[0])  # noqa: F821 - injected by Snakemake
sm = snakemake  # noqa: F821
um, prov = read_union_mapping(sm.input[0])
plot_union_mapping(
    um,
    [sm.output.png, sm.output.pdf, sm.output.svg],
    note=f"cmhm {prov.get('code_version', '?')}",
    config=prov.get("config"),
)
