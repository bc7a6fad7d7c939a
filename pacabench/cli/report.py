"""`pacabench report` and `pacabench compare`: render a results folder, check a run against a baseline."""
from __future__ import annotations

import math
from pathlib import Path

import typer

from pacabench.cli.errors import fail
from pacabench.messages import printable


def register(app: typer.Typer) -> None:
    app.command("report")(report)
    app.command("compare")(compare)


FORMAT_HELP = "Output: text, json, markdown (a CI job summary or pull-request comment) or junit (JUnit XML)."
FORMATS = ("text", "json", "markdown", "junit")


def _format(format_: str, as_json: bool) -> str:
    """``--format`` with ``--json`` as its alias, checked in pacabench's one-line form."""
    if format_ not in FORMATS:
        raise fail(f"--format: {format_!r} is not a format; use text, json, markdown or junit")
    if as_json and format_ not in ("text", "json"):
        raise fail(f"--json: not with --format {format_}; --json is --format json")
    return "json" if as_json else format_


def report(
    run_dir: Path = typer.Argument(..., metavar="RUN_DIR", help="A results folder written by `pacabench run`."),
    open_: bool = typer.Option(False, "--open", help="Open report.html in the default browser."),
    format_: str = typer.Option("text", "--format", help=FORMAT_HELP),
    as_json: bool = typer.Option(False, "--json", help="Same as --format json."),
) -> None:
    """Fit the cost models and verdicts, draw the plots and write RUN_DIR/scaling.csv and RUN_DIR/report.html (one self-contained file).

    With --format markdown / junit / json, stdout carries only that document (the verdicts and the suite's expectations; JUnit: one test case per expectation) and the other lines go to stderr.

    Examples:

      pacabench report results/20250101-120000_resolution_sweep

      pacabench report results/20250101-120000_ci_smoke --format markdown >> "$GITHUB_STEP_SUMMARY"

      pacabench report results/20250101-120000_ci_smoke --format junit > expectations.xml

    Exit codes: 0 written and every expectation of the suite met, 1 an expectation failed (each printed with the reason), 2 unusable input.
    """
    output = _format(format_, as_json)
    if not run_dir.is_dir():
        raise fail(f"RUN_DIR: {run_dir} is not a folder; pass a results folder (results/<run>/)")
    from pacabench.analysis.results import ResultsError  # after the argument checks
    from pacabench.analysis.run_analysis import analyse
    from pacabench.report import ci
    from pacabench.report.html import build_report
    from pacabench.runner.atomic import PlantedLink

    try:
        analysis = analyse(run_dir)
    except ResultsError as exc:
        raise fail(str(exc)) from None
    side = output != "text"  # stdout is the document; progress lines go to stderr
    try:
        typer.echo(printable(f"verdicts: {analysis.write_scaling_csv()}"), err=side)
        path = build_report(analysis)
    except PlantedLink as exc:
        raise fail(str(exc)) from None
    except OSError as exc:
        raise fail(f"RUN_DIR: cannot write {exc.filename or run_dir}: {exc.strerror or exc}; "
                   f"copy the folder somewhere you can write, and report that") from None
    typer.echo(printable(f"report: {path}"), err=side)
    if output != "text":
        document = {"json": lambda: ci.report_json(analysis, path), "markdown": lambda: ci.report_markdown(analysis),
                    "junit": lambda: ci.report_junit(analysis)}[output]()
        typer.echo(document, nl=not document.endswith("\n"))
    if open_:
        import webbrowser

        webbrowser.open(path.resolve().as_uri())
    failures = analysis.failures
    for failure in failures:
        typer.echo(printable(f"expectation failed: {failure}"), err=True)
    if failures:
        raise typer.Exit(1)


