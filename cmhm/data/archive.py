"""Safe extraction of zip and tar(.gz/.bz2/.xz) archives (re-exported by :mod:`cmhm.data.fetch`).

Every member is checked before anything is written: a member whose path is absolute, holds a
``..`` component or resolves outside the target is refused ("zip-slip"), and so is any symbolic
or hard link, device or FIFO member. Members are written into a temporary folder beside the
target, which is renamed into place only once all of them are out; on any failure it is removed,
so nothing half-extracted remains. A member name that occurs twice is refused too (which copy is
the dataset's?), and a member whose data does not decompress or fails its checksum is reported as
:class:`CorruptArchiveError` naming the archive and the member. These are archive-level problems:
``data.on_bad_sample`` does not apply, the archive must be fetched again.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import tarfile
import tempfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath


class UnsafeArchiveError(ValueError):
    """An archive holds a member we refuse to extract; the message names the archive and member."""


class CorruptArchiveError(ValueError):
    """An archive's data is damaged (bad checksum, truncated stream); the message names archive and member."""


READ_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, tarfile.TarError, OSError)
CHUNK = 1 << 20


def _no_duplicates(names: list[str], archive: Path) -> None:
    """:class:`UnsafeArchiveError` naming the first member path that occurs twice in ``names``."""
    seen: set[str] = set()
    for name in names:
        key = PurePosixPath(name.replace("\\", "/")).as_posix()
        if key in seen:
            raise UnsafeArchiveError(
                f"{archive}: member {name!r} occurs twice (which copy is right?); refusing to extract"
            )
        seen.add(key)


def _copy_member(open_src, out: Path, archive: Path, name: str, size: int) -> None:
    """Copy the member (``size`` bytes) that ``open_src()`` opens to ``out``; read failures and short
    data name the archive and the member."""
    try:
        src = open_src()
    except READ_ERRORS as exc:
        raise CorruptArchiveError(f"{archive}: member {name!r} cannot be opened ({exc})") from exc
    if src is None:
        raise UnsafeArchiveError(f"{archive}: member {name!r} has no data")
    n = 0
    with src, open(out, "wb") as dst:
        while True:
            try:
                chunk = src.read(CHUNK)
            except READ_ERRORS as exc:
                raise CorruptArchiveError(f"{archive}: member {name!r} is corrupt ({exc})") from exc
            if not chunk:
                break
            dst.write(chunk)
            n += len(chunk)
    if n != size:
        raise CorruptArchiveError(f"{archive}: member {name!r} is truncated ({n} of its {size} bytes)")


def _check_tar_end(tf: tarfile.TarFile, members: list[tarfile.TarInfo], archive: Path) -> None:
    """:class:`CorruptArchiveError` unless the end-of-archive marker (two zero blocks) follows the last
    member: a tar cut between members otherwise reads as a shorter, valid one."""
    last = members[-1] if members else None
    end = 0 if last is None else last.offset_data + -(-last.size // tarfile.BLOCKSIZE) * tarfile.BLOCKSIZE
    try:
        tf.fileobj.seek(end)
        trailer = tf.fileobj.read(2 * tarfile.BLOCKSIZE)
    except READ_ERRORS as exc:
        raise CorruptArchiveError(f"{archive}: truncated or corrupt after its last member ({exc})") from exc
    if len(trailer) < 2 * tarfile.BLOCKSIZE or trailer.strip(b"\0"):
        after = "at its start" if last is None else f"after member {last.name!r}"
        raise CorruptArchiveError(f"{archive}: truncated: no end-of-archive marker {after}")


def member_target(root: Path, name: str, archive: Path) -> Path:
    """Where member ``name`` lands under ``root``; :class:`UnsafeArchiveError` if it would leave it."""
    posix = name.replace("\\", "/")
    if posix.startswith("/") or re.match(r"^[A-Za-z]:", posix):
        raise UnsafeArchiveError(f"{archive}: member {name!r} has an absolute path; refusing to extract")
    if ".." in PurePosixPath(posix).parts:
        raise UnsafeArchiveError(f"{archive}: member {name!r} climbs out with '..'; refusing to extract")
    out = (root / posix).resolve()
    if not out.is_relative_to(root.resolve()):
        raise UnsafeArchiveError(
            f"{archive}: member {name!r} resolves outside the target; refusing to extract"
        )
    return out


def _zip_members(zf: zipfile.ZipFile, root: Path, archive: Path) -> list[tuple[zipfile.ZipInfo, Path]]:
    _no_duplicates([i.filename for i in zf.infolist() if not i.is_dir()], archive)
    out = []
    for info in zf.infolist():
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise UnsafeArchiveError(
                f"{archive}: member {info.filename!r} is a symbolic link; refusing to extract"
            )
        out.append((info, member_target(root, info.filename, archive)))
    return out


def _tar_members(tf: tarfile.TarFile, root: Path, archive: Path) -> list[tuple[tarfile.TarInfo, Path]]:
    try:
        members = tf.getmembers()
    except READ_ERRORS as exc:
        done = tf.members[-1].name if tf.members else None
        raise CorruptArchiveError(
            f"{archive}: truncated or corrupt in or after member {done!r} ({exc})"
        ) from exc
    _no_duplicates([m.name for m in members if not m.isdir()], archive)
    _check_tar_end(tf, members, archive)
    out = []
    for m in members:
        if m.issym() or m.islnk():
            raise UnsafeArchiveError(f"{archive}: member {m.name!r} is a link; refusing to extract")
        if not (m.isfile() or m.isdir()):
            raise UnsafeArchiveError(
                f"{archive}: member {m.name!r} is not a file or folder; refusing to extract"
            )
        out.append((m, member_target(root, m.name, archive)))
    return out


def _extract_into(archive: Path, root: Path) -> int:
    """Check all members, then write them under ``root``; returns the number of files written."""
    n = 0
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            for info, out in _zip_members(zf, root, archive):
                if info.is_dir():
                    out.mkdir(parents=True, exist_ok=True)
                    continue
                out.parent.mkdir(parents=True, exist_ok=True)
                _copy_member(lambda: zf.open(info), out, archive, info.filename, info.file_size)  # noqa: B023
                n += 1
        return n
    with tarfile.open(archive) as tf:
        for m, out in _tar_members(tf, root, archive):
            if m.isdir():
                out.mkdir(parents=True, exist_ok=True)
                continue
            out.parent.mkdir(parents=True, exist_ok=True)
            _copy_member(lambda: tf.extractfile(m), out, archive, m.name, m.size)  # noqa: B023
            n += 1
    return n


def safe_extract(archive: str | os.PathLike, target: str | os.PathLike) -> int:
    """Extract the zip or tar(.gz) ``archive`` into the folder ``target``; return the file count.

    ``target`` must not exist or be an empty folder. Raises ``FileNotFoundError`` (no archive),
    ``ValueError`` (not a zip or tar), :class:`UnsafeArchiveError` (a refused member),
    :class:`CorruptArchiveError` (damaged data, naming the member) or
    ``FileExistsError``; in every case nothing is left at ``target`` or beside it.
    """
    archive, target = Path(archive), Path(target)
    if not archive.is_file():
        raise FileNotFoundError(f"{archive}: archive missing")
    if not (zipfile.is_zipfile(archive) or tarfile.is_tarfile(archive)):
        raise ValueError(f"{archive}: neither a zip nor a tar archive")
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise FileExistsError(
            f"{target}: exists and is not an empty folder; refusing to extract {archive} over it"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".extracting", dir=target.parent))
    try:
        n = _extract_into(archive, tmp)
        if target.exists():
            target.rmdir()
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return n
