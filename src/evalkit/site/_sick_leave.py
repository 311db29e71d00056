"""Sick leave of pilot teams before and after their start, against comparison teams (private to ``evalkit.site``).

The estimand (``sick_leave_rr`` in ``dataset.yaml``): the rate ratio of
sick-leave days per FTE-year in a pilot team after its start against before
it, net of the change in comparison teams over the same calendar time.

Method: a quasi-Poisson rate model on worker x half-year x period rows
(person-time weighted by FTE), ``days ~ model_work + team + half-year``, the
two-way fixed-effects DiD on rates: team effects take out fixed differences
between teams, half-year effects what changed for every team at once (a
flu season, a pandemic), and each pilot team switches at its own start.
Sick leave comes in spells of very unequal length and some workers are
often ill, so the SEs are clustered by worker (a worker's rows are not
independent). A small site has a dozen or two workers and a long sick
leave of one of them moves the estimate, so the SE is the jackknife (CR3)
with Satterthwaite df: CR2 gave intervals covering 92.5% of the time in
``benchmarks/validity.py``, the jackknife about 94%. An absence counts in
the piece of time where it starts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evalkit.stats import rates
from evalkit.core.result import EstimationError, Result

__all__ = ["worker_periods", "rate_effect", "ESTIMAND"]

ESTIMAND = (
    "rate ratio of sick-leave days per FTE-year in pilot teams after their start against before, net of "
    "the change in comparison teams over the same calendar time"
)


def worker_periods(
    staff: pd.DataFrame, absences: pd.DataFrame, teams: pd.DataFrame, window: tuple[pd.Timestamp, pd.Timestamp]
) -> pd.DataFrame:
    """Sick-leave days and FTE-years per employment spell, half-year and before/after its team's start.

    Returns columns ``worker`` (spell number), ``team_id``, ``half`` (first
    day of the half-year), ``model_work`` (pilot team, after its start),
    ``days``, ``fte_years``; pieces with no person-time are left out.
    """
    follow_start, extracted_on = window
    t = teams.set_index("team_id")
    st = staff.reset_index(drop=True)
    start = st["team_id"].map(t["model_start"].where(t["arm"] == "pilot"))
    lo = st["start"].where(st["start"] > follow_start, follow_start)
    hi = st["end"].fillna(extracted_on) + pd.Timedelta(days=1)
    hi = hi.where(hi < extracted_on + pd.Timedelta(days=1), extracted_on + pd.Timedelta(days=1))
    end = extracted_on + pd.Timedelta(days=1)
    halves = pd.date_range(pd.Timestamp(follow_start.year, 1, 1), end, freq="6MS")
    edges = np.unique(
        np.concatenate(
            [halves.to_numpy(), start.dropna().unique().astype("datetime64[ns]"), [np.datetime64(end, "ns")]]
        )
    )
    rows = []
    for a, b in zip(edges[:-1], edges[1:]):
        a, b = pd.Timestamp(a), pd.Timestamp(b)
        s0, s1 = lo.where(lo > a, a), hi.where(hi < b, b)
        days = (s1 - s0).dt.days
        keep = days > 0
        if keep.any():
            rows.append(
                pd.DataFrame(
                    {
                        "worker": np.flatnonzero(keep),
                        "piece_start": a,
                        "fte_years": (days[keep] / 365.25 * st.loc[keep, "fte"]).to_numpy(),
                    }
                )
            )
    if not rows:
        raise EstimationError("no employment in the follow-up")
    out = pd.concat(rows, ignore_index=True)
    out["team_id"] = st["team_id"].to_numpy()[out["worker"]]
    out["half"] = halves[np.searchsorted(halves.to_numpy(), out["piece_start"].to_numpy(), "right") - 1]
    team_start = start.to_numpy()[out["worker"]]
    out["model_work"] = (~pd.isna(team_start) & (out["piece_start"].to_numpy() >= team_start)).astype(int)
    out["days"] = _days_by_piece(st, absences, out, edges)
    return out[["worker", "team_id", "half", "model_work", "days", "fte_years"]]


def _days_by_piece(st: pd.DataFrame, absences: pd.DataFrame, pieces: pd.DataFrame, edges: np.ndarray) -> np.ndarray:
    """Sick-leave days of each (spell, piece), counted where the absence starts."""
    ab = absences[absences["kind"] == "sick_leave"]
    spell_of = st.reset_index(names="worker")[["worker", "worker_id", "start", "end"]]
    ab = ab.merge(spell_of, on="worker_id", suffixes=("", "_spell"))
    inside = (ab["start"] >= ab["start_spell"]) & (ab["end_spell"].isna() | (ab["start"] <= ab["end_spell"]))
    ab = ab[inside]
    piece = edges[np.searchsorted(edges, ab["start"].to_numpy(), "right") - 1]
    days = pd.Series(
        ((ab["end"] - ab["start"]).dt.days + 1).to_numpy(),
        index=pd.MultiIndex.from_arrays([ab["worker"].to_numpy(), piece]),
    )
    days = days.groupby(level=[0, 1]).sum()
    key = pd.MultiIndex.from_arrays([pieces["worker"].to_numpy(), pieces["piece_start"].to_numpy()])
    return days.reindex(key, fill_value=0).to_numpy(dtype=float)


def rate_effect(panel: pd.DataFrame, alpha: float) -> Result:
    """The DiD rate ratio (row ``model_work``), worker-clustered SEs."""
    work = panel["model_work"]
    if work.all() or not work.any():
        raise EstimationError("no person-time both in and outside model work: nothing to compare")
    pilot_teams = panel.loc[work == 1, "team_id"].unique()
    if not (panel["team_id"].isin(pilot_teams) & (work == 0)).any():
        raise EstimationError("the pilot teams have no person-time before their start: no before-after contrast")
    return rates.rate_twfe(
        panel, "days", "fte_years", "model_work", "team_id", "half", cluster="worker", se_type="cr3", alpha=alpha
    )
