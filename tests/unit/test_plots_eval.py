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


def test_seed_spread_figures_draw_every_seed(tmp_path):
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(2)
    curves = {"cmhm": [rng.gamma(2.0, 0.008, 100) for _ in range(3)], "baseline": rng.gamma(2.0, 0.01, 100)}
    opened = []
    orig = plt.subplots

    def spy(*a, **k):
        fig, ax = orig(*a, **k)
        opened.append(ax)
        return fig, ax

    plt.subplots = spy
    try:
        plot_ced(curves, 0.05, [tmp_path / "ced.png"])
        yaw = rng.uniform(-90, 90, 100)
        seeds = [bin_means(aflw_table(rng.gamma(2.0, 0.01, 100), yaw)) for _ in range(3)]
        plot_nme_by_yaw({"cmhm": {b: [t[b] for t in seeds] for b in seeds[0]}}, [tmp_path / "yaw.png"])
    finally:
        plt.subplots = orig
    ced_ax, yaw_ax = opened
    assert len(ced_ax.lines) == 2 + 3  # a bold line per variant, a thin one per seed of cmhm
    assert (
        "±" in ced_ax.get_legend().get_texts()[0].get_text() + ced_ax.get_legend().get_texts()[1].get_text()
    )
    assert len(yaw_ax.lines[-1].get_xdata()) == 3 * 4  # one dot per seed and bin (3 bins + Overall)
    assert (tmp_path / "ced.png").stat().st_size > 1000 and (tmp_path / "yaw.png").stat().st_size > 1000
