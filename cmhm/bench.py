"""`make bench`: throughput of the data path, training and inference on this machine.

Speed targets live here, not in unit tests. Each measurement runs a fixed amount of work on
random data of the configured sizes and reports items per second (and ms per face for inference).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pandas as pd
import torch

from cmhm.augment import AugmentConfig
from cmhm.markups import IBUG68
from cmhm.models import Cascade, ModelConfig, build_stages, stage_plans
from cmhm.train import TrainConfig, init_state, resolve_device, train_step
from cmhm.train_data import TrainData, make_batch


def _rate(fn: Callable[[], int], repeats: int) -> float:
    """Items per second of ``fn`` (which returns how many items it processed), after one warm-up call."""
    fn()
    t0, n = time.perf_counter(), 0
    for _ in range(repeats):
        n += fn()
    return n / (time.perf_counter() - t0)


def random_data(n: int, size: int, seed: int = 0) -> TrainData:
    """Random crops with plausible landmark arrays, for throughput only."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 255, (n, size, size, 3), dtype=np.uint8)
    pts = rng.uniform(0.2 * size, 0.8 * size, (n, IBUG68.n_points, 3)).astype(np.float32)
    arrays = {"lm3d_68": pts, "union2d": pts[..., :2].copy()}
    return TrainData(images, arrays, np.array([""] * n, dtype=object))


def bench_training(
    model: ModelConfig, variant_names: list[str], steps: int = 10, batch: int = 8
) -> pd.DataFrame:
    """Loader images/s and training images/s per variant's first stage; inference ms/face per variant."""
    data = random_data(64, model.in_size)
    cfg = TrainConfig(steps=steps, batch_size=batch, device="auto")
    dev = resolve_device(cfg.device)
    rng = np.random.default_rng(0)
    rows = []
    aug = AugmentConfig()

    def load() -> int:
        make_batch(data, rng.choice(64, batch), ["lm3d_68"], model.map_size, 1.0, aug, rng)
        return batch

    rows.append({"what": "loader (augment + heatmaps)", "per_s": _rate(load, steps), "unit": "images"})
    for name in variant_names:
        stages = build_stages(name, model, IBUG68)
        plan = stage_plans(name, model, IBUG68)[0]
        st = init_state(plan.model, cfg, dev)
        targets = ["union2d" if t == "union2d" else "lm3d_68" for t in plan.targets]
        rate = _rate(lambda: (train_step(st, data, targets, cfg, dev), batch)[1], steps)
        rows.append({"what": f"train {name} stage 1", "per_s": rate, "unit": "images"})
        means = [
            torch.as_tensor(rng.uniform(0.3, 0.7, (s.n_points[-1], 2)) * model.in_size) for s in stages[:-1]
        ]
        cascade = Cascade(stages, means).to(dev).eval()
        x = torch.rand(1, 3, model.in_size, model.in_size, device=dev)

        @torch.no_grad()
        def infer() -> int:
            cascade(x)
            return 1

        rate = _rate(infer, steps)
        rows.append({"what": f"inference {name}", "per_s": rate, "unit": "faces", "ms_per_face": 1000 / rate})
    return pd.DataFrame(rows)
