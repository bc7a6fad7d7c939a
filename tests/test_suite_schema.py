"""Suite files: every shipped suite validates, and each class of mistake gets one clear line + exit 2."""
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pacabench.cli import app
from pacabench.analysis.expectations import expectation_items
from pacabench.runner.cells import expand_cells
from pacabench.runner.suite import SuiteError, load_suite, parse_suite, row_label

SUITES = sorted((Path(__file__).parents[1] / "suites").glob("*.yaml"))
MINIMAL = "name: t\ntargets:\n  - operator: paca\n"


def problems(text: str) -> list[str]:
    with pytest.raises(SuiteError) as info:
        parse_suite(text, source="s.yaml")
    return info.value.problems


def test_all_six_suites_ship():
    assert {p.stem for p in SUITES} == {"resolution_sweep", "model_zoo", "dense_prediction",
                                        "clusters_ablation", "ci_smoke", "throughput"}


@pytest.mark.parametrize("path", SUITES, ids=lambda p: p.stem)
def test_shipped_suite_validates(path):
    suite = load_suite(path)
    assert suite.name == path.stem
    assert path.read_text().startswith("# "), "each suite is documented at its top"


def test_cell_counts_of_the_main_suites():
    smoke = load_suite(Path(__file__).parents[1] / "suites" / "ci_smoke.yaml")
    assert len(expand_cells(smoke)) == 5 * 4 + 2  # five operators at 4 sizes (a checked cost model), PaCa-Tiny at 2
    sweep = load_suite(Path(__file__).parents[1] / "suites" / "resolution_sweep.yaml")
    sizes: dict[str, list[int]] = {}
    for label, cell in expand_cells(sweep):
        sizes.setdefault(label, []).append(cell.height)
    assert len(sizes) == 12 and sweep.passes == 2
    # every series has room for a latency verdict (5 sizes spanning 4x in tokens) well below its largest
    assert all(len(s) >= 8 and (s[4] / s[0]) ** 2 >= 1.6 and (s[-1] / s[0]) ** 2 >= 8 for s in sizes.values())
    gmacs = {label: verdict for label, metric, verdict in expectation_items(sweep.expectations) if metric == "gmacs"}
    assert gmacs == {"op:paca": "linear", "op:swin": "linear", "op:pvt_li": "linear",
                     "op:vit": "quadratic", "op:pvt": "quadratic",
                     "op:paca (explicit)": "linear", "op:vit (explicit)": "quadratic",
                     "pacavit_tiny_p2cconv_100_0": "quadratic", "swin_tiny_patch4_window7_224": "linear",
                     "pvt_v2_b1": "quadratic", "deit_small_patch16_224": "quadratic",
                     "pacavit_small_p2cconv_100": "linear"}
    latency = {label for label, metric, _ in expectation_items(sweep.expectations) if metric == "latency"}
    assert {"op:vit", "op:vit (explicit)", "op:pvt", "deit_small_patch16_224", "op:paca", "op:swin"} <= latency


def test_a_target_may_set_its_own_layout_and_compile():
    suite = parse_suite(MINIMAL + "  - {operator: vit, compile: false, channels_last: true}\n"
                                  "compile: true\n")
    assert [(c.name, c.compile, c.channels_last) for _, c in expand_cells(suite)] == [
        ("paca", True, False), ("vit", False, True)]


def test_throughput_suite_measures_paca_tiny_four_ways_at_batch_128_bf16_on_cuda():
    cells = dict(expand_cells(load_suite(Path(__file__).parents[1] / "suites" / "throughput.yaml")))
    assert {(c.height, c.batch, c.dtype, c.device, c.mode) for c in cells.values()} == {
        (224, 128, "bfloat16", "cuda", "inference")}
    paca = {label: (c.channels_last, c.compile) for label, c in cells.items() if c.name.startswith("pacavit")}
    assert sorted(paca.values()) == [(False, False), (False, True), (True, False), (True, True)]
    assert len({c.key for c in cells.values()}) == len(cells) == 10


def test_resolution_forms_expand_in_order_without_duplicates():
    suite = parse_suite(MINIMAL + "resolutions: [224, \"320x640\", {start: 224, stop: 288, step: 32}]\n")
    assert suite.sizes_for(suite.targets[0]) == [(224, 224), (320, 640), (256, 256), (288, 288)]


