"""Contact sheet of training crops with their 2D and 3D annotations (rule contact_sheet)."""

from cmhm.crops import load_crops
from cmhm.logs import log_to
from cmhm.plots import contact_sheet
from cmhm.provenance import code_version

log_to(snakemake.log[0])  # noqa: F821 - injected by Snakemake
sm = snakemake  # noqa: F821
crops = load_crops([sm.input.crops[0].removesuffix(".images.npy")])
contact_sheet(
    crops,
    sm.params.n,
    [sm.output.png, sm.output.pdf, sm.output.svg],
    note=f"cmhm {code_version()}",
    config={"n": sm.params.n},
)
