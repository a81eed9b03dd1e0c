"""Numbers quoted from publications, kept apart from anything measured here.

Quoted rows live in small CSVs named by the config keys ``quoted.table1`` / ``quoted.table2``, and
:func:`read_quoted` checks them: the columns of the table they join, a non-empty ``method`` and
``source`` on every row, numbers (or empty cells) elsewhere. The paper's own rows (Deng et al.,
FG 2018: Table I on AFLW2000-3D, Table II on Menpo-3D) ship in ``configs/quoted/`` and are named
by ``configs/paper*.yaml``, the configs that test on those sets (the synthetic default does not).

The paper's speed figures have no table of their own here (the measured ms per face of Table I is
a CPU number): they ship as a third CSV of the same format, columns :data:`SPEED_COLUMNS`, checked
by the same reader but shown in no table. The paper gives one training-step time; it is filed
under CMHM.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import pandas as pd

from cmhm.data.folds import fold_index
from cmhm.geometry.yaw_bins import bin_labels

TABLE1_CAPTION = (
    "NME (%) on the still-image test set by absolute yaw; Mean = mean of the three bin means. Measured "
    "rows come from this run; rows marked quoted are copied from the publication they name. table1.csv "
    "adds bootstrap 95% intervals of Mean, the paired difference to the first row, and ms per face."
)
TABLE2_CAPTION = (
    "Video tracking on the test videos: AUC of the CED up to {threshold} (box-diagonal normalised error) "
    "and failure rate (share of frames above it). table2.csv adds re-detections and frame counts."
)
TEXT_COLUMNS = ("method", "source")
TABLE2_COLUMNS = ["AUC", "FR (%)"]
# ms to produce the response maps of one 256 x 256 face; s per training step at batch 8 (one GPU)
SPEED_COLUMNS = ["ms/face", "s/step"]


class QuotedRowsError(ValueError):
    """A quoted-rows CSV that cannot be used; the message names the file and what is wrong."""


def table1_caption(test_split: str, n_quoted: int) -> str:
    """Table I's caption; on a fold split (a two-fold check, e.g. configs/real_faces_a.yaml) it says that this
    is not the paper's protocol, and a quoted row beside it is refused (``ValueError``)."""
    k = fold_index(test_split)
    if k is None:
        return TABLE1_CAPTION
    if n_quoted:
        raise ValueError(
            f"Table I tests on fold split '{test_split}' (a two-fold check): quoted rows never sit beside it; "
            "set quoted.table1: null"
        )
    return (
        f"Two-fold real-face check, not the paper's protocol: test faces are fold {k} of the fixed folds "
        "(by image id, stratified by |yaw| bin); the models trained on the other fold only; not comparable "
        "with the paper's Table I. " + TABLE1_CAPTION
    )


def table1_columns() -> list[str]:
    """Number columns of a quoted Table I row: the three |yaw| bins and their mean (NME %)."""
    return bin_labels() + ["Mean"]


def _number(path: Path, line: int, column: str, cell) -> float:
    """A cell as a float (NaN for an empty cell); a clear error for anything else."""
    if cell is None or (isinstance(cell, float) and math.isnan(cell)) or str(cell).strip() == "":
        return float("nan")
    try:
        value = float(str(cell).strip())
    except ValueError:
        raise QuotedRowsError(f"{path}: line {line}, column {column!r}: {cell!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise QuotedRowsError(f"{path}: line {line}, column {column!r}: {value} is not a non-negative number")
    return value


def read_quoted(path: str | os.PathLike, columns: list[str]) -> list[dict]:
    """Rows of the quoted-rows CSV at ``path``: dicts with ``method``, ``source`` and ``columns``.

    The file must have exactly ``method``, ``source`` and ``columns`` as its header (any order) and at
    least one row; the ``source`` value is kept as given so tables can say where each row comes from.
    """
    path = Path(path)
    if not path.is_file():
        raise QuotedRowsError(f"{path}: quoted-rows file does not exist")
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise QuotedRowsError(f"{path}: not a readable CSV ({e})") from None
    expected = set(TEXT_COLUMNS) | set(columns)
    missing, extra = sorted(expected - set(df.columns)), sorted(set(df.columns) - expected)
    if missing or extra:
        raise QuotedRowsError(
            f"{path}: header must be {', '.join(TEXT_COLUMNS + tuple(columns))}; "
            f"missing {missing or 'none'}, unexpected {extra or 'none'}"
        )
    if df.empty:
        raise QuotedRowsError(f"{path}: no rows (set the config key to null for no quoted rows)")
    rows = []
    for i, rec in enumerate(df.to_dict("records"), start=2):
        for key in TEXT_COLUMNS:
            if not str(rec[key]).strip():
                raise QuotedRowsError(f"{path}: line {i}: empty {key!r}")
        rows.append(
            {
                "method": rec["method"].strip(),
                "source": rec["source"].strip(),
                **{c: _number(path, i, c, rec[c]) for c in columns},
            }
        )
    return rows
