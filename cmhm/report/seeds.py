"""Seed-aware summaries of Table I and II: mean over training seeds, seed spread, and paired differences
to a reference variant with a hierarchical bootstrap interval that resamples seeds *and* test units.

The model
  ``values[v]`` [S_v, N]: one row per training seed of variant ``v``, one column per test unit (an image
  for Table I, a frame for Table II), the same units in the same order for every variant and seed.
  Units are grouped into *clusters* (Table I: each image its own; Table II: a video's frames), clusters
  into *strata* (Table I: |yaw| bins; Table II: one). The statistic of one seed is the mean over strata
  of each stratum's unit mean (Table I: the paper's mean of bin means; Table II with ``a = max(0, T - e)
  / T`` per frame: the AUC, with ``e > T``: the failure rate). A variant's figure is the mean of its
  seeds' statistics.

The bootstrap (percentile, seeded)
  Each resample draws clusters with replacement within each stratum, the *same* draw for every variant
  (the test set is shared, so what two variants share on it cancels in their difference), and then, per
  variant *independently*, ``S_v`` seeds with replacement. Seeds are not paired by index: seed ``k`` of
  two variants with different architectures gives unrelated initial weights, so a pairing would claim a
  correlation nothing guarantees; independent resampling is valid either way (conservative if seeds
  were positively correlated) and allows a different number of seeds per variant.
  With no spread between test units the interval reduces to the bootstrap of the seed mean; with one
  seed it reduces to the paired image bootstrap of :func:`cmhm.evaluation.metrics.paired_mean_of_bins_diff`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

N_BOOT = 2000
LEVEL = 0.95


def _check(values: Mapping[str, np.ndarray], strata: np.ndarray, clusters: np.ndarray) -> dict:
    """Values as float arrays [S, N]; raises ValueError naming the variant that does not fit."""
    out = {}
    n = len(strata)
    if len(clusters) != n:
        raise ValueError(f"strata [{n}] and clusters [{len(clusters)}] must have one entry per unit")
    for name, v in values.items():
        a = np.asarray(v, dtype=np.float64)
        if a.ndim != 2 or a.shape[1] != n or a.shape[0] < 1:
            raise ValueError(f"variant {name!r}: values {a.shape} must be [seeds >= 1, {n} units]")
        if not np.isfinite(a).all():
            raise ValueError(f"variant {name!r}: values must be finite")
        out[name] = a
    if not out:
        raise ValueError("no variant given")
    return out


def _stratum_parts(a: dict, strata: np.ndarray, clusters: np.ndarray) -> list[tuple[dict, np.ndarray]]:
    """Per stratum: (variant -> cluster sums [S, G], unit counts per cluster [G])."""
    parts = []
    for s in np.unique(strata):
        sel = strata == s
        ids, inv = np.unique(clusters[sel], return_inverse=True)
        counts = np.bincount(inv, minlength=len(ids)).astype(np.float64)
        sums = {}
        for name, v in a.items():
            m = np.zeros((v.shape[0], len(ids)))
            np.add.at(m.T, inv, v[:, sel].T)
            sums[name] = m
        parts.append((sums, counts))
    return parts


def _boot_stats(parts: list, seeds: dict, n_boot: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Bootstrap replicates [n_boot] of each variant's seed-mean statistic."""
    per_seed = {name: np.zeros((n_boot, s)) for name, s in seeds.items()}
    for sums, counts in parts:
        g = len(counts)
        w = np.zeros((n_boot, g))
        np.add.at(w, (np.arange(n_boot)[:, None], rng.integers(0, g, (n_boot, g))), 1.0)
        denom = w @ counts
        for name, m in sums.items():
            per_seed[name] += (w @ m.T) / denom[:, None] / len(parts)
    out = {}
    for name, s in seeds.items():
        pick = rng.integers(0, s, (n_boot, s))
        out[name] = np.take_along_axis(per_seed[name], pick, axis=1).mean(1)
    return out


