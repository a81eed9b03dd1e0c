"""Which labels of a test video table the tracking error (Table II) is measured against.

The tracker outputs every frame's points in the 3D-projection markup ``markup3d`` (the x, y of
``PROJ3D_ARRAYS[markup3d]``). The table's data chooses the labels, never its dataset name:

- 3D path: the table has finite 3D-projection labels (``lm3d_68`` / ``lm3d_84``, e.g. Menpo-3D
  tracking, synthetic videos): every point is scored against them, normalised by the diagonal of
  the tight box of those ground-truth points (the paper's Table II protocol).
- 2D path: no finite 3D-projection label but 2D iBUG-68 labels (``lm2d``, e.g. 300VW): only the points
  the two markups name alike are scored (:func:`cmhm.landmarks.markups.shared_points`: the inner
  points, eyebrows to mouth). The jaw is left out: a 2D jaw is the visible outline of the face, a 3D
  one the projected mesh contour, so they are different points once the head turns.

Neither: :class:`ValueError` naming the table and the arrays it lacks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cmhm.data.samples import ARRAY_MARKUPS, PROJ3D_ARRAYS, SampleTable
from cmhm.evaluation.metrics import nme_diag
from cmhm.landmarks.markups import get_markup, shared_points

LABELS_2D = "lm2d"


@dataclass(frozen=True)
class TrackLabels:
    """The ground truth [N, K_gt, 2] of a table's rows and how a prediction in ``markup3d`` maps onto it.

    ``pred_index`` [K_gt]: the prediction point scored against each ground-truth point (None: the
    prediction is in the labels' own markup, all points scored); ``scored`` [K_gt] the points scored
    (None: all); ``points``: a human description of what is scored, for the metrics record.
    """

    gt: np.ndarray
    pred_index: np.ndarray | None
    scored: np.ndarray | None
    points: str

    def nme(self, pred: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Per-frame NME [R] of ``pred`` [R, K_pred, 2] (image px) against the labels of ``rows`` [R].

        Normaliser (:func:`cmhm.evaluation.metrics.nme_diag`): the diagonal of the tight box of all the
        finite ground-truth points of the frame, scored or not. 3D path: every 3D-projection point;
        2D path: every labelled iBUG-68 point, the visible jaw included, so the scale is the face's
        annotated extent, as on the 3D path, while only the inner points' errors are averaged.
        """
        gt = self.gt[rows]
        if self.pred_index is None:
            return nme_diag(pred, gt)
        mapped = np.full(gt.shape, np.nan)
        mapped[:, self.scored] = pred[:, self.pred_index[self.scored]]
        return nme_diag(mapped, gt, mask=np.broadcast_to(self.scored, gt.shape[:2]))


def _finite_points(array: np.ndarray) -> bool:
    return bool(np.isfinite(array[..., :2]).all(-1).any())


def tracking_labels(table: SampleTable, markup3d: str) -> TrackLabels:
    """The labels a tracked prediction in ``markup3d`` is scored against (module docstring)."""
    proj = PROJ3D_ARRAYS[markup3d]
    if _finite_points(table.arrays[proj]):
        k = table.arrays[proj].shape[1]
        return TrackLabels(
            table.arrays[proj][..., :2], None, None, f"all {k} of {proj} (3D-projection labels)"
        )
    if LABELS_2D not in table.arrays or not _finite_points(table.arrays[LABELS_2D]):
        raise ValueError(
            f"test video table {table.root}: no finite 3D-projection labels ({proj}, markup {markup3d}) "
            f"and no 2D labels ({LABELS_2D}); tracking needs one of them"
        )
    gt = np.asarray(table.arrays[LABELS_2D], dtype=np.float64)
    idx_2d, idx_pred = shared_points(get_markup(ARRAY_MARKUPS[LABELS_2D]), get_markup(markup3d))
    pred_index = np.zeros(gt.shape[1], dtype=np.int64)
    pred_index[idx_2d] = idx_pred
    scored = np.zeros(gt.shape[1], dtype=bool)
    scored[idx_2d] = True
    points = f"inner {len(idx_2d)} of {LABELS_2D} (2D labels; jaw not scored)"
    return TrackLabels(gt, pred_index, scored, points)
