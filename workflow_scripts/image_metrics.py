"""AFLW2000-3D protocol on one variant's predictions (rule image_metrics)."""

import numpy as np

from cmhm.atomic import write_json_atomic
from cmhm.evaluation.evaluate import image_metrics
from cmhm.pipeline.logs import log_to
from cmhm.pipeline.provenance import code_version, provenance

log = log_to(snakemake.log[0])  # noqa: F821 - injected by Snakemake
sm = snakemake  # noqa: F821
with np.load(sm.input[0], allow_pickle=False) as z:
    pred = {k: z[k] for k in ("sample_id", "yaw", "view", "points", "gt")}
per_image, table = image_metrics(pred)
per_image.to_csv(sm.output.per_image, index=False)
write_json_atomic(
    sm.output.metrics,
    {
        **table,
        "variant": sm.wildcards.variant,
        "provenance": provenance({}, code_version(), inputs=list(sm.input)),
    },
)
log.info("%s: NME mean of bins %.4f", sm.wildcards.variant, table["overall_mean_of_bins"])
