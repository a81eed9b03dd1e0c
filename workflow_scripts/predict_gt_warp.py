"""Predict the still-image test set with a cascade's stage 2 behind the ground-truth-landmark warp, the
upper bound of the spatial transform (rule predict_gt_warp). Same inputs as predict_images."""

import json

from cmhm.data.crop_shards import load_crops
from cmhm.evaluation.evaluate import save_npz
from cmhm.evaluation.floors import gt_warp_predictions
from cmhm.inference.model_file import read_cascade
from cmhm.models.runtime import resolve_device
from cmhm.pipeline.logs import log_to
from cmhm.pipeline.provenance import code_version, provenance

log = log_to(snakemake.log[0])  # noqa: F821 - injected by Snakemake
sm = snakemake  # noqa: F821
device = str(resolve_device(sm.params.device))
model = read_cascade(sm.input.model, device, variant=sm.wildcards.variant, seed=int(sm.wildcards.seed))
crops = load_crops([p.removesuffix(".images.npy") for p in sm.input.crops if p.endswith(".images.npy")])
pred = gt_warp_predictions(model.cascade, crops, model.markup, device)
cfg = {
    "variant": sm.wildcards.variant,
    "seed": int(sm.wildcards.seed),
    "model": sm.input.model,
    "warp": "ground truth",
}
record = json.dumps(provenance(cfg, code_version()), default=str)
save_npz(sm.output[0], {**pred, "code_version": code_version(), "provenance": record})
log.info("predicted %d test crops with %s behind the %s warp", len(crops), sm.input.model, pred["warp_from"])
