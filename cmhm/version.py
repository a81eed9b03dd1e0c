"""The package version (pyproject.toml's ``version``), in the lowest layer so that any module may read it."""

__version__ = "0.1.0"
