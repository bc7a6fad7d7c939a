"""Which rows an earlier run left in ``results.csv`` that a resume keeps; every other cell is
measured again.

A row is kept when it is complete and well-formed:

* a whole line: rows are appended one by one, so a process killed (or a disk filled) while
  writing one can only leave the last line without its line end;
* UTF-8, with as many fields as the header;
* conforming to the results schema (:mod:`pacabench.measure.schema`): typed columns parse, the cell's
  identity and status are filled in;
* for a cell of the suite being resumed, its identity columns agree with that cell;
* finished: status ok, oom or skipped_budget. Rows with error or timeout are measured again,
  because those are often transient (a loaded machine, a killed process), and a deterministic
  error simply comes back.

Only the first kept row of a cell counts. Well-formed rows of cells that are not in the suite (it
was edited, or cells are keyed differently since) are handed back apart: they were measured, but a
results file holds the rows of its suite's cells, one per cell.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from pathlib import Path

DONE_STATUSES = frozenset({"ok", "oom", "skipped_budget"})
_NOT_UTF8 = "\ufffd"  # what undecodable bytes become


class NotAResultsFile(Exception):
    """The file's header is not one pacabench writes; the message says what to do."""


def kept_rows(path: Path, cells: Mapping[str, object]) -> tuple[list[dict], list[dict]]:
    """(rows of the suite's cells a resume keeps, well-formed rows of other cells), as text values
    by column, in file order. ``cells`` maps cell keys to the suite's cells
    (:class:`pacabench.measure.cell.Cell`)."""
    import pandas as pd

    from pacabench.measure.schema import row_problems

    if not path.exists():
        return [], []
    text = path.read_bytes().decode("utf-8", errors="replace")
    text = text[:text.rfind("\n") + 1]  # a last line without its line end was cut short
    records = list(csv.reader(io.StringIO(text, newline="")))
    if not records:
        return [], []
    header = records[0]
    if "cell_key" not in header or "status" not in header or len(set(header)) < len(header):
        raise NotAResultsFile(f"{path}: the first line is not the header of a pacabench results.csv; "
                              f"move the file away, or start a new run in another folder")
    rows = [dict(zip(header, record)) for record in records[1:]
            if len(record) == len(header) and not any(_NOT_UTF8 in value for value in record)]
    if not rows:
        return [], []
    conforming = (row_problems(pd.DataFrame(rows, columns=header)) == "").tolist()
    kept: dict[str, dict] = {}
    others = []
    for row, ok in zip(rows, conforming):
        key = row["cell_key"]
        if not ok or not key:
            continue
        if key not in cells:
            others.append(row)
        elif row["status"] in DONE_STATUSES and key not in kept and _is_row_of(row, cells[key]):
            kept[key] = row
    return list(kept.values()), others


def _is_row_of(row: dict, cell) -> bool:
    """The row's identity columns (those a cell fills before it is measured) hold the text the
    runner writes for ``cell``."""
    from pacabench.measure.cell import failed_row

    identity = failed_row(cell, status=None, message=None)
    return all(row.get(column, str(value)) == str(value)
               for column, value in identity.items() if value is not None)
