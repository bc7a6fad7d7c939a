"""Analysis of a results folder: scaling fits and verdicts, crossovers, expectations, run comparison."""
