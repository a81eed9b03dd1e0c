"""Video (tracking) adapters: 300VW and Menpo-3D tracking -> sample tables with ``video`` / ``frame``.

300VW (:func:`adapt_300vw`)
  ``<src>/<video>/imgs/NNNNNN.jpg`` with ``<src>/<video>/annot/NNNNNN.pts`` (iBUG 68 points, 1-based
  like every iBUG file). 300VW's points are a 2D semi-frontal annotation (jaw on the visible
  contour), so they go into ``lm2d`` (all visible); there is no 3D annotation. The frames must
  already be extracted from the videos' ``.avi`` files.

Menpo-3D tracking (:func:`adapt_menpo3d_video`)
  ``<src>/<video>/**/<frame>.<jpg|png>`` with a same-named annotation of 84 3D points (Menpo-3D
  markup) per frame, either
    - ``.ljson`` (menpo landmark JSON, :func:`cmhm.data.ljson.ljson_groups`): menpo stores image points in
      (row, column) = (y, x) order, 0-based with the top-left pixel's centre at (0, 0) like ours, so
      we swap the first two values and do not shift them; ``null`` coordinates become NaN (a bad
      sample here); or
    - ``.pts`` with 84 rows of 3 values (x, y, z), read by :func:`cmhm.data.pts.read_pts`
      (1-based x, y shifted to 0-based).
  Points with 2 values get z = NaN. ``z_sign`` multiplies z so that larger = farther (the release's
  depth sign is not documented where we looked: check it against a frame before relying on z).
  ``lm3d_68`` is derived from the 84 points: every second jaw point plus the 51 inner points.

300VW frames that mmpose lists as broken (:data:`MMPOSE_BROKEN_300VW`): 2,127 frames of 16 videos,
all of them 300VW *test* videos (categories 1-3), given without a reason. The one listed frame we could
look at (401/000731, mmpose's own sample) decodes completely and its 68 points lie on the face, 2.9 px
on average from the next frame's, so nothing we can check says it is broken; skipping the list would
change the benchmark's test frames. We keep them and record how many a table holds (log line and
``provenance.json`` key ``mmpose_broken_frames``), so that a result can be re-scored without them.

Frame numbers are the last run of digits in the frame file's name. A video's gaps are bad samples
(:func:`sequence_gaps`): frame numbers missing between two annotated frames, and frames with an image
but no annotation; each is reported by the shard that holds the next annotated frame.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np

from cmhm.data.bad import BadSampleError, BadSamples, check_points
from cmhm.data.common import IMAGE_SUFFIXES, AdapterError, annotation_box, find_image, finish_table, image_row
from cmhm.data.ljson import read_ljson
from cmhm.data.pts import read_pts
from cmhm.data.samples import SampleTable, empty_arrays
from cmhm.data.shards import ALL, Shard, shard_bounds
from cmhm.landmarks.markups import IBUG68, MENPO84, jaw68_to_84

log = logging.getLogger(__name__)
ANNOTATION_SUFFIXES: tuple[str, ...] = (".ljson", ".pts")
# video -> frame numbers (runs a-b) that mmpose's 300vw2coco.py skips as broken: a fact copied from
# open-mmlab/mmpose tests/data/300vw/broken_frames.npy (Apache-2.0), 16 videos, 2,127 frames
MMPOSE_BROKEN_300VW: dict[str, str] = {
    "401": "722-724,727-731,788-789,792,795,810-811,850-891,897-898,902-903,910-911,913-923,1122-1137,1140,1143-1158,1160-1164,1381,1543-1545,1605-1606,1614-1615,1618",
    "402": "677-678,682,686-695,805-814,1015-1042,1068,1075-1078,1080,1082-1096,1664,1666-1701",
    "410": "148,150,176,178-180,182-184,186-188,190-192,194-196,198-200,202-204,206-208,283-284,286-288,290-292,294,316-344,542-543,626,686-688,690-692,694-695,700,816,823-832,834-835,1058-1059,1118-1132,1183-1192,1194,1218-1230,1232,1234-1235,1239-1240,1242-1243,1282-1284,1286-1288,1290-1292,1294",
    "411": "19-20,60,80,82-120,231-232,234-370,454-475,480,486-517,522-573,578,627-631,702-703,707,1271-1272,1274-1289",
    "508": "14,147-150,267-274,367-368,370-373,382,613,618,831-832,870,930-935,1029,1086-1088,1175-1176,1179-1184,1186-1192,1280-1293,1316,1501-1502,1927-1928,1930-1935,1973-1974,1987,1989,2008,2036,2039-2040,2042-2046,2239,2382,2404-2405,3018,3123-3128",
    "518": "392,475-480,482-512,514-518,633,670-671,780-784,786,1607-1624,1626-1632,1634-1640,1706-1744,1746-1752,1754-1760,1762-1767,1954-1968,1970-1997,2003-2008,2028,2046,2055-2068",
    "529": "90-96,133,139,605,644-648,650-656,659,661,691-692,1340-1344,1346-1349,1357,1367-1368,1370-1376,1422-1424,1483,1824,1908-1912,1914-1920,1922,2058-2063,2075-2080,2226-2228,2248,2250-2256,2258-2264,2266-2268,2288,2290,2422-2424,2426-2432,2434-2440,2442-2444,2484,2487,2498-2503,2834-2840,3007",
    "530": "554-556,720,726-728,730-736,738-744,828-832,834-840,842-848,874-880,882-888,890-896,898-901,927-928,935-936,1186-1188,1247-1248,1250,1276,1296,1356-1361,1426-1427,1802-1803,1820,2074-2080,2082-2088,2090-2096",
    "531": "109,279-287,322-325",
    "533": "1062-1188,1232-1240,1245-1255,1257-1326,1379-1380,1403-1407,1424,1426-1427,1484-1485,1498-1500,1504-1505",
    "540": "744,746-750",
    "547": "111-112,114-120,122-128,130-135,959,978,1050-1055",
    "548": "429-432,434-440,442-448,450,582-584,586-592,594-600,602,624,626,642,804-808,898-904,906-912,914-920,922-924,1170-1207,1260-1288,1394,1488,1490",
    "551": "180-181,298-302,494,506-509,516,562-568,675-680,682-684,686-688,690,790-792",
    "553": "551-560,713,761-763,775-776,778-780,783-784,786-792,808-809,1366",
    "557": "22,32-49,57,75,177,180-231,345-379,412-469,524,536,538-539,544,546,621-623,778-780,785,793,801,809,820-822,994-995,1009,1017,1036,1096-1097,1105,1156-1189,1305,1308-1357,1532-1563,1587,1593,1601,1604,1609,1614,1617,1622-1623,1625-1651,1653,1657,1671-1715",
}
_DIGITS = re.compile(r"(\d+)(?!.*\d)")


def frame_number(path: Path) -> int:
    """The last run of digits in ``path``'s stem."""
    m = _DIGITS.search(path.stem)
    if m is None:
        raise AdapterError(f"{path}: frame file name holds no frame number")
    return int(m.group(1))


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


