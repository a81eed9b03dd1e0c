"""The yaw bins of the AFLW2000-3D protocol (paper Table I): |yaw| in [0, 30], (30, 60], (60, 90] degrees.

In the lowest layer that needs them (the fitted 3D labels' report, the training split's yaw counts,
the metrics and the tables all bin by yaw), so that none of those imports the evaluation metrics.
"""

from __future__ import annotations

import numpy as np

YAW_EDGES: tuple[float, ...] = (0.0, 30.0, 60.0, 90.0)


def yaw_bin(yaw_deg: np.ndarray, edges: tuple[float, ...] = YAW_EDGES) -> np.ndarray:
    """Bin index [N] (int) of each |yaw|: bin b holds ``edges[b] < |yaw| <= edges[b + 1]``.

    The first bin also holds |yaw| = edges[0]; |yaw| above the last edge (AFLW2000-3D has a few
    fitted yaws beyond 90 degrees) is clipped into the last bin, as 3DDFA's ``|yaw| > 60`` test does.
    """
    a = np.abs(np.asarray(yaw_deg, dtype=np.float64))
    if not np.all(np.isfinite(a)):
        raise ValueError(f"yaw of sample {int(np.flatnonzero(~np.isfinite(a))[0])} is not finite")
    inner = np.asarray(edges[1:-1], dtype=np.float64)
    return np.searchsorted(inner, a, side="left").astype(np.int64)


def bin_labels(edges: tuple[float, ...] = YAW_EDGES) -> list[str]:
    """Human labels of the yaw bins, e.g. ``["[0, 30]", "(30, 60]", "(60, 90]"]``."""
    fmt = [f"{e:g}" for e in edges]
    return [("[" if b == 0 else "(") + f"{fmt[b]}, {fmt[b + 1]}]" for b in range(len(edges) - 1)]
