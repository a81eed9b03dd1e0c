"""`python -m cmhm inspect` on each kind of artifact, and the provenance record."""

import json
import subprocess
import sys

import cv2
import numpy as np
import torch

from cmhm.data.cropping import crop_table
from cmhm.data.samples import read_table, write_table
from cmhm.inspect.explain import inspect_path
from cmhm.landmarks.markups import IBUG68
from cmhm.landmarks.union import UnionMapping, write_mapping
from cmhm.pipeline.provenance import code_version, provenance, source_hash

from .test_samples_crop import _table
from .test_union import INTENDED


def test_code_version_tracks_sources():
    v = code_version()
    assert v.startswith("0.1.0+src.")
    assert source_hash("geometry/similarity.py") != source_hash("data/cropping.py")
    assert len(source_hash()) == 12


def test_inspect_sample_table_and_crop_shard(tmp_path):
    t = _table(tmp_path / "t", n=3)
    write_table(t, t.root, provenance({"seed": 7}, "test-version"))
    out = inspect_path(t.root)
    assert "sample table" in out and "samples: 3" in out and "test-version" in out and '"seed": 7' in out
    out = inspect_path(t.root / "images" / "1.png")  # a PNG, but a sample's image, not a figure
    assert "an image of sample table" in out and "sample_id  s1" in out and "test-version" in out
    crop_table(read_table(t.root), size=32, box_scale=1.2, prefix=tmp_path / "shard0")
    png = tmp_path / "sheet.png"
    out = inspect_path(tmp_path / "shard0.images.npy", str(png))
    assert "crop shard (3 crops of 32x32" in out
    assert png.stat().st_size > 1000


def test_inspect_union_mapping_names_groups(tmp_path):
    um = UnionMapping(
        {"right": INTENDED, "left": IBUG68.flip_permutation()[INTENDED]},
        {"right": np.zeros(39), "left": np.zeros(39)},
        np.zeros((68, 2)),
        np.zeros((39, 2)),
    )
    write_mapping(um, tmp_path / "m.csv", tmp_path / "m.json", provenance({"a": 1}, "v1"))
    out = inspect_path(tmp_path / "m.json")
    assert "eye         -> ['eye_right']" in out and "eye         -> ['eye_left']" in out


def test_cli_reports_unknown_artifacts_cleanly(tmp_path):
    (tmp_path / "x.bin").write_bytes(b"\0")
    res = subprocess.run(
        [sys.executable, "-m", "cmhm", "inspect", str(tmp_path / "x.bin")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 2 and "not an artifact cmhm knows" in res.stderr
    res = subprocess.run(
        [sys.executable, "-m", "cmhm", "inspect", str(tmp_path / "none")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 2 and "no such file" in res.stderr


def test_provenance_is_json_serialisable():
    p = provenance({"arr": np.arange(3)}, "v")
    back = json.loads(json.dumps(p, default=lambda o: o.tolist()))
    assert back["code_version"] == "v"
    # the libraries that can change a number are recorded with their installed versions
    assert back["libraries"]["torch"].startswith(torch.__version__.split("+")[0])
    assert back["libraries"]["opencv-python-headless"].split(".")[0] == cv2.__version__.split(".")[0]
