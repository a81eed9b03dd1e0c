"""The evaluation figures are written (PDF and PNG), non-empty and atomically (no temp files left)."""

import numpy as np

from cmhm.metrics import aflw_table, bin_means
from cmhm.plots_eval import plot_ced, plot_nme_by_yaw


def test_plot_ced_writes_pdf_and_png(tmp_path):
    rng = np.random.default_rng(0)
    curves = {"CMHM": rng.gamma(2.0, 0.008, 300), "single-view": rng.gamma(2.0, 0.014, 300)}
    curves["single-view"][:5] = np.inf  # lost frames count as failures
    outs = [tmp_path / "ced.pdf", tmp_path / "ced.png"]
    plot_ced(curves, 0.05, outs, note="code 0.1.0+src.test")
    assert all(p.stat().st_size > 1000 for p in outs)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ced.pdf", "ced.png"]


def test_plot_nme_by_yaw_writes_pdf_and_png(tmp_path):
    rng = np.random.default_rng(1)
    yaw = rng.uniform(-90, 90, 200)
    table = {
        v: bin_means(aflw_table(rng.gamma(2.0, s * (1 + np.abs(yaw) / 90), 200), yaw))
        for v, s in (("2D only", 0.015), ("2D + 3D", 0.012))
    }
    outs = [tmp_path / "nme_yaw.pdf", tmp_path / "nme_yaw.png"]
    plot_nme_by_yaw(table, outs, note="code 0.1.0+src.test")
    assert all(p.stat().st_size > 1000 for p in outs)
