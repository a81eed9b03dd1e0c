"""What a training stage shows while it runs: a tqdm bar on a terminal; otherwise (a job's log file) one log
line every ``log_every`` steps, so logs do not fill with bar redraws; TensorBoard scalars on request; and
the rows of ``log.csv`` (:class:`CsvLog`)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

log = logging.getLogger(__name__)
TENSORBOARD_DIR = "tensorboard"


def open_tensorboard(log_dir: Path, start: int):
    """A ``SummaryWriter`` in ``log_dir`` (events after ``start`` from an earlier attempt dropped on resume).
    Raises RuntimeError naming ``train.tensorboard`` when the ``tensorboard`` package is not installed."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as err:
        raise RuntimeError(
            "train.tensorboard: true needs the tensorboard package, which is not installed "
            f"({err}): `pip install tensorboard` into this environment, or set train.tensorboard: false"
        ) from None
    return SummaryWriter(str(log_dir), purge_step=start or None)


class TrainMonitor:
    """Progress of steps ``start .. total``: :meth:`advance` after each step, :meth:`row` with each log row
    (a dict with ``step`` and numbers), :meth:`close` at the end. ``show``: False keeps it silent."""

    def __init__(
        self, out: Path, start: int, total: int, show: bool = True, tensorboard: bool = False
    ) -> None:
        self.total, self.show = total, show
        self.terminal = show and sys.stderr.isatty()
        self.bar = tqdm(total=total, initial=start, desc="train", disable=not self.terminal)
        self.writer = open_tensorboard(out / TENSORBOARD_DIR, start) if tensorboard else None

    def advance(self) -> None:
        self.bar.update(1)

    def row(self, row: dict) -> None:
        step = int(row["step"])
        numbers = {k: v for k, v in row.items() if k != "step" and v != ""}  # "": not measured this row
        if self.show and not self.terminal:
            log.info(
                "step %d/%d: %s", step, self.total, ", ".join(f"{k} {v:.4g}" for k, v in numbers.items())
            )
        if self.writer is not None:
            for k, v in numbers.items():
                self.writer.add_scalar(f"train/{k}", v, step)

    def close(self) -> None:
        self.bar.close()
        if self.writer is not None:
            self.writer.close()


class CsvLog:
    """Append-only CSV of training rows; on resume, rows after the checkpoint's step are dropped."""

    def __init__(self, path: Path, columns: Sequence[str], keep_until: int) -> None:
        self.path, self.columns = path, list(columns)
        kept = []
        if keep_until > 0 and path.is_file():
            kept = [
                ln for ln in path.read_text().splitlines()[1:] if ln and int(ln.split(",")[0]) <= keep_until
            ]
        path.write_text("\n".join([",".join(self.columns), *kept]) + "\n")

    def write(self, row: dict) -> None:
        with self.path.open("a") as f:
            f.write(
                ",".join(f"{row[c]:.6g}" if isinstance(row[c], float) else str(row[c]) for c in self.columns)
                + "\n"
            )
