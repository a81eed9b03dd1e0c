"""`python -m cmhm inspect` on CSVs, the mean shape, tables and figures: summaries and provenance."""

from pathlib import Path
from types import SimpleNamespace

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from cmhm.atomic import write_json_atomic
from cmhm.data.cropping import crop_table
from cmhm.data.labels3d import heldout_errors, summarise
from cmhm.data.samples import read_table
from cmhm.data.samples import write_table as write_samples
from cmhm.evaluation.evaluate import image_metrics, save_npz, tracking_metrics
from cmhm.geometry.yaw_bins import bin_labels
from cmhm.inspect.common import describe_index
from cmhm.inspect.explain import inspect_path, kind_of
from cmhm.inspect.figures import figure_record
from cmhm.landmarks.markups import IBUG68
from cmhm.landmarks.union import UnionMapping, write_mapping
from cmhm.pipeline.provenance import code_version, config_digest, provenance
from cmhm.report.plots_data import save_figure
from cmhm.report.seed_tables import table1_seed_frame
from cmhm.report.tables import DELTA_COLUMNS, write_table
from cmhm.training.checkpoints import atomic_save
from cmhm.training.monitor import CsvLog

from .test_samples_crop import _table
from .test_union import INTENDED

SQUARE = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])  # box 10 x 10: NME = shift / 10
YAW = np.array([10.0, -20.0, 45.0, 75.0])  # bins [0, 30], [0, 30], (30, 60], (60, 90]
SHIFT = np.array([1.0, 2.0, 3.0, 4.0])  # NME 0.1, 0.2, 0.3, 0.4


def _predictions() -> dict:
    gt = np.repeat(SQUARE[None], 4, axis=0)
    points = gt + np.stack([SHIFT, np.zeros(4)], -1)[:, None, :]
    view = np.array(["semifrontal", "semifrontal", "semifrontal", "profile"])
    return {"sample_id": np.array(["a", "b", "c", "d"]), "yaw": YAW, "view": view, "points": points, "gt": gt}


def test_per_image_csv_bins_and_sibling_provenance(tmp_path):
    per_image, table = image_metrics(_predictions())
    per_image.to_csv(tmp_path / "per_image.csv", index=False)
    write_json_atomic(tmp_path / "image_metrics.json", {**table, "provenance": provenance({}, "v-img")})
    out = inspect_path(tmp_path / "per_image.csv")
    assert "rule image_metrics" in out and "images: 4, mean NME 25.000%" in out
    assert "view profile     n=    1  mean NME 40.000%" in out
    assert (
        "|yaw| [0, 30]    n=    2  mean NME 15.000%" in out and "(60, 90]   n=    1  mean NME 40.000%" in out
    )
    assert "mean of the bin means (Table I's Mean): 28.333%" in out
    assert "image_metrics.json, written by the same rule" in out and "code version: v-img" in out


def test_per_frame_csv_auc_at_the_recorded_threshold(tmp_path):
    per_frame = pd.DataFrame(
        {
            "video": ["v0", "v0", "v0", "v1", "v1"],
            "frame": [0, 1, 2, 0, 1],
            "nme_diag": [0.01, 0.02, 0.06, np.inf, 0.03],
            "redetected": [True, False, False, True, False],
            "failed": [False, False, True, True, False],
        }
    )
    per_frame.to_csv(tmp_path / "per_frame.csv", index=False)
    ev = {"tracking_threshold": 0.04}
    summary = tracking_metrics(per_frame, ev["tracking_threshold"])
    write_json_atomic(tmp_path / "tracking_metrics.json", {**summary, "provenance": provenance(ev, "v-trk")})
    out = inspect_path(tmp_path / "per_frame.csv")
    assert "frames: 5 in 2 videos (2 .. 3 per video)" in out
    assert "re-detections: 2, frames flagged failed: 2" in out
    # AUC = mean(max(0, T - e)) / T = (0.03 + 0.02 + 0 + 0 + 0.01) / 5 / 0.04; FR = 2 / 5
    assert "at threshold 0.04 (as in tracking_metrics.json): AUC 0.3000, failure rate 40.00%" in out
    assert '"tracking_threshold": 0.04' in out and "code version: v-trk" in out
    save_npz(tmp_path / "tracks.npz", {"redetected": per_frame["redetected"].to_numpy()})
    assert "code version: v-trk" in inspect_path(tmp_path / "tracks.npz")