def compare(
    baseline: Path = typer.Argument(..., metavar="BASELINE", help="Baseline results folder or CSV."),
    run: Path = typer.Argument(..., metavar="RUN", help="Results folder or CSV to check."),
    tolerance: float = typer.Option(0.10, "--tolerance",
                                    help="Allowed relative change of latency and peak memory (0.1 = 10%)."),
    update: bool = typer.Option(False, "--update",
                                help="Write RUN's params and GMACs as the new BASELINE (timings dropped)."),
    format_: str = typer.Option("text", "--format", help=FORMAT_HELP),
    as_json: bool = typer.Option(False, "--json", help="Same as --format json: the differences as JSON records."),
) -> None:
    """Check RUN against BASELINE: params and GMACs (and GMACs' op-class split) must match exactly; latency and peak memory within --tolerance, compared only between rows of the same device (type and name).

    --format markdown prints a table of what changed for a CI job summary or a pull-request comment; --format junit prints JUnit XML with one test case per compared cell (failed when any of its counts or timings regressed; cells in only one of the two are skipped).

    Examples:

      pacabench compare results/baselines/ci_smoke results/20250101-120000_ci_smoke

      pacabench compare old/results.csv new/results.csv --tolerance 0.2 --json

      pacabench compare results/baselines/ci_smoke /tmp/smoke --format markdown >> "$GITHUB_STEP_SUMMARY"

      pacabench compare results/baselines/ci_smoke results/20250101-120000_ci_smoke --update

    --update is how an intended change of a count is accepted: it rewrites BASELINE/results.csv (or BASELINE itself if it is a .csv) from RUN, keeping counts and emptying machine-specific columns; commit the result.

    Exit codes: 0 within bounds (or baseline updated), 1 regression, 2 unusable input.
    """
    output = _format(format_, as_json)
    if not update and (not math.isfinite(tolerance) or tolerance < 0):
        problem = "is negative" if tolerance < 0 else "is not a finite number"
        raise fail(f"--tolerance: {tolerance} {problem}; give a relative change such as 0.1 (10%)")
    from pacabench.analysis.compare import compare_runs, update_baseline  # after the argument checks
    from pacabench.analysis.results import ResultsError
    from pacabench.report import ci
    from pacabench.runner.atomic import PlantedLink

    if update:
        try:
            written = update_baseline(baseline, run)
        except (ResultsError, PlantedLink) as exc:
            raise fail(str(exc)) from None
        except OSError as exc:
            raise fail(f"BASELINE: cannot write {baseline}: {exc.strerror or exc}; "
                       f"choose a baseline folder you can write to") from None
        typer.echo(printable(f"baseline updated: {written} (counts of {run})"))
        return
    comparison = compare_runs(baseline, run, tolerance=tolerance)
    if comparison.code == 2:
        raise fail(comparison.error)
    if output == "json":
        typer.echo(ci.compare_json(comparison))
    elif output == "markdown":
        typer.echo(ci.compare_markdown(comparison, str(baseline), str(run), tolerance), nl=False)
    elif output == "junit":
        typer.echo(ci.compare_junit(comparison))
    else:
        _print_table(comparison, tolerance)
    if comparison.code:
        regressions = int((comparison.table["status"] == "regression").sum())
        typer.echo(printable(f"regression: {regressions} difference(s) beyond bounds; if intended, accept them "
                             f"with: pacabench compare {baseline} {run} --update"), err=True)
        raise typer.Exit(comparison.code)


def _print_table(comparison, tolerance: float) -> None:
    """The differences as a text table; what the files hold is shown as printable text."""
    table = comparison.table
    if table.empty:
        timings = (f"timings within {tolerance:.0%}" if comparison.timings_compared
                   else "no timings to compare (the baseline has none for these cells)")
        typer.echo(f"no differences: counts equal, {timings}")
        return
    shown = table.assign(change=[f"{c:+.1%}" if c == c and c is not None else "" for c in table["change"]])
    shown = shown.astype(object).fillna("").apply(  # column by column: DataFrame.map is pandas >= 2.1
        lambda column: column.map(lambda v: printable(v) if isinstance(v, str) else v))
    typer.echo(shown.to_string(index=False))
