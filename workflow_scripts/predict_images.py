"""Predict the still-image test set with one trained model file (rule predict_images)."""

import json

from cmhm.data.crop_shards import load_crops
from cmhm.evaluation.evaluate import predict_images, save_npz
from cmhm.inference.model_file import read_cascade
from cmhm.pipeline.logs import log_to
from cmhm.pipeline.provenance import code_version, provenance

log = log_to(snakemake.log[0])  # noqa: F821 - injected by Snakemake
sm = snakemake  # noqa: F821
model = read_cascade(sm.input.model, variant=sm.wildcards.variant, seed=int(sm.wildcards.seed))
crops = load_crops([p.removesuffix(".images.npy") for p in sm.input.crops if p.endswith(".images.npy")])
pred = predict_images(
    model.cascade, crops, model.markup, sm.params.device, sm.params.evaluation["n_examples"]
)
cfg = {
    "variant": sm.wildcards.variant,
    "seed": int(sm.wildcards.seed),
    "model": sm.input.model,
    "model_file": model.describe(),
    "markup3d": model.markup,
    "evaluation": sm.params.evaluation,
}
record = json.dumps(provenance(cfg, code_version()), default=str)
save_npz(sm.output[0], {**pred, "code_version": code_version(), "provenance": record})
log.info("predicted %d test crops with %s", len(crops), sm.input.model)
