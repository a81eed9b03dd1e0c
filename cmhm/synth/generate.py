"""Still-image splits: random face parameters, one face -> one sample record, shards -> sample tables.

Determinism: sample ``i`` of a split draws everything from ``np.random.default_rng([seed, stream, i])``
where ``stream`` is a CRC32 of the split's ``prefix``, so a sample does not depend on the shard
layout and splits with the same seed differ.
"""

from __future__ import annotations

import os
import zlib
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from cmhm.data.samples import INDEX_COLUMNS, SampleTable, empty_arrays, write_table
from cmhm.synth.config import SynthConfig
from cmhm.synth.face import FaceParams, RenderedFace, render_face
from cmhm.synth.layout import EXPRESSION_MODES, IDENTITY_MODES
from cmhm.synth.render import Camera
from cmhm.synth.scene import background, degrade, light_direction, occluder
from cmhm.synth.texture import random_appearance

EXTRA = ("contour3d", "occluded2d")


def stream_of(prefix: str) -> int:
    """The RNG stream number of a split prefix."""
    return zlib.crc32(prefix.encode())


def random_identity(rng: np.random.Generator, cfg: SynthConfig) -> dict[str, float]:
    return {k: float(np.clip(rng.normal(0, cfg.identity_std), -1, 1)) for k in IDENTITY_MODES}


def random_expression(rng: np.random.Generator, cfg: SynthConfig) -> dict[str, float]:
    if rng.uniform() >= cfg.expression_prob:
        return {k: 0.0 for k in EXPRESSION_MODES}
    return {
        "mouth_open": float(rng.uniform(0, 1) ** 2),
        "smile": float(rng.uniform(-0.5, 1)),
        "brow_raise": float(rng.uniform(-1, 1)),
        "eye_closure": float(rng.uniform(0, 1) ** 3),
    }


def random_camera(rng: np.random.Generator, cfg: SynthConfig, yaw: float) -> Camera:
    s = cfg.image_size
    scale = rng.uniform(*cfg.face_scale) * s
    off = rng.uniform(-cfg.face_offset, cfg.face_offset, 2) * s
    return Camera(
        yaw=float(yaw),
        pitch=float(rng.uniform(*cfg.pitch_range)),
        roll=float(rng.uniform(*cfg.roll_range)),
        scale=float(scale),
        tx=float((s - 1) / 2 + off[0]),
        ty=float((s - 1) / 2 - 0.4 * scale + off[1]),
    )


def random_face(rng: np.random.Generator, cfg: SynthConfig, yaw: float) -> FaceParams:
    """Random identity, expression, appearance, lighting and camera at the given yaw (degrees)."""
    return FaceParams(
        identity=random_identity(rng, cfg),
        expression=random_expression(rng, cfg),
        camera=random_camera(rng, cfg, yaw),
        appearance=random_appearance(rng, cfg.bald_prob),
        light=light_direction(rng, cfg),
        ambient=float(rng.uniform(*cfg.ambient)),
        diffuse=float(rng.uniform(*cfg.diffuse)),
    )


def render_one(
    identity: dict[str, float],
    expression: dict[str, float],
    yaw: float,
    pitch: float = 0.0,
    roll: float = 0.0,
    cfg: SynthConfig | None = None,
    seed: int = 0,
) -> RenderedFace:
    """Render one face with the given shape and pose (appearance and lighting from ``seed``), centred, plain background."""
    cfg = cfg or SynthConfig()
    rng = np.random.default_rng(seed)
    p = random_face(rng, cfg, yaw)
    s = cfg.image_size
    scale = float(np.mean(cfg.face_scale)) * s
    cam = Camera(float(yaw), float(pitch), float(roll), scale, (s - 1) / 2, (s - 1) / 2 - 0.4 * scale)
    p = FaceParams(identity, expression, cam, p.appearance, p.light, p.ambient, p.diffuse)
    return render_face(p, np.full((s, s, 3), 128, np.uint8), cfg)


def face_box(face: RenderedFace, rng: np.random.Generator, cfg: SynthConfig) -> np.ndarray:
    """[4] detector-like box: the box of the annotated points, enlarged, jittered in centre and scale, clipped."""
    pts = face.labels["lm2d"] if face.view == "semifrontal" else face.labels["lm2d_profile"]
    lo, hi = np.nanmin(pts, axis=0), np.nanmax(pts, axis=0)
    c = (lo + hi) / 2
    side = np.max(hi - lo) * cfg.box_scale * (1 + rng.uniform(-cfg.box_scale_jitter, cfg.box_scale_jitter))
    c = c + rng.uniform(-cfg.box_shift, cfg.box_shift, 2) * side
    h, w = face.image.shape[:2]
    box = np.array([c[0] - side / 2, c[1] - side / 2, c[0] + side / 2, c[1] + side / 2])
    return np.clip(box, [0, 0, 0, 0], [w - 1, h - 1, w - 1, h - 1])


