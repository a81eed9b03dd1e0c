"""Table II: tracking AUC and failure rate per variant, quoted rows if configured (rule table2)."""

import json
from pathlib import Path

from cmhm.logs import log_to
from cmhm.published import TABLE2_CAPTION, TABLE2_COLUMNS, TEXT_COLUMNS, read_quoted
from cmhm.tables import table2_frame, with_skipped, write_table

log_to(snakemake.log[0])  # noqa: F821 - injected by Snakemake
sm = snakemake  # noqa: F821
results = {v: json.loads(Path(p).read_text()) for v, p in zip(sm.params.variants, sm.input.metrics)}
quoted = [row for p in sm.input.quoted for row in read_quoted(p, TABLE2_COLUMNS)]
df = table2_frame(results, sm.params.threshold, quoted)
df = with_skipped(df, sm.input.samples)
caption = TABLE2_CAPTION.format(threshold=sm.params.threshold)
write_table(df, sm.output.csv, sm.output.tex, caption, "tab:menpo3d", [*TEXT_COLUMNS, *TABLE2_COLUMNS])
