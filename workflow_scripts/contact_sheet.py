"""Contact sheet of training crops with their 2D and 3D annotations (rule contact_sheet)."""

from cmhm.data.crop_shards import load_crops
from cmhm.pipeline.logs import log_to
from cmhm.pipeline.provenance import code_version
from cmhm.report.plots_data import contact_sheet

log_to(snakemake.log[0])  # noqa: F821 - injected by Snakemake
sm = snakemake  # noqa: F821
n = int(sm.wildcards.n)  # in the file name: runs that show different numbers keep their own sheet
crops = load_crops([sm.input.crops[0].removesuffix(".images.npy")])
contact_sheet(
    crops,
    n,
    [sm.output.png, sm.output.pdf, sm.output.svg],
    note=f"cmhm {code_version()}",
    config={"n": n},
)
