"""Fetch, verify and unpack dataset archives (standard library only: urllib, hashlib, zipfile, tarfile).

- :func:`download`: resumable (HTTP Range from a partial ``<dest>.part``), retried with exponential
  back-off on network errors and short reads, moved to ``dest`` only when complete and verified.
- :func:`verify_placed`: for licence-gated archives the user places by hand.
- :func:`safe_extract`: zip / tar(.gz) into a temporary folder, renamed into place when complete;
  refuses members that would land outside the target and link members.
- :func:`verify_aflw2000`, :func:`write_manifest`: checks of an unpacked dataset folder.
"""

from __future__ import annotations

import csv
import hashlib
import http.client
import logging
import os
import re
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from cmhm.atomic import write_text_atomic
from cmhm.data.archive import safe_extract

__all__ = [
    "FetchError",
    "GatedDataMissing",
    "download",
    "safe_extract",
    "sha256_file",
    "verify_aflw2000",
    "verify_placed",
    "write_manifest",
]

log = logging.getLogger(__name__)
PART_SUFFIX = ".part"
CHUNK = 1 << 16
RETRY_HTTP_CODES = frozenset({408, 429, 500, 502, 503, 504})


class FetchError(RuntimeError):
    """A download, checksum or archive problem; the message names the file or URL."""


class GatedDataMissing(FileNotFoundError):
    """A licence-gated archive is not where the user was asked to put it; the message says how."""


class _ShortRead(FetchError):
    """The connection ended before the announced length arrived (retryable)."""


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def part_path(dest: Path) -> Path:
    """Where :func:`download` keeps the incomplete file for ``dest``."""
    return dest.with_name(dest.name + PART_SUFFIX)


def _expected_total(resp, have: int) -> int | None:
    """Full size the server announces (Content-Range total, else offset + Content-Length)."""
    m = re.match(r"bytes \d+-\d+/(\d+)", resp.headers.get("Content-Range", ""))
    if m:
        return int(m.group(1))
    length = resp.headers.get("Content-Length")
    return have + int(length) if length and length.isdigit() else None


def _fetch_once(url: str, part: Path, timeout: float) -> None:
    """One attempt: append to ``part`` from where it ends (or restart if the server ignores Range)."""
    have = part.stat().st_size if part.exists() else 0
    headers = {"Range": f"bytes={have}-"} if have else {}
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout) as resp:
        if have and getattr(resp, "status", None) != 206:
            log.info("%s: server ignored the range request; starting over", url)
            have = 0
        expected = _expected_total(resp, have)
        with open(part, "ab" if have else "wb") as f:
            while block := resp.read(CHUNK):
                f.write(block)
    size = part.stat().st_size
    if expected is not None and size != expected:
        raise _ShortRead(f"received {size} of {expected} bytes")


