"""Table II over seeds: tracking AUC and failure rate per variant (mean over seeds, spread, interval and
paired difference with seeds and whole videos resampled), quoted rows if configured (rule table2).

snakemake.input.per_frame / .metrics: every variant x seed ``.../<variant>/seed<k>/per_frame.csv`` /
``tracking_metrics.json`` (grouped by path).
"""

import json
from pathlib import Path

import pandas as pd

from cmhm.pipeline.logs import log_to
from cmhm.report.published import TABLE2_CAPTION, TABLE2_COLUMNS, read_quoted
from cmhm.report.seed_tables import TABLE2_SEED_TEX, group_by_seed, table2_seed_frame
from cmhm.report.tables import with_skipped, write_table

log_to(snakemake.log[0])  # noqa: F821 - injected by Snakemake
sm = snakemake  # noqa: F821
frames = group_by_seed(sm.input.per_frame, sm.params.variants)
metrics = group_by_seed(sm.input.metrics, sm.params.variants)
quoted = [row for p in sm.input.quoted for row in read_quoted(p, TABLE2_COLUMNS)]
df = table2_seed_frame(
    {v: [pd.read_csv(p) for p in ps] for v, ps in frames.items()},
    {v: [json.loads(Path(p).read_text()) for p in ps] for v, ps in metrics.items()},
    sm.params.threshold,
    quoted,
)
df = with_skipped(df, sm.input.samples)
caption = TABLE2_CAPTION.format(threshold=sm.params.threshold)
write_table(df, sm.output.csv, sm.output.tex, caption, "tab:menpo3d", ["method", *TABLE2_SEED_TEX])
