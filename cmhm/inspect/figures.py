"""``inspect`` for figures: which figure a PNG / PDF / SVG is, and the provenance stamped into its metadata."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

from cmhm.pipeline.provenance import FIGURE_KEY

FIGURES = {  # file stem -> what it shows and which rule draws it
    "union_mapping": "paper Fig. 3: the multi-view union mapping, 39 profile -> 68 frontal points "
    "(rule plot_union_mapping)",
    "contact_sheet": "training crops with their 2D and 3D annotations (rule contact_sheet)",
    "ced_images": "CED of the per-image NME on the still-image test set, one curve per variant "
    "(rule plot_results)",
    "ced_video": "paper Fig. 6 style: CED of the per-frame tracking error, one curve per variant "
    "(rule plot_results)",
    "nme_by_yaw": "Table I as bars: NME per |yaw| bin and their mean, per variant (rule plot_results)",
    "qualitative": "paper Figs. 5/7 style: test crops, predicted landmarks and each stage's response "
    "maps (rule plot_results)",
    **{
        f"loss_stage{k}": f"loss curves of training stage {k} of the variant named by the folder, from its "
        "log.csv (rule plot_training)"
        for k in (1, 2)
    },
}


def _pdf_string(data: bytes, key: bytes) -> str | None:
    """The last ``/<key> (...)`` literal string of a PDF's bytes, with its backslash escapes undone."""
    start = data.rfind(b"/" + key + b" (")
    if start < 0:
        return None
    out, escaped = bytearray(), False
    for c in data[start + len(key) + 3 :]:
        if escaped:
            out += {ord("n"): b"\n", ord("r"): b"\r"}.get(c, bytes([c]))
            escaped = False
        elif c == ord("\\"):
            escaped = True
        elif c == ord(")"):
            return out.decode("latin-1")
        else:
            out.append(c)
    return None


def figure_record(path: Path) -> tuple[dict | None, str]:
    """The provenance record stamped by :func:`cmhm.report.plots_data.save_figure`, and a line on the file itself."""
    if path.suffix.lower() == ".png":
        from PIL import Image

        with Image.open(path) as im:
            text, size = dict(im.text), im.size
        record = text.get(FIGURE_KEY)
        return (json.loads(record) if record else None), f"PNG, {size[0]} x {size[1]} px"
    data = path.read_bytes()
    if path.suffix.lower() == ".svg":
        found = re.search(rb"<dc:description>(.*?)</dc:description>", data, re.S)
        record = html.unescape(found.group(1).decode()) if found else None
        return (json.loads(record) if record else None), f"SVG, {len(data) / 1024:.0f} KiB"
    record = _pdf_string(data, b"Subject") if _pdf_string(data, b"Keywords") == FIGURE_KEY else None
    return (json.loads(record) if record else None), f"PDF, {len(data) / 1024:.0f} KiB"


def figure(path: Path, png: str | None) -> list[str]:
    """Which figure (by its file name), its format and size, and its embedded provenance."""
    stem = re.sub(r"^contact_sheet_[0-9]+$", "contact_sheet", path.stem)  # contact_sheet_<n crops>
    what = FIGURES.get(stem, "a figure cmhm does not name")
    record, about = figure_record(path)
    lines = [f"{path}: {what}", f"file: {about}"]
    if record is None:
        return lines + [
            "provenance: none embedded (saved before cmhm stamped figures; re-render with "
            "`snakemake figures`, which reads stored metrics only)"
        ]
    lines.append(f"code version (at drawing): {record.get('code_version', '?')}")
    if record.get("config_digest"):
        lines.append(f"config digest: {record['config_digest']}")
        lines.append("config: " + json.dumps(record.get("config"), sort_keys=True))
    else:
        lines.append("config: none passed to save_figure by the drawing code")
    if record.get("note"):
        lines.append(f"note (metadata only, not drawn): {record['note']}")
    return lines
