"""Archive faults (issue 10, section 3): duplicate members, corrupt members and cut tars are refused, naming
the archive and the member. They are not per-sample problems: ``data.on_bad_sample`` does not apply, the
archive must be fetched again. Archives are built from COPIES of the real fixtures (../shared/fixtures).
"""

from __future__ import annotations

import gzip
import tarfile
import zipfile

import pytest

from cmhm.data.archive import CorruptArchiveError, UnsafeArchiveError, safe_extract

from .test_bad_samples import AFLW, fixture_copy


def test_zip_with_a_duplicate_member_is_refused_naming_it(tmp_path):
    archive = tmp_path / "dup.zip"
    with pytest.warns(UserWarning, match="Duplicate name"), zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("AFLW2000/image00050.mat", b"first")
        zf.writestr("AFLW2000/image00050.mat", b"second")
    with pytest.raises(UnsafeArchiveError, match=r"dup\.zip: member 'AFLW2000/image00050\.mat' occurs twice"):
        safe_extract(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_tar_with_a_duplicate_member_is_refused_naming_it(tmp_path):
    src = fixture_copy("aflw2000-3d", tmp_path, AFLW)
    archive = tmp_path / "dup.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(src / "image00050.jpg", "a/image00050.jpg")
        tf.add(src / "image00081.jpg", "a/image00050.jpg")
    with pytest.raises(UnsafeArchiveError, match=r"member 'a/image00050\.jpg' occurs twice"):
        safe_extract(archive, tmp_path / "out")


def test_corrupt_zip_member_names_archive_and_member(tmp_path):
    src = fixture_copy("aflw2000-3d", tmp_path, AFLW)
    archive = tmp_path / "aflw.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(src.iterdir()):
            zf.write(p, f"AFLW2000/{p.name}")
    with zipfile.ZipFile(archive) as zf:
        info = zf.getinfo("AFLW2000/image00081.jpg")
    data = bytearray(archive.read_bytes())
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    for k in range(start + 100, start + 140):  # garble the compressed stream in the middle
        data[k] ^= 0xFF
    archive.write_bytes(bytes(data))
    with pytest.raises(CorruptArchiveError, match=r"aflw\.zip: member 'AFLW2000/image00081\.jpg'"):
        safe_extract(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("mode", ["", "gz"])
@pytest.mark.parametrize("cut", ["between members", "inside a member", "end marker"])
def test_truncated_tar_names_the_archive(tmp_path, mode, cut):
    src = fixture_copy("aflw2000-3d", tmp_path, AFLW)
    plain = tmp_path / "aflw.tar"
    with tarfile.open(plain, "w") as tf:
        for p in sorted(src.iterdir()):
            tf.add(p, f"AFLW2000/{p.name}")
    with tarfile.open(plain) as tf:
        last = tf.getmembers()[-1]
    end = last.offset_data + -(-last.size // tarfile.BLOCKSIZE) * tarfile.BLOCKSIZE
    keep = {
        "between members": last.offset,
        "inside a member": last.offset_data + 100,
        "end marker": end + 512,
    }
    data = plain.read_bytes()[: keep[cut]]
    archive = tmp_path / f"cut.tar{'.' + mode if mode else ''}"
    archive.write_bytes(gzip.compress(data) if mode else data)
    with pytest.raises(CorruptArchiveError, match=rf"{archive.name}: .*(truncated|corrupt)"):
        safe_extract(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_whole_tars_of_the_fixtures_extract(tmp_path):
    src = fixture_copy("aflw2000-3d", tmp_path, AFLW)
    for name, mode in (("a.tar.gz", "w:gz"), ("a.tar", "w")):
        with tarfile.open(tmp_path / name, mode) as tf:
            tf.add(src, "AFLW2000")
        assert safe_extract(tmp_path / name, tmp_path / f"out_{name}") == 6  # 3 image + .mat pairs
