"""Suites and sweeps: validate a suite file (``suite``), expand it into cells (``cells``), run them
through an executor (``executor``) and stream the rows into a results folder (``sweep``)."""
