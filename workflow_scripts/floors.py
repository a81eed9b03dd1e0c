"""Floors and controls beside Table I: decoding floor, 3D label floor, measured arms (rule floors).

snakemake.input.crops: the test crop shards; .heldout: annotations_3d's heldout_fit.csv (optional, may be
empty); .arms: every per_image.csv named in params.arms; .model: a model file of the run, whose heatmap
codec (crop size, map size, sigma) the decoding floor uses. params.arms: {row label: [per_image.csv of each
seed]}; params.markup3d.
"""

import pandas as pd

from cmhm.data.crop_shards import load_crops
from cmhm.evaluation.floors import FLOORS_CAPTION, floors_table
from cmhm.inference.model_file import read_codec
from cmhm.pipeline.logs import log_to
from cmhm.report.tables import write_table

log_to(snakemake.log[0])  # noqa: F821 - injected by Snakemake
sm = snakemake  # noqa: F821
crops = load_crops([p.removesuffix(".images.npy") for p in sm.input.crops if p.endswith(".images.npy")])
heldout = pd.read_csv(sm.input.heldout[0]) if sm.input.get("heldout") else None
arms = {label: [pd.read_csv(p) for p in paths] for label, paths in sm.params.arms.items()}
df = floors_table(crops, sm.params.markup3d, read_codec(sm.input.model), heldout, arms)
write_table(df, sm.output.csv, sm.output.tex, FLOORS_CAPTION, "tab:floors")
