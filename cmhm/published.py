"""Numbers quoted from the paper (Deng et al., FG 2018), kept apart from anything measured here."""

from __future__ import annotations

TABLE1_CAPTION = (
    "NME (%) on the still-image test set by absolute yaw; Mean = mean of the three bin means. "
    "Measured rows come from this run; rows marked quoted are copied from the paper (AFLW2000-3D)."
)
TABLE2_CAPTION = (
    "Video tracking on the test videos: AUC of the CED up to {threshold} (box-diagonal normalised error) "
    "and failure rate (share of frames above it)."
)

# Paper Table I rows (label -> [0,30], [30,60], [60,90], mean), filled only with numbers read in the paper.
PAPER_TABLE1: dict[str, list[float]] = {}


def table1_rows() -> dict[str, list[float]]:
    """The quoted rows of Table I, labelled as the paper labels them."""
    return dict(PAPER_TABLE1)
