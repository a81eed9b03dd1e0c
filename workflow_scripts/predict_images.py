"""Predict the still-image test set with one trained variant (rule predict_images)."""

import json

from cmhm.crops import load_crops
from cmhm.evaluate import load_cascade, predict_images, save_npz
from cmhm.logs import log_to
from cmhm.provenance import code_version, provenance

log = log_to(snakemake.log[0])  # noqa: F821 - injected by Snakemake
sm = snakemake  # noqa: F821
weights = [p for p in sm.input.models if p.endswith(".pt")]
means = [p for p in sm.input.models if p.endswith("mean_shape.npy")]
crops = load_crops([p.removesuffix(".images.npy") for p in sm.input.crops if p.endswith(".images.npy")])
cascade = load_cascade(
    weights,
    means[0] if means else None,
    variant=sm.wildcards.variant,
    markup3d=sm.params.markup3d,
    in_size=crops.size,
)
pred = predict_images(
    cascade, crops, sm.params.markup3d, sm.params.device, sm.params.evaluation["n_examples"]
)
cfg = {"variant": sm.wildcards.variant, "markup3d": sm.params.markup3d, "evaluation": sm.params.evaluation}
record = json.dumps(provenance(cfg, code_version()), default=str)
save_npz(sm.output[0], {**pred, "code_version": code_version(), "provenance": record})
log.info("predicted %d test crops with %s", len(crops), sm.wildcards.variant)
