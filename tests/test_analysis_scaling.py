"""Verdict table: exact verdicts on counts, bootstrap verdicts on measurements, sentences, dominance
resolutions, where the N^2 term lives, and the power-law slope kept as a secondary column."""
import json
import math

import numpy as np
import pandas as pd
import pytest

from pacabench.analysis.anatomy import describe_modules, quadratic_modules, stage_of
from pacabench.analysis.results import label_rows
from pacabench.analysis.expectations import expectation_items
from pacabench.analysis.scaling import TABLE_COLUMNS, fit_power_law, fit_upper_half, scaling_table
from synthetic_results import make_rows

TOKENS = np.array([(r // 4) ** 2 for r in (224, 448, 672, 896, 1344, 1792, 2048)], dtype=float)


def test_power_law_slope_stays_as_a_secondary_column():
    fit = fit_power_law(TOKENS, 2.5 * TOKENS ** 1.3)
    assert fit.k == pytest.approx(1.3, abs=1e-12) and fit.a == pytest.approx(2.5, rel=1e-9)
    assert (fit.n_points, fit.n_min, fit.n_max) == (7, 3136, 262144)
    assert fit_upper_half(TOKENS, TOKENS ** 2).n_points == 4


def _table(**kwargs):
    return scaling_table(label_rows(make_rows(**kwargs))).set_index(["series", "metric"])


def test_counts_get_exact_verdicts_with_coefficients_in_gmacs():
    table = _table(noise=0.0)
    verdicts = table.loc[(slice(None), "gmacs"), "verdict"].droplevel("metric").to_dict()
    assert verdicts == {"op:paca": "linear", "op:swin": "linear", "op:pvt": "quadratic", "op:vit": "quadratic"}
    vit = table.loc[("op:vit", "gmacs")]
    assert (vit["c0"], vit["c1"], vit["c2"]) == (0.0, 4 * 96 * 96 / 1e9, 2 * 96 / 1e9)
    assert vit["method"] == "exact" and vit["max_residual"] == 0.0
    paca = table.loc[("op:paca", "gmacs")]
    assert paca["c2"] == 0.0 and paca["reason"] == (
        f"linear: no N² term; c0 + c1·N reproduces all 5 sizes exactly ({4 * 96 * 96 + 2 * 100 * 96:,} MACs per token)")
    assert math.isnan(paca["dominance_resolution"]) and paca["dominance"] == "never"


def test_quadratic_share_at_every_size_and_the_dominance_resolution():
    pvt = _table(noise=0.0).loc[("op:pvt", "gmacs")]
    # PVTv2 (R = 8): 3C^2 N dense + 2C N^2 / 64 mixing; the square term passes the rest at N = 96 * 64 * 3 / 2
    n_star = 3 * 96 * 96 * 64 / (2 * 96)
    assert pvt["dominance_resolution"] == pytest.approx(4 * math.sqrt(n_star))  # stride 4
    assert pvt["dominance"] == "within"
    shares = json.loads(pvt["quadratic_share"])
    n = {res: (int(res.split()[0]) // 4) ** 2 for res in shares}
    assert shares == pytest.approx({res: 2 * 96 * n[res] ** 2 / 64 / (3 * 96 * 96 * n[res] + 2 * 96 * n[res] ** 2 / 64)
                                    for res in shares})
    assert pvt["quadratic_share_max"] == max(shares.values())
    assert pvt["reason"] == (f"quadratic: an N² term in attn; {shares['2048 px']:.1%} of GMACs at 2048 px; "
                             f"it passes the rest above {pvt['dominance_resolution']:,.0f} px")
    assert pvt["quadratic_modules"] == "attn"


def test_the_mixing_part_gets_its_own_model():
    table = _table(noise=0.0)
    assert table.loc[("op:paca", "gmacs_mixing"), "c1"] == 2 * 100 * 96 / 1e9
    assert table.loc[("op:vit", "gmacs_mixing"), "c2"] == 2 * 96 / 1e9


def test_three_sizes_are_inconclusive_four_are_not():
    three = _table(resolutions=(224, 448, 896), oom=(), noise=0.0).loc[("op:vit", "gmacs")]
    assert three["verdict"] == "inconclusive" and three["method"] == "exact, unchecked"
    assert "count a fourth size" in three["reason"]
    four = _table(resolutions=(224, 448, 672, 896), oom=(), noise=0.0)
    assert set(four.loc[(slice(None), "gmacs"), "verdict"]) == {"linear", "quadratic"}


def _padded_swin(sizes) -> pd.Series:
    """The GMACs verdict row of Swin window attention's exact counts, padded at most sizes."""
    from pacabench.operators import OPERATORS

    rows = make_rows(operators=("swin",), resolutions=sizes, oom=(), noise=0.0)
    costs = [OPERATORS["swin"].cost(r, r) for r in sizes]
    rows["gmacs"] = [c["macs"] / 1e9 for c in costs]
    rows["gmacs_mixing"] = [c["mixing"] / 1e9 for c in costs]
    return scaling_table(label_rows(rows)).set_index(["series", "metric"]).loc[("op:swin", "gmacs")]


def test_counts_of_padded_windows_are_called_on_mixing_per_token():
    swin = _padded_swin((224, 256, 320, 448, 640))
    assert swin["verdict"] == "linear" and swin["method"] == "not a polynomial"
    assert swin["reason"].startswith("linear: counts are not a polynomial in N (c0 + c1·N + c2·N² misses by up to ")
    assert "mixing MACs per token change x" in swin["reason"]


def test_measured_metrics_get_bootstrap_verdicts_saying_what_is_ruled_out():
    table = _table(noise=0.01, oom=())
    paca = table.loc[("op:paca", "peak_mem_mb")]
    assert paca["verdict"] == "linear" and paca["share_high"] < 0.10
    assert paca["reason"].startswith("linear: the data rule out an N² term above ")
    vit = table.loc[("op:vit", "peak_mem_mb")]
    assert vit["verdict"] == "quadratic" and vit["share_low"] >= 0.10
    assert vit["reason"].startswith("quadratic: an N² term carries ")
    latency = table.loc[("op:vit", "latency_ms_median")]  # read against the work, not bootstrapped
    assert latency["verdict"] == "quadratic" and latency["method"] == "time per token, read against the counts"
    assert latency["reason"].startswith("quadratic: time per token changes x")
    assert "; it confirms the N² term of the counts (" in latency["reason"]


def test_noise_that_hides_a_small_square_term_is_inconclusive():
    """A 15% N^2 share of measured memory at 896 px under 15% noise: neither confirmed nor ruled out."""
    rows = make_rows(operators=("pvt",), resolutions=(224, 448, 672, 896), oom=())
    n = rows["tokens"].to_numpy(dtype=float)
    b = 0.15 / 0.85 * 0.01 / n.max()
    rows["peak_mem_mb"] = (0.01 * n + b * n * n) * np.exp(np.random.default_rng(0).normal(0, 0.15, n.size))
    pvt = scaling_table(label_rows(rows)).set_index(["series", "metric"]).loc[("op:pvt", "peak_mem_mb")]
    assert pvt["verdict"] == "inconclusive"
    assert pvt["share_low"] < 0.10 <= pvt["share_high"]
    assert "can neither confirm nor rule out one of 10% or more" in pvt["reason"]


def test_scaling_table_uses_counts_of_oom_cells_but_not_their_timings():
    table = _table()
    assert table.loc[("op:vit", "gmacs"), "points"] == 5
    assert table.loc[("op:vit", "latency_ms_median"), "points"] == 4
    assert list(scaling_table(label_rows(make_rows())).columns) == list(TABLE_COLUMNS)


def test_series_split_a_label_measured_at_two_batch_sizes():
    df = make_rows(operators=("paca",), oom=())
    df2 = df.assign(batch=2, gmacs=df["gmacs"] * 2)
    labelled = label_rows(pd.concat([df, df2], ignore_index=True))
    assert sorted(labelled["series"].unique()) == ["op:paca [batch=1]", "op:paca [batch=2]"]
    assert scaling_table(labelled, metrics=("gmacs",))["points"].tolist() == [5, 5]


def test_quadratic_modules_are_the_deepest_carriers_collapsed_by_index():
    shares = {"stage4.0.attn": 0.5, "stage4.1.attn": 0.5}
    assert describe_modules(shares) == "stage4.[0-1].attn"
    assert describe_modules({"stages.0.blocks.0.attn": 0.1, "stages.0.blocks.1.attn": 0.1,
                             "stages.3.blocks.0.attn": 0.4, "stages.3.blocks.1.attn": 0.4}) == \
        "stages.[0,3].blocks.[0-1].attn"
    assert describe_modules({"blocks.0.attn": 0.75, "head": 0.25}) == "blocks.0.attn (75%), head (25%)"
    tokens = [3136, 12544, 28224, 50176]
    rows = pd.DataFrame({"tokens": tokens, "module_macs": [json.dumps({
        "stage1": [3 * n, 5 * n, 0], "stage1.0.attn": [3 * n, 5 * n, 0],
        "stage4": [n * n // 64, 2 * n, 0], "stage4.0": [n * n // 128, n, 0], "stage4.1": [n * n // 128, n, 0],
        "stage4.0.attn": [n * n // 128, n // 2, 0], "stage4.1.attn": [n * n // 128, n // 2, 0],
        "stage4.0.mlp": [0, n // 2, 0], "stage4.1.mlp": [0, n // 2, 0]}) for n in tokens]})
    assert quadratic_modules(rows) == {"stage4.0.attn": 0.5, "stage4.1.attn": 0.5}
    assert quadratic_modules(rows, "dense") == {}


def test_stages_are_top_level_parts_or_numbered_stages_of_blocks():
    paths = {"patch_embed", "layers", "layers.0", "layers.0.blocks", "layers.0.blocks.0", "layers.0.blocks.0.attn",
             "blocks", "blocks.0", "blocks.0.attn", "head"}
    assert stage_of("layers.0.blocks.0.attn", paths) == "layers.0"
    assert stage_of("blocks.0.attn", paths) == "blocks"
    assert stage_of("head", paths) == "head"


def test_resolution_sweep_operator_formulas_meet_the_suite_expectations():
    """The analytic MACs of the shipped resolution sweep's operators get the verdicts the suite expects."""
    from importlib.resources import files

    from pacabench.operators import OPERATORS
    from pacabench.runner.suite import parse_suite

    suite = parse_suite((files("pacabench.suites") / "resolution_sweep.yaml").read_text())
    rows = []
    for entry in suite.targets:
        if entry.kind != "operator":
            continue
        _, name, params = entry.spec
        for h, w in suite.sizes_for(entry):
            cost = OPERATORS[name].cost(h, w, 1, **params)
            rows.append({"kind": "operator", "name": name, "params_json": json.dumps(params, sort_keys=True),
                         "label": entry.display_label, "resolution_h": h, "resolution_w": w,
                         "tokens": OPERATORS[name].tokens(h, w, **params), "batch": 1, "dtype": "float32",
                         "device": "cpu", "mode": "inference", "status": "ok", "gmacs": cost["macs"] / 1e9,
                         "gmacs_mixing": cost["mixing"] / 1e9, "channels_last": False, "compile": False})
    table = scaling_table(label_rows(pd.DataFrame(rows)), metrics=("gmacs",))
    checked = dict(zip(table["label"], table["verdict"]))
    assert checked == {label: verdict for label, metric, verdict in expectation_items(suite.expectations)
                       if label.startswith("op:") and metric == "gmacs"}


def test_an_inexact_fit_of_a_linear_series_claims_no_square_term():
    swin = _padded_swin((224, 320, 448, 640, 896))
    assert swin["verdict"] == "linear" and swin["c2"] != 0.0 and swin["max_residual"] > 0
    assert swin["dominance"] == "never" and swin["quadratic_share_max"] == 0.0


def test_rows_without_a_token_count_are_left_out_of_fits():
    rows = make_rows(operators=("paca",), resolutions=(224, 448, 672, 896, 1344), oom=(), noise=0.0)
    rows.loc[rows["resolution_h"] == 1344, "tokens"] = None
    paca = scaling_table(label_rows(rows)).set_index(["series", "metric"]).loc[("op:paca", "gmacs")]
    assert paca["points"] == 4 and paca["verdict"] == "linear"


def test_a_total_off_any_polynomial_is_decided_on_exact_mixing_counts():
    """A detector: its P6 rounds up (ceil) so the total is no polynomial, while its attention's
    mixing MACs are; their exact c2 decides, and gives the N^2 term's place and share."""
    sizes = (224, 320, 448, 640, 896)
    rows = make_rows(operators=("vit",), resolutions=sizes, oom=(), noise=0.0)
    n = rows["tokens"].to_numpy()
    mixing = 2 * 96 * n * n // 4096
    ceil_term = 7 * np.ceil(np.sqrt(n) / 6)
    rows["gmacs"] = (mixing + 500 * n + ceil_term) / 1e9
    rows["gmacs_mixing"] = mixing / 1e9
    rows["module_macs"] = [json.dumps({"stage4.attn": [int(m), 0, 0], "neck": [0, int(500 * t + c), 0]})
                           for m, t, c in zip(mixing, n, ceil_term)]
    row = scaling_table(label_rows(rows)).set_index(["series", "metric"]).loc[("op:vit", "gmacs")]
    assert row["verdict"] == "quadratic" and row["method"] == "not a polynomial; mixing exact"
    assert row["c2"] * 1e9 == pytest.approx(2 * 96 / 4096) and row["quadratic_modules"] == "stage4.attn"
    assert row["reason"].startswith("quadratic: counts are not a polynomial in N (")
    assert "; their mixing MACs are, exactly: an N² term in stage4.attn; " in row["reason"]


def test_a_measured_verdict_that_differs_from_the_counts_says_whose_growth_it_is():
    rows = make_rows(operators=("paca", "vit"), resolutions=(224, 448, 672, 896, 1344), oom=(), noise=0.0)
    n = rows["tokens"].astype(float)
    paca, vit = rows["name"] == "paca", rows["name"] == "vit"
    rows.loc[paca, "latency_ms_median"] = 1e-3 * n[paca] + 1e-8 * n[paca] ** 2   # the CPU's caches, say
    rows.loc[vit, "peak_mem_mb"] = 20 + 1e-3 * n[vit]                              # a fused kernel
    table = scaling_table(label_rows(rows)).set_index(["series", "metric"])
    assert table.loc[("op:paca", "latency_ms_median"), "reason"].startswith(
        "linear: linear work on a machine that slows down: the N² term of the exact counts carries 0.0% of the "
        "GMACs at 1344 px, so the time's own growth is the machine's (achieved GMAC/s x0.48)")
    assert table.loc[("op:vit", "peak_mem_mb"), "reason"].endswith(
        "; GMACs are quadratic but memory is not: no N²-sized tensor is kept (a fused attention kernel)")
    assert "; it confirms the N² term of the counts (" in table.loc[("op:vit", "latency_ms_median"), "reason"]
