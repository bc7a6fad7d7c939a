"""Seaborn PNGs of a run: cost against tokens per metric, where the GMACs go, and the zoo against its
tables.

One cost figure per (metric, kind): operators and whole models have different token counts at one
resolution, so they are never drawn on the same axes. Each line is one series; its legend gives the
verdict. Cells that ran out of memory, were skipped over budget, timed out or failed are drawn as
crosses: at their counted GMACs on the GMACs plot, along the bottom edge (at their token count) on
the plots of measured metrics. The anatomy figure stacks each series' GMACs by stage and op class
(mixing dark, dense and other light) against resolution.

Labels are text, never markup (matplotlib's mathtext is off: a label ``$x$`` is drawn as typed), and
large runs stay drawable: points are the median per series and size, and at most
:data:`MAX_SERIES` series are drawn per figure (the caption says how many were left out).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import FuncFormatter, NullFormatter, PercentFormatter  # noqa: E402
from matplotlib.transforms import blended_transform_factory  # noqa: E402

from pacabench.analysis.anatomy import stage_split  # noqa: E402
from pacabench.analysis.results import DERIVED_METRICS, METRICS, metric_rows  # noqa: E402

PLOT_METRICS = ("gmacs", "peak_mem_mb", "latency_ms_median", "latency_us_per_token", "achieved_gmacs_per_s",
                "throughput_img_s")
FAILED = ("oom", "skipped_budget", "timeout", "error")
DPI = 110
MAX_SERIES = 16
"""Series drawn per figure at most; a larger run says in the caption how many were left out."""
MAX_TICKS = 10
"""Resolution tick labels per axis at most (a sweep of hundreds of sizes labels an even selection)."""
MIN_PART_SHARE = 0.02
"""In the anatomy figure, stages below this share of GMACs at every size are merged into "rest"."""


@dataclass(frozen=True)
class Plot:
    path: Path
    title: str
    caption: str


MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "h")


def palette(df: pd.DataFrame) -> dict[str, tuple[tuple, str]]:
    """One fixed (colour, marker) per series across every figure of a report, PaCa first."""
    series = sorted(df["series"].unique(), key=lambda s: ("paca" not in s.lower(), s))
    colours = sns.color_palette("colorblind", max(len(series), 1))
    return {s: (colours[i % len(colours)], MARKERS[i % len(MARKERS)]) for i, s in enumerate(series)}


def _drawn(series: list[str]) -> tuple[list[str], str]:
    """The series a figure draws (PaCa first, at most MAX_SERIES) and the caption's note."""
    ordered = sorted(series, key=lambda s: ("paca" not in s.lower(), s))
    left = len(ordered) - MAX_SERIES
    return ordered[:MAX_SERIES], (f" {left} more series are not drawn (at most {MAX_SERIES} per figure; "
                                  f"all are in the tables)." if left > 0 else "")