def make_sample(rng: np.random.Generator, cfg: SynthConfig, yaw: float) -> tuple[np.ndarray, dict, dict]:
    """One still image: (image uint8 BGR, label arrays, index fields)."""
    params = random_face(rng, cfg, yaw)
    face = render_face(params, background(rng, cfg.image_size, cfg), cfg)
    box = face_box(face, rng, cfg)
    occ = np.zeros(face.image.shape[:2], bool)
    if rng.uniform() < cfg.occluder_prob:
        occ = occluder(rng, face.image, box, cfg)
    image = degrade(rng, face.image, cfg)
    labels = dict(face.labels)
    labels["occluded2d"] = occluded(labels["lm2d"], occ)
    cam = params.camera
    row = {"yaw": cam.yaw, "pitch": cam.pitch, "roll": cam.roll, "view": face.view, "side": face.side}
    row.update(zip(("box_x0", "box_y0", "box_x1", "box_y1"), box.tolist()))
    return image, labels, row


def occluded(points: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """[P] whether each finite point [P, 2] falls on the occluder ``mask`` [H, W]."""
    h, w = mask.shape
    ok = np.isfinite(points).all(1)
    xy = np.round(np.nan_to_num(points)).astype(int)
    inside = ok & (xy[:, 0] >= 0) & (xy[:, 0] < w) & (xy[:, 1] >= 0) & (xy[:, 1] < h)
    out = np.zeros(len(points), bool)
    out[inside] = mask[xy[inside, 1], xy[inside, 0]]
    return out


def yaw_schedule(
    n: int, seed: int, stream: int, yaw_bins: list | None, cfg: SynthConfig
) -> np.ndarray | None:
    """[n] |yaw| bin per sample (exact counts: rounded shares, remainder to the first bin), or None."""
    if not yaw_bins:
        return None
    counts = [round(frac * n) for _, _, frac in yaw_bins]
    counts[0] += n - sum(counts)
    if min(counts) < 0:
        raise ValueError(f"yaw_schedule: shares {yaw_bins} do not fit n={n}")
    bins = np.repeat(np.arange(len(yaw_bins)), counts)
    return np.random.default_rng([seed, stream, 2**32 - 1]).permutation(bins)


def _sample_yaw(rng: np.random.Generator, cfg: SynthConfig, yaw_bins: list | None, b: int | None) -> float:
    if b is None:
        return float(rng.uniform(*cfg.yaw_range))
    lo, hi, _ = yaw_bins[b]
    return float(rng.uniform(lo, hi) * rng.choice([-1.0, 1.0]))


def shard_range(n: int, shard: int, n_shards: int) -> np.ndarray:
    """Global indices of shard ``shard`` of ``n_shards`` (contiguous blocks)."""
    if not 0 <= shard < n_shards:
        raise ValueError(f"shard {shard} is not in [0, {n_shards})")
    return np.array_split(np.arange(n), n_shards)[shard]


def generate_images(
    out_dir: str | os.PathLike,
    n: int,
    seed: int,
    shard: int,
    n_shards: int,
    cfg: SynthConfig,
    yaw_bins: list | None = None,
    provenance: dict | None = None,
    prefix: str = "img",
) -> SampleTable:
    """Write shard ``shard`` of an ``n``-image split into ``out_dir`` (images/, index.csv, labels.npz, provenance.json).

    ``yaw_bins``: optional [(lo, hi, share)] over |yaw| (degrees, random sign) with exact counts.
    """
    cv2.setNumThreads(1)
    out = Path(out_dir)
    (out / "images").mkdir(parents=True, exist_ok=True)
    stream = stream_of(prefix)
    schedule = yaw_schedule(n, seed, stream, yaw_bins, cfg)
    idx = shard_range(n, shard, n_shards)
    recs = []
    for i in idx:
        rng = np.random.default_rng([seed, stream, int(i)])
        yaw = _sample_yaw(rng, cfg, yaw_bins, None if schedule is None else int(schedule[i]))
        image, labels, row = make_sample(rng, cfg, yaw)
        row.update(sample_id=f"{prefix}{i:06d}", video="", frame=-1)
        recs.append(_write_image(out, row, image, labels, rng, cfg))
    return _finish(out, recs, provenance or {})


def _write_image(
    out: Path, row: dict, image: np.ndarray, labels: dict, rng: np.random.Generator, cfg: SynthConfig
):
    quality = int(rng.integers(cfg.jpeg_quality[0], cfg.jpeg_quality[1] + 1))
    rel = f"images/{row['sample_id']}.jpg"
    if not cv2.imwrite(str(out / rel), image, [cv2.IMWRITE_JPEG_QUALITY, quality]):
        raise OSError(f"could not write {out / rel}")
    row.update(image=rel, width=image.shape[1], height=image.shape[0])
    return row, labels


def _finish(out: Path, recs: list, provenance: dict) -> SampleTable:
    arrays = empty_arrays(len(recs))
    extra = {}
    for j, (_, labels) in enumerate(recs):
        for name in arrays:
            arrays[name][j] = labels[name]
        for name in EXTRA:
            extra.setdefault(name, np.zeros((len(recs), *labels[name].shape), labels[name].dtype))[j] = (
                labels[name]
            )
    cfg_k = recs[0][1]["contour3d"].shape[1] if recs else 0
    extra.setdefault("contour3d", np.zeros((0, 17, cfg_k, 3)))
    extra.setdefault("occluded2d", np.zeros((0, 68), bool))
    extra["contour3d"] = extra["contour3d"].astype(np.float32)
    index = pd.DataFrame([r for r, _ in recs], columns=list(INDEX_COLUMNS))
    table = SampleTable(root=out, index=index, arrays=arrays, extra=extra)
    write_table(table, out, provenance)
    return table