def seed_summary(
    values: Mapping[str, np.ndarray],
    strata: np.ndarray,
    clusters: np.ndarray | None = None,
    n_boot: int = N_BOOT,
    level: float = LEVEL,
    seed: int = 0,
) -> dict[str, dict]:
    """Per variant (the first is the reference): its seeds' statistics and their mean, sd, min and max,
    an interval of the mean, and the difference to the reference with its interval (module docstring).

    ``values``: variant -> [S_v, N]; ``strata`` [N] (e.g. yaw bin); ``clusters`` [N] (default: each unit
    its own). Returns variant -> ``{"per_seed", "n_seeds", "mean", "sd", "min", "max", "lo", "hi",
    "diff", "diff_lo", "diff_hi"}``; ``sd`` is the sample sd (ddof 1; NaN for one seed).
    """
    strata = np.asarray(strata)
    clusters = np.arange(len(strata)) if clusters is None else np.asarray(clusters)
    a = _check(values, strata, clusters)
    parts = _stratum_parts(a, strata, clusters)
    boot = _boot_stats(parts, {k: v.shape[0] for k, v in a.items()}, n_boot, np.random.default_rng(seed))
    q = [(1 - level) / 2, (1 + level) / 2]
    ref = next(iter(a))
    out = {}
    for name, v in a.items():
        per_seed = np.mean([sums[name].sum(1) / counts.sum() for sums, counts in parts], axis=0)
        d_lo, d_hi = np.quantile(boot[name] - boot[ref], q)
        lo, hi = np.quantile(boot[name], q)
        out[name] = {
            "per_seed": [float(x) for x in per_seed],
            "n_seeds": int(v.shape[0]),
            "mean": float(per_seed.mean()),
            "sd": float(per_seed.std(ddof=1)) if v.shape[0] > 1 else float("nan"),
            "min": float(per_seed.min()),
            "max": float(per_seed.max()),
            "lo": float(lo),
            "hi": float(hi),
            "diff": float(per_seed.mean() - (out[ref]["mean"] if ref in out else per_seed.mean())),
            "diff_lo": float(d_lo),
            "diff_hi": float(d_hi),
        }
    return out


def table1_values(per_image: Mapping[str, list]) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """(variant -> NME [S, N], yaw [N], sample ids [N]) from per variant a list of seeds' ``per_image.csv``
    frames (columns sample_id, yaw, nme). Raises ValueError when a seed or variant lists other images."""
    ref = next(iter(per_image.values()))[0]
    ids = ref["sample_id"].astype(str).to_numpy()
    out = {}
    for name, frames in per_image.items():
        for k, df in enumerate(frames):
            if not np.array_equal(df["sample_id"].astype(str).to_numpy(), ids):
                raise ValueError(f"per-image results of {name} (seed file {k}) list other test images")
        out[name] = np.stack([df["nme"].to_numpy(np.float64) for df in frames])
    return out, ref["yaw"].to_numpy(np.float64), ids


def table2_values(
    per_frame: Mapping[str, list], threshold: float
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray]:
    """(variant -> AUC contributions ``max(0, T - e) / T`` [S, N], variant -> failures ``e > T`` [S, N],
    video of each frame [N]) from per variant a list of seeds' ``per_frame.csv`` frames (columns video,
    frame, nme_diag); their means over frames are the AUC and the failure rate of :mod:`cmhm.evaluation.metrics`."""
    if threshold <= 0:
        raise ValueError(f"threshold must be positive, got {threshold}")
    ref = next(iter(per_frame.values()))[0]
    key = ref["video"].astype(str) + "/" + ref["frame"].astype(str)
    auc_v, fail_v = {}, {}
    for name, frames in per_frame.items():
        for k, df in enumerate(frames):
            if not np.array_equal((df["video"].astype(str) + "/" + df["frame"].astype(str)).to_numpy(), key):
                raise ValueError(f"per-frame results of {name} (seed file {k}) list other frames")
        e = np.stack([df["nme_diag"].to_numpy(np.float64) for df in frames])
        auc_v[name] = np.maximum(0.0, threshold - e) / threshold
        fail_v[name] = (e > threshold).astype(np.float64)
    return auc_v, fail_v, ref["video"].astype(str).to_numpy()