def write_plots(df: pd.DataFrame, out_dir: str | Path, verdicts: pd.DataFrame | None = None) -> list[Plot]:
    """Write every figure the run supports into ``out_dir``; return them in report order.

    ``verdicts`` (a ``scaling_table``) adds each series' verdict to its legend entry.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    colours = palette(df)
    if "latency_ms_median" in df.columns:
        df = df.assign(**{name: derive(df) for name, derive in DERIVED_METRICS.items()})
    plots = []
    with sns.axes_style("whitegrid"), sns.plotting_context("notebook", font_scale=0.9), \
            plt.rc_context({"text.parse_math": False}):
        for kind in dict.fromkeys(df["kind"]):
            part = df[df["kind"] == kind]
            for metric in PLOT_METRICS:
                rows = metric_rows(part, metric) if metric in part.columns else part.iloc[0:0]
                if rows.empty or rows.groupby("series")["tokens"].nunique().max() < 2:
                    continue  # nothing to plot, or single sizes only (e.g. a zoo at 224 px)
                drawn, note = _drawn(list(rows["series"].unique()))
                fig = cost_figure(part[part["series"].isin(drawn)], metric, colours, verdicts)
                path = out_dir / f"{metric}_{kind}s.png"
                fig.savefig(path, dpi=DPI, bbox_inches="tight")
                plt.close(fig)
                plots.append(Plot(path, f"{METRICS[metric][0]} vs tokens, {kind}s", _caption(metric) + note))
            anatomy = _anatomy_plot(part, kind, out_dir, verdicts)
            if anatomy is not None:
                plots.append(anatomy)
        zoo = _zoo_plot(df, out_dir)
    return plots if zoo is None else [*plots, zoo]


def cost_figure(df: pd.DataFrame, metric: str, colours: dict, verdicts: pd.DataFrame | None = None):
    title, unit = METRICS[metric]
    rows = _medians(metric_rows(df, metric), metric)
    fig, ax = plt.subplots(figsize=(8, 4.8))
    for series in [s for s in colours if s in set(rows["series"])]:
        part = rows[rows["series"] == series].sort_values("tokens")
        colour, marker = colours[series]
        sns.lineplot(data=part, x="tokens", y=metric, marker=marker, markersize=7, color=colour, ax=ax,
                     label=_legend(series, metric, part, verdicts), errorbar=None)
    failed = df[df["status"].isin(FAILED)].drop_duplicates(["series", "tokens"])
    if metric != "gmacs":
        failed = failed.assign(**{metric: np.nan})
    _mark_failed(ax, failed, metric, colours)
    ax.set(xscale="log", yscale="log", xlabel="tokens N at the first attention stage (log)",
           ylabel=f"{title} ({unit}, log)")
    ax.set_title(f"{title} vs tokens ({df['kind'].iloc[0]}s)", pad=12, fontweight="bold")
    for axis in (ax.xaxis, ax.yaxis):
        _plain_log_ticks(axis)
    _resolution_axis(ax, df, rows, metric)
    handles, labels = ax.get_legend_handles_labels()
    if len(failed):
        handles.append(Line2D([], [], marker="x", color="0.3", linestyle="none", markersize=8))
        labels.append("oom / skipped / timeout / error" + ("" if metric == "gmacs" else " (not measured)"))
    ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    return fig


def _medians(rows: pd.DataFrame, metric: str) -> pd.DataFrame:
    """One point per series and size (the median of repeated cells), so a large run draws fast."""
    keys = ["series", "tokens", "resolution_h", "resolution_w", "resolution"]
    return rows.groupby(keys, as_index=False, sort=False)[metric].median()


VERDICT_OF = {"latency_us_per_token": "latency_ms_median"}
"""Derived figures whose legend gives another metric's verdict."""


def _legend(series: str, metric: str, part: pd.DataFrame, verdicts: pd.DataFrame | None) -> str:
    if verdicts is None:
        return series
    metric = VERDICT_OF.get(metric, metric)
    match = verdicts[(verdicts["series"] == series) & (verdicts["metric"] == metric)]
    return f"{series} ({match['verdict'].iloc[0]})" if len(match) else series


def _mark_failed(ax, failed: pd.DataFrame, metric: str, colours: dict) -> None:
    """Crosses for cells without a measured value: at their GMACs, or on the bottom edge."""
    bottom = blended_transform_factory(ax.transData, ax.transAxes)
    for _, row in failed.iterrows():
        value = pd.to_numeric(row[metric], errors="coerce")
        colour = colours[row["series"]][0]
        if pd.notna(value) and value > 0:
            ax.plot(row["tokens"], value, marker="x", color=colour, markersize=9, mew=2, linestyle="none")
        else:
            ax.plot(row["tokens"], 0.03, marker="x", color=colour, markersize=9, mew=2, linestyle="none",
                    transform=bottom, clip_on=False)


def _plain(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:g}"


def _plain_log_ticks(axis) -> None:
    """Plain numbers (3,136, 0.25) instead of 10^x. Minor ticks are labelled on short ranges: all of
    them under a factor 3, those at 2x and 5x a power of ten under two decades."""
    axis.set_major_formatter(FuncFormatter(lambda v, _: _plain(v)))
    low, high = axis.get_view_interval()
    if high / low < 3:
        axis.set_minor_formatter(FuncFormatter(lambda v, _: _plain(v)))
    elif high / low < 100:
        axis.set_minor_formatter(FuncFormatter(
            lambda v, _: _plain(v) if round(v / 10 ** np.floor(np.log10(v)), 6) in (2, 5) else ""))
    else:
        axis.set_minor_formatter(NullFormatter())


