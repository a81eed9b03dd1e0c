"""Figures of the data half: the union mapping (paper Fig. 3) and contact sheets of crops."""

from __future__ import annotations

import json
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from cmhm.atomic import write_atomic  # noqa: E402
from cmhm.landmarks.markups import IBUG68, PROFILE39  # noqa: E402
from cmhm.landmarks.union import UnionMapping  # noqa: E402
from cmhm.pipeline.provenance import FIGURE_KEY, figure_provenance  # noqa: E402

GROUP_COLOURS = {
    "jaw": "tab:blue",
    "brow": "tab:brown",
    "brow_right": "tab:brown",
    "brow_left": "tab:brown",
    "nose_bridge": "tab:red",
    "nose_base": "tab:orange",
    "eye": "tab:green",
    "eye_right": "tab:green",
    "eye_left": "tab:olive",
    "lip_outer": "tab:purple",
    "lip_inner": "tab:pink",
}


# Fonts a venue accepts: TrueType (Type 42) in PDF/PS, never Type 3 (IEEE PDF eXpress rejects those).
VENUE_RC = {"pdf.fonttype": 42, "ps.fonttype": 42}


def _figure_metadata(suffix: str, title: str, record: str) -> dict | None:
    """Matplotlib ``savefig(metadata=...)`` carrying ``record`` (JSON): a PNG text chunk, a PDF's /Subject,
    an SVG's Dublin Core description."""
    if suffix == ".png":
        return {"Title": title, FIGURE_KEY: record}
    if suffix == ".pdf":
        return {"Title": title, "Subject": record, "Keywords": FIGURE_KEY}
    if suffix == ".svg":
        return {"Title": title, "Description": record, "Keywords": [FIGURE_KEY]}
    return None


def save_figure(fig, out_paths: list[str | os.PathLike], note: str = "", config: dict | None = None) -> None:
    """Save ``fig`` to every path (format from the suffix: PNG, PDF, SVG) through temporary names, then close it.

    The files carry :func:`cmhm.pipeline.provenance.figure_provenance` (code version, ``config`` and its digest,
    ``note``) in their metadata only, nothing is drawn on the plot; ``python -m cmhm inspect`` reads it
    back. PDFs embed TrueType (Type 42) fonts (``VENUE_RC``).
    """
    record = json.dumps(figure_provenance(config, note), sort_keys=True, default=str)
    with matplotlib.rc_context(VENUE_RC):
        for path in map(Path, out_paths):
            meta = _figure_metadata(path.suffix.lower(), path.stem, record)
            write_atomic(
                path, lambda tmp, meta=meta: fig.savefig(tmp, dpi=150, bbox_inches="tight", metadata=meta)
            )
    plt.close(fig)


def plot_union_mapping(
    um: UnionMapping, out_paths: list[str | os.PathLike], note: str = "", config: dict | None = None
) -> None:
    """Paper Fig. 3: the mean frontal shape, the aligned mean profile shape, and each profile point's match."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.8))
    f, p = um.mean_frontal, um.mean_profile
    fg, pg = IBUG68.group_of(), PROFILE39.group_of()
    for ax, side in zip(axes, ("right", "left")):
        # the left panel is the right one mirrored: a mirrored frontal point j stands where point flip(j) is
        mirror = np.array([1.0 if side == "right" else -1.0, 1.0])
        prof, front, mapped = p * mirror, f * mirror, um.mapping["right"]
        ax.scatter(
            front[:, 0], front[:, 1], s=14, c=[GROUP_COLOURS[g] for g in fg], alpha=0.35, label="frontal 68"
        )
        ax.scatter(
            prof[:, 0], prof[:, 1], s=18, marker="x", c=[GROUP_COLOURS[g] for g in pg], label="profile 39"
        )
        for i, j in enumerate(mapped):
            ax.plot([prof[i, 0], front[j, 0]], [prof[i, 1], front[j, 1]], lw=0.6, c="0.3")
        ax.set_title(f"profile facing {side} -> union 68")
        ax.set_aspect("equal")
        ax.invert_yaxis()
        ax.axis("off")
    axes[0].legend(loc="lower left", fontsize=7)
    fig.suptitle("Multi-view union mapping: mean shapes aligned by Procrustes, one-to-one nearest match")
    save_figure(fig, out_paths, note, config)


def plot_contact_sheet(
    images: np.ndarray,
    layers: list[tuple[str, np.ndarray, str]],
    titles: list[str],
    out_paths: list[str | os.PathLike],
    note: str = "",
    config: dict | None = None,
    cols: int = 4,
) -> None:
    """A grid of crops [N, S, S, 3] with point layers drawn: (label, points [N, K, 2] NaN-padded, colour)."""
    n = len(images)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(2.4 * cols, 2.5 * rows), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k >= n:
            continue
        ax.imshow(images[k])
        for label, pts, colour in layers:
            ok = np.isfinite(pts[k]).all(-1)
            ax.scatter(pts[k, ok, 0], pts[k, ok, 1], s=4, c=colour, label=label, linewidths=0)
        ax.set_title(titles[k], fontsize=6)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=len(layers), fontsize=7, markerscale=3)
    save_figure(fig, out_paths, note, config)


def contact_sheet(
    crops, n: int, out_paths: list[str | os.PathLike], note: str = "", config: dict | None = None
) -> None:
    """Contact sheet of the first ``n`` crops of a :class:`cmhm.data.crop_shards.CropSet`, semi-frontal and profile mixed.

    Draws the 2D annotation (68-point semi-frontal or 39-point profile) and the 3D landmarks'
    projections (68 markup), so that their difference on the jaw is visible.
    """
    view = crops.index["view"].to_numpy()
    prof = np.flatnonzero(view == "profile")[: n // 2]
    semi = np.flatnonzero(view != "profile")[: n - len(prof)]
    rows = np.sort(np.concatenate([semi, prof]))
    a = crops.arrays
    layers = [
        ("2D semi-frontal (68)", a["lm2d"][rows], "lime"),
        ("2D profile (39)", a["lm2d_profile"][rows], "orange"),
        ("3D projection (68)", a["lm3d_68"][rows, :, :2], "deepskyblue"),
    ]
    idx = crops.index.iloc[rows]
    titles = [f"{r.sample_id} yaw {r.yaw:+.0f} {r.view} {r.side}".strip() for r in idx.itertuples()]
    plot_contact_sheet(np.asarray(crops.images[rows]), layers, titles, out_paths, note, config)
