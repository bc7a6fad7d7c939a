"""A run folder is data (shared, downloaded, attached to issues): nothing pacabench writes there
goes through a link planted in it, everything it reads there is bounded and typed, and what it
prints from it reaches the terminal without escape sequences."""
import json
import os

import pytest
import typer
from typer.testing import CliRunner

from pacabench.cli import app
from pacabench.runner import atomic, lock
from synthetic_results import make_rows, write_run

LINK_LINE = "is a symbolic link; pacabench never writes through a link in a run folder"


def _invoke(*args):
    return CliRunner().invoke(app, list(map(str, args)))


@pytest.fixture
def run(tmp_path):
    return write_run(tmp_path / "run", make_rows(operators=("paca", "vit"), resolutions=(224, 448, 672, 896), oom=()))


@pytest.fixture
def victim(tmp_path):
    """A file of the user's outside the run folder, which a planted link points at."""
    path = tmp_path / "home" / ".bashrc"
    path.parent.mkdir()
    path.write_text("alias ll='ls -l'\n")
    return path


@pytest.mark.parametrize("planted", ["report.html", "scaling.csv", "plots/gmacs_operators.png"])
def test_report_refuses_a_link_planted_where_it_writes(run, victim, planted):
    (run / planted).parent.mkdir(exist_ok=True)
    (run / planted).symlink_to(victim)
    result = _invoke("report", run)
    assert result.exit_code == 2
    assert result.stderr == f"error: {run / planted} {LINK_LINE} (it could overwrite any file): remove the link, " \
                            f"or use a folder you made\n"
    assert victim.read_text() == "alias ll='ls -l'\n" and (run / planted).is_symlink()


def test_report_refuses_a_plots_folder_that_links_elsewhere(run, victim):
    (run / "plots").symlink_to(victim.parent, target_is_directory=True)
    result = _invoke("report", run)
    assert result.exit_code == 2 and result.stderr.startswith(f"error: {run / 'plots'} {LINK_LINE}")
    assert sorted(p.name for p in victim.parent.iterdir()) == [".bashrc"]


def test_the_end_of_a_run_refuses_a_planted_report_link_with_exit_2(run, victim, capsys):
    from pacabench.cli.run import _analyse

    (run / "report.html").symlink_to(victim)
    with pytest.raises(typer.Exit) as stopped:
        _analyse(run, report=True, quiet=True)
    assert stopped.value.exit_code == 2
    assert capsys.readouterr().err.startswith(f"error: {run / 'report.html'} {LINK_LINE}")
    assert victim.read_text() == "alias ll='ls -l'\n"


def test_compare_update_refuses_a_linked_baseline(run, victim, tmp_path):
    baseline = tmp_path / "baseline"
    baseline.mkdir()
    (baseline / "results.csv").symlink_to(victim)
    result = _invoke("compare", baseline, run, "--update")
    assert result.exit_code == 2 and result.stderr.startswith(f"error: {baseline / 'results.csv'} {LINK_LINE}")
    assert victim.read_text() == "alias ll='ls -l'\n"


def test_temporary_files_have_names_no_one_can_plant_a_link_at(tmp_path, victim):
    """They were ``.NAME.<pid>.tmp``: links planted for the next pids redirected results.csv."""
    target = tmp_path / "results.csv"
    for pid in range(os.getpid(), os.getpid() + 3):
        (tmp_path / f".results.csv.{pid}.tmp").symlink_to(victim)
    atomic.replace_text(target, "new\n")
    assert target.read_text() == "new\n" and not target.is_symlink()
    assert victim.read_text() == "alias ll='ls -l'\n"
    assert len(list(tmp_path.glob(".results.csv.*.tmp"))) == 3  # only the planted links; no temporary left


def test_the_lock_is_never_written_through_a_link(tmp_path, victim):
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / lock.LOCK_NAME).symlink_to(victim)
    with pytest.raises(atomic.PlantedLink, match=LINK_LINE):
        with lock.hold(folder, "pacabench run"):
            pass
    assert victim.read_text() == "alias ll='ls -l'\n"


def test_a_refused_run_leaves_a_linked_lock_target_alone(run, victim, tmp_path):
    """`run --out DIR` on a folder that holds results is refused, but used to clobber the lock's target first."""
    (run / lock.LOCK_NAME).symlink_to(victim)
    suite = tmp_path / "tiny.yaml"
    suite.write_text("name: tiny\ntargets: [{operator: paca}]\nresolutions: [32]\n")
    result = _invoke("run", suite, "--out", run, "--device", "cpu", "--quiet", "--no-report")
    assert result.exit_code == 2
    assert result.stderr == f"error: --out: {run / lock.LOCK_NAME} {LINK_LINE} (it could overwrite any file): " \
                            f"remove the link, or use a folder you made\n"
    assert victim.read_text() == "alias ll='ls -l'\n"