def test_cells_cover_the_product_and_resolve_auto_device():
    suite = parse_suite(MINIMAL + "resolutions: [64, 128]\nbatch_sizes: [1, 2]\nmodes: [inference, train]\n"
                        "devices: [auto, cpu]\nbudget: {seconds: 3}\n")
    cells = [cell for _, cell in expand_cells(suite)]
    assert len(cells) == 2 * 2 * 2  # auto resolves to cpu here and merges with cpu
    assert {c.device for c in cells} == {"cpu"}
    assert [c.height for c in cells[:4]] == [64] * 4 and cells[0].budget_seconds == 3
    assert {c.device for _, c in expand_cells(suite.with_overrides(devices=["cuda"]))} == {"cuda"}


def test_labels_default_and_explicit():
    suite = parse_suite("name: t\ntargets:\n  - operator: paca\n  - {operator: paca, params: {clusters: 49},"
                        " label: paca49}\n  - model: pvt_v2_b1\nresolutions: [224]\n"
                        "expectations: {paca49: linear, pvt_v2_b1: linear}\n")
    assert suite.labels() == ["op:paca", "paca49", "pvt_v2_b1"]
    assert row_label({"kind": "operator", "name": "vit", "label": float("nan")}) == "op:vit"
    assert row_label({"kind": "model", "name": "pvt_v2_b1"}) == "pvt_v2_b1"
    assert row_label({"kind": "operator", "name": "paca", "label": "paca49"}) == "paca49"


def test_constructed_suite_dumps_to_an_equivalent_file():
    suite = parse_suite(MINIMAL + "resolutions: [{start: 64, stop: 128, step: 64}, \"64x96\"]\n")
    suite._source_text = None
    again = parse_suite(suite.to_yaml())
    assert again.model_dump() == suite.model_dump()
    assert again.sizes_for(again.targets[0]) == [(64, 64), (128, 128), (64, 96)]


# ------------------------------------------------------------------ one message per problem

def test_unknown_model_suggests_close_names():
    [line] = problems("name: t\ntargets:\n  - operator: paca\n  - model: pacavit_tiny_p2cconv_100\n")
    assert line.startswith("s.yaml: targets[1].model: unknown model 'pacavit_tiny_p2cconv_100'")
    assert "pacavit_tiny_p2cconv_100_0" in line


def test_unknown_operator_is_named():
    [line] = problems("name: t\ntargets:\n  - operator: flash\n")
    assert line.startswith("s.yaml: targets[0].operator: ") and "flash" in line


def test_resolution_not_multiple_of_32_for_a_backbone():
    [line] = problems("name: t\ntargets:\n  - model: pvt_v2_b1\nresolutions: [224, 300]\n")
    assert line.startswith("s.yaml: resolutions[1]: does not fit targets[0]: pvt_v2_b1 ")
    assert "multiples of 32" in line and "300x300" in line


def test_operator_size_rule_and_per_target_override():
    lines = problems("name: t\ntargets:\n  - operator: vit\n  - {operator: swin, resolutions: [64, 66]}\n"
                     "resolutions: [{start: 62, stop: 64, step: 2}]\n")
    assert [line.split(": ")[1] for line in lines] == ["resolutions[0]", "targets[1].resolutions[1]"]
    assert "stride 4" in lines[0] and "66x66" in lines[1]


def test_bad_resolution_value():
    [line] = problems(MINIMAL + "resolutions: [224, \"big\"]\n")
    assert line == "s.yaml: resolutions[1]: expected \"HxW\" such as \"320x640\", got 'big'"


def test_wrong_type_and_negative_batch_each_get_a_line():
    lines = problems(MINIMAL + "batch_sizes: [one, -2]\nrepeats: many\n")
    assert lines == [
        "s.yaml: batch_sizes[0]: Input should be a valid integer, unable to parse string as an integer (got 'one')",
        "s.yaml: batch_sizes[1]: Input should be greater than 0 (got -2)",
        "s.yaml: repeats: Input should be a valid integer, unable to parse string as an integer (got 'many')",
    ]


def test_disallowed_value_lists_the_allowed_ones():
    [line] = problems(MINIMAL + "dtypes: [float64]\n")
    assert line == "s.yaml: dtypes[0]: Input should be 'float32', 'bfloat16' or 'float16' (got 'float64')"


def test_unknown_key_lists_allowed_keys():
    lines = problems("name: t\nrepeat: 3\ntargets:\n  - operator: paca\n    param: {clusters: 2}\n")
    assert lines[0] == ("s.yaml: targets[0].param: unknown key; allowed keys here: "
                        "model, operator, python, params, label, resolutions, channels_last, compile, budget")
    assert lines[1].startswith("s.yaml: repeat: unknown key; allowed keys here: name, description, targets,")


