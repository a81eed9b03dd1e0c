"""Instructions for the licence-gated datasets the user must obtain and place by hand.

The Menpo 2D benchmark, the Menpo-3D tracking data and the 300VW videos are released by the
Intelligent Behaviour Understanding Group (iBUG, Imperial College London) for research use; no
script may download them (for 300VW we could not check a stable address and checksum either). :func:`instructions` renders the text that
:func:`cmhm.data.fetch.verify_placed` raises when the archive is not where the config says.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

IBUG_RESOURCES = "https://ibug.doc.ic.ac.uk/resources/"


@dataclass(frozen=True)
class GatedDataset:
    """What to request, from where, and the layout the pipeline expects after unpacking."""

    title: str
    request: str
    archive: str
    layout: str


GATED: dict[str, GatedDataset] = {
    "menpo2d": GatedDataset(
        title="Menpo 2D benchmark (Menpo 2017 facial landmark challenge)",
        request=(
            "Open the iBUG resources page, follow the Menpo challenge / Menpo benchmark entry, and\n"
            "request the 2D data with the licence form there (academic use; approval is by e-mail)."
        ),
        archive="the Menpo 2D release archive (zip or tar.gz) holding images and .pts files",
        layout=(
            "<any folders>/<name>.jpg|.png|.ppm with <name>.pts beside each image;\n"
            "  semi-frontal faces: 68 points (iBUG markup); profile faces: 39 points\n"
            "  (12 jaw/contour, 4 brow, 4 nose bridge->tip, 2 nose base, 5 eye, 7 outer lip, 5 inner lip);\n"
            "  .pts coordinates 1-based as in every iBUG release."
        ),
    ),
    "menpo3d_tracking": GatedDataset(
        title="Menpo-3D tracking (3D face tracking challenge videos, 84 3D landmarks per frame)",
        request=(
            "Open the iBUG resources page, follow the Menpo-3D / 3D face tracking challenge entry, and\n"
            "request the tracking data with the licence form there (academic use; approval is by e-mail)."
        ),
        archive="the Menpo-3D tracking archive (zip or tar.gz) with the video frames and their landmarks",
        layout=(
            "<video>/<...>/<frame>.jpg|.png, one folder per video, with <frame>.ljson (menpo landmark\n"
            "  JSON, points [y, x, z]) or <frame>.pts (84 rows of x y z) beside each frame;\n"
            "  84 points in the Menpo-3D markup (33-point jaw + 51 inner iBUG points)."
        ),
    ),
    "300vw": GatedDataset(
        title="300VW (300 Videos in the Wild, 2D iBUG-68 landmarks per frame)",
        request=(
            "Open https://ibug.doc.ic.ac.uk/resources/300-VW/ and download the 300VW data there\n"
            "   (research use, under the terms stated on that page)."
        ),
        archive="a zip or tar.gz of the 300VW folders with the frames extracted (see 3.)",
        layout=(
            "<NNN>/annot/<frame>.pts (iBUG 68 points, 1-based) and <NNN>/imgs/<frame>.jpg, one folder\n"
            "  per video; the frame image has the .pts file's name (000001.pts -> 000001.jpg).\n"
            "  The release ships <NNN>/vid.avi, not frames: extract them first, in each <NNN>/, e.g.\n"
            "    mkdir -p imgs && ffmpeg -i vid.avi -start_number 1 -q:v 2 imgs/%06d.jpg\n"
            "  (the .pts files count frames from 000001), then archive the <NNN>/ folders.\n"
            "  Tracking is scored on the 51 inner points only (no 3D labels; the 2D jaw is another markup)."
        ),
    ),
}


def instructions(
    name: str, archive_path: str | os.PathLike, extract_to: str | os.PathLike | None = None
) -> str:
    """The instruction text for gated dataset ``name`` expected at ``archive_path`` (a config value)."""
    try:
        d = GATED[name]
    except KeyError:
        raise KeyError(f"unknown gated dataset {name!r}; known: {sorted(GATED)}") from None
    lines = [
        f"{d.title} is licence-gated and must be placed by hand.",
        "",
        f"1. Where to request it: {IBUG_RESOURCES}",
        f"   {d.request}",
        f"2. Put {d.archive} at:",
        f"   {os.fspath(archive_path)}",
        "   (this path is set in the config; change it there if you keep the archive elsewhere).",
        "3. What the pipeline expects inside the archive:",
        f"   {d.layout}",
    ]
    if extract_to is not None:
        lines.append(f"   It will be unpacked to {os.fspath(extract_to)}.")
    lines += ["", "Then run the workflow again."]
    return "\n".join(lines)