def test_training_log_summary_and_checkpoint_provenance(tmp_path):
    out_dir = tmp_path / "models" / "cmhm" / "stage1"
    out_dir.mkdir(parents=True)
    log = CsvLog(out_dir / "log.csv", ["step", "loss", "loss_stack0", "lr", "images_per_s", "val_nme"], 0)
    rows = ((10, 0.5, 1e-3, 100.0, 40.0), (20, 0.2, 1e-3, 200.0, ""), (30, 0.3, 1e-4, 150.0, 12.5))
    for step, loss, lr, rate, val in rows:
        log.write(
            {"step": step, "loss": loss, "loss_stack0": loss, "lr": lr, "images_per_s": rate, "val_nme": val}
        )
    atomic_save(
        {"state_dict": {}, "step": 30, "config": {"lr": 0.001}, "code_version": "v-trn"}, out_dir / "model.pt"
    )
    out = inspect_path(out_dir / "log.csv")
    assert "training log of stage 1 of variant cmhm" in out and "rows: 3, steps 10 .. 30" in out
    assert "loss: first 0.5, last 0.3, lowest 0.2 (step 20)" in out
    assert "last lr: 0.0001; median images/s: 150.0" in out
    assert (
        "held-out NME: first 40 % (step 10), last 12.5 % (step 30)" in out
        and "NME % of the held-out training crops" in out
    )
    assert "model.pt, the weights this run produced" in out and "code version: v-trn" in out


def test_heldout_fit_means_by_view_over_converged_fits(tmp_path):
    gt = np.concatenate([SQUARE, np.zeros((4, 1))], -1)[None].repeat(3, axis=0)
    shifts = np.array([[1.0, 0, 0], [0, 2.0, 0], [5.0, 0, 0]])  # NME 0.1, 0.2, (0.5, failed)
    fitted = {
        "ok": np.array([True, True, False]),
        "lm3d_68": gt + shifts[:, None],
        "lm3d_84": gt + shifts[:, None],
    }
    index = pd.DataFrame(
        {"sample_id": ["a", "b", "c"], "view": ["semifrontal", "profile", "profile"], "yaw": [0.0, 70, 80]}
    )
    errors = heldout_errors(SimpleNamespace(index=index, arrays={"lm3d_68": gt, "lm3d_84": gt}), fitted)
    errors.to_csv(tmp_path / "heldout_fit.csv", index=False)
    write_json_atomic(
        tmp_path / "heldout_report.json",
        {**summarise(errors), "provenance": provenance({"n_modes": 3}, "v-fit")},
    )
    out = inspect_path(tmp_path / "heldout_fit.csv")
    assert "faces: 3, fits failed: 1" in out
    lines = {ln.split("(")[0].strip(): ln for ln in out.splitlines() if "(n=" in ln}
    assert lines["all"].split()[-4:] == ["15.000"] * 4
    assert lines["semifrontal"].split()[-4:] == ["10.000"] * 4 and lines["profile"].split()[-1] == "20.000"
    assert '"n_modes": 3' in out and "code version: v-fit" in out


def test_union_mapping_csv_lists_the_mapping(tmp_path):
    um = UnionMapping(
        {"right": INTENDED, "left": IBUG68.flip_permutation()[INTENDED]},
        {"right": np.full(39, 0.5), "left": np.full(39, 0.25)},
        np.zeros((68, 2)),
        np.zeros((39, 2)),
    )
    write_mapping(um, tmp_path / "m.csv", tmp_path / "m.json", provenance({"constrained": True}, "v-map"))
    out = inspect_path(tmp_path / "m.csv")
    assert (
        "profile facing right (mean distance 0.500)" in out
        and "profile facing left (mean distance 0.250)" in out
    )
    assert "eye         -> ['eye_right']" in out and "eye         -> ['eye_left']" in out
    assert "m.json, written by the same rule" in out and "code version: v-map" in out


def test_table_csv_and_tex_show_rows_and_upstream_records(tmp_path):
    per_image, table = image_metrics(_predictions())
    run = (
        tmp_path / "results" / "default"
    )  # the layout the rules write: results/<run>/eval/<ds>/<variant>/seed<k>/
    record = run / "eval" / "ds" / "baseline" / "seed0" / "image_metrics.json"
    write_json_atomic(record, {**table, "provenance": provenance({}, "v-eval")})
    csv, tex = run / "tables" / "table1.csv", run / "tables" / "table1.tex"
    frame = table1_seed_frame({"baseline": [per_image]})  # as rule table1 builds it
    write_table(frame, csv, tex, "NME by yaw", "tab:t1")
    out = inspect_path(csv)
    assert "paper Table I" in out and "rule table1" in out
    row = next(ln for ln in out.splitlines() if ln.startswith("2-stack Hourglass"))
    assert {"15.000", "30.000", "40.000", "28.333", "25.000"} <= set(row.split())  # bins, Mean, per-image
    assert f"{record}: code version v-eval" in out
    legend = out.split("columns:\n")[1].split("\nrows:")[0].splitlines()
    for column in frame.columns:  # every column of Table I is explained
        line = next(ln for ln in legend if ln.startswith(f"  {column} "))
        assert line[len(column) + 2 :].strip(), line
    for column in DELTA_COLUMNS[1:]:  # "(Mean - ref) ..." starts with "(" like a bin label but is no bin
        line = next(ln for ln in legend if ln.startswith(f"  {column} "))
        assert "interval" in line and "bin" not in line, line
    from cmhm.inspect.result_files import _table_column
    from cmhm.report.seed_tables import SPREAD_COLUMNS

    assert all(_table_column(c) for c in SPREAD_COLUMNS)  # and the seed columns of a multi-seed Table I
    bins = [ln for ln in legend if "|yaw| bin" in ln]
    assert [ln.split()[0] + " " + ln.split()[1] for ln in bins] == bin_labels(), bins
    out = inspect_path(tex)
    assert "caption: NME by yaw" in out and "label: tab:t1" in out and "v-eval" in out


