"""The dataset archive steps each fetch rule calls (``rules/fetch.smk``), by config name:

- :func:`fetch_public`: download a public archive (resumable, retried, hash-checked);
- :func:`check_placed`: check a hand-placed licence-gated archive, or fail with the instructions;
- :func:`unpack`: verify the archive's hash, extract it safely, check the layout, list every file
  with its hash.

Then :func:`cmhm.data.registry.adapt` writes the sample tables from the unpacked folder.
"""

from __future__ import annotations

import os
from pathlib import Path

from cmhm.data.fetch import FetchError, download, safe_extract, sha256_file, verify_placed, write_manifest
from cmhm.data.gated import instructions
from cmhm.data.registry import data_root, spec


def fetch_public(name: str, url: str | None, dest: str | os.PathLike, sha256: str | None) -> str:
    """Download public dataset ``name`` from ``url`` to ``dest`` (see :func:`cmhm.data.fetch.download`)."""
    s = spec(name)
    if s.gated is not None:
        raise ValueError(f"{name} is licence-gated and is never downloaded; place its archive by hand")
    if url is None:
        raise FetchError(
            f"{s.title}: no download URL is configured. Set datasets.{name}.url in the config, or put the "
            f"archive at {os.fspath(dest)} by hand, and run the workflow again."
        )
    return download(url, dest, sha256=sha256, keep_partial=True)


def check_placed(
    name: str, archive: str | os.PathLike, sha256: str | None, extract_to: str | os.PathLike
) -> dict:
    """Check the hand-placed archive of gated dataset ``name``; a record {archive, bytes, sha256}.

    Missing: :class:`cmhm.data.fetch.GatedDataMissing` whose message says where to request it and
    where to put it.
    """
    text = instructions(spec(name).gated, archive, extract_to)
    digest = verify_placed(archive, sha256, text)
    return {"archive": os.fspath(archive), "bytes": Path(archive).stat().st_size, "sha256": digest}


def unpack(
    name: str,
    archive: str | os.PathLike,
    sha256: str | None,
    raw_dir: str | os.PathLike,
    manifest: str | os.PathLike,
    subdir: str | None = None,
) -> dict:
    """Check ``archive``'s hash (when pinned), extract it to ``raw_dir``, check the layout, write ``manifest``.

    Returns {sha256, files, checked}: the archive hash, the file count and the dataset check's count.
    """
    digest = sha256_file(archive)
    if sha256 and digest != sha256.lower():
        raise FetchError(
            f"{archive}: SHA-256 is {digest}, expected {sha256.lower()} (datasets.{name}.sha256)"
        )
    safe_extract(archive, raw_dir)
    checked = spec(name).verify(data_root(raw_dir, subdir))
    files = write_manifest(raw_dir, manifest)
    return {"sha256": digest, "files": files, "checked": checked}
