"""Floors and controls printed beside Table I: what no variant can beat at this configuration.

- decoding floor (:func:`decoding_floor`): the test crops' ground-truth landmarks encoded and decoded by
  the model's :class:`cmhm.models.heatmaps.HeatmapCodec` (map size and sigma as the model file records
  them), scored like a prediction (NME, mean of |yaw| bins). A perfect network still pays this.
- label floor (:func:`label_floor`): the 3D fit's held-out error (``heldout_fit.csv`` of
  ``annotations_3d``): how far the fitted training labels are from the synthetic truth.
- ground-truth warp (:func:`gt_warp_predict`): stage 2 of a cascade on crops warped by the Procrustes
  fit of the *ground-truth* 2D landmarks instead of stage 1's prediction, the upper bound of the
  spatial transform.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from cmhm.data.crop_shards import CropSet
from cmhm.data.samples import ARRAY_MARKUPS, PROJ3D_ARRAYS, UNION_ARRAY
from cmhm.evaluation.metrics import aflw_table, nme_box
from cmhm.geometry.yaw_bins import bin_labels
from cmhm.models.cascade import Cascade
from cmhm.models.heatmaps import HeatmapCodec, crop_to_map, map_to_crop
from cmhm.models.runtime import to_tensor

FLOOR_COLUMNS = ["floor", "Mean", *bin_labels(), "Mean sd (seeds)", "seeds", "n", "note"]
# The decoding floor is also printed at the default config's crop side (config.yaml's crop.size), so a
# run at another size (the paper's 128 px) shows both.
DEFAULT_CROP_SIZE = 64


@torch.no_grad()
def decode_gt(points: np.ndarray, codec: HeatmapCodec) -> np.ndarray:
    """Crop-pixel landmarks [N, K, 2] -> ``codec``'s Gaussians -> decoded back to crop pixels [N, K, 2]
    (in float64); NaN points stay NaN."""
    p = torch.as_tensor(np.asarray(points, dtype=np.float64))
    out = codec.decode(codec.encode(p))[0].numpy()
    return np.where(np.isfinite(points), out, np.nan)


def decoding_floor(points: np.ndarray, yaw: np.ndarray, codec: HeatmapCodec) -> dict:
    """NME of :func:`decode_gt` against ``points`` [N, K, 2] (crop pixels; the box normaliser is the same
    in crop and image pixels up to scale) as an :func:`cmhm.evaluation.metrics.aflw_table` dict, plus
    ``max_map_px``: the largest decoding error of a point in map pixels, and ``argmax_mean_of_bins``:
    the NME of the integer map pixel alone (no sub-pixel step), the scale of the map's quantisation.

    Exact Gaussians decode exactly where the peak is inside the map (the log of a sampled Gaussian is a
    parabola); what remains comes from points on or outside the map's border."""
    dec = decode_gt(points, codec)
    crop_size, map_size = codec.crop_size, codec.map_size
    err = np.linalg.norm(dec - points, axis=-1) * map_size / crop_size
    on_grid = map_to_crop(
        np.round(crop_to_map(np.asarray(points, np.float64), crop_size, map_size)), crop_size, map_size
    )
    quant = aflw_table(nme_box(np.where(np.isfinite(points), on_grid, np.nan), points), yaw)
    return {
        **aflw_table(nme_box(dec, points), yaw),
        "max_map_px": float(np.nanmax(err)),
        "argmax_mean_of_bins": quant["overall_mean_of_bins"],
    }


def label_floor(heldout: pd.DataFrame, column: str = "nme2d_68") -> dict:
    """The 3D fit's held-out error (``heldout_fit.csv``: yaw, fit_ok, ``column``) as an aflw_table dict,
    over the faces whose fit succeeded (``n_failed`` counts the others)."""
    for c in ("yaw", "fit_ok", column):
        if c not in heldout.columns:
            raise ValueError(f"held-out fit table lacks column {c!r} (has {list(heldout.columns)})")
    ok = heldout[heldout["fit_ok"].astype(bool)]
    return {
        **aflw_table(ok[column].to_numpy(np.float64), ok["yaw"].to_numpy()),
        "n_failed": int(len(heldout) - len(ok)),
    }


@torch.no_grad()
def gt_warp_predict(
    cascade: Cascade, images: np.ndarray, gt_points: np.ndarray, batch_size: int = 16, device: str = "cpu"
) -> np.ndarray:
    """Stage 2 of a two-stage ``cascade`` on crops ``images`` uint8 [N, S, S, 3] warped by the fit of
    ``gt_points`` [N, K, 2] (crop pixels, stage 1's markup, NaN where absent) onto the cascade's mean
    shapes -> points [N, K2, 2] in crop pixels. The cascade's own link (:meth:`Cascade.link`), with the
    ground truth (weight 1 where present) in place of stage 1's decoded points."""
    if len(cascade.stages) != 2:
        raise ValueError(
            f"the ground-truth warp needs a two-stage cascade, got {len(cascade.stages)} stage(s)"
        )
    k = cascade.mean_shape(0).shape[1]
    if gt_points.shape[1:] != (k, 2):
        raise ValueError(f"ground-truth points {gt_points.shape} must be [N, {k}, 2] (stage 1's markup)")
    cascade = cascade.to(device).eval()
    out = []
    for lo in range(0, len(images), batch_size):
        x = to_tensor(np.asarray(images[lo : lo + batch_size])).to(device)
        g = torch.as_tensor(np.asarray(gt_points[lo : lo + batch_size], dtype=np.float32), device=device)
        w = torch.isfinite(g).all(-1).float()
        x2, A = cascade.link(0, x, torch.nan_to_num(g), w)
        out.append(cascade.run_stage(1, x2, A)[1].cpu().numpy())
    return np.concatenate(out)


