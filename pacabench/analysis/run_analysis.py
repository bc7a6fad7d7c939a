"""The analysis of a results folder, computed once: rows, cost models and verdicts, crossovers,
headlines, expectations and the zoo against its released tables.

``pacabench run`` and ``pacabench report`` build one :class:`RunAnalysis`; the HTML report, the
plots, ``scaling.csv`` and the expectation check all read it, so a run is loaded once and every
series is fitted once.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pacabench.analysis.crossover import crossover_table, headlines
from pacabench.analysis.expectations import ExpectationFailure, check_expectations
from pacabench.analysis.released import released_comparison
from pacabench.analysis.results import Run, load_run
from pacabench.analysis.scaling import scaling_table
from pacabench.runner.atomic import replace_file

SCALING_NAME = "scaling.csv"


@dataclass(frozen=True)
class RunAnalysis:
    """Everything pacabench concludes from one run."""

    run: Run
    scaling: pd.DataFrame            # one row per (series, metric): cost model, verdict, evidence
    crossovers: pd.DataFrame
    headlines: list[str]
    failures: list[ExpectationFailure]
    released: pd.DataFrame           # zoo models at 224 px against the released tables

    @property
    def df(self) -> pd.DataFrame:
        return self.run.df

    @property
    def expectations(self) -> dict[str, str]:
        return self.run.suite.get("expectations") or {}

    def write_scaling_csv(self, directory: Path | None = None) -> Path:
        """``scaling.csv`` in the run folder: the verdict table, one row per series and metric (never
        written through a link: :class:`~pacabench.runner.atomic.PlantedLink`)."""
        path = Path(directory or self.run.directory) / SCALING_NAME
        replace_file(path, lambda tmp: self.scaling.to_csv(tmp, index=False))
        return path


def analyse(source: str | Path | Run) -> RunAnalysis:
    """Load (unless given a :class:`Run`) and analyse a results folder; ResultsError if unusable."""
    run = source if isinstance(source, Run) else load_run(source)
    table = scaling_table(run.df)
    crossovers = crossover_table(run.df)
    expectations = run.suite.get("expectations") or {}
    return RunAnalysis(
        run=run, scaling=table, crossovers=crossovers, headlines=headlines(run.df, crossovers),
        failures=check_expectations(table, set(run.df["label"]), expectations),
        released=released_comparison(run.df))