def sequence_gaps(
    annots: list[tuple[str, int, Path]], images: dict[str, dict[int, Path]], shard: Shard
) -> list[tuple[str, str, str]]:
    """(sample id, file, reason) of each gap in the videos that ``shard`` of ``annots`` reports.

    ``annots``: (video, frame, annotation file) of every annotated frame in adapter order (sorted by
    video, frame);
    ``images``: per video, frame -> image file of every frame image found. A gap is a run of frame
    numbers between two consecutive annotated frames with no annotation; frames in it that have an
    image are "missing annotation", the others "missing frame". It is reported by the shard holding
    the annotated frame after it (frames after a video's last annotation: the one holding that).
    """
    lo, hi = shard_bounds(len(annots), shard.index, shard.count)
    out = []
    for j, (video, frame, annot) in enumerate(annots[lo:hi], start=lo):
        seen = images.get(video, {})
        prev = annots[j - 1][1] if j > 0 and annots[j - 1][0] == video else None
        last = j + 1 == len(annots) or annots[j + 1][0] != video
        between = [] if prev is None else list(range(prev + 1, frame))
        outside = [f for f in seen if (prev is None and f < frame) or (last and f > frame)]
        for f in sorted([f for f in between if f in seen] + outside):
            out.append(
                (f"{video}/{f}", str(seen[f]), f"video {video}: frame {f} has an image but no annotation")
            )
        no_image = [f for f in between if f not in seen]
        if no_image:
            out.append(
                (
                    f"{video}/gap{no_image[0]}-{no_image[-1]}",
                    str(annot.parent),
                    f"missing frames {_runs(no_image)} (no image, no annotation) between annotated "
                    f"frames {prev} and {frame}",
                )
            )
    return out