def _attempt(url: str, part: Path, timeout: float) -> Exception | None:
    """Run one attempt; return the retryable error it hit (None on success), raise fatal ones."""
    try:
        _fetch_once(url, part, timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416:
            part.unlink(missing_ok=True)  # our partial file does not fit the remote one: restart
            return exc
        if exc.code in RETRY_HTTP_CODES:
            return exc
        raise FetchError(f"{url}: HTTP {exc.code} {exc.reason}") from exc
    except (_ShortRead, OSError, http.client.HTTPException) as exc:
        return exc
    return None


def _retry(url: str, part: Path, timeout: float, retries: int, backoff: float) -> None:
    """Attempt up to ``retries + 1`` times with exponential back-off; :class:`FetchError` if all fail."""
    errors: list[str] = []
    for k in range(retries + 1):
        exc = _attempt(url, part, timeout)
        if exc is None:
            return
        errors.append(f"attempt {k + 1}: {exc}")
        log.warning("%s: %s", url, errors[-1])
        if k < retries:
            time.sleep(backoff * 2**k)
    raise FetchError(
        f"{url}: download to {part.name.removesuffix(PART_SUFFIX)} failed after "
        f"{retries + 1} attempts ({'; '.join(errors)})"
    )


def _write_sidecar(dest: Path, digest: str) -> Path:
    side = dest.with_name(dest.name + ".sha256")
    write_text_atomic(side, f"{digest}  {dest.name}\n")
    return side


def _existing(dest: Path, sha256: str | None) -> str:
    digest = sha256_file(dest)
    if sha256 and digest != sha256.lower():
        raise FetchError(
            f"{dest}: exists but its SHA-256 is {digest}, expected {sha256.lower()}; delete it to download again"
        )
    log.info("%s: already present (sha256 %s); not downloading", dest, digest)
    return digest


def download(
    url: str,
    dest: str | os.PathLike,
    sha256: str | None = None,
    retries: int = 5,
    backoff: float = 2.0,
    timeout: float = 60.0,
    keep_partial: bool = False,
) -> str:
    """Download ``url`` to ``dest`` and return the file's SHA-256.

    Data go to ``dest + ".part"``; an existing partial file is resumed with an HTTP Range request.
    Network errors and short reads are retried ``retries`` times, sleeping ``backoff * 2**k``
    seconds before retry k. ``dest`` appears only once the file is complete and, when ``sha256``
    is given, matches it. On a mismatch the partial file is removed and :class:`FetchError` gives
    both hashes; when retries run out the partial file is removed too (unless ``keep_partial``).
    Without a pinned ``sha256`` the computed one is written to ``dest + ".sha256"`` (and logged).
    An existing ``dest`` is checked against ``sha256`` and kept.
    """
    dest = Path(dest)
    if dest.is_file():
        return _existing(dest, sha256)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = part_path(dest)
    try:
        _retry(url, part, timeout, retries, backoff)
        digest = sha256_file(part)
        if sha256 and digest != sha256.lower():
            part.unlink()
            raise FetchError(f"{url}: SHA-256 mismatch for {dest}: expected {sha256.lower()}, got {digest}")
    except FetchError:
        if not keep_partial:
            part.unlink(missing_ok=True)
        raise
    os.replace(part, dest)
    if sha256 is None:
        side = _write_sidecar(dest, digest)
        log.info("%s: no SHA-256 pinned; computed %s and wrote it to %s", dest, digest, side)
    return digest


def verify_placed(path: str | os.PathLike, sha256: str | None, instructions: str) -> str:
    """Check a hand-placed (licence-gated) archive and return its SHA-256.

    Missing (or a folder where a file is expected): :class:`GatedDataMissing` whose message is
    ``instructions``. Present with a hash other than ``sha256`` (when pinned): :class:`FetchError`.
    """
    path = Path(path)
    if not path.is_file():
        raise GatedDataMissing(instructions)
    digest = sha256_file(path)
    if sha256 and digest != sha256.lower():
        raise FetchError(f"{path}: SHA-256 is {digest}, expected {sha256.lower()}.\n\n{instructions}")
    return digest


def verify_aflw2000(folder: str | os.PathLike, expected: int = 2000) -> int:
    """Count the ``imageNNNNN.jpg`` + ``.mat`` pairs of an unpacked AFLW2000-3D folder.

    Raises :class:`FetchError` naming the folder if a file lacks its partner or the count of
    pairs is not ``expected``. Returns the count.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FetchError(f"{folder}: AFLW2000-3D folder missing")
    pattern = re.compile(r"^image\d{5}\.(jpg|mat)$")
    names = [p.name for p in folder.iterdir() if pattern.match(p.name)]
    jpg = {n[:-4] for n in names if n.endswith(".jpg")}
    mat = {n[:-4] for n in names if n.endswith(".mat")}
    lonely = sorted(jpg ^ mat)
    if lonely:
        raise FetchError(
            f"{folder}: {len(lonely)} images or .mat files lack their partner, e.g. {lonely[:3]}"
        )
    if len(jpg) != expected:
        raise FetchError(f"{folder}: found {len(jpg)} image/.mat pairs, expected {expected}")
    return len(jpg)


def write_manifest(folder: str | os.PathLike, out_csv: str | os.PathLike) -> int:
    """Write ``out_csv`` (columns path, bytes, sha256; paths relative to ``folder``); return the row count."""
    folder, out_csv = Path(folder), Path(out_csv)
    if not folder.is_dir():
        raise FetchError(f"{folder}: folder to list is missing")
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.resolve() != out_csv.resolve())
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out_csv.name}.", dir=out_csv.parent)
    try:
        with os.fdopen(fd, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["path", "bytes", "sha256"])
            for p in files:
                w.writerow([p.relative_to(folder).as_posix(), p.stat().st_size, sha256_file(p)])
        os.replace(tmp, out_csv)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return len(files)
