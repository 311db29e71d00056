"""Purchased-service costs of pilot teams against comparison teams (private to ``evalkit.site``).

The estimand (``cost_level_ratio`` and ``cost_slope_ratio`` in
``dataset.yaml``): the change in a pilot team's expected monthly
purchased-service costs at its own ``model_start`` (level, as a ratio) and
in their monthly growth after it (slope), net of the course of the
comparison teams' costs over the same months. Costs booked to no team (the
site's own purchases) are not part of it: they are the site's budget trend,
shown on their own and never pooled as an effect.

Method: :func:`evalkit.trends.staggered_its` on the team-month panel of
log euros, with team and month fixed effects and AR(1) errors within team
(iterated Prais-Winsten), and :func:`evalkit.trends.pretrend_test` before
the starts as a warning light for parallel trends. Every pilot team steps at
its own start, so a site whose teams start months apart is not diluted.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evalkit.stats import trends
from evalkit.core.result import EstimationError, Result

__all__ = [
    "team_months",
    "site_months",
    "monthly_by_arm",
    "usable",
    "panel_effect",
    "pretrend",
    "after_start",
    "ESTIMAND",
    "MIN_PRE_MONTHS",
]

ESTIMAND = (
    "change in a pilot team's monthly purchased-service costs at its own start (ratio), net of the "
    "comparison teams' course over the same months; the site's own purchases excluded"
)
#: months before a pilot team's start needed for its pre-period trend
MIN_PRE_MONTHS = 6


def team_months(services: pd.DataFrame, teams: pd.DataFrame) -> pd.DataFrame:
    """Euros per team and month (teams' rows only): ``team_id``, ``month``, ``cost``, ``start``, ``arm``.

    ``start`` is the pilot team's start month (``YYYY-MM``), missing for
    comparison teams. A month with no purchases of a team is left out.
    """
    s = services[services["team_id"].notna()]
    m = s.groupby(["team_id", "month"], observed=True)["cost_eur"].sum().rename("cost").reset_index()
    t = teams.set_index("team_id")
    start = t["model_start"].where(t["arm"] == "pilot")
    m["start"] = m["team_id"].map(start.dt.strftime("%Y-%m")).astype("object")
    m["arm"] = m["team_id"].map(t["arm"]).astype("object")
    m["team_id"] = m["team_id"].astype("object")
    return m[m["cost"] > 0].reset_index(drop=True)


def site_months(services: pd.DataFrame) -> pd.DataFrame:
    """The site's own purchases (rows without a team) per month: ``month``, ``cost``."""
    s = services[services["team_id"].isna()]
    return s.groupby("month")["cost_eur"].sum().rename("cost").reset_index()


def usable(panel: pd.DataFrame) -> pd.DataFrame:
    """Pilot teams with at least MIN_PRE_MONTHS months before their start; the rest as they are."""
    before = panel["start"].notna() & (panel["month"] < panel["start"])
    pre = before.groupby(panel["team_id"]).sum()
    short = pre.index[(pre < MIN_PRE_MONTHS) & pre.index.isin(panel.loc[panel["start"].notna(), "team_id"])]
    return panel[~panel["team_id"].isin(short)]


def panel_effect(panel: pd.DataFrame, alpha: float) -> Result:
    """Level and slope change of pilot teams at their own starts (log scale, ratios beside)."""
    kept = usable(panel)
    if kept["start"].notna().sum() == 0:
        raise EstimationError(f"no pilot team has {MIN_PRE_MONTHS} months of cost data before its start")
    if kept["start"].notna().all() and kept["start"].nunique() < 2:
        raise EstimationError(
            "no comparison team and a single start: the change cannot be told from the course of time"
        )
    res = trends.staggered_its(kept, "cost", "month", "team_id", "start", alpha=alpha)
    dropped = panel["team_id"].nunique() - kept["team_id"].nunique()
    if dropped:
        res.warnings.append(
            f"{dropped} pilot team(s) left out: fewer than {MIN_PRE_MONTHS} months of data before the start"
        )
    return res


def pretrend(panel: pd.DataFrame, alpha: float) -> Result:
    """Difference in monthly cost growth, pilot minus comparison teams, before the starts."""
    return trends.pretrend_test(usable(panel), "cost", "month", "team_id", "start", alpha=alpha)


def after_start(panel: pd.DataFrame, alpha: float) -> Result:
    """Pilot against comparison teams' log costs in the months after each pilot start (month effects): a description."""
    first = panel["start"].dropna().min()
    pilot = panel["start"].notna()
    after = panel[(~pilot & (panel["month"] >= first)) | (pilot & (panel["month"] >= panel["start"].fillna("")))]
    frame = after.assign(
        log_cost=np.log(after["cost"]),
        pilot=after["start"].notna().astype(float),
        t=pd.PeriodIndex(after["month"], freq="M").astype("int64"),
    )
    months = pd.get_dummies(frame["month"], prefix="m", drop_first=True, dtype=float)
    frame = pd.concat([frame, months], axis=1)
    return trends.gls(
        frame, "log_cost", ["pilot", *months.columns], unit="team_id", time="t", errors="iid", alpha=alpha
    )


def monthly_by_arm(panel: pd.DataFrame, site: pd.DataFrame) -> pd.DataFrame:
    """Month, t (1, 2, ...), pilot, comparison and site-level euros, and their total (for tables and figures)."""
    wide = panel.pivot_table(index="month", columns="arm", values="cost", aggfunc="sum", fill_value=0.0)
    wide = wide.join(site.set_index("month")["cost"].rename("site"), how="outer").fillna(0.0)
    wide["total"] = wide.sum(axis=1)
    wide = wide.sort_index().reset_index()
    wide["t"] = np.arange(1, len(wide) + 1)
    return wide