def test_operator_params_are_checked_by_the_targets_part():
    [line] = problems("name: t\ntargets:\n  - {operator: paca, params: {clusters: -2}}\n")
    assert line == "s.yaml: targets[0].params: op:paca: clusters must be a positive integer, got -2"


def test_parameters_that_do_not_go_together():
    [line] = problems("name: t\ntargets:\n  - {operator: vit, params: {heads: 5}}\n"
                      "expectations: {op:vit: quadratic}\n")
    assert line == "s.yaml: targets[0].params: op:vit: dim 96 is not divisible by heads 5; pick heads dividing dim"


def test_target_needs_exactly_one_kind():
    [line] = problems("name: t\ntargets:\n  - {model: pvt_v2_b1, operator: paca}\n")
    assert line == ("s.yaml: targets[0]: give exactly one of `model: NAME`, `operator: NAME` or "
                    "`python: MODULE:CALLABLE`")


def test_expectation_must_name_a_label_and_labels_be_unique():
    lines = problems("name: t\ntargets:\n  - operator: paca\n  - {operator: paca, params: {clusters: 2}}\n"
                     "expectations: {op:vit: quadratic}\n")
    assert lines == [
        "s.yaml: targets[1].label: label 'op:paca' already used by targets[0]; "
        "give one of them a distinct `label:`",
        "s.yaml: expectations.op:vit: no target has this label; labels: op:paca",
    ]


def test_malformed_yaml_names_the_line():
    [line] = problems("name: t\ntargets:\n  - operator: paca\n resolutions: [224\n")
    assert line.startswith("s.yaml: line 4, column 2: malformed YAML: ")


@pytest.mark.parametrize("text, expected", [
    ("name: t\ntargets:\n  - model: nosuchmodel_xyz\n", "targets[0].model: unknown model 'nosuchmodel_xyz'"),
    ("name: t\ntargets:\n  - model: pvt_v2_b1\nresolutions: [100]\n", "resolutions[0]: does not fit targets[0]: pvt_v2_b1"),
    ("name: t\ntargets:\n  - operator: paca\nwarmup: lots\n", "warmup: Input should be a valid integer"),
    ("name: t\ntargets:\n  - operator: paca\nrepeat: 3\n", "repeat: unknown key"),
    ("name: t\ntargets: [\n", "malformed YAML"),
])
def test_validate_command_reports_and_exits_2(tmp_path, text, expected):
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    good = tmp_path / "good.yaml"
    good.write_text(MINIMAL)
    result = CliRunner().invoke(app, ["validate", str(good), str(bad)])
    assert result.exit_code == 2
    assert f"{good}: ok (1 targets, 1 cells)" in result.stdout
    assert f"error: {bad}: " in result.stderr and expected in result.stderr
    assert "Traceback" not in result.output


def test_a_target_may_set_its_own_budget_and_a_bad_one_names_its_keys():
    suite = parse_suite(MINIMAL + "  - {operator: vit, budget: {seconds: 30}}\nbudget: {seconds: 8}\n")
    assert [(c.name, c.budget_seconds) for _, c in expand_cells(suite)] == [("paca", 8.0), ("vit", 30.0)]
    [budget] = problems(MINIMAL + "  - {operator: vit, budget: {secs: 30}}\n")
    assert budget.endswith(": targets[1].budget.secs: unknown key; allowed keys here: seconds, memory_mb")
    [passes] = problems(MINIMAL + "passes: 0\n")
    assert passes.endswith(": passes: Input should be greater than or equal to 1 (got 0)")


@pytest.mark.parametrize("value", ["0", "many", "true", "2.5"])
def test_threads_are_auto_or_a_whole_number_in_one_line(value):
    assert parse_suite(MINIMAL + "threads: 3\n").threads == 3 and parse_suite(MINIMAL).threads == "auto"
    [problem] = problems(MINIMAL + f"threads: {value}\n")
    shown = {"many": "'many'", "true": "True"}.get(value, value)
    assert problem.endswith(f": threads: {shown} is no thread count; write auto (the cores other work leaves "
                            f"idle) or a whole number >= 1")


def test_expectations_name_a_metric_or_are_one_line():
    suite = parse_suite(MINIMAL + "expectations: {op:paca: {gmacs: linear, latency: linear}}\n")
    assert suite.expectations == {"op:paca": {"gmacs": "linear", "latency": "linear"}}
    [problem] = problems(MINIMAL + "expectations: {op:paca: {speed: linear}}\n")
    assert problem.endswith(": expectations: op:paca.speed: 'speed' is no metric; expect one of gmacs, mixing, "
                            "bytes, memory, latency")
