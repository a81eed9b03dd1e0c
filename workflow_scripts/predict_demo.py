"""`cmhm predict` of one model file on a few test images, overlays for report.html (rule predict_demo)."""

from cmhm.inference.api import load
from cmhm.inference.predict_files import predict_demo
from cmhm.pipeline.logs import log_to

log = log_to(snakemake.log[0])  # noqa: F821 - injected by Snakemake
sm = snakemake  # noqa: F821
aligner = load(sm.input.model, device=sm.params.device)
report = predict_demo(aligner, list(sm.input.samples), sm.params.n, sm.output[0])
if report.failures:
    raise RuntimeError(f"predict demo: {len(report.failures)} inputs failed: {report.failures}")
log.info("%d faces aligned by %s, overlays in %s", sum(report.faces.values()), sm.input.model, sm.output[0])
