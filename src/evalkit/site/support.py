"""What a site's design can support, and the descriptive estimate shown where it supports no interval.

Every headline of the site plan is a difference-in-differences: it needs a
pilot team seen both before and in model work, and something to tell the
change from the course of time (a comparison team, or pilot teams starting
at different times). :func:`did_supported` asks :func:`evalkit.design.estimable`
and adds that second condition. Where the design fails, the plan still
shows what the data say, as a plain comparison of pilot and comparison
teams after the start, with no interval and no p-value (:func:`descriptive`):
an interval there would measure chance only, not the team differences that
the comparison cannot separate from the model's effect.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evalkit.stats import design
from evalkit.core.result import Result

__all__ = ["did_supported", "descriptive", "NO_PRE_PERIOD", "SAME_START", "ONE_PERIOD"]

#: the reasons a design supports no DiD, as the report translates them
NO_PRE_PERIOD = "no pilot team has data from both before and after its start"
SAME_START = "every team starts at the same time and none stays out: the change cannot be told from time"
ONE_PERIOD = "too few events to compare periods of calendar time: the change cannot be told from time"

_INFERENCE = ("se", "ci_low", "ci_high", "p", "t", "z", "df", "ratio_ci_low", "ratio_ci_high")


def did_supported(frame: pd.DataFrame, unit: str, time: str, treated: str) -> str | None:
    """None if the panel supports the DiD, else the reason in words."""
    cells = frame.groupby([unit, time], observed=True)[treated].max().rename("treated").reset_index()
    if cells[time].nunique() < 2:  # e.g. too few placements to split the follow-up into calendar periods
        return ONE_PERIOD
    check = design.estimable(cells, "twfe", unit=unit, time=time, group="treated")
    failed = check.table[~check.table["ok"] & ~check.table["advisory"]]
    if "treatment variation" in failed.index:
        return NO_PRE_PERIOD
    if not failed.empty:
        return "; ".join(failed["reason"])
    ever = cells.groupby(unit)["treated"].max().astype(bool)
    switched = cells[cells["treated"] == 1].groupby(unit)[time].min()
    if ever.all() and switched.nunique() < 2:
        return SAME_START
    return None


def descriptive(result: Result, row: str, name: str, reason: str) -> Result:
    """``result`` reduced to row ``row`` (renamed ``name``) without an interval, saying why."""
    table = result.table.loc[[row]].rename(index={row: name}).copy()
    for col in _INFERENCE:
        if col in table:
            table[col] = np.nan
    note = f"descriptive only, no interval: {reason}"
    return Result(table, {**result.stats, "descriptive": reason}, f"{result.method}; {note}", [*result.warnings, note])
