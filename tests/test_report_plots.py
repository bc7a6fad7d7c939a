"""Plot details: resolution labels, crosses for cells without values, single-size runs skipped."""
import matplotlib.pyplot as plt

from pacabench.analysis.results import label_rows
from pacabench.report.plots import cost_figure, palette, write_plots
from synthetic_results import make_rows


def models(strides={"pacavit_tiny_p2cconv_100_0": 4, "deit_small_patch16_224": 16}, resolutions=(224, 448)):
    rows = make_rows(operators=("paca", "vit"), resolutions=resolutions, oom=())
    rows["kind"] = "model"
    rows["name"] = rows["label"] = rows["name"].map(dict(zip(("paca", "vit"), strides)))
    rows["tokens"] = [(r // strides[n]) ** 2 for r, n in zip(rows["resolution_h"], rows["name"])]
    return label_rows(rows)


def test_mixed_strides_label_points_with_their_resolution():
    df = models()
    fig = cost_figure(df, "gmacs", palette(df))
    assert sorted(t.get_text() for t in fig.axes[0].texts) == ["224 px", "224 px", "448 px", "448 px"]
    plt.close(fig)


def test_one_stride_gets_a_resolution_axis_and_failed_cells_a_legend_entry():
    df = label_rows(make_rows(resolutions=(224, 448, 896)).assign(
        status=lambda d: d["status"].where(~((d["name"] == "vit") & (d["resolution_h"] == 896)), "oom")))
    fig = cost_figure(df, "latency_ms_median", palette(df))
    top = [a for a in fig.axes[0].child_axes if a.get_xlabel() == "input resolution (px)"]
    assert len(top) == 1
    assert fig.axes[0].get_legend().get_texts()[-1].get_text() == "oom / skipped / timeout / error (not measured)"
    plt.close(fig)


def test_single_size_runs_draw_no_cost_curves_only_the_zoo_chart(tmp_path):
    df = models(resolutions=(224,))
    assert [p.path.name for p in write_plots(df, tmp_path)] == ["zoo_measured_vs_released.png"]
    assert [p.name for p in tmp_path.iterdir()] == ["zoo_measured_vs_released.png"]
