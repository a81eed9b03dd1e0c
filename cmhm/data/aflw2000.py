"""AFLW2000-3D adapter: ``imageNNNNN.jpg`` + ``imageNNNNN.mat`` pairs -> a sample table.

Each ``.mat`` (written by 3DDFA's Matlab fitting) holds
  - ``pt3d_68`` [3, 68]: rows x, y, z of the 68 3D landmarks. x, y are the landmarks' projections
    in Matlab's 1-based image pixels; we subtract 1 (:data:`MAT_ORIGIN`) for our 0-based
    pixel-centre convention. z is in the same pixel units, up to an offset, and grows toward the
    camera (the nose tip has the largest z in every fixture image); we store
    ``z = -(z_mat - mean z_mat)``, so larger = farther as :mod:`cmhm.data.samples` wants, with the
    landmarks' centroid at depth 0.
  - ``Pose_Para`` [1, 7]: pitch, yaw, roll (radians), tx, ty, tz, scale of the fitted 3DMM.
  - ``roi``, ``pt2d`` (21 AFLW points): not used.

Pose signs, decided on the fixture images (see ``tests/unit/test_data_adapters.py``): a positive
``.mat`` yaw turns the nose to the image *left* (image00475: yaw +65.6 deg, nose tip 124 px left of
the jaw's midpoint), i.e. the subject turns to their right; :mod:`cmhm.data.samples` counts the
opposite as positive, so ``yaw = -yaw_mat``. A positive ``.mat`` pitch lifts the chin (image00430,
+34 deg, seen from below), as ours does: ``pitch = +pitch_mat``. The eye line of near-frontal
faces turns clockwise in the image for positive ``.mat`` roll, ours counts counter-clockwise:
``roll = -roll_mat``. All three are wrapped into (-180, 180] degrees.

AFLW2000-3D has only the 68 3D-projection points: they go into ``lm3d_68``. ``lm2d`` stays NaN unless
``lm2d_source`` is ``"proj3d"``: then it holds the same points' 2D projection (jaw on the projected mesh
contour, not the visible outline), the only 68 2D points this set has, so that a model can train its
multi-view 2D stage on these faces (``configs/real_faces_a.yaml``); Table I scores ``lm3d_68`` either way.

Which yaw defines the |yaw| bins is an argument (``yaw_source``):
  - ``"mat"``: the fitted pose above. It splits the 2000 images 1313 / 383 / 304 over
    [0, 30] / (30, 60] / (60, 90].
  - ``"file"``: a CSV ``image,yaw_deg`` with one row per image (``image`` = file name or stem),
    e.g. the widely used yaws from AFLW's own labels, which give the paper's 1306 / 462 / 232
    split. Its yaw is taken as given (bins use |yaw| only); pitch and roll stay the ``.mat`` ones.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.io

from cmhm.data.bad import BadSampleError, BadSamples, check_points, check_pose
from cmhm.data.common import AdapterError, face_box, finish_table, image_row, wrap_degrees
from cmhm.data.samples import SampleTable, empty_arrays
from cmhm.data.shards import ALL, Shard

MAT_ORIGIN = 1.0  # Matlab pixel coordinates start at 1
YAW_SOURCES: tuple[str, ...] = ("mat", "file")
LM2D_SOURCES: tuple[str, ...] = ("none", "proj3d")
IMAGE_PATTERN = re.compile(r"^image\d{5}\.jpg$")


def load_mat(path: Path, keys: tuple[str, ...], optional: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """The arrays ``keys`` (required) and those of ``optional`` present in a Matlab v5 ``.mat`` file.

    Raises :class:`cmhm.data.bad.BadSampleError` naming the file when it is missing, empty,
    truncated or otherwise unreadable, or lacks a required key.
    """
    if path.is_file() and path.stat().st_size == 0:
        raise BadSampleError(path, ".mat file is empty (0 bytes)")
    try:
        mat = scipy.io.loadmat(str(path))
    except FileNotFoundError:
        raise BadSampleError(path, "missing (expected beside its image)") from None
    except (
        ValueError,
        NotImplementedError,
        OSError,
        IndexError,
        EOFError,
        scipy.io.matlab.MatReadError,
    ) as exc:
        raise BadSampleError(path, f"not a readable (complete) Matlab v5 .mat file ({exc})") from exc
    missing = [k for k in keys if k not in mat]
    if missing:
        found = sorted(k for k in mat if not k.startswith("__"))
        raise BadSampleError(path, f"missing keys {missing}; found {found}")
    return {k: np.asarray(mat[k]) for k in (*keys, *optional) if k in mat}


def pose_from_mat(pose_para: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees, our signs, from a 3DDFA ``Pose_Para`` [1, 7] (see module doc)."""
    p = np.asarray(pose_para, dtype=np.float64).ravel()
    pitch, yaw, roll = np.degrees(p[:3])
    with np.errstate(invalid="ignore"):  # an infinite angle becomes NaN, which check_pose reports
        return float(wrap_degrees(-yaw)), float(wrap_degrees(pitch)), float(wrap_degrees(-roll))


