"""Issue 28: a model file (``cascade.pt``) that is damaged, truncated, unsafe or holds non-finite weights is
refused naming the file (and the corrupt member), never used; exports write through a temporary name."""

from __future__ import annotations

import errno
import os
import struct
import zipfile
from pathlib import Path

import pytest
import torch

from cmhm.cli import main
from cmhm.inference import export
from cmhm.inference.model_file import ModelFileError, checked_stages, read_cascade
from tests.faults.tiny import cascade_file


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return cascade_file(tmp_path_factory.mktemp("cascade"))


class RunsCode:
    """An object whose unpickling calls a function (a harmless one here): what a weights-only load refuses."""

    def __reduce__(self):
        return (os.getcwd, ())


def _flip_sign_bits(src: Path, dst: Path, n_floats: int = 6) -> str:
    """Copy ``src`` to ``dst`` with the sign bits of the first floats of its largest member flipped, as a bad
    copy or disk would; returns the member's name. The zip's CRC still records the original bytes."""
    data = bytearray(src.read_bytes())
    with zipfile.ZipFile(src) as z:
        info = max((i for i in z.infolist() if "/data/" in i.filename), key=lambda i: i.file_size)
    name_len, extra_len = struct.unpack("<HH", data[info.header_offset + 26 : info.header_offset + 30])
    start = info.header_offset + 30 + name_len + extra_len
    for k in range(n_floats):
        data[start + 4 * k + 3] ^= 0x80
    dst.write_bytes(bytes(data))
    return info.filename


def test_the_model_file_reads(model) -> None:
    assert read_cascade(model).variant == "baseline"


def test_flipped_bits_are_named_with_the_member(model, tmp_path, capsys) -> None:
    bad = tmp_path / "cascade.pt"
    member = _flip_sign_bits(model, bad)
    assert torch.load(bad, weights_only=True)["variant"] == "baseline"  # torch.load does not notice
    with pytest.raises(ModelFileError, match=f"{bad}: member '{member}' fails its CRC check"):
        read_cascade(bad)
    assert main(["inspect", str(bad)]) == 2
    assert f"{bad}: member '{member}' fails its CRC check" in capsys.readouterr().err


def test_non_finite_weights_name_the_model_file_not_the_output(model, tmp_path, capsys) -> None:
    obj = torch.load(model, weights_only=True)
    name, tensor = next((k, v) for k, v in obj["stages"][0]["state_dict"].items() if v.is_floating_point())
    tensor.as_strided((1,), (1,))[0] = float("nan")  # its first stored element (weights may be channels_last)
    bad = tmp_path / "nan.pt"
    torch.save(obj, bad)
    with pytest.raises(ModelFileError, match=f"{bad}: stage 0 weights hold NaN or infinite values") as exc:
        read_cascade(bad)
    assert name in str(exc.value)
    image = tmp_path / "face.png"
    image.write_bytes(b"")  # never read: the model is refused first
    out = tmp_path / "out"
    for workers in ("1", "2"):  # worker processes: the model is checked here first, with the same message
        args = ["predict", str(bad), str(image), "--out", str(out), "--device", "cpu", "--workers", workers]
        assert main(args) == 2
        err = capsys.readouterr().err
        assert f"{bad}: stage 0 weights hold NaN" in err and ".pts" not in err


def test_stage_weights_replaced_after_assembly_are_refused(model, tmp_path) -> None:
    """Re-saved through torch (fresh CRCs), other weights in a stage: the recorded digest names it."""
    obj = torch.load(model, weights_only=True)
    assert len(obj["stages"][0]["weights_digest"]) == 16
    tensor = next(v for v in obj["stages"][0]["state_dict"].values() if v.is_floating_point())
    tensor.add_(0.01)
    other = tmp_path / "other.pt"
    torch.save(obj, other)
    with pytest.raises(
        ModelFileError, match=f"{other}: stage 0 weights are not the ones this file was written"
    ):
        read_cascade(other)


