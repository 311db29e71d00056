"""Case closing and placements as a difference-in-differences on the hazard scale (private to ``evalkit.site``).

The estimand (``hr_close`` and ``hr_placement`` in ``dataset.yaml``): the
hazard ratio of a case ending (any end; a placement, cause-specific), in a
pilot team while it works in the model, against the same team before its
start, net of the change over the same calendar time in the comparison
teams. Fixed differences between teams (a team that always closes cases
sooner) are not part of it.

Method: a Cox model on counting-process rows, as R
``coxph(Surv(entry, stop, event) ~ model_work + legal_basis + period +
strata(team))``:

- every case of the site's teams is followed from its opening (or from the
  start of the follow-up, for a case opened before it: delayed entry), on
  the time scale of days since opening, until it ends or the data end;
- its follow-up is split at its team's ``model_start`` and at calendar
  period edges, so ``model_work`` (1 from the pilot team's own start on) and
  the calendar ``period`` change during a case. A case open at the start
  counts as before until the start and as model work after it: no immortal
  time, no case thrown away, and staggered starts need nothing special;
- ``strata(team)`` gives each team its own baseline hazard, so a team's
  fixed difference cancels (the "first difference"); the calendar periods,
  common to all teams, take out what changed for everyone at the same time
  (the "second difference"); legal basis (child-welfare vs social-welfare
  act) is adjusted for, as in the synthetic truth;
- periods are quarters where every quarter has at least
  :data:`MIN_EVENTS_PER_PERIOD` events, else half-years, years or two-year
  blocks (a period without events would have an infinite coefficient).

Why this and not the alternatives: comparing cases opened after the start
in pilot and comparison teams (the earlier plan) confounds the pilot with
fixed team differences, and with the two to six teams of a site no
cluster-robust SE can repair that; a Poisson piecewise-exponential model is
the same model with a coarser baseline. Given the team strata, cases are
independent, so the model-based SE is used: its validity rests on team
differences being stable over time, which the report states, and
``benchmarks/validity.py`` checks it with team effects, a calendar shock
and one-pilot-team sites.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evalkit.stats import survival
from evalkit.core.result import EstimationError, Result

__all__ = ["episodes", "period_length", "cox_did", "buildup_end", "MIN_EVENTS_PER_PERIOD", "ESTIMAND"]

#: fewest events of the outcome in every calendar period before periods are made longer
MIN_EVENTS_PER_PERIOD = 5
#: calendar period lengths tried, in months, finest first
_PERIOD_MONTHS = (3, 6, 12, 24)
ESTIMAND = (
    "hazard ratio of a case ending ({what}) in a pilot team during model work, against the same team "
    "before its start, net of the change over the same calendar time in comparison teams"
)


def period_length(cases: pd.DataFrame, cause: int | None) -> int:
    """Months per calendar period: the finest of 3, 6, 12, 24 with enough events of the outcome in each.

    Counted on the cases' end dates over the calendar years the cases span;
    0 if even two-year periods leave one short (no calendar adjustment).
    """
    reason = cases["end_reason"].astype("object")
    ended = cases["closed"].notna() & reason.ne("age_limit")
    if cause == 2:
        ended &= reason.eq("placement")
    ends = cases.loc[ended, "closed"]
    first = cases["opened"].min().year
    last = max(cases["opened"].max(), cases["closed"].max()).year
    index = ((ends.dt.year - first) * 12 + ends.dt.month - 1).to_numpy(dtype=int)
    for length in _PERIOD_MONTHS:
        n_periods = -(-((last - first + 1) * 12) // length)
        if np.bincount(index // length, minlength=n_periods).min() >= MIN_EVENTS_PER_PERIOD:
            return length
    return 0


def episodes(
    cases: pd.DataFrame, teams: pd.DataFrame, window: tuple[pd.Timestamp, pd.Timestamp], period_months: int
) -> pd.DataFrame:
    """Counting-process rows of every case: split at its team's start and at calendar period edges.

    Parameters
    ----------
    cases : DataFrame
        ``opened``, ``closed`` (NaT = open), ``end_reason``, ``legal_basis``, ``team_id``.
    teams : DataFrame
        ``team_id``, ``arm``, ``model_start``.
    window : (Timestamp, Timestamp)
        Start of the follow-up and the extraction date: a case is followed
        from max(opened, start) to its end or the extraction date.
    period_months : int
        Length of the calendar periods (from January of the first year); 0: none.

    Returns
    -------
    DataFrame
        One row per case and piece: ``entry``, ``stop`` (days since opening;
        the last piece of a case ends half a day into its last day, so that
        a case closed on its opening day has positive length), ``end`` (0
        none, 1 closed, 2 placement; on the last piece only),
        ``model_work``, ``lsl``, ``team``, ``period`` (0, 1, ...) and
        ``case`` (row number of the case).
    """
    follow_start, extracted_on = window
    first_day = np.datetime64(follow_start.date(), "D").astype(np.int64)
    team = teams.set_index("team_id")
    start = cases["team_id"].map(team["model_start"].where(team["arm"] == "pilot"))
    opened = cases["opened"].to_numpy("datetime64[D]").astype(np.int64)
    end = cases["closed"].fillna(extracted_on).to_numpy("datetime64[D]").astype(np.int64)
    keep = end >= first_day
    reason = cases["end_reason"].astype("object")
    code = np.select([reason.eq("placement"), cases["closed"].notna() & reason.ne("age_limit")], [2, 1], 0)[keep]
    o = opened[keep]
    lo = np.maximum(o, first_day).astype(float)
    hi = end[keep] + 0.5
    s = start.to_numpy("datetime64[D]")[keep]
    s_day = np.where(np.isnat(s), np.iinfo(np.int64).max // 4, s.astype(np.int64))
    year0 = pd.Timestamp(int(o.min()), unit="D").year
    n_years = pd.Timestamp(int(hi.max()), unit="D").year - year0 + 1
    step = period_months or 12 * n_years
    edges = (
        np.arange(np.datetime64(f"{year0}-01"), np.datetime64(f"{year0 + n_years}-01"), np.timedelta64(step, "M"))
        .astype("datetime64[D]")
        .astype(np.int64)
    )
    # cut points strictly inside (lo, hi): period edges and the team's start, then the end itself
    lo_i, hi_i = np.searchsorted(edges, lo, "right"), np.searchsorted(edges, hi, "left")
    n_in = hi_i - lo_i
    row = np.repeat(np.arange(len(lo)), n_in)
    cut = edges[np.repeat(lo_i, n_in) + np.arange(len(row)) - np.repeat(np.cumsum(n_in) - n_in, n_in)]
    at_start = (s_day > lo) & (s_day < hi) & ~np.isin(s_day, edges)
    row = np.concatenate([row, np.flatnonzero(at_start), np.arange(len(lo))])
    cut = np.concatenate([cut, s_day[at_start], hi]).astype(float)
    order = np.lexsort((cut, row))
    row, cut = row[order], cut[order]
    new_case = np.r_[True, row[1:] != row[:-1]]
    piece_lo = np.where(new_case, lo[row], np.r_[0.0, cut[:-1]])
    last = np.r_[row[1:] != row[:-1], True]
    pilot_team = cases["team_id"].map(team["arm"]).eq("pilot").to_numpy()[keep]
    return pd.DataFrame(
        {
            "entry": piece_lo - o[row],
            "stop": cut - o[row],
            "end": np.where(last, code[row], 0),
            "model_work": (pilot_team[row] & (piece_lo >= s_day[row])).astype(int),
            "lsl": cases["legal_basis"].eq("LSL").to_numpy()[keep][row].astype(int),
            "team": cases["team_id"].to_numpy()[keep][row],
            "period": np.searchsorted(edges, piece_lo, "right") - 1,
            "case": np.flatnonzero(keep)[row],
        }
    )


def cox_did(ep: pd.DataFrame, cause: int | None, alpha: float, period_months: int) -> Result:
    """The hazard-scale DiD of one outcome: any end (``cause=None``) or one cause of ending.

    Returns the :func:`evalkit.survival.cox` Result with ``stats``
    ``period_months`` (0: no calendar adjustment possible) and
    ``n_cases``; raises :class:`EstimationError` where the design cannot
    identify the effect (no time in model work, or none outside it).
    """
    event = (ep["end"] > 0) if cause is None else (ep["end"] == cause)
    d = ep.assign(event=event.astype(int).to_numpy())
    work = d["model_work"].to_numpy()
    if work.all() or not work.any():
        raise EstimationError("no follow-up both in and outside model work: nothing to compare")
    treated_teams = d.loc[work == 1, "team"].unique()
    if not (d["team"].isin(treated_teams) & (d["model_work"] == 0)).any():
        raise EstimationError("the pilot teams have no follow-up before their start: no before-after contrast")
    period, length = d["period"], period_months
    covariates = ["model_work", "lsl"]
    if d["lsl"].nunique() < 2:
        covariates.remove("lsl")
    levels = np.sort(period.unique())
    for level in levels[1:]:
        d[f"period_{level}"] = (period == level).astype(int).to_numpy()
        covariates.append(f"period_{level}")
    res = survival.cox(d, "stop", "event", covariates, strata="team", entry="entry", alpha=alpha)
    if "model_work" in res.stats.get("may_be_infinite", ()):
        raise EstimationError(
            "the hazard ratio has no finite estimate: almost no such case ends in one of the comparisons"
        )
    res.table = res.table.loc[[c for c in res.table.index if not c.startswith("period_")]]
    res.stats.update(period_months=length, n_cases=int(d["case"].nunique()))
    res.method += (
        f"; DiD on the hazard scale: strata by team, calendar periods of {length} months"
        if length
        else "; DiD on the hazard scale: strata by team, no calendar adjustment (too few events)"
    )
    if not length:
        res.warnings.append(
            "too few events to adjust for calendar time: a change common to all teams could pose as an effect"
        )
    return res


def buildup_end(cases: pd.DataFrame, window: tuple[pd.Timestamp, pd.Timestamp], share: float = 0.9) -> pd.Timestamp:
    """The first day on which counts of open cases are at least ``share`` complete.

    An extract holds the cases opened from ``window[0]`` on, so early counts
    of open cases miss the cases opened before it and still open: they rise
    from zero although the caseload did not. With cases opening at a steady
    rate, the count ``d`` days into the window is the share
    ``int_0^d S(u) du / int_0^inf S(u) du`` of the full count (S: survival of
    case duration; a renewal argument). S is the Kaplan-Meier curve of the
    cases' durations (open cases censored at ``window[1]``); the integral is
    taken up to the last observed duration, which understates the mean of
    long-tailed durations, so the day returned is, if anything, too early.

    Examples
    --------
    >>> c = pd.DataFrame({"opened": pd.to_datetime(["2016-01-01"] * 4),
    ...                   "closed": pd.to_datetime(["2016-03-01", "2016-07-01", "2017-01-01", None])})
    >>> buildup_end(c, (pd.Timestamp("2016-01-01"), pd.Timestamp("2018-12-31"))).date()
    datetime.date(2018, 7, 14)
    """
    follow_start, extracted_on = window
    end = cases["closed"].fillna(extracted_on)
    days = (end - cases["opened"]).dt.days.clip(lower=0).to_numpy(float)
    if len(days) == 0:
        return follow_start
    curve = survival.km(pd.DataFrame({"d": days, "e": cases["closed"].notna().astype(int)}), "d", "e").table
    t = np.r_[0.0, curve["time"].to_numpy(float)]
    s = np.r_[1.0, curve["survival"].to_numpy(float)]
    area = np.r_[0.0, np.cumsum(np.diff(t) * s[:-1])]
    if area[-1] <= 0:
        return follow_start
    target = share * area[-1]
    k = np.flatnonzero(area >= target)[0] - 1  # the step of S in which the area reaches the target
    day = t[k] + (target - area[k]) / s[k]
    return follow_start + pd.Timedelta(days=round(float(day)))