def _resolution_axis(ax, df: pd.DataFrame, rows: pd.DataFrame, metric: str) -> None:
    """Resolution on a top axis when every row maps tokens to pixels the same way (one stride);
    otherwise (e.g. ViT's stride 16 next to pyramids' stride 4) the resolutions are written above
    the first and last point of each line."""
    pixels = np.sqrt(df["resolution_h"].astype(float) * df["resolution_w"].astype(float))
    stride = pixels / np.sqrt(df["tokens"].astype(float))
    if stride.max() / stride.min() < 1.01:
        s = float(stride.median())
        top = ax.secondary_xaxis("top", functions=(lambda n: np.sqrt(np.maximum(n, 1e-9)) * s,
                                                   lambda r: (np.asarray(r) / s) ** 2))
        top.set_xlabel("input resolution (px)")
        resolutions = sorted({int(r) for r in df["resolution_h"]})
        ticks = [resolutions[i] for i in _spread(len(resolutions))]
        top.set_xticks(ticks, labels=[str(t) for t in ticks], minor=False)
        top.set_xticks([], minor=True)
        return
    for _, part in rows.groupby("series"):
        part = part.sort_values("tokens")
        for row in (part.iloc[0], part.iloc[-1]):
            ax.annotate(row["resolution"], (row["tokens"], row[metric]), xytext=(0, 7),
                        textcoords="offset points", fontsize=7, color="0.35", ha="center")


def _spread(count: int) -> list[int]:
    """Indices of at most MAX_TICKS items spread evenly over ``count``, first and last included."""
    if count <= MAX_TICKS:
        return list(range(count))
    return sorted({round(i * (count - 1) / (MAX_TICKS - 1)) for i in range(MAX_TICKS)})


def _caption(metric: str) -> str:
    if metric == "gmacs":
        return ("GMACs of one forward pass (1 MAC = 1 FLOP); counts are exact, so crosses (cells not "
                "timed) sit at their counted value.")
    if metric == "throughput_img_s":
        return "Images per second (higher is better); k is negative: throughput falls as cost grows."
    if metric == "latency_us_per_token":
        return ("Time per token of one pass: flat for linear work on a steady machine, a step where the machine "
                "slows once (caches), rising in proportion to N for a quadratic cost; the legend gives the "
                "latency verdict.")
    if metric == "achieved_gmacs_per_s":
        return ("Counted GMACs over measured time: the machine's share of the latency. Flat: time follows the "
                "counts; falling: the machine slows as N grows (or the counts miss work).")
    return f"{METRICS[metric][0]} of ok cells; crosses on the bottom edge mark cells without a measurement."


def anatomy_frame(df: pd.DataFrame, series: str) -> pd.DataFrame:
    """One series' GMACs by stage and op class at each size: columns ``resolution``, ``tokens``,
    ``stage``, ``mixing``, ``dense`` (dense and other), ``share_mixing``, ``share_dense``; stages in
    model order, those below MIN_PART_SHARE at every size merged into "rest"."""
    rows = metric_rows(df[df["series"] == series], "gmacs").sort_values("tokens").drop_duplicates("tokens")
    records = []
    for _, row in rows.iterrows():
        total = float(row["gmacs"]) * 1e9
        for stage, macs in stage_split(row.get("module_macs")).items():
            records.append({"resolution": row["resolution"], "tokens": row["tokens"], "stage": stage,
                            "mixing": macs["mixing"] / total, "dense": (macs["dense"] + macs["other"]) / total})
    frame = pd.DataFrame(records, columns=["resolution", "tokens", "stage", "mixing", "dense"])
    if frame.empty:
        return frame
    peak = frame.assign(share=frame["mixing"] + frame["dense"]).groupby("stage", sort=False)["share"].max()
    small = set(peak[peak < MIN_PART_SHARE].index)
    frame["stage"] = [("rest" if stage in small else stage) for stage in frame["stage"]]
    return frame.groupby(["resolution", "tokens", "stage"], sort=False, as_index=False)[["mixing", "dense"]].sum()


