"""Time the response maps of every variant on this machine (rule timing; paper: 20.76 vs 24.42 ms, Titan X)."""

import platform

from cmhm.atomic import write_json_atomic
from cmhm.evaluation.evaluate import time_inference
from cmhm.inference.model_file import read_cascade
from cmhm.pipeline.logs import log_to
from cmhm.pipeline.provenance import code_version, provenance

log = log_to(snakemake.log[0])  # noqa: F821 - injected by Snakemake
sm = snakemake  # noqa: F821
result = {}
for variant, path in zip(sm.params.variants, sm.input.models):
    model = read_cascade(path, variant=variant)
    result[variant] = time_inference(model.cascade, model.crop.size, sm.params.device)
    log.info("%s: %.2f ms per face", variant, result[variant]["ms_per_face"])
write_json_atomic(
    sm.output[0],
    {
        "timing": result,
        "machine": platform.processor() or platform.machine(),
        "provenance": provenance({}, code_version()),
    },
)
