"""Table I over seeds: NME by yaw bin per variant (mean over seeds, spread, hierarchical interval, paired
difference to the first variant), timing column, quoted rows if configured (rule table1).

snakemake.input.per_image: every variant x seed ``.../<variant>/seed<k>/per_image.csv`` (grouped by path).
"""

import json
from pathlib import Path

import pandas as pd

from cmhm.pipeline.logs import log_to
from cmhm.report.published import read_quoted, table1_caption, table1_columns
from cmhm.report.seed_tables import group_by_seed, table1_seed_frame, table1_seed_tex_columns
from cmhm.report.tables import with_skipped, write_table

log = log_to(snakemake.log[0])  # noqa: F821 - injected by Snakemake
sm = snakemake  # noqa: F821
files = group_by_seed(sm.input.per_image, sm.params.variants)
log.info("Table I from %s", {v: len(p) for v, p in files.items()})
timing = json.loads(Path(sm.input.timing).read_text())["timing"]
quoted = [row for p in sm.input.quoted for row in read_quoted(p, table1_columns())]
df = table1_seed_frame({v: [pd.read_csv(p) for p in ps] for v, ps in files.items()}, quoted)
df = with_skipped(df, sm.input.samples)
df["ms/face (this machine)"] = [timing[v]["ms_per_face"] if v in timing else float("nan") for v in files] + [
    float("nan")
] * (len(df) - len(files))
caption = table1_caption(sm.params.test_split, len(quoted))
write_table(df, sm.output.csv, sm.output.tex, caption, "tab:aflw2000", table1_seed_tex_columns())
