"""The real-dataset registry: consistent with the config schema, and its fetch/unpack/adapt steps on tiny archives."""

import inspect
import json
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from cmhm.data.archives import check_placed, fetch_public, unpack
from cmhm.data.fetch import FetchError, GatedDataMissing
from cmhm.data.gated import GATED
from cmhm.data.registry import DATASETS, adapt, data_root, gated_names, public_names
from cmhm.data.samples import read_table
from cmhm.data.shards import Shard
from cmhm.landmarks.markups import PROFILE39

SCHEMA = Path(__file__).resolve().parents[2] / "rules" / "schemas" / "config.schema.yaml"
PROV = {"test": True}


@pytest.fixture(scope="module")
def schema() -> dict:
    return yaml.safe_load(SCHEMA.read_text())


def test_every_real_dataset_in_the_schema_has_a_spec_and_a_config_section(schema):
    enum = set(schema["$defs"]["source"]["properties"]["dataset"]["enum"]) - {"synth"}
    sections = schema["properties"]["datasets"]["properties"]
    assert set(DATASETS) == enum == set(sections)
    assert sorted(public_names() + gated_names()) == sorted(DATASETS)


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_spec_is_consistent(schema, name):
    spec = DATASETS[name]
    section = schema["properties"]["datasets"]["properties"][name]
    assert callable(spec.adapter) and callable(spec.verify)
    params = inspect.signature(spec.adapter).parameters
    assert {"provenance", "shard", *spec.options} <= set(params), "options must be adapter keyword arguments"
    keys = set(section["properties"])
    # the schema offers exactly the adapter's options and the archive keys (url for a public set)
    archive_keys = {"sha256", "archive", "subdir", "shards"} | ({"url"} if spec.gated is None else set())
    archive_keys |= {"folds"} if spec.takes_folds else set()  # an adapter that writes a subset by id
    assert keys == set(spec.options) | archive_keys
    assert section["properties"]["shards"]["default"] == 1
    assert all("default" in v and "description" in v or "$ref" in v for v in section["properties"].values())
    assert section["additionalProperties"] is False
    # a gated set offers no url at all, so it cannot be downloaded by configuration
    assert ("url" in keys) == (spec.gated is None)
    if spec.gated is not None:
        assert spec.gated in GATED
    assert spec.split.isalnum() and spec.split.islower()


def test_fetch_public_without_url_says_what_to_do(tmp_path):
    with pytest.raises(FetchError, match="datasets.w300_lp.url") as err:
        fetch_public("w300_lp", None, tmp_path / "a.zip", None)
    assert str(tmp_path / "a.zip") in str(err.value)
    with pytest.raises(ValueError, match="licence-gated"):
        fetch_public("menpo2d", "http://example.invalid/x.zip", tmp_path / "b.zip", None)


