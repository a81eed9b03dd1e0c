"""Time the response maps of every variant on this machine (rule timing; paper: 20.76 vs 24.42 ms, Titan X)."""

import platform

from cmhm.evaluate import load_cascade, time_inference
from cmhm.logs import log_to
from cmhm.provenance import code_version, provenance, write_json_atomic

log = log_to(snakemake.log[0])  # noqa: F821 - injected by Snakemake
sm = snakemake  # noqa: F821
result = {}
for variant in sm.params.variants:
    files = [p for p in sm.input.models if f"/models/{variant}/" in p]
    weights = [p for p in files if p.endswith(".pt")]
    means = [p for p in files if p.endswith("mean_shape.npy")]
    result[variant] = time_inference(
        load_cascade(weights, means[0] if means else None, variant=variant, in_size=sm.params.in_size),
        sm.params.in_size,
        sm.params.device,
    )
    log.info("%s: %.2f ms per face", variant, result[variant]["ms_per_face"])
write_json_atomic(
    sm.output[0],
    {
        "timing": result,
        "machine": platform.processor() or platform.machine(),
        "provenance": provenance({}, code_version()),
    },
)
