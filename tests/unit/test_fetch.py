"""Download / verify / extract, against a tiny Range-capable http.server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import io
import logging
import tarfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from cmhm.data.archive import UnsafeArchiveError
from cmhm.data.fetch import (
    FetchError,
    GatedDataMissing,
    download,
    safe_extract,
    verify_aflw2000,
    verify_placed,
    write_manifest,
)
from cmhm.data.gated import instructions

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURES = REPO_ROOT.parent / "shared" / "fixtures"
DATA = bytes(range(256)) * 40  # 10 240 bytes
SHA = hashlib.sha256(DATA).hexdigest()


class Handler(BaseHTTPRequestHandler):
    """Serves DATA at /data with Range support; mode "truncate" sends half of what it announces."""

    mode: ClassVar[str] = "ok"
    ranges: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        if self.path != "/data":
            self.send_error(404)
            return
        rng = self.headers.get("Range")
        type(self).ranges.append(rng or "")
        start = int(rng.removeprefix("bytes=").rstrip("-")) if rng else 0
        body = DATA[start:]
        self.send_response(206 if rng else 200)
        if rng:
            self.send_header("Content-Range", f"bytes {start}-{len(DATA) - 1}/{len(DATA)}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2] if self.mode == "truncate" else body)
        self.close_connection = True

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server():
    Handler.mode, Handler.ranges = "ok", []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.timeout = 5
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_download_ok_writes_sidecar(server, tmp_path, caplog):
    dest = tmp_path / "a.zip"
    with caplog.at_level(logging.INFO):
        assert download(f"{server}/data", dest, backoff=0) == SHA
    assert dest.read_bytes() == DATA
    assert (tmp_path / "a.zip.sha256").read_text() == f"{SHA}  a.zip\n"
    assert "no SHA-256 pinned" in caplog.text
    assert leftovers(tmp_path) == ["a.zip", "a.zip.sha256"]
    assert download(f"{server}/missing", dest, sha256=SHA) == SHA  # present and verified: no fetch


def test_truncated_download_fails_clean(server, tmp_path):
    Handler.mode = "truncate"
    dest = tmp_path / "a.zip"
    with pytest.raises(FetchError, match=r"failed after 3 attempts.*received \d+ of 10240 bytes"):
        download(f"{server}/data", dest, sha256=SHA, retries=2, backoff=0)
    assert leftovers(tmp_path) == []
    assert Handler.ranges[0] == "" and Handler.ranges[1] == "bytes=5120-"  # retries resume


def test_wrong_hash_fails_clean(server, tmp_path):
    dest = tmp_path / "a.zip"
    with pytest.raises(FetchError) as exc:
        download(f"{server}/data", dest, sha256="0" * 64, backoff=0)
    assert "0" * 64 in str(exc.value) and SHA in str(exc.value)
    assert leftovers(tmp_path) == []


def test_http_error_is_not_retried(server, tmp_path):
    with pytest.raises(FetchError, match="HTTP 404"):
        download(f"{server}/nope", tmp_path / "x", retries=3, backoff=10)
    assert leftovers(tmp_path) == []


def test_resume_from_partial_temp_file(server, tmp_path):
    dest = tmp_path / "a.zip"
    (tmp_path / "a.zip.part").write_bytes(DATA[:3000])
    assert download(f"{server}/data", dest, sha256=SHA, backoff=0) == SHA
    assert Handler.ranges == ["bytes=3000-"]
    assert dest.read_bytes() == DATA and leftovers(tmp_path) == ["a.zip"]


def test_file_url_ignoring_range_restarts(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(DATA)
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.bin.part").write_bytes(b"garbage")
    assert download(src.as_uri(), out / "a.bin", sha256=SHA, backoff=0) == SHA
    assert (out / "a.bin").read_bytes() == DATA and leftovers(out) == ["a.bin"]


def _zip(path: Path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name), data)


def test_safe_extract_zip_and_tar(tmp_path):
    _zip(tmp_path / "ok.zip", {"d/a.txt": b"a", "b.txt": b"b"})
    assert safe_extract(tmp_path / "ok.zip", tmp_path / "x") == 2
    assert (tmp_path / "x" / "d" / "a.txt").read_bytes() == b"a"
    with tarfile.open(tmp_path / "ok.tar.gz", "w:gz") as tf:
        info = tarfile.TarInfo("d/c.txt")
        info.size = 1
        tf.addfile(info, io.BytesIO(b"c"))
    assert safe_extract(tmp_path / "ok.tar.gz", tmp_path / "y") == 1
    assert (tmp_path / "y" / "d" / "c.txt").read_bytes() == b"c"
    with pytest.raises(FileExistsError):
        safe_extract(tmp_path / "ok.zip", tmp_path / "x")


@pytest.mark.parametrize("bad", ["../evil.txt", "d/../../evil.txt", "/abs/evil.txt"])
def test_zip_slip_refused(tmp_path, bad):
    work = tmp_path / "w"
    work.mkdir()
    _zip(tmp_path / "bad.zip", {"fine.txt": b"x", bad: b"evil"})
    with pytest.raises(UnsafeArchiveError, match="refusing"):
        safe_extract(tmp_path / "bad.zip", work / "target")
    assert leftovers(work) == []
    assert not (tmp_path / "evil.txt").exists()


@pytest.mark.parametrize("kind", [tarfile.SYMTYPE, tarfile.LNKTYPE])
def test_tar_link_refused(tmp_path, kind):
    with tarfile.open(tmp_path / "bad.tar", "w") as tf:
        ok = tarfile.TarInfo("a.txt")
        ok.size = 1
        tf.addfile(ok, io.BytesIO(b"a"))
        link = tarfile.TarInfo("link")
        link.type, link.linkname = kind, "/etc/passwd"
        tf.addfile(link)
    work = tmp_path / "w"
    work.mkdir()
    with pytest.raises(UnsafeArchiveError, match="is a link"):
        safe_extract(tmp_path / "bad.tar", work / "target")
    assert leftovers(work) == []


def test_verify_placed(tmp_path):
    text = instructions("menpo2d", tmp_path / "menpo.zip")
    assert "ibug.doc.ic.ac.uk/resources" in text and str(tmp_path / "menpo.zip") in text
    with pytest.raises(GatedDataMissing) as exc:
        verify_placed(tmp_path / "menpo.zip", None, text)
    assert str(exc.value) == text
    (tmp_path / "menpo.zip").write_bytes(DATA)
    assert verify_placed(tmp_path / "menpo.zip", SHA, text) == SHA
    with pytest.raises(FetchError, match=SHA):
        verify_placed(tmp_path / "menpo.zip", "f" * 64, text)
    assert "84 points" in instructions("menpo3d_tracking", "x.tar.gz")


def test_verify_aflw2000_and_manifest(tmp_path):
    src = FIXTURES / "aflw2000-3d"
    if not src.is_dir():
        pytest.skip(f"shared fixtures absent: {src}")
    assert verify_aflw2000(src, expected=16) == 16
    with pytest.raises(FetchError, match="found 16 image/.mat pairs, expected 2000"):
        verify_aflw2000(src)
    (tmp_path / "image00001.jpg").write_bytes(b"x")
    with pytest.raises(FetchError, match="lack their partner"):
        verify_aflw2000(tmp_path, expected=1)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.bin").write_bytes(DATA)
    out = tmp_path / "manifest.csv"
    assert write_manifest(tmp_path, out) == 2
    lines = out.read_text().splitlines()
    assert lines[0] == "path,bytes,sha256" and lines[2] == f"sub/b.bin,{len(DATA)},{SHA}"
