"""Video split: short sequences of one identity with smooth pose/expression, jumps and occlusion episodes.

Video ``k`` draws its identity, appearance, background and trajectories from
``default_rng([seed, stream, k])`` and frame ``t``'s degradations from ``default_rng([seed, stream, k, t])``.
Trajectories are sums of two random sinusoids; an optional jump adds a step in translation and yaw
from a random frame on; an optional occlusion episode moves an occluder across the face for a
window of frames.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from cmhm.data.samples import SampleTable
from cmhm.synth.config import SynthConfig
from cmhm.synth.face import render_face
from cmhm.synth.generate import _finish, _write_image, face_box, occluded, random_face, shard_range, stream_of
from cmhm.synth.layout import EXPRESSION_MODES
from cmhm.synth.scene import background, degrade, draw_occluder


def _wave(rng: np.random.Generator, n: int, amp: float) -> np.ndarray:
    """[n] smooth trajectory: a sum of two sinusoids of random frequency and phase, peak ~amp."""
    t = np.arange(n)
    f = rng.uniform(0.3, 1.5, 2) * 2 * np.pi / max(n, 2)
    ph = rng.uniform(0, 2 * np.pi, 2)
    return amp * (0.6 * np.sin(f[0] * t + ph[0]) + 0.4 * np.sin(f[1] * t + ph[1]))


def video_trajectory(rng: np.random.Generator, n: int, cfg: SynthConfig) -> dict[str, np.ndarray]:
    """Per-frame yaw, pitch, roll, dx, dy (pixels), expression coefficients and occluder progress (NaN = none)."""
    s = cfg.image_size
    tr = {
        "yaw": np.clip(
            rng.uniform(-30, 30) + _wave(rng, n, cfg.video_max_yaw * 0.7),
            -cfg.video_max_yaw,
            cfg.video_max_yaw,
        ),
        "pitch": _wave(rng, n, 12.0),
        "roll": _wave(rng, n, 10.0),
        "dx": _wave(rng, n, 0.05 * s),
        "dy": _wave(rng, n, 0.03 * s),
        "mouth_open": np.clip(_wave(rng, n, 1.0), 0, 1),
        "smile": np.clip(_wave(rng, n, 1.0), -0.5, 1),
        "brow_raise": np.clip(_wave(rng, n, 1.0), -1, 1),
        "eye_closure": np.clip(_wave(rng, n, 2.0) - 1, 0, 1),
        "occluder": np.full(n, np.nan),
    }
    if rng.uniform() < cfg.video_jump_prob and n > 2:
        t0 = int(rng.integers(1, n))
        tr["dx"][t0:] += rng.choice([-1, 1]) * rng.uniform(0.08, 0.15) * s
        tr["yaw"][t0:] = np.clip(tr["yaw"][t0:] + rng.uniform(-25, 25), -cfg.video_max_yaw, cfg.video_max_yaw)
    if rng.uniform() < cfg.video_occlusion_prob and n > 2:
        a = int(rng.integers(0, n - 1))
        b = int(rng.integers(a + 1, min(n, a + max(3, n // 3)) + 1))
        tr["occluder"][a:b] = np.linspace(0, 1, b - a)
    return tr


def generate_videos(
    out_dir: str | os.PathLike,
    n_videos: int,
    n_frames: int,
    seed: int,
    shard: int,
    n_shards: int,
    cfg: SynthConfig,
    provenance: dict | None = None,
    prefix: str = "vid",
) -> SampleTable:
    """Write shard ``shard`` of ``n_videos`` sequences of ``n_frames`` frames into ``out_dir``."""
    cv2.setNumThreads(1)
    out = Path(out_dir)
    (out / "images").mkdir(parents=True, exist_ok=True)
    stream = stream_of(prefix)
    recs = []
    for k in shard_range(n_videos, shard, n_shards):
        recs += _one_video(out, int(k), n_frames, seed, stream, cfg, prefix)
    return _finish(out, recs, provenance or {})


def _one_video(
    out: Path, k: int, n_frames: int, seed: int, stream: int, cfg: SynthConfig, prefix: str
) -> list:
    rng = np.random.default_rng([seed, stream, k])
    base = random_face(rng, cfg, 0.0)
    bg = background(rng, cfg.image_size, cfg)
    tr = video_trajectory(rng, n_frames, cfg)
    occ_kind, occ_size = int(rng.integers(3)), float(rng.uniform(*cfg.occluder_size))
    occ_y = float(rng.uniform(0.2, 0.8))
    recs = []
    for t in range(n_frames):
        frng = np.random.default_rng([seed, stream, k, t])
        cam = replace(
            base.camera,
            yaw=float(tr["yaw"][t]),
            pitch=float(tr["pitch"][t]),
            roll=float(tr["roll"][t]),
            tx=base.camera.tx + float(tr["dx"][t]),
            ty=base.camera.ty + float(tr["dy"][t]),
        )
        expr = {m: float(tr[m][t]) for m in EXPRESSION_MODES}
        face = render_face(replace(base, camera=cam, expression=expr), bg, cfg)
        box = face_box(face, frng, cfg)
        occ = np.zeros(face.image.shape[:2], bool)
        if np.isfinite(tr["occluder"][t]):
            side = max(box[2] - box[0], box[3] - box[1])
            c = np.array([box[0] - 0.3 * side + 1.6 * side * tr["occluder"][t], box[1] + occ_y * side])
            occ = draw_occluder(
                np.random.default_rng([seed, stream, k, 0]), face.image, c, occ_size * side / 2, occ_kind
            )
        image = degrade(frng, face.image, cfg)
        labels = dict(face.labels)
        labels["occluded2d"] = occluded(labels["lm2d"], occ)
        row = {
            "yaw": cam.yaw,
            "pitch": cam.pitch,
            "roll": cam.roll,
            "view": face.view,
            "side": face.side,
            "sample_id": f"{prefix}{k:04d}_{t:04d}",
            "video": f"{prefix}{k:04d}",
            "frame": t,
        }
        row.update(zip(("box_x0", "box_y0", "box_x1", "box_y1"), box.tolist()))
        recs.append(_write_image(out, row, image, labels, frng, cfg))
    return recs
