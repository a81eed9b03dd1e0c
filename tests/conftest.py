"""Test order for `make test`, which runs the tests in two worker processes (pytest-xdist, worksteal: each
worker starts on its half of the tests in this order): the tests marked `long(seconds)` (minutes of
snakemake runs, seconds as measured on 2 cores) start first, longest first, so that no worker is left
alone with one of them at the end."""

import pytest


def _seconds(item: pytest.Item) -> float:
    mark = item.get_closest_marker("long")
    return mark.args[0] if mark else 0.0


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    items.sort(key=_seconds, reverse=True)  # stable: the rest keep their order