def test_fetch_public_downloads_and_records_the_hash(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(b"abc" * 1000)
    dest = tmp_path / "archives" / "x.bin"
    digest = fetch_public("aflw2000_3d", src.as_uri(), dest, None)
    assert dest.read_bytes() == src.read_bytes()
    assert (tmp_path / "archives" / "x.bin.sha256").read_text().split()[0] == digest


def test_check_placed_missing_raises_the_instructions(tmp_path):
    archive = tmp_path / "menpo3d.zip"
    with pytest.raises(GatedDataMissing) as err:
        check_placed("menpo3d", archive, None, tmp_path / "raw")
    text = str(err.value)
    assert "licence-gated" in text and str(archive) in text and "ibug.doc.ic.ac.uk" in text
    archive.write_bytes(b"x")
    record = check_placed("menpo3d", archive, None, tmp_path / "raw")
    assert record["bytes"] == 1 and len(record["sha256"]) == 64


# A right-facing profile drawn with straight strokes (x, y image pixels), each group in its markup order:
# the contour down the jaw behind the nose, the brow towards the front, nose, eye and lips downwards.
PROFILE_LINES = {
    "jaw": ((30, 30), (45, 85)),
    "brow": ((40, 25), (55, 24)),
    "nose_bridge": ((60, 35), (75, 55)),
    "nose_base": ((68, 60), (63, 61)),
    "eye": ((52, 33), (54, 37)),
    "lip_outer": ((62, 62), (61, 74)),
    "lip_inner": ((61, 65), (60, 71)),
}


def _line(start: tuple[float, float], end: tuple[float, float], n: int) -> np.ndarray:
    return np.linspace(start, end, n)


def _menpo_zip(path: Path, top: str = "menpo_release") -> None:
    """A Menpo-2D-like archive: one profile face (39 points) under a single top-level folder."""
    pts = np.concatenate([_line(*PROFILE_LINES[g], len(idx)) for g, idx in PROFILE39.groups.items()]) + 1
    pts_text = "version: 1\nn_points: 39\n{\n" + "".join(f"{x} {y}\n" for x, y in pts) + "}\n"
    ok, png = cv2.imencode(".png", np.full((100, 120, 3), 128, np.uint8))
    assert ok
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{top}/train/face1.pts", pts_text)
        zf.writestr(f"{top}/train/face1.png", png.tobytes())
        zf.writestr(f"{top}/README.txt", "licence")
        zf.writestr("__MACOSX/._junk", b"")


def test_unpack_and_adapt_a_tiny_gated_archive(tmp_path):
    archive = tmp_path / "menpo2d.zip"
    _menpo_zip(archive)
    raw, manifest = tmp_path / "raw", tmp_path / "raw_manifest.csv"
    out = unpack("menpo2d", archive, None, raw, manifest)
    assert out["files"] == 4 and out["checked"] == 1
    assert data_root(raw) == raw / "menpo_release"
    rows = manifest.read_text().splitlines()
    assert rows[0] == "path,bytes,sha256" and any(
        r.startswith("menpo_release/train/face1.pts,") for r in rows
    )
    table = adapt("menpo2d", raw, tmp_path / "samples", {"subdir": None}, PROV)
    assert list(table.index["view"]) == ["profile"]
    assert read_table(tmp_path / "samples").index["sample_id"].tolist() == ["train/face1"]


def test_unpack_refuses_a_wrong_hash_and_a_wrong_layout(tmp_path):
    archive = tmp_path / "a.zip"
    _menpo_zip(archive)
    with pytest.raises(FetchError, match="expected 0{64}"):
        unpack("menpo2d", archive, "0" * 64, tmp_path / "raw1", tmp_path / "m1.csv")
    assert not (tmp_path / "raw1").exists()
    with pytest.raises(FetchError, match="image/.mat pairs"):
        unpack("aflw2000_3d", archive, None, tmp_path / "raw2", tmp_path / "m2.csv")
    with pytest.raises(FetchError, match="subdir missing"):
        data_root(tmp_path / "raw2", "nope")


def test_adapt_passes_only_the_adapters_options(tmp_path, monkeypatch):
    seen = {}

    def fake(src, out, *, z_sign, shard, provenance, on_bad_sample):
        seen.update(src=src, z_sign=z_sign, shard=shard, provenance=provenance, on_bad_sample=on_bad_sample)
        return json.dumps(seen, default=str)

    spec = DATASETS["menpo3d"]
    monkeypatch.setitem(DATASETS, "menpo3d", type(spec)(**{**spec.__dict__, "adapter": fake}))
    (tmp_path / "raw" / "videos").mkdir(parents=True)
    options = {"z_sign": -1, "subdir": None, "sha256": "x", "shards": 3}
    adapt("menpo3d", tmp_path / "raw", tmp_path / "out", options, PROV, Shard(2, 3), "skip")
    assert seen == {
        "src": tmp_path / "raw" / "videos",
        "z_sign": -1,
        "shard": Shard(2, 3),
        "provenance": PROV,
        "on_bad_sample": "skip",
    }
