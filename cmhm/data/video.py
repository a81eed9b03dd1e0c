"""Video (tracking) adapters: 300VW and Menpo-3D tracking -> sample tables with ``video`` / ``frame``.

300VW (:func:`adapt_300vw`)
  ``<src>/<video>/imgs/NNNNNN.jpg`` with ``<src>/<video>/annot/NNNNNN.pts`` (iBUG 68 points, 1-based
  like every iBUG file). 300VW's points are a 2D semi-frontal annotation (jaw on the visible
  contour), so they go into ``lm2d`` (all visible); there is no 3D annotation. The frames must
  already be extracted from the videos' ``.avi`` files.

Menpo-3D tracking (:func:`adapt_menpo3d_video`)
  ``<src>/<video>/**/<frame>.<jpg|png>`` with a same-named annotation of 84 3D points (Menpo-3D
  markup) per frame, either
    - ``.ljson`` (menpo landmark JSON ``{"landmarks": {"points": [[y, x, z], ...]}}``): menpo stores
      image points in (row, column) = (y, x) order, 0-based with the top-left pixel's centre at
      (0, 0) like ours, so we swap the first two values and do not shift them; or
    - ``.pts`` with 84 rows of 3 values (x, y, z), read by :func:`cmhm.data.pts.read_pts`
      (1-based x, y shifted to 0-based).
  Points with 2 values get z = NaN. ``z_sign`` multiplies z so that larger = farther (the release's
  depth sign is not documented where we looked: check it against a frame before relying on z).
  ``lm3d_68`` is derived from the 84 points: every second jaw point plus the 51 inner points.

Frame numbers are the last run of digits in the frame file's name.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from cmhm.data.common import AdapterError, find_image, finish_table, image_row, landmark_box
from cmhm.data.pts import read_pts
from cmhm.data.shards import ALL, Shard
from cmhm.markups import IBUG68, MENPO84, jaw68_to_84
from cmhm.samples import SampleTable, empty_arrays

ANNOTATION_SUFFIXES: tuple[str, ...] = (".ljson", ".pts")
_DIGITS = re.compile(r"(\d+)(?!.*\d)")


def frame_number(path: Path) -> int:
    """The last run of digits in ``path``'s stem."""
    m = _DIGITS.search(path.stem)
    if m is None:
        raise AdapterError(f"{path}: frame file name holds no frame number")
    return int(m.group(1))


def read_ljson(path: Path) -> np.ndarray:
    """Points [K, D] (x, y[, z]) of a menpo ``.ljson`` file, (y, x) swapped to (x, y)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        pts = np.asarray(data["landmarks"]["points"], dtype=np.float64)
    except FileNotFoundError:
        raise AdapterError(f"{path}: missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise AdapterError(f"{path}: not valid JSON ({exc})") from exc
    except (KeyError, TypeError, ValueError) as exc:
        raise AdapterError(
            f"{path}: expected {{'landmarks': {{'points': [[y, x, z], ...]}}}} ({exc!r})"
        ) from exc
    if pts.ndim != 2 or pts.shape[1] not in (2, 3):
        raise AdapterError(f"{path}: points have shape {pts.shape}, expected [K, 2] or [K, 3]")
    pts[:, [0, 1]] = pts[:, [1, 0]]
    return pts


def menpo84_to_68(lm84: np.ndarray) -> np.ndarray:
    """[..., 84, D] Menpo-3D points -> [..., 68, D] iBUG points (shared jaw points + inner points)."""
    n_jaw = len(MENPO84.groups["jaw"])
    idx = np.concatenate([jaw68_to_84(), np.arange(n_jaw, MENPO84.n_points)])
    if len(idx) != IBUG68.n_points:
        raise AssertionError("markup tables disagree on the 84 -> 68 mapping")
    return lm84[..., idx, :]


def _read_84(path: Path, z_sign: float) -> np.ndarray:
    pts = read_ljson(path) if path.suffix == ".ljson" else read_pts(path)
    if len(pts) != MENPO84.n_points:
        raise AdapterError(f"{path}: {len(pts)} points, expected {MENPO84.n_points} (Menpo-3D markup)")
    out = np.full((len(pts), 3), np.nan)
    out[:, : pts.shape[1]] = pts
    out[:, 2] *= z_sign
    return out


def adapt_menpo3d_video(
    src_dir: str | Path, out_dir: str | Path, *, z_sign: float = 1.0, shard: Shard = ALL, provenance: dict
) -> SampleTable:
    """Write the table of the annotated frames (``shard`` of the sorted list) of the Menpo-3D folder ``src_dir``."""
    src_dir, out_dir = Path(src_dir), Path(out_dir)
    if not src_dir.is_dir():
        raise AdapterError(f"{src_dir}: Menpo-3D tracking folder missing")
    annots = sorted(p for p in src_dir.rglob("*") if p.suffix in ANNOTATION_SUFFIXES and p.is_file())
    annots = shard.take(annots, where=f"Menpo-3D tracking {src_dir}")
    arrays = empty_arrays(len(annots))
    rows = []
    for i, path in enumerate(annots):
        rel = path.relative_to(src_dir)
        if len(rel.parts) < 2:
            raise AdapterError(f"{path}: frames must lie in per-video folders under {src_dir}")
        lm84 = _read_84(path, z_sign)
        arrays["lm3d_84"][i] = lm84
        arrays["lm3d_68"][i] = menpo84_to_68(lm84)
        video = rel.parts[0]
        row = image_row(rel.with_suffix("").as_posix(), find_image(path), out_dir, landmark_box(lm84))
        rows.append({**row, "video": video, "frame": frame_number(path)})
    return finish_table(rows, arrays, out_dir, provenance, where=f"Menpo-3D tracking {src_dir}")


def adapt_300vw(
    src_dir: str | Path, out_dir: str | Path, *, shard: Shard = ALL, provenance: dict
) -> SampleTable:
    """Write the table of the annotated frames (``shard`` of the sorted list) of the 300VW folder ``src_dir``."""
    src_dir, out_dir = Path(src_dir), Path(out_dir)
    if not src_dir.is_dir():
        raise AdapterError(f"{src_dir}: 300VW folder missing")
    annots = shard.take(sorted(src_dir.glob("*/annot/*.pts")), where=f"300VW {src_dir}")
    arrays = empty_arrays(len(annots))
    rows = []
    for i, path in enumerate(annots):
        video = path.parent.parent.name
        image = find_image(path.parent.parent / "imgs" / path.stem)
        pts = read_pts(path)[:, :2]
        if len(pts) != IBUG68.n_points:
            raise AdapterError(f"{path}: {len(pts)} points, expected {IBUG68.n_points} (300VW uses iBUG 68)")
        arrays["lm2d"][i] = pts
        arrays["vis2d"][i] = True
        row = image_row(f"{video}/{path.stem}", image, out_dir, landmark_box(pts))
        rows.append({**row, "video": video, "frame": frame_number(path)})
    return finish_table(rows, arrays, out_dir, provenance, where=f"300VW {src_dir}")
