"""The README's "Add a dataset", "Add a variant" and "Add a metric or a table" walks, done once each."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import torch

from cmhm.data import registry
from cmhm.data.bad import BadSamples
from cmhm.data.common import annotation_box, finish_table, image_row
from cmhm.data.pts import read_pts, write_pts
from cmhm.data.samples import SampleTable, empty_arrays, read_table
from cmhm.data.shards import ALL, Shard
from cmhm.evaluation.evaluate import image_metrics
from cmhm.landmarks.markups import IBUG68, MENPO84
from cmhm.landmarks.nme import box_diagonal_norm, nme
from cmhm.models.cascade import Cascade, build_stages, stage_plans
from cmhm.models.hourglass import ModelConfig
from cmhm.pipeline import variants as variant_table
from cmhm.pipeline.variants import Variant
from cmhm.report.tables import write_table

REPO = Path(__file__).resolve().parents[2]


def adapt_toy(
    src_dir: str | Path,
    out_dir: str | Path,
    *,
    flip: bool = False,
    shard: Shard = ALL,
    provenance: dict,
    on_bad_sample: str = "fail",
) -> SampleTable:
    """Step 1 of "Add a dataset": an adapter writing the sample table of ``<name>.png`` + ``<name>.pts``."""
    src_dir, out_dir = Path(src_dir), Path(out_dir)
    files = shard.take(sorted(src_dir.glob("*.pts")), where=f"toy {src_dir}")
    arrays, bad, rows = empty_arrays(len(files)), BadSamples(on_bad_sample, f"toy {src_dir}"), []
    for i, path in enumerate(files):

        def sample(path: Path = path) -> tuple[dict, np.ndarray]:
            pts = read_pts(path)[:, :2]
            pts = pts[:, ::-1].copy() if flip else pts  # an option: (y, x) files
            row = image_row(path.stem, path.with_suffix(".png"), out_dir, annotation_box(pts))
            return {**row, "view": "semifrontal", "side": ""}, pts

        made = bad.run(path.stem, path, sample)  # a bad sample fails or is skipped by data.on_bad_sample
        rows.append(None if made is None else made[0])
        if made is not None:
            arrays["lm2d"][i], arrays["vis2d"][i] = made[1], True
    return finish_table(rows, arrays, out_dir, provenance, where=f"toy {src_dir}", bad=bad)


def test_add_a_dataset(tmp_path, monkeypatch) -> None:
    rng = np.random.default_rng(0)
    src = tmp_path / "raw"
    src.mkdir()
    for k in range(3):
        cv2.imwrite(str(src / f"face{k}.png"), rng.integers(0, 255, (64, 64, 3), dtype=np.uint8))
        write_pts(src / f"face{k}.pts", rng.uniform(10, 54, (IBUG68.n_points, 2)))
    # step 2: the registry entry (the schema section and enum are step 3, checked by test_registry.py)
    spec = registry.DatasetSpec(title="Toy", split="train", adapter=adapt_toy, verify=lambda folder: 3)
    monkeypatch.setitem(registry.DATASETS, "toy", spec)
    assert spec.options == ("flip",)  # a config key of datasets.toy, from the adapter's signature
    table = registry.adapt("toy", src, tmp_path / "samples", {"flip": False, "subdir": None}, {"run": "test"})
    back = read_table(tmp_path / "samples")
    assert len(table) == len(back) == 3 and list(back.index["sample_id"]) == ["face0", "face1", "face2"]
    assert np.isfinite(back.arrays["lm2d"]).all() and np.isnan(back.arrays["lm3d_84"]).all()


def test_add_a_variant_with_three_stages(monkeypatch) -> None:
    # step 1: one entry of the variant table: union labels, then the 3D projections twice
    three = Variant("bottleneck", (("union2d",), ("proj3d",), ("proj3d",)))
    monkeypatch.setitem(variant_table.VARIANTS, "three", three)
    base = ModelConfig(in_size=64, depth=2, width=16)
    plans = stage_plans("three", base, MENPO84)
    assert [p.targets for p in plans] == [("union2d",), ("lm3d_84",), ("lm3d_84",)]
    assert [p.model.n_points for p in plans] == [(IBUG68.n_points,), (MENPO84.n_points,), (MENPO84.n_points,)]
    # the cascade chains any number of stages: one canonical mean shape per link
    stages = build_stages("three", base, MENPO84)
    means = [torch.rand(IBUG68.n_points, 2) * 40 + 12, torch.rand(MENPO84.n_points, 2) * 40 + 12]
    out = Cascade(stages, means).eval()(torch.rand(2, 3, 64, 64))
    assert [p.shape for p in out["points"]] == [(2, 68, 2), (2, 84, 2), (2, 84, 2)]
    with pytest.raises(ValueError, match="3 stages need 2 mean shapes"):
        Cascade(stages, means[:1])


def test_add_a_metric_and_a_table(tmp_path) -> None:
    """The README's "Add a metric or a table": a per-image metric (the one NME over another named
    normaliser, the box diagonal), a column beside ``per_image.csv``'s ``nme``, and a table over variants
    and seeds written as CSV and LaTeX; the rule pieces the walk names exist."""
    rng = np.random.default_rng(0)

    def nme_box_diagonal(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:  # 1. as in evaluation/metrics.py
        return nme(np.linalg.norm(pred - gt, axis=-1), box_diagonal_norm(gt))

    frames: dict[str, list[pd.DataFrame]] = {}
    for variant, noise in (("baseline", 2.0), ("cmhm", 1.0)):
        for _seed in range(2):
            gt = rng.uniform(10, 54, (8, IBUG68.n_points, 2))
            pred = {
                "sample_id": np.array([f"s{i}" for i in range(8)]),
                "yaw": np.linspace(-80, 80, 8),
                "view": np.array(["x"] * 8),
                "points": gt + rng.normal(0, noise, gt.shape),
                "gt": gt,
            }
            per_image, _ = image_metrics(pred)  # 2. the column beside nme
            per_image["nme_diag"] = nme_box_diagonal(pred["points"], gt)
            frames.setdefault(variant, []).append(per_image)
            # the diagonal sqrt(w^2 + h^2) >= sqrt(2 w h) > sqrt(w h): the same errors, a smaller NME
            assert (per_image["nme_diag"] < per_image["nme"]).all()
    rows = [  # 3. the table
        {"variant": v, "NME diag (%)": 100 * np.mean([f["nme_diag"].mean() for f in fs]), "seeds": len(fs)}
        for v, fs in frames.items()
    ]
    write_table(pd.DataFrame(rows), tmp_path / "t.csv", tmp_path / "t.tex", "Diagonal NME", "tab:diag")
    back = pd.read_csv(tmp_path / "t.csv")
    assert list(back["variant"]) == ["baseline", "cmhm"] and back["NME diag (%)"][0] > back["NME diag (%)"][1]
    assert "tab:diag" in (tmp_path / "t.tex").read_text()
    rules = REPO / "rules"  # 4. the rule's pieces
    common = (rules / "common.smk").read_text()
    assert "def expand_eval(" in common and "def script_code(" in common
    report = (rules / "report.smk").read_text()
    assert "rule tables:" in report and "rules.table1.output" in report
    assert (REPO / "workflow_scripts" / "table1.py").is_file() and (rules / "report" / "table1.rst").is_file()
