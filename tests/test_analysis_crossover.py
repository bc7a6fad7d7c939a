"""Crossovers and headline ratios on synthetic operators whose costs cross at known sizes."""
import pandas as pd
import pytest

from pacabench.analysis.crossover import crossover_table, headlines, pairs
from pacabench.analysis.results import label_rows
from synthetic_results import make_rows


@pytest.fixture(scope="module")
def exact():
    df = label_rows(make_rows(noise=0.0))
    return df, crossover_table(df)


def test_crossover_is_the_first_size_from_which_paca_stays_cheaper(exact):
    _, table = exact
    gmacs = table[table["metric"] == "gmacs"].set_index("peer")
    # PVT (3.03 N C^2 + N^2 C / 32) is cheaper than PaCa at 224 px only; ViT never is; Swin always is.
    assert gmacs.loc["op:pvt", "crossover"] == "from 448 px"
    assert gmacs.loc["op:vit", "crossover"] == "at every size measured (from 224 px)"
    assert gmacs.loc["op:swin", "crossover"] == "never (in the range measured)"
    n, c = 512 ** 2, 96
    paca, vit = 4 * n * c * c + 200 * n * c, 4 * n * c * c + 2 * n * n * c
    assert gmacs.loc["op:vit", "ratio"] == pytest.approx(vit / paca, rel=1e-12)
    assert gmacs.loc["op:vit", "largest_common"] == "2048 px"


def test_measured_metrics_use_only_sizes_both_ran(exact):
    _, table = exact
    memory = table[table["metric"] == "peak_mem_mb"].set_index("peer")
    assert memory.loc["op:vit", "largest_common"] == "1344 px"  # ViT is oom at 2048 px
    assert memory.loc["op:vit", "common_points"] == 4


def test_headlines_state_ratios_and_what_the_peer_could_not_do(exact):
    df, table = exact
    lines = headlines(df, table)
    assert lines[1] == ("At 2048 px op:paca needs 14.5x fewer GMACs and 14.2x less peak memory than op:pvt, "
                        "and is 14.5x faster.")
    assert lines[2].startswith("At 2048 px op:paca needs 898.4x fewer GMACs than op:vit "
                               "(op:vit ran out of memory at 2048 px; at 1344 px: ")
    assert lines[0].startswith("At 2048 px op:paca needs 1.2x more GMACs")


def test_no_pairs_without_a_paca_series():
    df = label_rows(make_rows(operators=("swin", "vit")))
    assert crossover_table(df).empty
    assert headlines(df) == []


def test_a_single_common_size_has_no_crossover():
    df = label_rows(make_rows(operators=("paca", "vit"), resolutions=(224,), oom=()))
    assert crossover_table(df).empty


def test_explicit_attention_is_paired_only_with_explicit_attention():
    fused = make_rows(operators=("paca", "vit"), resolutions=(224, 448), oom=())
    explicit = fused.assign(params_json='{"fused_attn": false}', label=fused["label"] + " (explicit)")
    df = label_rows(pd.concat([fused, explicit], ignore_index=True))
    assert sorted(pairs(df)) == [("op:paca", "op:vit"), ("op:paca (explicit)", "op:vit (explicit)")]