def _runs(frames: list[int]) -> str:
    """'3-5, 9' for [3, 4, 5, 9]."""
    runs, start = [], frames[0]
    for a, b in zip(frames, [*frames[1:], None]):
        if b != a + 1:
            runs.append(f"{start}-{a}" if a != start else f"{a}")
            start = b
    return ", ".join(runs)


def frame_images(folder: Path) -> dict[int, Path]:
    """frame number -> image file of the images directly in ``folder``."""
    return {
        frame_number(p): p
        for p in sorted(folder.iterdir())
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and _DIGITS.search(p.stem)
    }


def mmpose_broken_frames() -> dict[str, frozenset[int]]:
    """video -> the frame numbers of :data:`MMPOSE_BROKEN_300VW`."""
    out = {}
    for video, text in MMPOSE_BROKEN_300VW.items():
        ends = [tuple(int(x) for x in run.split("-")) for run in text.split(",")]
        out[video] = frozenset(f for e in ends for f in range(e[0], e[-1] + 1))
    return out


def count_listed_broken(frames: list[tuple[str, int]]) -> dict:
    """How many of the (video, frame) pairs ``frames`` mmpose lists as broken, for the provenance."""
    listed = mmpose_broken_frames()
    hits = [(v, f) for v, f in frames if f in listed.get(v, ())]
    return {
        "count": len(hits),
        "videos": sorted({v for v, _ in hits}),
        "policy": "kept (video.py module doc)",
    }


def report_gaps(bad: BadSamples, gaps: list[tuple[str, str, str]]) -> None:
    for sample_id, file, reason in gaps:
        bad.handle(sample_id, file, reason)


def adapt_menpo3d_video(
    src_dir: str | Path,
    out_dir: str | Path,
    *,
    z_sign: float = 1.0,
    shard: Shard = ALL,
    provenance: dict,
    on_bad_sample: str = "fail",
) -> SampleTable:
    """Write the table of the annotated frames (``shard`` of the sorted list) of the Menpo-3D folder ``src_dir``.

    ``on_bad_sample``: "fail" or "skip" (:mod:`cmhm.data.bad`; gaps: :func:`sequence_gaps`).
    """
    src_dir, out_dir = Path(src_dir), Path(out_dir)
    if not src_dir.is_dir():
        raise AdapterError(f"{src_dir}: Menpo-3D tracking folder missing")
    where = f"Menpo-3D tracking {src_dir}"
    every = sorted(p for p in src_dir.rglob("*") if p.suffix in ANNOTATION_SUFFIXES and p.is_file())
    shallow = [p for p in every if len(p.relative_to(src_dir).parts) < 2]
    if shallow:
        raise AdapterError(f"{shallow[0]}: frames must lie in per-video folders under {src_dir}")
    videos = [p.relative_to(src_dir).parts[0] for p in every]
    images: dict[str, dict[int, Path]] = {}
    for video, folder in sorted({(v, p.parent) for v, p in zip(videos, every)}):
        images.setdefault(video, {}).update(frame_images(folder))
    bad = BadSamples(on_bad_sample, where)
    report_gaps(bad, sequence_gaps([(v, frame_number(p), p) for v, p in zip(videos, every)], images, shard))
    annots = shard.take(every, where=where)
    arrays = empty_arrays(len(annots))
    rows = []
    for i, path in enumerate(annots):
        sample_id = path.relative_to(src_dir).with_suffix("").as_posix()
        made = bad.run(sample_id, path, lambda: _menpo3d_frame(path, src_dir, out_dir, z_sign))  # noqa: B023
        rows.append(None if made is None else made[0])
        if made is not None:
            arrays["lm3d_84"][i] = made[1]
            arrays["lm3d_68"][i] = menpo84_to_68(made[1])
    return finish_table(rows, arrays, out_dir, provenance, where=where, bad=bad)


