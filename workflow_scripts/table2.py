"""Table II: tracking AUC and failure rate per variant (rule table2)."""

import json
from pathlib import Path

from cmhm.logs import log_to
from cmhm.published import TABLE2_CAPTION
from cmhm.tables import table2_frame, write_table

log_to(snakemake.log[0])  # noqa: F821 - injected by Snakemake
sm = snakemake  # noqa: F821
results = {v: json.loads(Path(p).read_text()) for v, p in zip(sm.params.variants, sm.input.metrics)}
df = table2_frame(results, sm.params.threshold)
write_table(
    df, sm.output.csv, sm.output.tex, TABLE2_CAPTION.format(threshold=sm.params.threshold), "tab:menpo3d"
)
