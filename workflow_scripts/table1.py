"""Table I: NME by yaw bin for each measured variant, timing column, quoted rows if configured (rule table1)."""

import json
from pathlib import Path

import pandas as pd

from cmhm.logs import log_to
from cmhm.published import TABLE1_CAPTION, read_quoted, table1_columns
from cmhm.tables import paired_deltas, table1_frame, table1_tex_columns, with_skipped, write_table

log_to(snakemake.log[0])  # noqa: F821 - injected by Snakemake
sm = snakemake  # noqa: F821
results = {v: json.loads(Path(p).read_text()) for v, p in zip(sm.params.variants, sm.input.metrics)}
timing = json.loads(Path(sm.input.timing).read_text())["timing"]
quoted = [row for p in sm.input.quoted for row in read_quoted(p, table1_columns())]
per_image = {v: pd.read_csv(p) for v, p in zip(sm.params.variants, sm.input.per_image)}
df = table1_frame(results, quoted, paired_deltas(per_image))
df = with_skipped(df, sm.input.samples)
df["ms/face (this machine)"] = [
    timing[v]["ms_per_face"] if v in timing else float("nan") for v in results
] + [float("nan")] * (len(df) - len(results))
write_table(df, sm.output.csv, sm.output.tex, TABLE1_CAPTION, "tab:aflw2000", table1_tex_columns())
