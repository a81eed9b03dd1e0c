"""300W-LP adapter: ``<src>/<subset>/<name>.jpg`` + ``<name>.mat`` and ``<src>/landmarks/`` -> a sample table.

Layout: subsets ``AFW``, ``HELEN``, ``IBUG``, ``LFPW`` and their mirrored copies ``<subset>_Flip``
(a ``_Flip`` suffix on the file stem is also recognised), each image with a 3DDFA-style ``.mat``
(``Pose_Para`` required; ``pt3d_68`` and ``pt2d`` used when present, same conventions as
:mod:`cmhm.data.aflw2000`; a real one, face3d's ``IBUG_image_008_1_0.mat``, holds ``pt2d`` [2, 68],
``Pose_Para`` [1, 7], ``roi`` and the 3DMM parameters, no ``pt3d_68``), and
``landmarks/<subset>/<name>_pts.mat`` with ``pts_2d`` [68, 2] (the 2D semi-frontal annotation, jaw on
the visible contour) and ``pts_3d`` (the 3D landmarks' projections), 1-based like every Matlab file.

Flipped copies, without double flipping: the ``.mat`` beside an image and a landmark file found
under the image's own subset (``landmarks/AFW_Flip/...``) already describe that image and are used
as they are. Only when a flipped image has no landmark file of its own do we take the unflipped
image's (``landmarks/AFW/<name>_pts.mat``) and mirror it: ``x -> width - 1 - x`` and relabel the
points with the iBUG 68 flip permutation. As a guard, images with |yaw| > 30 deg whose nose tip lies
on the wrong side of the jaw's midpoint for their yaw sign are counted and logged.

Fill: ``lm3d_68`` from ``pt3d_68`` (x, y, z) when the ``.mat`` has it, else from ``pts_3d`` with
z = NaN; ``lm2d`` / ``vis2d`` from ``pts_2d`` (else, in view 0 only, a [2, 68] ``pt2d``); pose from ``Pose_Para``; box = tight box of the 3D
landmarks' projection (else of ``lm2d``). ``pts_3d`` is read as [68, 2] or [68, 3] (the release's shape
is not documented; a third column's depth convention is unknown, so only x and y are used) and the
run's log says which shapes it read.

Views: a stem ends in ``_<k>``, the index of the synthesised view (0 = the original photo, k > 0 = a
face rotated by the 3D fit). The ``.mat``'s ``pt2d`` is the original 300-W annotation, repeated unchanged
in every view's ``.mat``, so it labels view 0 only: a view k > 0 without a landmark file is a bad
sample (:mod:`cmhm.data.bad`), never labelled with ``pt2d``.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from pathlib import Path

import numpy as np

from cmhm.data.aflw2000 import MAT_ORIGIN, lm3d_from_mat, load_mat, pose_from_mat
from cmhm.data.bad import BadSampleError, BadSamples, check_points, check_pose
from cmhm.data.common import AdapterError, annotation_box, finish_table, image_row, image_size
from cmhm.data.samples import SampleTable, empty_arrays
from cmhm.data.shards import ALL, Shard
from cmhm.landmarks.markups import IBUG68

log = logging.getLogger(__name__)
FLIP_SUFFIX = "_Flip"
LANDMARK_DIR = "landmarks"
YAW_CHECK_DEG = 30.0
_VIEW = re.compile(r"_(\d+)$")
PTS_3D_WIDTHS = (2, 3)  # pts_3d columns read: x, y[, z]


def _points(arr: np.ndarray, path: Path, key: str, widths: tuple[int, ...] = (2,)) -> np.ndarray:
    """[68, 2] 0-based x, y from a Matlab [68, D] or [D, 68] array, D one of ``widths``."""
    a = np.asarray(arr, dtype=np.float64)
    n = IBUG68.n_points
    if a.ndim == 2 and a.shape[0] in widths and a.shape[1] == n:
        a = a.T
    if a.ndim != 2 or a.shape[0] != n or a.shape[1] not in widths:
        want = " or ".join(f"[{n}, {d}]" for d in widths)
        raise BadSampleError(path, f"{key} has shape {a.shape}, expected {want}")
    return a[:, :2] - MAT_ORIGIN


def view_index(image: Path) -> int | None:
    """The synthesised-view index ``k`` of a 300W-LP image stem ``..._<k>`` (``_Flip`` ignored); None if absent."""
    m = _VIEW.search(image.stem.removesuffix(FLIP_SUFFIX))
    return None if m is None else int(m.group(1))


def mirror_points(pts: np.ndarray, width: int) -> np.ndarray:
    """iBUG 68 points [68, D] of an image -> those of its horizontal mirror (x -> width - 1 - x, relabelled)."""
    out = np.array(pts, dtype=np.float64)
    out[:, 0] = width - 1 - out[:, 0]
    return out[IBUG68.flip_permutation()]


def landmark_file(src_dir: Path, image: Path) -> tuple[Path | None, bool]:
    """(landmark file, whether it must be mirrored) for ``image``; (None, False) if there is none."""
    subset, stem = image.parent.name, image.stem
    own = src_dir / LANDMARK_DIR / subset / f"{stem}_pts.mat"
    if own.is_file():
        return own, False
    flipped = subset.endswith(FLIP_SUFFIX) or stem.endswith(FLIP_SUFFIX)
    if flipped:
        base = (
            src_dir
            / LANDMARK_DIR
            / subset.removesuffix(FLIP_SUFFIX)
            / f"{stem.removesuffix(FLIP_SUFFIX)}_pts.mat"
        )
        if base.is_file():
            return base, True
    return None, False


def _labels(src_dir: Path, image: Path, shapes: Counter) -> tuple[np.ndarray, np.ndarray, dict]:
    """(lm3d_68 [68, 3], lm2d [68, 2], pose fields) of one image; NaN where absent.

    ``shapes`` counts the ``pts_3d`` shapes read (for the run's log).
    """
    mat_path = image.with_suffix(".mat")
    mat = load_mat(mat_path, ("Pose_Para",), optional=("pt3d_68", "pt2d"))
    lm3d = np.full((IBUG68.n_points, 3), np.nan)
    lm2d = np.full((IBUG68.n_points, 2), np.nan)
    if "pt3d_68" in mat:
        lm3d = lm3d_from_mat(mat["pt3d_68"], mat_path)
    lm_path, mirror = landmark_file(src_dir, image)
    view = view_index(image)
    if lm_path is not None:
        lm = load_mat(lm_path, ("pts_2d", "pts_3d"))
        p2 = _points(lm["pts_2d"], lm_path, "pts_2d")
        p3 = _points(lm["pts_3d"], lm_path, "pts_3d", PTS_3D_WIDTHS)
        shapes[str(list(np.shape(lm["pts_3d"])))] += 1
        if mirror:
            width = image_size(image)[0]
            p2, p3 = mirror_points(p2, width), mirror_points(p3, width)
        lm2d = p2
        if "pt3d_68" not in mat:
            lm3d[:, :2] = p3
    elif "pt2d" in mat and view != 0 and "pt3d_68" not in mat:
        raise BadSampleError(
            mat_path,
            f"no landmarks/{image.parent.name}/{image.stem}_pts.mat, and the .mat's pt2d is the original "
            f"photo's (view 0) annotation, repeated in every view: it cannot label view "
            f"{'(none in the name)' if view is None else view}",
        )
    elif "pt2d" in mat and view == 0 and np.shape(mat["pt2d"]) == (2, IBUG68.n_points):
        lm2d = _points(mat["pt2d"], mat_path, "pt2d")
    if np.isnan(lm3d[:, :2]).all() and np.isnan(lm2d).all():
        raise BadSampleError(image, f"no landmarks (no pt3d_68 in {mat_path.name}, no landmark file)")
    for pts, file, what in ((lm3d, mat_path, "3D landmarks"), (lm2d, lm_path or mat_path, "pts_2d")):
        if not np.isfinite(pts[:, :2]).all() and not np.isnan(pts[:, :2]).all():
            raise BadSampleError(file, f"{what}: NaN or infinite landmark coordinates")
    yaw, pitch, roll = pose_from_mat(mat["Pose_Para"])
    pose = {"yaw": yaw, "pitch": pitch, "roll": roll}
    check_pose(pose, mat_path)
    return lm3d, lm2d, pose


def yaw_disagrees(lm: np.ndarray, yaw: float) -> bool:
    """Whether the nose tip lies on the image side opposite to what a |yaw| > 30 deg predicts."""
    nose_tip = IBUG68.groups["nose_bridge"][-1]
    jaw = IBUG68.groups["jaw"]
    if abs(yaw) <= YAW_CHECK_DEG or not np.isfinite(lm[[nose_tip, jaw[0], jaw[-1]], 0]).all():
        return False
    offset = lm[nose_tip, 0] - (lm[jaw[0], 0] + lm[jaw[-1], 0]) / 2
    return bool(np.sign(offset) != np.sign(yaw))


def lp_sample(
    src_dir: Path, image: Path, out_dir: Path, shapes: Counter
) -> tuple[dict, np.ndarray, np.ndarray]:
    """(index row, lm3d_68 [68, 3], lm2d [68, 2]) of one image; bad samples raise (:mod:`cmhm.data.bad`)."""
    lm3d, lm2d, pose = _labels(src_dir, image, shapes)
    ref = lm3d if np.isfinite(lm3d[:, :2]).all() else lm2d
    row = image_row(f"{image.parent.name}/{image.stem}", image, out_dir, annotation_box(ref))
    for pts, what in ((lm3d, "3D landmarks"), (lm2d, "pts_2d")):
        if np.isfinite(pts[:, :2]).all():
            check_points(pts, (row["width"], row["height"]), image.with_suffix(".mat"), what)
    return {**row, **pose}, lm3d, lm2d


def adapt_300w_lp(
    src_dir: str | Path,
    out_dir: str | Path,
    *,
    shard: Shard = ALL,
    provenance: dict,
    on_bad_sample: str = "fail",
) -> SampleTable:
    """Write the sample table of the 300W-LP folder ``src_dir`` (``shard`` of its sorted images) into ``out_dir``.

    ``on_bad_sample``: "fail" or "skip" (:mod:`cmhm.data.bad`).
    """
    src_dir, out_dir = Path(src_dir), Path(out_dir)
    if not src_dir.is_dir():
        raise AdapterError(f"{src_dir}: 300W-LP folder missing")
    images = sorted(
        p
        for p in src_dir.glob("*/*.jpg")
        if p.parent.name != LANDMARK_DIR and p.with_suffix(".mat").is_file()
    )
    where = f"300W-LP {src_dir}"
    images = shard.take(images, where=where)
    arrays = empty_arrays(len(images))
    bad, rows, suspicious, shapes = BadSamples(on_bad_sample, where), [], [], Counter()
    for i, image in enumerate(images):
        sample_id = f"{image.parent.name}/{image.stem}"
        made = bad.run(
            sample_id, image.with_suffix(".mat"), lambda: lp_sample(src_dir, image, out_dir, shapes)
        )  # noqa: B023
        rows.append(None if made is None else made[0])
        if made is None:
            continue
        row, lm3d, lm2d = made
        arrays["lm3d_68"][i], arrays["lm2d"][i] = lm3d, lm2d
        arrays["vis2d"][i] = np.isfinite(lm2d).all(-1)
        if yaw_disagrees(lm3d if np.isfinite(lm3d[:, :2]).all() else lm2d, row["yaw"]):
            suspicious.append(image.name)
    if shapes:
        log.info("%s: pts_3d read with shape %s (x, y used)", where, dict(sorted(shapes.items())))
    if suspicious:
        log.warning(
            "300W-LP %s: %d images have a yaw sign that contradicts their landmarks (e.g. %s)",
            src_dir,
            len(suspicious),
            suspicious[:3],
        )
    return finish_table(rows, arrays, out_dir, provenance, where=where, bad=bad)
