"""Which part of a real dataset's split one ``adapt`` job writes: contiguous runs of the sorted samples.

Shard ``index`` of ``count`` holds items ``[index * n // count, (index + 1) * n // count)`` of the
adapter's sorted item list (sizes differ by at most one), so the shards are disjoint, cover every
item, and their concatenation in shard order is the one-shard table, row for row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from cmhm.data.common import AdapterError

T = TypeVar("T")


def shard_bounds(n_items: int, index: int, count: int) -> tuple[int, int]:
    """[start, stop) of shard ``index`` (0-based) of ``count`` over ``n_items`` items."""
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"shard {index} of {count}: need count >= 1 and 0 <= index < count")
    if n_items < 0:
        raise ValueError(f"n_items must be >= 0, got {n_items}")
    return index * n_items // count, (index + 1) * n_items // count


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count`` of a dataset split (the default: the whole split)."""

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        shard_bounds(0, self.index, self.count)

    def take(self, items: Sequence[T], where: str) -> list[T]:
        """This shard's contiguous run of ``items`` (already sorted).

        :class:`AdapterError` naming ``where`` if the split has items but this shard gets none.
        """
        lo, hi = shard_bounds(len(items), self.index, self.count)
        if lo == hi and items:
            raise AdapterError(
                f"{where}: shard {self.index} of {self.count} is empty ({len(items)} samples in all); "
                "use fewer shards (datasets.<name>.shards)"
            )
        return list(items[lo:hi])

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


ALL = Shard()