def _menpo3d_frame(path: Path, src_dir: Path, out_dir: Path, z_sign: float) -> tuple[dict, np.ndarray]:
    """(index row, lm3d_84 [84, 3]) of one annotated Menpo-3D frame; bad samples raise."""
    rel = path.relative_to(src_dir)
    lm84 = _read_84(path, z_sign)
    if not np.isfinite(lm84[:, :2]).all():
        raise BadSampleError(path, "NaN or infinite landmark coordinates")
    row = image_row(rel.with_suffix("").as_posix(), find_image(path), out_dir, annotation_box(lm84))
    check_points(lm84, (row["width"], row["height"]), path, "84 3D landmarks")
    return {**row, "video": rel.parts[0], "frame": frame_number(path)}, lm84


def _300vw_frame(path: Path, out_dir: Path) -> tuple[dict, np.ndarray]:
    """(index row, lm2d [68, 2]) of one annotated 300VW frame; bad samples raise."""
    video = path.parent.parent.name
    image = find_image(path.parent.parent / "imgs" / path.stem)
    pts = read_pts(path)[:, :2]
    if len(pts) != IBUG68.n_points:
        raise BadSampleError(path, f"{len(pts)} points, expected {IBUG68.n_points} (300VW uses iBUG 68)")
    row = image_row(f"{video}/{path.stem}", image, out_dir, annotation_box(pts))
    check_points(pts, (row["width"], row["height"]), path, "iBUG 68 annotation")
    return {**row, "video": video, "frame": frame_number(path)}, pts


def adapt_300vw(
    src_dir: str | Path,
    out_dir: str | Path,
    *,
    shard: Shard = ALL,
    provenance: dict,
    on_bad_sample: str = "fail",
) -> SampleTable:
    """Write the table of the annotated frames (``shard`` of the sorted list) of the 300VW folder ``src_dir``.

    ``on_bad_sample``: "fail" or "skip" (:mod:`cmhm.data.bad`; gaps: :func:`sequence_gaps`).
    """
    src_dir, out_dir = Path(src_dir), Path(out_dir)
    if not src_dir.is_dir():
        raise AdapterError(f"{src_dir}: 300VW folder missing")
    where = f"300VW {src_dir}"
    every = sorted(src_dir.glob("*/annot/*.pts"))
    videos = sorted({p.parent.parent.name for p in every})
    images = {v: frame_images(src_dir / v / "imgs") for v in videos if (src_dir / v / "imgs").is_dir()}
    bad = BadSamples(on_bad_sample, where)
    report_gaps(
        bad, sequence_gaps([(p.parent.parent.name, frame_number(p), p) for p in every], images, shard)
    )
    annots = shard.take(every, where=where)
    arrays = empty_arrays(len(annots))
    rows = []
    for i, path in enumerate(annots):
        made = bad.run(f"{path.parent.parent.name}/{path.stem}", path, lambda: _300vw_frame(path, out_dir))  # noqa: B023
        rows.append(None if made is None else made[0])
        if made is not None:
            arrays["lm2d"][i], arrays["vis2d"][i] = made[1], True
    broken = count_listed_broken([(r["video"], r["frame"]) for r in rows if r is not None])
    log.info(
        "%s: %d frames on mmpose's broken-frame list kept (videos %s)",
        where,
        broken["count"],
        broken["videos"],
    )
    return finish_table(
        rows, arrays, out_dir, {**provenance, "mmpose_broken_frames": broken}, where=where, bad=bad
    )
