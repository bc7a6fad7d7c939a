"""`pacabench run`, `validate`, `zoo` and `env`: run suites and look at what will be measured."""
from __future__ import annotations

import json
import shlex
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

from pacabench.cli.errors import fail, require_positive

if TYPE_CHECKING:
    from pacabench.runner.suite import Suite

DEFAULT_SUITE = "resolution_sweep"


def register(app: typer.Typer) -> None:
    app.command("run")(run)
    app.command("validate")(validate)
    app.command("zoo")(zoo)
    app.command("env")(env)


def _load(spec: str) -> Suite:
    """A suite file path, or the name of a suite shipped with pacabench (e.g. ``ci_smoke``)."""
    from pacabench.runner.suite import SuiteError, find_suite

    try:
        return find_suite(spec)
    except SuiteError as exc:
        for problem in exc.problems:
            typer.echo(f"error: {problem}", err=True)
        raise typer.Exit(2) from None


def run(
    suite: Optional[str] = typer.Argument(
        None, help=f"Suite YAML file, or the name of a shipped suite. Default: {DEFAULT_SUITE}."),
    device: Optional[str] = typer.Option(
        None, "--device", help="auto | cpu | cuda; replaces the suite's devices."),
    dtype: Optional[str] = typer.Option(
        None, "--dtype", help="float32 | bfloat16 | float16 (autocast); replaces the suite's dtypes."),
    threads: Optional[str] = typer.Option(
        None, "--threads", help="auto | N: CPU threads every CPU cell times with (auto: the cores other work "
                                "leaves idle when the run starts); replaces the suite's threads."),
    out: Optional[Path] = typer.Option(
        None, "--out", help="Results folder. Default: results/<YYYYmmdd-HHMMSS>_<suite>/."),
    resume: Optional[Path] = typer.Option(
        None, "--resume", help="Continue the run in this results folder; cells already done are skipped."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress output."),
    executor: str = typer.Option(
        "local", "--executor",
        help="How cells run: local (one at a time, each in its own process) or ray (one Ray task per cell; "
             "needs the ray extra)."),
    address: Optional[str] = typer.Option(
        None, "--address",
        help="--executor ray: auto (join this node's cluster) or ray://HOST:10001; default: a private "
             "local Ray instance."),
    cpus_per_cell: int = typer.Option(
        1, "--cpus-per-cell", help="--executor ray: CPUs each CPU cell reserves (a CUDA cell takes one GPU)."),
    no_report: bool = typer.Option(False, "--no-report", help="Skip the HTML report at the end."),
) -> None:
    """Run a benchmark suite and write a results folder (CSV, Parquet, env.json, report).

    Examples:

      pacabench run suites/ci_smoke.yaml --out /tmp/smoke

      pacabench run resolution_sweep --device cuda --dtype bfloat16

      pacabench run --resume results/20250101-120000_resolution_sweep

      pacabench run resolution_sweep --executor ray --address auto

    Exit codes: 0 done; 1 an expectation failed or the report could not be written; 2 unusable input
    (also a results folder in use by another run, or one that cannot be written); 130 interrupted
    (Ctrl-C), 143 terminated (SIGTERM): the rows measured so far are kept, continue with --resume.
    """
    if resume is not None and out is not None:
        raise fail("--out: not with --resume; the resumed folder is where results go")
    if resume is not None and not resume.is_dir():
        raise fail(f"--resume: {resume} is not a results folder; pass the folder of an earlier run")
    from pacabench.runner.suite import override_problem, threads_value

    for what, value, kept in (("device", device, "devices"), ("dtype", dtype, "dtypes"), ("threads", threads, "threads")):
        if value is not None and resume is not None:
            raise fail(f"--{what}: not with --resume; a resumed run keeps the {kept} it was started with")
    for what, value in (("device", device), ("dtype", dtype)):
        if value is not None and override_problem(what, value):
            raise fail(f"--{override_problem(what, value)}")
    if threads is not None:
        try:
            threads = threads_value(threads)
        except ValueError as exc:
            raise fail(f"--threads: {exc}") from None
    require_positive("--cpus-per-cell", cpus_per_cell)
    from pacabench.runner.cells import missing_cuda  # after the argument checks: they answer without torch
    from pacabench.runner.executor import ExecutorError, make_executor
    from pacabench.runner.sweep import SET_ASIDE_NAME, SUITE_NAME, SweepError, default_run_dir, run_sweep

    if suite is None:
        suite = str(resume / SUITE_NAME) if resume is not None else DEFAULT_SUITE
    loaded = _load(suite)
    overrides = {key: [value] for key, value in (("devices", device), ("dtypes", dtype)) if value}
    if threads is not None:
        overrides["threads"] = threads
    if overrides:
        loaded = loaded.with_overrides(**overrides)
    if missing_cuda(loaded):
        where = "--device" if device else "devices"
        raise fail(f"{where}: cuda requested but no CUDA device is visible; use --device cpu or auto")
    out_dir = resume or out or default_run_dir(loaded.name)
    options = {"address": address, "cpus_per_cell": cpus_per_cell} if executor == "ray" else {}
    try:
        engine = make_executor(executor, **options)
    except ExecutorError as exc:
        raise fail(f"--executor: {exc}") from None

    try:
        summary = run_sweep(loaded, out_dir, engine, resume=resume is not None, progress=not quiet,
                            command=shlex.join(["pacabench", *sys.argv[1:]]))
    except SweepError as exc:
        raise fail(f"{'--out' if resume is None else '--resume'}: {exc}") from None
    if summary.set_aside:
        typer.echo(f"note: {summary.set_aside} rows of cells not in this suite were moved to "
                   f"{out_dir / SET_ASIDE_NAME}", err=True)
    counts = ", ".join(f"{n} {status}" for status, n in sorted(summary.statuses.items()))
    done = f"; {summary.skipped_done} already done" if summary.skipped_done else ""
    if summary.interrupted:
        stopped = "interrupted" if summary.stopped_by == signal.SIGINT else "terminated"
        typer.echo(f"{stopped}: rows so far are in {out_dir}; continue with "
                   f"pacabench run --resume {out_dir}", err=True)
        raise typer.Exit(128 + summary.stopped_by)
    if not quiet:
        typer.echo(f"{summary.total} cells ({counts or 'none run'}{done}); results in {out_dir}")
    analysis = _analyse(out_dir, report=not no_report, quiet=quiet)
    failures = analysis.failures if analysis is not None else []
    for failure in failures:
        typer.echo(f"expectation failed: {failure}", err=True)
    if failures or analysis is None:
        raise typer.Exit(1)


def _analyse(out_dir: Path, report: bool, quiet: bool):
    """Analyse the run once: scaling.csv, and the HTML report unless ``report`` is false. None if that
    failed (the results stay on disk and ``pacabench report`` can retry)."""
    from pacabench.analysis.run_analysis import analyse
    from pacabench.report.html import build_report
    from pacabench.runner.atomic import PlantedLink

    try:
        analysis = analyse(out_dir)
        scaling_csv = analysis.write_scaling_csv()
        page = build_report(analysis) if report else None
    except PlantedLink as exc:
        raise fail(str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - an analysis bug must not hide the measured results
        typer.echo(f"error: report: {type(exc).__name__}: {exc}; the results are in {out_dir}; "
                   f"retry with: pacabench report {out_dir}", err=True)
        return None
    if not quiet:
        typer.echo(f"verdicts: {scaling_csv}" + (f"\nreport: {page}" if page else ""))
    return analysis


def validate(files_: list[Path] = typer.Argument(..., metavar="FILE", help="Suite YAML files.")) -> None:
    """Check suite files without running them: one line per problem, exit 2 if any.

    Example:

      pacabench validate suites/*.yaml
    """
    from pacabench.runner.suite import SuiteError, load_suite

    bad = False
    for path in files_:
        try:
            suite = load_suite(path)
        except SuiteError as exc:
            bad = True
            for problem in exc.problems:
                typer.echo(f"error: {problem}", err=True)
            continue
        from pacabench.runner.cells import expand_cells

        typer.echo(f"{path}: ok ({len(suite.targets)} targets, {len(expand_cells(suite))} cells)")
    if bad:
        raise typer.Exit(2)


def zoo(as_json: bool = typer.Option(False, "--json", help="A JSON list, one object per variant.")) -> None:
    """Every PaCa-ViT zoo variant at 224 px: parameters and GMACs measured here beside the released ones.

    Example:

      pacabench zoo --json
    """
    from pacabench.measure.cell import Cell, measure_cell
    from pacabench.models import RELEASED_FIGURES, ZOO_VARIANTS

    entries = []
    for name in ZOO_VARIANTS:
        row = measure_cell(Cell(kind="model", name=name, params={}, height=224, width=224,
                                metrics=("flops", "params")))
        released = RELEASED_FIGURES.get(name, {})
        entries.append({
            "name": name, "status": row["status"], "message": row["message"],
            "params": row["params"], "params_m": _millions(row["params"]), "gmacs": row["gmacs"],
            "released_params_m": released.get("params_m"), "released_gmacs": released.get("gmacs"),
            "released_top1": released.get("top1")})
    if as_json:
        typer.echo(json.dumps(entries, indent=2))
        return
    _print_zoo(entries)


def _millions(count) -> float | None:
    return None if count is None else round(count / 1e6, 3)


def _print_zoo(entries: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    def fmt(value, spec):
        return "—" if value is None else format(value, spec)

    table = Table(title="PaCa-ViT zoo at 224x224 (GMACs: 1 multiply-accumulate = 1 FLOP)")
    table.add_column("variant", no_wrap=True)
    for column in ("params (M)", "released", "GMACs", "released", "top-1"):
        table.add_column(column, justify="right")
    table.add_column("status")
    for e in entries:
        table.add_row(e["name"], fmt(e["params_m"], ".2f"), fmt(e["released_params_m"], ".1f"),
                      fmt(e["gmacs"], ".3f"), fmt(e["released_gmacs"], ".1f"),
                      fmt(e["released_top1"], ".2f"), e["status"] if e["status"] == "ok" else
                      f"{e['status']}: {e['message']}")
    console = Console()
    console.width = max(console.width, 110)  # full variant names even when piped
    console.print(table)


def env(as_json: bool = typer.Option(False, "--json", help="Print the capture as JSON.")) -> None:
    """The environment every results folder records (versions, device, CPU, commit).

    Example:

      pacabench env --json
    """
    from pacabench.measure.env import capture_env

    captured = capture_env()
    if as_json:
        typer.echo(json.dumps(captured, indent=2, default=str))
        return
    width = max(map(len, captured))
    for key, value in captured.items():
        typer.echo(f"{key:<{width}}  {value}")