def test_another_seeds_stage_is_refused_at_assembly(model) -> None:
    """Seed 1's model.pt copied over seed 0's was assembled into a cascade.pt recording seed 0."""
    stage = model.parent / "stage1" / "model.pt"  # trained with tiny.train_cfg's seed, 3
    record = checked_stages([str(stage)], "baseline", seed=3)[0]
    state = torch.load(stage, weights_only=True)
    assert (record["seed"], record["inputs"], record["code"]) == (3, state["inputs"], state["code"])
    assert (
        read_cascade(model).config is not None and torch.load(model, weights_only=True)["stages"][0]["inputs"]
    )
    with pytest.raises(ValueError, match=f"{stage}: trained with seed 3, expected seed 0"):
        checked_stages([str(stage)], "baseline", seed=0)


def test_another_seeds_model_file_is_refused_where_it_is_read(model, tmp_path) -> None:
    """Seed 1's cascade.pt copied over seed 0's was evaluated as seed 0."""
    obj = torch.load(model, weights_only=True)
    obj["config"] = {**obj["config"], "train": {"seed": 1}}
    seed0 = tmp_path / "seed0" / "cascade.pt"
    seed0.parent.mkdir()
    torch.save(obj, seed0)
    assert read_cascade(seed0, seed=1).variant == "baseline"
    with pytest.raises(ModelFileError, match=f"{seed0}: holds the model of seed 1, expected seed 0"):
        read_cascade(seed0, variant="baseline", seed=0)


@pytest.mark.parametrize("damage", ["truncated", "unsafe"])
def test_inspect_names_a_truncated_or_unsafe_model_file(model, tmp_path, capsys, damage) -> None:
    bad = tmp_path / "cascade.pt"
    if damage == "truncated":
        bad.write_bytes(model.read_bytes()[: model.stat().st_size // 2])
        named = "not a whole PyTorch file"
    else:
        torch.save({"format": "cmhm-cascade", "payload": RunsCode()}, bad)
        named = "refused: it holds objects that a weights-only load does not read"
    assert main(["inspect", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}: {named}" in err and "Traceback" not in err
    with pytest.raises(ModelFileError, match=named):
        read_cascade(bad)


def _no_file_left(out: Path) -> None:
    assert not out.exists()
    assert not [p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}")]


def test_a_full_disk_during_torchscript_export_leaves_no_partial_file(model, tmp_path, monkeypatch, capsys):
    real_write_bytes = Path.write_bytes

    def full_disk(self, data):
        if self.suffix == ".ts":  # the module meets a full disk after 64 KB
            real_write_bytes(self, data[: 64 * 1024])
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write_bytes(self, data)

    monkeypatch.setattr(Path, "write_bytes", full_disk)
    out = tmp_path / "model.ts"
    assert main(["export", str(model), "--torchscript", str(out)]) == 2
    assert f"cannot write {out} (No space left on device)" in capsys.readouterr().err
    _no_file_left(out)
    monkeypatch.undo()
    assert export.export_torchscript(model, out) == out
    size = read_cascade(model).crop.size
    points, _ = torch.jit.load(str(out))(torch.rand(1, 3, size, size))
    assert points.shape[0] == 1 and points.shape[-1] == 2


def test_a_full_disk_during_onnx_export_leaves_no_partial_file(model, tmp_path, monkeypatch, capsys):
    onnx = pytest.importorskip("onnx")

    real_write_bytes = Path.write_bytes

    def full_disk(self, data):
        if self.suffix == ".onnx":  # the graph meets a full disk after 64 KB, as seen on a real one
            real_write_bytes(self, data[: 64 * 1024])
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write_bytes(self, data)

    monkeypatch.setattr(Path, "write_bytes", full_disk)
    out = tmp_path / "model.onnx"
    assert main(["export", str(model), "--onnx", str(out)]) == 2
    assert f"cannot write {out} (No space left on device)" in capsys.readouterr().err
    _no_file_left(out)
    monkeypatch.undo()
    assert export.export_onnx(model, out) == out and onnx.load(str(out)).graph.input[0].name == "images"
