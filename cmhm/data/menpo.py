"""Menpo 2D adapter: images (.jpg / .png / .ppm) with same-named iBUG ``.pts`` files -> a sample table.

The Menpo 2D release marks each face with one of two markups, and the markup *is* the view label
of the dataset: the iBUG 68-point markup for semi-frontal faces (stored in ``lm2d``, all points
visible) and the 39-point profile markup (stored in ``lm2d_profile``, in the file's point order,
which :mod:`cmhm.landmarks.markups` documents part by part). :data:`VIEW_MARKUPS` maps each view to its
markup; a file with any other point count is an error.

Facing side of a profile face (column ``side``): the nose tip (last nose-bridge point) points
away from the face contour, so the face looks to the image "right" when the tip lies right of
the mean x of the 12 contour points, else "left" (:func:`cmhm.data.common.facing_side`).

Menpo ``.pts`` coordinates are 1-based like all iBUG files (see :mod:`cmhm.data.pts`). Menpo
gives no head pose: yaw, pitch and roll stay NaN. The face box is the tight landmark box.

Layouts (:func:`annotation_files`): the release as published (every ``.pts`` under ``src_dir``), or a
widely shared re-packaging with top-level ``Train/`` and ``Test/`` folders, each holding
``image/{semifrontal,profile}`` plus extra annotation files (boxes, 5 points), recognised by a
``Train/image/`` or ``Test/image/`` folder (names in any case). Test images never
enter a table: in the re-packaged layout only ``.pts`` under ``Train/image/`` are read (the run's log
counts what else was left out); a ``Test/`` folder without ``Train/``, or any ``.pts`` under a folder
named ``test`` elsewhere, is refused with the layout named. In ``image/<view>/`` the folder's view must
match the file's markup.

A 39-point file on a semi-frontal face (the contour reaching the nose tip, where a profile's never lies:
:func:`cmhm.data.bad.check_profile_shape`) is a bad sample, as is a file whose point groups run in reverse.
About 1 % of the real profile files have a point group in reverse order (a contour or a brow; some
68-point files a reversed inner lip): :func:`cmhm.data.bad.check_group_order` makes such a file a bad
sample, under ``data.on_bad_sample`` like any other, and the run's log counts them.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from cmhm.data.bad import (
    REVERSED_REASON,
    BadSampleError,
    BadSamples,
    check_group_order,
    check_points,
    check_profile_shape,
)
from cmhm.data.common import AdapterError, annotation_box, facing_side, find_image, finish_table, image_row
from cmhm.data.pts import read_pts
from cmhm.data.samples import SampleTable, empty_arrays
from cmhm.data.shards import ALL, Shard
from cmhm.landmarks.markups import IBUG68, PROFILE39, Markup

log = logging.getLogger(__name__)
TRAIN_DIR, TEST_DIR, IMAGE_DIR = "train", "test", "image"  # re-packaged layout, names compared in lower case
VIEW_MARKUPS: dict[str, tuple[Markup, str]] = {
    "semifrontal": (IBUG68, "lm2d"),
    "profile": (PROFILE39, "lm2d_profile"),
}


def view_of(pts: np.ndarray, path: Path) -> str:
    """The view whose markup has as many points as ``pts``; :class:`AdapterError` naming ``path`` if none."""
    for view, (markup, _) in VIEW_MARKUPS.items():
        if len(pts) == markup.n_points:
            return view
    known = {v: m.n_points for v, (m, _) in VIEW_MARKUPS.items()}
    raise BadSampleError(path, f"{len(pts)} points matches no Menpo markup {known}")


def profile_side(pts: np.ndarray) -> str:
    """Facing side of a 39-point profile annotation [39, 2] (rule in the module doc)."""
    tip = PROFILE39.groups["nose_bridge"][-1]
    contour = list(PROFILE39.groups["jaw"])
    return facing_side(float(pts[tip, 0]), pts[contour, 0])


def _top_dirs(src_dir: Path) -> dict[str, Path]:
    """lower-case name -> folder of the folders directly under ``src_dir``."""
    return {p.name.lower(): p for p in src_dir.iterdir() if p.is_dir()}


def annotation_files(src_dir: Path) -> list[Path]:
    """The sorted training ``.pts`` files of a Menpo 2D folder in either layout (module doc); test files never."""
    top = _top_dirs(src_dir)
    split_images = {k: _top_dirs(top[k]).get(IMAGE_DIR) for k in (TRAIN_DIR, TEST_DIR) if k in top}
    if any(v is not None for v in split_images.values()):
        layout = f"{src_dir} has the re-packaged layout (Train/ and Test/ x image/{{semifrontal,profile}})"
        train = split_images.get(TRAIN_DIR)
        if train is None:
            raise AdapterError(
                f"{layout} but no Train/image/ folder: refusing to read it (test images never train)"
            )
        files = sorted(train.rglob("*.pts"))
        left_out = sum(1 for p in src_dir.rglob("*.pts") if not p.is_relative_to(train))
        log.info(
            "Menpo 2D: %s: reading %d .pts under %s only, %d others left out",
            layout,
            len(files),
            train,
            left_out,
        )
        return files
    files = sorted(src_dir.rglob("*.pts"))
    in_test = [p for p in files if TEST_DIR in (q.lower() for q in p.relative_to(src_dir).parts[:-1])]
    if in_test:
        raise AdapterError(
            f"{in_test[0]}: a .pts under a folder named test in {src_dir}: refusing to train on it"
        )
    return files


def menpo_sample(pts_path: Path, src_dir: Path, out_dir: Path) -> tuple[dict, np.ndarray]:
    """(index row, points [K, 2]) of one annotation; bad samples raise (:mod:`cmhm.data.bad`)."""
    pts = read_pts(pts_path)[:, :2]
    view = view_of(pts, pts_path)
    folder = pts_path.parent.name.lower()
    if folder in VIEW_MARKUPS and folder != view and pts_path.parent.parent.name.lower() == IMAGE_DIR:
        raise BadSampleError(pts_path, f"{len(pts)}-point {view} markup in a folder of {folder} faces")
    image = find_image(pts_path)
    sample_id = pts_path.relative_to(src_dir).with_suffix("").as_posix()
    row = image_row(sample_id, image, out_dir, annotation_box(pts))
    check_points(pts, (row["width"], row["height"]), pts_path, f"{len(pts)}-point {view} annotation")
    if view == "profile":  # first: a semi-frontal face's points in this markup also seem out of order
        check_profile_shape(pts, pts_path)
    check_group_order(pts, VIEW_MARKUPS[view][0], pts_path)
    side = profile_side(pts) if view == "profile" else ""
    return {**row, "view": view, "side": side}, pts


def adapt_menpo(
    src_dir: str | Path,
    out_dir: str | Path,
    *,
    shard: Shard = ALL,
    provenance: dict,
    on_bad_sample: str = "fail",
) -> SampleTable:
    """Write the sample table of the training ``.pts`` under ``src_dir`` (:func:`annotation_files`) into ``out_dir``.

    Sample ids are the annotation paths relative to ``src_dir`` without suffix; ``shard`` picks a
    contiguous part of the sorted annotation list; ``on_bad_sample``: "fail" or "skip"
    (:mod:`cmhm.data.bad`; Menpo gives no yaw, so the profile-by-yaw check of
    :func:`cmhm.data.common.finish_table` has nothing to test here).
    """
    src_dir, out_dir = Path(src_dir), Path(out_dir)
    if not src_dir.is_dir():
        raise AdapterError(f"{src_dir}: Menpo 2D folder missing")
    where = f"Menpo 2D {src_dir}"
    pts_files = shard.take(annotation_files(src_dir), where=where)
    arrays = empty_arrays(len(pts_files))
    bad, rows = BadSamples(on_bad_sample, where), []
    for i, pts_path in enumerate(pts_files):
        sample_id = pts_path.relative_to(src_dir).with_suffix("").as_posix()
        made = bad.run(sample_id, pts_path, lambda: menpo_sample(pts_path, src_dir, out_dir))  # noqa: B023
        rows.append(None if made is None else made[0])
        if made is None:
            continue
        row, pts = made
        arrays[VIEW_MARKUPS[row["view"]][1]][i] = pts
        if row["view"] == "semifrontal":
            arrays["vis2d"][i] = True
    n_reversed = sum(REVERSED_REASON in s["reason"] for s in bad.skipped)
    if n_reversed:
        log.warning(
            "%s: %d annotations with a reversed point group skipped (listed in skipped.csv)",
            where,
            n_reversed,
        )
    return finish_table(rows, arrays, out_dir, provenance, where=where, bad=bad)
