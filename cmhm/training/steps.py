"""Which training steps do what, as plain arithmetic (no torch: the workflow reads it to name a stage's
snapshot files when it builds the DAG)."""

from __future__ import annotations

from collections.abc import Sequence


def snapshot_steps(fractions: Sequence[float], steps: int) -> dict[int, str]:
    """Step -> file name (``model_step<N>.pt``) of the model snapshots kept at ``fractions`` of ``steps``
    (``round(f * steps)``, at least step 1; a fraction of 1 is ``model.pt`` itself and gets none).

    Training writes each one as a resumable side file (:func:`kept_snapshot`, stamped like a checkpoint)
    when it passes the step, and copies them to their names when it ends: a workflow may delete its
    declared outputs before a rerun, the side files survive, so resuming past a snapshot still yields it."""
    bad = [f for f in fractions if not 0 < f <= 1]
    if bad:
        raise ValueError(f"train.snapshots {list(fractions)}: each fraction must be in (0, 1], not {bad}")
    return {max(1, round(f * steps)): f"model_step{max(1, round(f * steps))}.pt" for f in fractions if f < 1}