def test_mean_shape_extent_and_stage2_provenance(tmp_path):
    data, stage2 = tmp_path / "stage2_data", tmp_path / "stage2"
    data.mkdir(), stage2.mkdir()
    np.save(data / "mean_shape.npy", np.array([[0.0, 0.0], [4.0, 0.0], [4.0, 2.0]], dtype=np.float32))
    atomic_save({"state_dict": {}, "config": {"in_size": 8}, "code_version": "v-s2"}, stage2 / "model.pt")
    out = inspect_path(data / "mean_shape.npy")
    assert "float32 [3, 2]" in out and "extent: x 0.00 .. 4.00, y 0.00 .. 2.00" in out
    assert "size: 4.00 x 2.00 px, centre (2.67, 0.67)" in out
    assert f"{stage2 / 'model.pt'}, the stage-2 model" in out and "code version: v-s2" in out


@pytest.mark.parametrize("suffix", [".png", ".pdf", ".svg"])
def test_figure_metadata_round_trip(tmp_path, suffix):
    config = {"odd": "a (b) \\ c <&>", "n": 2}
    fig = plt.figure(figsize=(1, 1))
    save_figure(fig, [tmp_path / f"union_mapping{suffix}"], note="cmhm test", config=config)
    record, _ = figure_record(tmp_path / f"union_mapping{suffix}")
    assert record == {
        "code_version": code_version(),
        "config": config,
        "config_digest": config_digest(config),
        "note": "cmhm test",
    }
    out = inspect_path(tmp_path / f"union_mapping{suffix}")
    assert "paper Fig. 3" in out and f"code version (at drawing): {code_version()}" in out
    assert f"config digest: {config_digest(config)}" in out


def test_figure_without_metadata_says_so(tmp_path):
    fig = plt.figure(figsize=(1, 1))
    fig.savefig(tmp_path / "ced_video.png")
    plt.close(fig)
    out = inspect_path(tmp_path / "ced_video.png")
    assert "CED of the per-frame tracking error" in out and "provenance: none embedded" in out


def test_benchmarks_and_logs_are_not_artifacts(tmp_path):
    for name, what in (("x.tsv", "Snakemake benchmark"), ("x.log", "job's log")):
        (tmp_path / name).write_text("s\n1.0\n")
        with pytest.raises(ValueError, match=what):
            inspect_path(tmp_path / name)


def test_dispatch_by_name_and_header(tmp_path):
    (tmp_path / "anything.csv").write_text("video,frame,nme_diag,redetected,failed\n")
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    assert kind_of(tmp_path / "anything.csv").name == "per-frame tracking"
    assert kind_of(tmp_path / "other.csv") is None
    assert kind_of(Path(tmp_path)) is None


def test_crop_shard_shows_the_provenance_of_its_sample_table(tmp_path):
    t = _table(tmp_path / "samples" / "train" / "shard0", n=2)
    write_samples(t, t.root, provenance({"seed": 3}, "v-samples"))
    (tmp_path / "crops" / "train").mkdir(parents=True)
    crop_table(read_table(t.root), size=32, box_scale=1.2, prefix=tmp_path / "crops" / "train" / "shard0")
    out = inspect_path(tmp_path / "crops" / "train" / "shard0.csv")
    assert "the sample table rule crop cut it from" in out and "code version: v-samples" in out
    out = inspect_path(t.root / "labels.npz")
    assert "label arrays of a sample table" in out and '"seed": 3' in out


def test_index_yaw_counts_use_table_one_bins():
    # 0 and 30 -> [0, 30]; 30.1 and -60 -> (30, 60]; 61 and 95 (clipped into the last bin) -> (60, 90]
    index = pd.DataFrame(
        {"yaw": [0, 30, 30.1, -60, 61, 95, np.nan], "view": ["semifrontal"] * 7, "video": [""] * 7}
    )
    line = describe_index(index)[2]
    assert line.endswith("[0, 30] 2, (30, 60] 2, (60, 90] 2, unknown 1"), line
