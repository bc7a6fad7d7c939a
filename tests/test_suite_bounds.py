"""Hostile or mistaken suite files: reading costs what the file's size does, and every refusal is one
line naming the cap or the fix (issue #14). Each input here used to take minutes, gigabytes or a
traceback."""
import pytest
from typer.testing import CliRunner

from pacabench.cli import app
from pacabench.runner.suite import MAX_SUITE_BYTES, SuiteError, load_suite, parse_suite

HEAD = "name: t\ntargets:\n  - operator: paca\n"


def problem(text: str) -> str:
    with pytest.raises(SuiteError) as info:
        parse_suite(text, source="s.yaml")
    [line] = info.value.problems
    return line


def alias_bomb(levels: int = 12) -> str:
    """About 700 bytes that stand for 10**levels values once every alias is expanded."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def test_alias_bomb_under_params_is_refused_without_expanding_it():
    text = alias_bomb() + "name: t\ntargets:\n  - operator: paca\n    params: {clusters: *a11}\n"
    assert len(text) < 1000
    # refused where the anchor first stands for too much (a4: 10**5 values), before any use
    assert problem(text) == ("s.yaml: line 5, column 5: more than 100000 values once YAML aliases are "
                             "expanded; a suite needs far fewer: write the values out, or use fewer aliases")


def test_alias_bomb_under_resolutions_is_refused():
    assert "more than 100000 values once YAML aliases are expanded" in problem(
        alias_bomb() + HEAD + "resolutions: *a11\n")


def test_nesting_depth_is_bounded_also_through_aliases():
    deep = HEAD + "resolutions: " + "[" * 100_000 + "]" * 100_000 + "\n"
    assert problem(deep) == ("s.yaml: line 4, column 45: nested more than 32 levels deep (YAML aliases "
                             "included); a suite needs a few levels")
    chained = "a: &a " + "[" * 20 + "1" + "]" * 20 + "\nb: &b " + "[" * 20 + "*a" + "]" * 20 + "\n" + HEAD
    assert "nested more than 32 levels deep" in problem(chained)


def test_alias_inside_what_it_refers_to_is_refused():
    assert problem(HEAD + "resolutions: &r [224, *r]\n") == (
        "s.yaml: line 4, column 14: a YAML alias refers to a node that contains it; remove the alias")


def test_duplicate_keys_are_refused_naming_both_lines():
    assert problem(HEAD + "targets:\n  - operator: vit\n") == (
        "s.yaml: line 4, column 1: key 'targets' repeats the one at line 2; keep one of them")
    assert problem("name: t\ntargets:\n  - operator: paca\n    params: {clusters: 2, clusters: 3}\n") == (
        "s.yaml: line 4, column 27: key 'clusters' repeats the one at line 4; keep one of them")


def test_range_size_is_counted_before_it_is_built():
    assert problem(HEAD + "resolutions: [{start: 32, stop: 3200000000, step: 32}]\n") == (
        "s.yaml: resolutions[0]: this range gives 100000000 sizes, more than the 1000 one range may "
        "give; use a larger step or a smaller stop")


def test_list_sizes_targets_and_cells_are_capped():
    ranges = ", ".join(["{start: 32, stop: 32000, step: 32}"] * 11)  # 1000 sizes each
    per_target = "".join(f"  - {{operator: paca, label: p{i}, resolutions: [{ranges}]}}\n" for i in range(30))
    assert problem(f"name: t\ntargets:\n{per_target}") == (  # counted before they are built
        "s.yaml: targets[0].resolutions[10]: the resolutions lists give more than 10000 sizes in all, "
        "the most one suite may hold; split the sweep into several suites")
    assert problem(HEAD + "resolutions: [" + ", ".join(["64"] * 1001) + "]\n") == (
        "s.yaml: resolutions: more than the 1000 entries one suite may hold here; split the sweep "
        "into several suites")
    assert problem("name: t\ntargets:\n" + "  - operator: paca\n" * 101) == (
        "s.yaml: targets: more than the 100 entries one suite may hold here; split the sweep into "
        "several suites")
    assert problem(HEAD + f"resolutions: [{', '.join(str(32 * i) for i in range(1, 1001))}]\n"
                   "batch_sizes: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]\n") == (
        "s.yaml: targets: 11000 cells (targets x sizes x batch sizes x dtypes x modes x devices), more "
        "than the 10000 one suite may hold; split the sweep into several suites")


def test_oversized_and_non_utf8_files_are_one_line(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text(HEAD + "resolutions: [" + "224, " * (MAX_SUITE_BYTES // 5) + "224]\n")
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(HEAD.encode() + b"description: caf\xe9\n")
    for path, expected in [
        (big, f"{big}: larger than 256 KiB, the most a suite file may be (suites are a few KB); "
              "is this the right file?"),
        (latin, f"{latin}: not UTF-8 text (byte 0xe9 at offset 52); save the suite as UTF-8"),
    ]:
        with pytest.raises(SuiteError) as info:
            load_suite(path)
        assert info.value.problems == [expected]
        result = CliRunner().invoke(app, ["validate", str(path)])
        assert (result.exit_code, result.stderr) == (2, f"error: {expected}\n")


def test_model_without_an_attention_switch_is_refused_by_validate_as_by_run(tmp_path):
    suite = tmp_path / "r.yaml"
    suite.write_text("name: r\ntargets:\n  - model: resnet18\n    params: {fused_attn: false}\n"
                     "metrics: [params]\n")
    expected = (f"error: {suite}: targets[0].params: resnet18: fused_attn=false needs attention layers "
                "with timm's fused_attn switch, and this model has none; drop the parameter\n")
    for args in (["validate", str(suite)], ["run", str(suite), "--out", str(tmp_path / "out")]):
        result = CliRunner().invoke(app, args)
        assert (result.exit_code, result.stderr) == (2, expected)
    assert not (tmp_path / "out").exists()
    # a model that has the switch passes
    parse_suite("name: d\ntargets:\n  - model: deit_small_patch16_224\n    params: {fused_attn: false}\n")