@pytest.mark.parametrize("content", [b"user data\n", b'{"pid": 1}'])
def test_a_lock_file_pacabench_did_not_write_is_not_truncated(tmp_path, content):
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / lock.LOCK_NAME).write_bytes(content)
    with pytest.raises(lock.NotALockFile, match="is not a pacabench lock file"):
        with lock.hold(folder, "pacabench run"):
            pass
    assert (folder / lock.LOCK_NAME).read_bytes() == content


def test_a_lock_file_with_a_second_name_is_not_truncated(tmp_path, victim):
    folder = tmp_path / "run"
    folder.mkdir()
    victim.write_text("")
    os.link(victim, folder / lock.LOCK_NAME)
    with pytest.raises(lock.NotALockFile):
        with lock.hold(folder, "pacabench run"):
            pass
    with lock.hold(tmp_path, "first"):  # pacabench's own lock file is rewritten run after run
        pass
    with lock.hold(tmp_path, "second"):
        pass
    assert json.loads((tmp_path / lock.LOCK_NAME).read_text())["command"] == "second"


# A 380-byte alias bomb: ten levels of ten aliases, 10^10 values once expanded.
BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(9)) + "name: *j\n"


@pytest.mark.parametrize("suite, problem", [
    (BOMB, "more than 100000 values once YAML aliases are expanded"),
    ("- a\n- b\n", "expected a mapping with at least `name:` and `targets:`, got list"),
    ("name: [1, 2]\n", "name: Input should be a valid string"),
    ("name: x\nexpectations: {op:paca: cubic}\n", "expectations: op:paca: 'cubic' is no verdict; write linear or quadratic"),
])
def test_report_reads_the_folders_suite_with_the_suite_bounds_and_types(run, suite, problem):
    (run / "suite.yaml").write_text(suite)
    result = _invoke("report", run)
    assert result.exit_code == 2 and result.stderr.count("\n") == 1, result.output
    assert result.stderr.startswith(f"error: {run / 'suite.yaml'}: ") and problem in result.stderr


@pytest.mark.parametrize("env, problem", [
    ("[1, 2]", "a JSON list where an object belongs"),
    ("[" * 100_000, "not JSON"),
    ('{"x": "' + "y" * 1024 * 1024 + '"}', "larger than 1024 KiB"),  # atomic.MAX_JSON_BYTES
])
def test_report_reads_env_json_bounded_and_typed(run, env, problem):
    (run / "env.json").write_text(env)
    result = _invoke("report", run)
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"error: {run / 'env.json'}: unusable: {problem}")


def test_a_fifo_in_place_of_env_json_is_refused_not_waited_on(run):
    (run / "env.json").unlink()
    os.mkfifo(run / "env.json")
    result = _invoke("report", run)
    assert result.exit_code == 2 and "env.json: unusable: not a regular file" in result.stderr


ESCAPES = "\x1b]0;owned\x07\x1b[2J\x1b[31m"


def _escaped_run(directory, name_too=False):
    rows = make_rows(operators=("paca", "vit"), resolutions=(224, 448, 672, 896), oom=())
    rows.loc[rows["name"] == "vit", "label"] = f"op:vit{ESCAPES}"
    if name_too:
        rows.loc[rows["name"] == "vit", "name"] = f"vit{ESCAPES}"
    return write_run(directory, rows, expectations={f"op:vit{ESCAPES}": "linear"})


def test_compare_and_report_print_no_escape_sequence_from_the_files(tmp_path):
    base = _escaped_run(tmp_path / "base")
    run = _escaped_run(tmp_path / "run")
    rows = make_rows(operators=("paca", "vit"), resolutions=(224, 448, 672, 896), oom=())
    rows["gmacs"] *= 2
    rows.loc[rows["name"] == "vit", "label"] = f"op:vit{ESCAPES}"
    write_run(tmp_path / "changed", rows)
    compared = _invoke("compare", base, tmp_path / "changed")
    reported = _invoke("report", run)
    assert compared.exit_code == 1 and "op:vit]0;owned" not in compared.output
    assert "op:vit 224x224 b1" in compared.stdout and reported.exit_code == 1
    assert "expectation failed: op:vit" in reported.stderr
    for output in (compared.output, reported.output):
        assert not set(output) & {"\x1b", "\x07"}


def test_error_lines_print_no_escape_sequence_from_the_files(tmp_path):
    run = _escaped_run(tmp_path / "run", name_too=True)
    rows = (run / "results.csv").read_text().splitlines()
    (run / "results.csv").write_text("\n".join([*rows, rows[-1]]) + "\n")  # a repeated cell: unusable
    result = _invoke("report", run)
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert "are the same cell (vit]0;owned" not in result.stderr and "same cell (vit 896x896" in result.stderr
    assert not set(result.stderr) & {"\x1b", "\x07"}