def gt_landmarks(crops: CropSet) -> tuple[np.ndarray, str]:
    """Stage 1's ground truth for the warp, crop pixels [N, K, 2]: the multi-view union labels when the
    crops carry them, else the 68 projected 3D landmarks (the union's frontal meaning); and its name."""
    name = UNION_ARRAY if UNION_ARRAY in crops.arrays else PROJ3D_ARRAYS[ARRAY_MARKUPS[UNION_ARRAY]]
    if name not in crops.arrays:
        raise ValueError(
            f"test crops carry neither {UNION_ARRAY!r} nor {name!r} (have {sorted(crops.arrays)})"
        )
    return np.asarray(crops.arrays[name][..., :2], dtype=np.float64), name


def gt_warp_predictions(cascade: Cascade, crops: CropSet, markup3d: str, device: str = "cpu") -> dict:
    """:func:`gt_warp_predict` on every test crop, as the arrays :func:`cmhm.evaluation.evaluate.image_metrics` reads
    (image pixels), plus ``warp_from``: which ground truth drove the warp."""
    gt2d, name = gt_landmarks(crops)
    pts = gt_warp_predict(cascade, crops.images, gt2d, device=device)
    return {
        "sample_id": crops.index["sample_id"].to_numpy(str),
        "yaw": crops.index["yaw"].to_numpy(np.float64),
        "view": crops.index["view"].to_numpy(str),
        "points": crops.to_image(pts),
        "gt": crops.to_image(crops.arrays[PROJ3D_ARRAYS[markup3d]][..., :2]),
        "warp_from": np.array(name),
    }


def floor_row(name: str, table: dict, note: str = "", sd: float = float("nan"), seeds: int = 1) -> dict:
    """One row of the floors table (NME %) from an :func:`cmhm.evaluation.metrics.aflw_table`-like dict."""
    bins = {b: v["mean"] * 100 for b, v in table["bins"].items()}
    return {
        "floor": name,
        "Mean": table["overall_mean_of_bins"] * 100,
        **bins,
        "Mean sd (seeds)": sd * 100,
        "seeds": seeds,
        "n": table["n"],
        "note": note,
    }


def arm_row(name: str, per_image: list[pd.DataFrame], note: str = "") -> dict:
    """A floors-table row of a measured arm (per seed a ``per_image.csv`` frame): bins and Mean averaged
    over seeds, the seeds' sd of Mean."""
    tables = [aflw_table(df["nme"].to_numpy(np.float64), df["yaw"].to_numpy()) for df in per_image]
    means = np.array([t["overall_mean_of_bins"] for t in tables])
    avg = {
        "bins": {
            b: {"mean": float(np.mean([t["bins"][b]["mean"] for t in tables]))} for b in tables[0]["bins"]
        },
        "overall_mean_of_bins": float(means.mean()),
        "n": tables[0]["n"],
    }
    sd = float(means.std(ddof=1)) if len(means) > 1 else float("nan")
    return floor_row(name, avg, note, sd, len(means))


def floors_frame(rows: list[dict]) -> pd.DataFrame:
    """The floors-and-controls table beside Table I, one row per :func:`floor_row` / :func:`arm_row`."""
    return pd.DataFrame(rows, columns=FLOOR_COLUMNS).astype({"n": "Int64", "seeds": "Int64"})


FLOORS_CAPTION = (
    "Floors and controls beside Table I (NME %, mean of |yaw| bins): the decoding floor (ground-truth "
    "Gaussians at the map size decoded back), the 3D label floor (held-out fit against the synthetic "
    "truth), and measured arms (means over seeds with their sd)."
)


def rescale_points(points: np.ndarray, from_size: int, to_size: int) -> np.ndarray:
    """Crop-pixel points [..., 2] of a ``from_size`` crop in a ``to_size`` crop of the same box."""
    return (np.asarray(points, dtype=np.float64) + 0.5) * (to_size / from_size) - 0.5


def floors_table(
    crops: CropSet,
    markup3d: str,
    codec: HeatmapCodec,
    heldout: pd.DataFrame | None,
    arms: dict[str, list[pd.DataFrame]],
) -> pd.DataFrame:
    """The floors table: the decoding floor of the model's ``codec`` (from the model file) at its crop size
    and at :data:`DEFAULT_CROP_SIZE` (the same map/crop ratio and sigma; the test crops' landmarks rescaled,
    NME does not depend on the scale), the label floor from the 3D fit's
    ``heldout`` table (None: left out), then one row per measured arm (label -> seeds' per-image frames)."""
    pts = crops.arrays[PROJ3D_ARRAYS[markup3d]][..., :2]
    yaw = crops.index["yaw"].to_numpy(np.float64)
    rows = []
    for size in sorted({DEFAULT_CROP_SIZE, codec.crop_size}):
        at = codec.at_crop_size(size)
        t = decoding_floor(rescale_points(pts, crops.size, size), yaw, at)
        note = (
            f"{size} px crops, {at.map_size} px maps, sigma {at.sigma:g}; worst point {t['max_map_px']:.3f} map px;"
            f" integer map pixel alone {t['argmax_mean_of_bins'] * 100:.2f} %"
        )
        rows.append(floor_row(f"decoding floor {size} px", t, note))
    if heldout is not None:
        t = label_floor(heldout)
        rows.append(floor_row("label floor (3D fit, held out)", t, f"{t['n_failed']} failed fits left out"))
    rows += [arm_row(label, frames) for label, frames in arms.items()]
    return floors_frame(rows)
