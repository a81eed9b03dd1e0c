"""Validation during training: the held-out rows and their NME (``val_nme`` in ``log.csv``).

The normaliser is the square root of the target points' box area, as in
:func:`cmhm.landmarks.nme.box_area_norm`, but computed here in float32 torch on decoded maps (map pixels)
so that logged values keep the rounding they have always had.
"""

from __future__ import annotations

import numpy as np
import torch

from cmhm.models.heatmaps import decode_heatmaps
from cmhm.models.hourglass import StackedHourglass
from cmhm.training.batches import Batch


def held_out_rows(n_rows: int, val_size: int, seed: int) -> np.ndarray:
    """The ``val_size`` rows (sorted) held out for validation, chosen by ``seed`` alone (so the same on a
    resume, and independent of the batch RNG). Refuses to hold out half the data or more."""
    if val_size * 2 >= n_rows:
        raise ValueError(f"train.val_size {val_size} holds out half or more of the {n_rows} training crops")
    return np.sort(np.random.default_rng([seed, 7919]).choice(n_rows, size=val_size, replace=False))


@torch.no_grad()
def validation_nme(model: StackedHourglass, batch: Batch, device: torch.device) -> float:
    """NME (%) of the last stack on a fixed batch: the mean point error over the annotated points
    (mask, and a target peak >= 0.5: the Gaussian is inside the map) divided by the square root of the
    target points' box area, averaged over crops; in map pixels, against the decoded target heatmaps
    (decoding floor ~0.003 % at 128 px). ``model`` is evaluated in eval mode and put back as it was."""
    images, maps, masks = batch
    was_training = model.training
    model.eval()
    try:
        pred = decode_heatmaps(model(images.to(device))[-1].float())[0].cpu()
    finally:
        model.train(was_training)
    want, peak = decode_heatmaps(maps[-1].float())
    ok = masks[-1] & (peak >= 0.5)
    err = (pred - want).norm(dim=-1)
    nmes = []
    for e, w, m in zip(err, want, ok):
        if m.sum() < 2:
            continue
        span = w[m].amax(0) - w[m].amin(0)
        nmes.append(float(e[m].mean() / span.prod().sqrt().clamp_min(1e-6)))
    return 100 * float(np.mean(nmes)) if nmes else float("nan")