def lm3d_from_mat(pt3d: np.ndarray, path: Path) -> np.ndarray:
    """[68, 3] landmarks in our convention from a 3DDFA ``pt3d_68`` [3, 68] (see module doc)."""
    pts = np.asarray(pt3d, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[0] != 3:
        raise BadSampleError(path, f"pt3d_68 has shape {pts.shape}, expected [3, K]")
    out = pts.T.copy()
    if not np.isfinite(out).all():
        raise BadSampleError(path, "pt3d_68 holds NaN or infinite landmarks")
    out[:, :2] -= MAT_ORIGIN
    out[:, 2] = -(out[:, 2] - out[:, 2].mean())
    return out


def read_yaw_file(path: Path, stems: list[str]) -> dict[str, float]:
    """Yaw (degrees) per image stem from a CSV ``image,yaw_deg``; every stem in ``stems`` must appear."""
    try:
        df = pd.read_csv(path)
    except FileNotFoundError:
        raise AdapterError(f"{path}: yaw file missing") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise AdapterError(f"{path}: not a readable CSV ({exc})") from exc
    if not {"image", "yaw_deg"} <= set(df.columns):
        raise AdapterError(f"{path}: needs columns 'image' and 'yaw_deg', found {list(df.columns)}")
    yaws = dict(zip((Path(str(n)).stem for n in df["image"]), pd.to_numeric(df["yaw_deg"], errors="coerce")))
    missing = [s for s in stems if s not in yaws]
    if missing:
        raise AdapterError(f"{path}: no yaw for {len(missing)} images, e.g. {missing[:3]}")
    bad = [s for s in stems if not np.isfinite(yaws[s])]
    if bad:
        raise AdapterError(f"{path}: yaw is not a number for {bad[:3]}")
    return {s: float(yaws[s]) for s in stems}


def list_pairs(src_dir: Path, ids: frozenset[str] | None = None) -> list[Path]:
    """Sorted ``imageNNNNN.jpg`` files of ``src_dir`` (one without its ``.mat`` is a bad sample).

    ``ids``: only the images of these stems (a fold, :mod:`cmhm.data.folds`); :class:`AdapterError`
    naming the missing ones if any id has no image.
    """
    if not src_dir.is_dir():
        raise AdapterError(f"{src_dir}: AFLW2000-3D folder missing")
    images = sorted(p for p in src_dir.iterdir() if IMAGE_PATTERN.match(p.name))
    if ids is None:
        return images
    missing = sorted(ids - {p.stem for p in images})
    if missing:
        raise AdapterError(f"{src_dir}: {len(missing)} ids of the fold have no image, e.g. {missing[:3]}")
    return [p for p in images if p.stem in ids]


def aflw_sample(
    image: Path,
    out_dir: Path,
    yaw: float | None,
    box_source: str,
    cascade: Path | None,
    n_points: int,
    detector: str = "mtcnn",
) -> tuple[dict, np.ndarray]:
    """(index row, lm3d_68 [68, 3]) of one image; ``yaw`` None: the ``.mat``'s. Bad samples raise."""
    mat_path = image.with_suffix(".mat")
    mat = load_mat(mat_path, ("pt3d_68", "Pose_Para"))
    lm = lm3d_from_mat(mat["pt3d_68"], mat_path)
    if len(lm) != n_points:
        raise BadSampleError(mat_path, f"pt3d_68 has {len(lm)} points, expected {n_points}")
    mat_yaw, pitch, roll = pose_from_mat(mat["Pose_Para"])
    pose = {"yaw": mat_yaw if yaw is None else float(wrap_degrees(yaw)), "pitch": pitch, "roll": roll}
    check_pose(pose, mat_path)
    row = image_row(image.stem, image, out_dir, face_box(image, lm, box_source, cascade, detector))
    check_points(lm, (row["width"], row["height"]), mat_path, "pt3d_68")
    return {**row, **pose, "view": "semifrontal"}, lm


def adapt_aflw2000(
    src_dir: str | Path,
    out_dir: str | Path,
    *,
    yaw_source: str = "mat",
    yaw_file: str | Path | None = None,
    box_source: str = "landmarks",
    cascade_path: str | Path | None = None,
    detector: str = "mtcnn",
    lm2d_source: str = "none",
    shard: Shard = ALL,
    provenance: dict,
    on_bad_sample: str = "fail",
    ids: frozenset[str] | None = None,
) -> SampleTable:
    """Write the sample table of the AFLW2000-3D folder ``src_dir`` into ``out_dir`` and return it.

    ``yaw_source``: "mat" (fitted pose) or "file" (``yaw_file``, CSV ``image,yaw_deg``).
    ``box_source``: "landmarks" (tight box of ``pt3d_68``'s projection, as 3DDFA crops) or
    "detector" (the face detector ``detector``: "mtcnn", or "haar" with the cascade at
    ``cascade_path``, default the bundled one; landmark box with a logged warning where it finds no
    face or no cascade file exists).
    ``lm2d_source``: "none" (``lm2d`` NaN) or "proj3d" (``lm2d`` = the 2D projection of ``pt3d_68``).
    ``ids``: write only the images of these stems (a fold of :mod:`cmhm.data.folds`); None = all.
    ``shard``: the part of the sorted image list to write (:mod:`cmhm.data.shards`).
    ``on_bad_sample``: "fail" or "skip" (:mod:`cmhm.data.bad`).
    """
    src_dir, out_dir = Path(src_dir), Path(out_dir)
    if yaw_source not in YAW_SOURCES:
        raise ValueError(f"yaw_source must be one of {YAW_SOURCES}, got {yaw_source!r}")
    if yaw_source == "file" and yaw_file is None:
        raise ValueError("yaw_source='file' needs yaw_file (CSV image,yaw_deg)")
    if lm2d_source not in LM2D_SOURCES:
        raise ValueError(f"lm2d_source must be one of {LM2D_SOURCES}, got {lm2d_source!r}")
    where = f"AFLW2000-3D {src_dir}" + ("" if ids is None else f" ({len(ids)} ids of a fold)")
    images = shard.take(list_pairs(src_dir, ids), where=where)
    file_yaw = read_yaw_file(Path(yaw_file), [p.stem for p in images]) if yaw_source == "file" else {}
    arrays = empty_arrays(len(images))
    cascade = None if cascade_path is None else Path(cascade_path)
    bad, rows = BadSamples(on_bad_sample, where), []
    n_points = arrays["lm3d_68"].shape[1]
    for i, image in enumerate(images):
        yaw = file_yaw.get(image.stem)
        made = bad.run(
            image.stem,
            image.with_suffix(".mat"),
            lambda: aflw_sample(image, out_dir, yaw, box_source, cascade, n_points, detector),  # noqa: B023
        )
        rows.append(None if made is None else made[0])
        if made is not None:
            arrays["lm3d_68"][i] = made[1]
            if lm2d_source == "proj3d":
                arrays["lm2d"][i] = made[1][:, :2]
                arrays["vis2d"][i] = True
    return finish_table(rows, arrays, out_dir, provenance, where=where, bad=bad)


def mat_yaws(src_dir: str | Path) -> dict[str, float]:
    """Yaw (degrees, our sign, wrapped to +-180) of every image of the folder, from its ``.mat``'s
    ``Pose_Para`` as the adapter reads it (``yaw_source: mat``): {image stem: yaw}, sorted by stem."""
    out = {}
    for image in list_pairs(Path(src_dir)):
        mat_path = image.with_suffix(".mat")
        out[image.stem] = pose_from_mat(load_mat(mat_path, ("Pose_Para",))["Pose_Para"])[0]
    return out
