"""Measured zoo figures at 224 px next to the released ImageNet tables.

A difference is shown, never corrected: the released convmixer GMACs miss the teacher's
``padding='same'`` depthwise convolutions (fvcore has no handle for them), so the correct counts
are about 0.1 G higher than the table.
"""
from __future__ import annotations

import pandas as pd

from pacabench.names import RELEASED_FIGURES

COLUMNS = ("name", "params_m", "released_params_m", "gmacs", "released_gmacs", "gmacs_diff", "note")
CONVMIXER_NOTE = "released GMACs miss the teacher's 'same' depthwise convs (~0.1 G)"


def released_figures() -> dict:
    """The zoo's released figures (a function, so tests can stand in a table of their own)."""
    return RELEASED_FIGURES


def released_comparison(df: pd.DataFrame) -> pd.DataFrame:
    """One row per zoo model measured at 224x224: params (M) and GMACs per image, measured vs released."""
    figures = released_figures()
    rows = df[(df["kind"] == "model") & df["name"].isin(list(figures))
              & (df["resolution_h"] == 224) & (df["resolution_w"] == 224) & df["gmacs"].notna()]
    out = []
    for name, group in rows.groupby("name", sort=True):
        row = group.sort_values("batch").iloc[0]
        released = figures[name]
        gmacs = float(row["gmacs"]) / int(row["batch"])
        out.append({"name": name, "params_m": float(row["params"]) / 1e6,
                    "released_params_m": released.get("params_m"), "gmacs": gmacs,
                    "released_gmacs": released.get("gmacs"),
                    "gmacs_diff": gmacs - released["gmacs"] if released.get("gmacs") is not None else None,
                    "note": CONVMIXER_NOTE if "convmixer" in name else ""})
    return pd.DataFrame(out, columns=list(COLUMNS))
