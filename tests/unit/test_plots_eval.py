"""The evaluation figures are written (PDF, PNG, SVG), non-empty and atomically (no temp files left), with
fonts a venue accepts and provenance in metadata only."""

import re

import matplotlib.pyplot as plt
import numpy as np
import pytest

from cmhm.evaluation.metrics import aflw_table, bin_means
from cmhm.report.plots_data import save_figure
from cmhm.report.plots_eval import plot_ced, plot_nme_by_yaw, plot_training_log


def test_plot_ced_writes_pdf_and_png(tmp_path):
    rng = np.random.default_rng(0)
    curves = {"CMHM": rng.gamma(2.0, 0.008, 300), "single-view": rng.gamma(2.0, 0.014, 300)}
    curves["single-view"][:5] = np.inf  # lost frames count as failures
    outs = [tmp_path / "ced.pdf", tmp_path / "ced.png", tmp_path / "ced.svg"]
    plot_ced(curves, 0.05, outs, note="code 0.1.0+src.test")
    assert all(p.stat().st_size > 1000 for p in outs)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ced.pdf", "ced.png", "ced.svg"]
    assert pdf_font_subtypes(outs[0]) and "Type3" not in pdf_font_subtypes(outs[0])


def pdf_font_subtypes(path) -> set[str]:
    """The /Subtype of every font object in a PDF written by matplotlib (its object dictionaries are not
    compressed): e.g. {"Type0", "CIDFontType2"} for TrueType (Type 42) fonts, {"Type3"} for Type 3."""
    data = path.read_bytes()
    fonts = re.findall(rb"<<[^<>]*/Type /Font[^<>]*>>", data) + re.findall(
        rb"/Type /Font\b.{0,200}", data, re.S
    )
    return {m.decode() for f in fonts for m in re.findall(rb"/Subtype /(\w+)", f)}


def test_pdf_fonts_are_truetype_and_the_note_is_not_drawn(tmp_path):
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1], label="NME $\\alpha$")
    ax.set_title("fonts")
    ax.legend()
    save_figure(fig, [tmp_path / "f.pdf", tmp_path / "f.svg"], note="NOTE-IN-METADATA")
    subtypes = pdf_font_subtypes(tmp_path / "f.pdf")
    assert "CIDFontType2" in subtypes and "Type3" not in subtypes, subtypes
    fig, ax = plt.subplots()
    ax.set_title("fonts")
    fig.savefig(tmp_path / "default.pdf")  # matplotlib's default embeds Type 3: the check can fail
    assert "Type3" in pdf_font_subtypes(tmp_path / "default.pdf")
    svg = (tmp_path / "f.svg").read_text()
    assert (
        "NOTE-IN-METADATA" in svg.split("</metadata>")[0]
        and "NOTE-IN-METADATA" not in svg.split("</metadata>")[1]
    )


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


def test_plot_training_log_draws_every_stack_and_names_an_empty_log(tmp_path):
    log = tmp_path / "log.csv"
    log.write_text(
        "step,loss,loss_stack0,loss_stack1,lr,images_per_s\n"
        + "".join(f"{s},{2 / s},{1 / s},{1 / s},{1e-3 if s < 30 else 1e-4},50\n" for s in range(10, 50, 10))
    )
    outs = [tmp_path / "loss_stage1.png", tmp_path / "loss_stage1.svg"]
    plot_training_log(log, "cmhm, stage1", outs)
    svg = outs[1].read_text()
    assert all(p.stat().st_size > 1000 for p in outs)
    assert all(f"<!-- {label} -->" in svg for label in ("total", "stack 0", "stack 1", "learning rate"))
    log.write_text("step,loss,loss_stack0,lr,images_per_s\n")
    with pytest.raises(ValueError, match=f"{log}: no rows logged"):
        plot_training_log(log, "x", outs)


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