def anatomy_figure(df: pd.DataFrame, series_list: list[str], verdicts: pd.DataFrame | None = None):
    """Small multiples: per series, the share of GMACs of each stage (dark: mixing, light: dense and
    other) against resolution."""
    columns = min(3, len(series_list))
    rows = -(-len(series_list) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.6 * columns, 3.3 * rows), squeeze=False)
    pairs = plt.get_cmap("tab20").colors
    for ax, series in zip(axes.flat, series_list):
        frame = anatomy_frame(df, series)
        stages = list(dict.fromkeys(frame["stage"]))
        sizes = frame.drop_duplicates("tokens").sort_values("tokens")
        layers, colours, labels = [], [], []
        for i, stage in enumerate(stages):
            part = frame[frame["stage"] == stage].set_index("tokens").reindex(sizes["tokens"]).fillna(0)
            for op_class, shade in (("mixing", 0), ("dense", 1)):
                layers.append(part[op_class].to_numpy())
                colours.append(pairs[(2 * i + shade) % len(pairs)])
                labels.append(f"{stage} {op_class if op_class == 'mixing' else 'dense+other'}")
        ax.stackplot(range(len(sizes)), *layers, colors=colours, labels=labels, linewidth=0)
        shown = _spread(len(sizes))
        ax.set_xticks(shown, [sizes["resolution"].iloc[i].removesuffix(" px") for i in shown], rotation=45)
        ax.set(ylim=(0, 1), xlim=(0, max(len(sizes) - 1, 1)), xlabel="input resolution (px)")
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        verdict = _verdict(verdicts, series)
        ax.set_title(f"{series}{f' ({verdict})' if verdict else ''}", fontsize=9, fontweight="bold")
        handles, texts = ax.get_legend_handles_labels()
        ax.legend(handles[::-1], texts[::-1], fontsize=6, loc="center left", bbox_to_anchor=(1.0, 0.5),
                  frameon=False)
    for ax in list(axes.flat)[len(series_list):]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig


def _verdict(verdicts: pd.DataFrame | None, series: str) -> str | None:
    if verdicts is None:
        return None
    match = verdicts[(verdicts["series"] == series) & (verdicts["metric"] == "gmacs")]
    return str(match["verdict"].iloc[0]) if len(match) else None


def _anatomy_plot(df: pd.DataFrame, kind: str, out_dir: Path, verdicts: pd.DataFrame | None) -> Plot | None:
    if "module_macs" not in df.columns:
        return None
    rows = metric_rows(df, "gmacs")
    sized = rows[rows["module_macs"].notna()].groupby("series")["tokens"].nunique()
    candidates = list(sized[sized >= 2].index)
    if not candidates:
        return None
    drawn, note = _drawn(candidates)
    fig = anatomy_figure(df, drawn, verdicts)
    path = out_dir / f"anatomy_{kind}s.png"
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return Plot(path, f"Where the GMACs go, {kind}s",
                "Share of each series' GMACs by stage (in model order) and op class against resolution: dark = "
                "mixing (products of two activations: attention), light = dense (weights times activations) and "
                f"other (norms, pooling); stages under {MIN_PART_SHARE:.0%} at every size are merged into 'rest'. "
                "A quadratic term shows as a dark band that widens with resolution." + note)


def _zoo_plot(df: pd.DataFrame, out_dir: Path) -> Plot | None:
    from pacabench.analysis.released import released_comparison

    table = released_comparison(df)
    if table.empty:
        return None
    long = pd.concat([
        pd.DataFrame({"model": table["name"], "figure": fig, "source": source, "value": table[col]})
        for fig, cols in (("GMACs at 224 px", ("gmacs", "released_gmacs")),
                          ("params (M)", ("params_m", "released_params_m")))
        for source, col in zip(("measured", "released"), cols)
    ]).dropna(subset=["value"])
    grid = sns.catplot(data=long, kind="bar", y="model", x="value", hue="source", col="figure",
                       sharex=False, height=0.35 * len(table) + 1.6, aspect=1.3,
                       palette={"measured": "#0173b2", "released": "#bbbbbb"})
    grid.set_titles("{col_name}")
    grid.set_axis_labels("", "")
    path = out_dir / "zoo_measured_vs_released.png"
    grid.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(grid.figure)
    return Plot(path, "PaCa-ViT zoo: measured vs released (224 px)",
                "Measured per-image GMACs and parameters next to the released ImageNet tables. The "
                "convmixer variants' released GMACs miss the teacher's 'same' depthwise convs (~0.1 G).")
