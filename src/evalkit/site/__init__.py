"""The per-site analysis plan: which estimators run on which slice of a site's data.

One function, :func:`analyse`, serves the notebooks, the batch renderer, the
scale benchmark and researchers, so a number in a report is the number a
researcher gets by calling evalkit directly. Each analysis is guarded: one
that cannot be estimated on a site (too few events, clusters or periods)
is recorded as not estimable, with the reason, and the others go on.

Every headline (:data:`KEY_ESTIMATES`) is a difference-in-differences that
uses the pilot teams' own time before their start: the pilot is assigned to
whole teams, teams differ, and a site has two to six of them, so comparing
pilot with comparison teams after the start would take a team's fixed
difference for an effect, and no standard error can repair that with so few
teams. Each headline's estimand is stated in :data:`ESTIMANDS`.

- ``duration``: case closing and placements, a Cox model on counting-process
  rows with team strata, calendar periods and each pilot team's own start
  (``evalkit.site._duration``); Kaplan-Meier curves, medians and cumulative
  incidence of placement of cases opened after the start describe the arms.
- ``costs``: the team-month panel of purchased-service euros, each pilot team
  stepping at its own start (level and slope), team and month effects, AR(1)
  working errors with HAR inference, and a pre-trend check
  (``evalkit.site._costs``); the site's own purchases are its budget trend.
- ``sick_leave``: sick-leave days per FTE-year, worker x half-year rows,
  team and half-year effects, worker-clustered SEs
  (``evalkit.site._sick_leave``); crude rates by arm and period describe them.
- ``survey``: worker wellbeing, the wave x arm change with team and wave
  effects (respondent-clustered SEs), computed whether or not the mixed
  ANOVA beside it can be fitted.
- ``workforce``: caseload per social worker by month and arm, face-to-face
  share of working time by wave and arm, staff turnover (descriptive).
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from evalkit.site import _costs, _duration, _sick_leave, support
from evalkit.stats import effects, rates, survival
from evalkit.data.config import SiteConfig
from evalkit.site.tables import SiteData, SiteTables, site_data, split_sites
from evalkit.core.result import EstimationError, EvalkitError, Result

__all__ = [
    "SiteData",
    "SiteResults",
    "SiteTables",
    "site_data",
    "split_sites",
    "analyse",
    "design_stats",
    "KEY_ESTIMATES",
    "ESTIMANDS",
    "ANALYSES",
]

#: roles counted as social workers for caseloads (DOMAIN.md: children per social worker)
SOCIAL_WORKERS = ("social_worker", "consultant_social_worker")
#: the headline estimates of a site, pooled across sites in the index:
#: name -> (analysis, result key, table row, truth key in dataset.yaml)
KEY_ESTIMATES = {
    "hr_case_end": ("duration", "cox_end", "model_work", "hr_close"),
    "hr_placement": ("duration", "cox_placement", "model_work", "hr_placement"),
    "cost_level": ("costs", "panel", "level_change", "cost_level_ratio"),
    "cost_slope": ("costs", "panel", "slope_change", "cost_slope_ratio"),
    "sick_leave_rr": ("sick_leave", "rate_twfe", "model_work", "sick_leave_rr"),
    "survey_change": ("survey", "did", "model_work", "survey_change"),
}
#: what each key estimate estimates, in words (the report says the same in fi, sv and en)
ESTIMANDS = {
    "hr_case_end": _duration.ESTIMAND.format(what="any end"),
    "hr_placement": _duration.ESTIMAND.format(what="a placement, cause-specific"),
    "cost_level": _costs.ESTIMAND,
    "cost_slope": (
        "change in the monthly growth of a pilot team's purchased-service costs after its start "
        "(ratio per month), net of the comparison teams' course"
    ),
    "sick_leave_rr": _sick_leave.ESTIMAND,
    "survey_change": (
        "change in pilot teams' mean worker wellbeing (Likert points) from the first survey wave to "
        "later waves, minus the change in comparison teams"
    ),
}


@dataclass
class SiteResults:
    """Every analysis of one site: Results and tables by analysis, and what failed."""

    site: str
    results: dict[str, dict[str, Result]] = field(default_factory=dict)
    tables: dict[str, dict[str, pd.DataFrame]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    #: the municipality's name (the sites table's), what a reader sees instead of the id
    municipality: str = ""

    def __repr__(self) -> str:
        done = {a: sorted(r) for a, r in self.results.items()}
        return f"SiteResults({self.site!r}, results={done}, skipped={sorted(self.skipped)})"

    def _repr_html_(self) -> str:
        key = self.key_estimates()
        body = key.to_html(float_format=lambda v: f"{v:.4g}", border=0) if not key.empty else ""
        skipped = "".join(f"<li>{html.escape(a)}: {html.escape(r)}</li>" for a, r in self.skipped.items())
        return f"<p><b>Site {html.escape(self.site)}</b>: analyses {', '.join(self.results)}</p>{body}" + (
            f"<p>Not estimated:</p><ul>{skipped}</ul>" if skipped else ""
        )

    def key_estimates(self, threshold: int | None = None) -> pd.DataFrame:
        """Headline estimates (log scale for ratios): name, estimate, se, CI, p, ratio, estimand, withheld.

        ``ci_low``, ``ci_high`` and ``p`` are NaN where the design supports no
        interval (the estimate is then descriptive; the Result's warnings say why).
        With a disclosure ``threshold``, the estimates that :meth:`withheld`
        names have every number NaN and the reason in ``withheld`` (empty otherwise).
        """
        hidden = self.withheld(threshold) if threshold else {}
        rows = []
        for name, (analysis, key, row, _) in KEY_ESTIMATES.items():
            res = self.results.get(analysis, {}).get(key)
            if res is None or row not in res.table.index:
                continue
            r = res.table.loc[row]
            numbers = {
                "estimate": r["estimate"],
                "se": r["se"],
                "ci_low": r["ci_low"],
                "ci_high": r["ci_high"],
                "p": r.get("p", np.nan),
                "ratio": r.get("ratio", np.nan),
            }
            if name in hidden:
                numbers = dict.fromkeys(numbers, np.nan)
            rows.append({"name": name, **numbers, "estimand": ESTIMANDS[name], "withheld": hidden.get(name, "")})
        return pd.DataFrame(rows).set_index("name") if rows else pd.DataFrame()

    def withheld(self, threshold: int) -> dict[str, str]:
        """Key estimates not shown anywhere because counts they rest on are under ``threshold``.

        The one rule the report's sections, its summary, ``results.json`` and the
        index follow: sick leave is withheld when a cell of days by arm and
        period is from 1 to ``threshold - 1``; the survey change when a cell of
        respondents by arm and round is. Returns name -> reason.

        Examples
        --------
        >>> r = SiteResults("demo", tables={"survey": {"means": pd.DataFrame({"count": [3, 40]})}})
        >>> r.withheld(5)
        {'survey_change': 'counts under 5'}
        """

        def small(values: Any) -> bool:
            v = pd.to_numeric(pd.Series(values), errors="coerce")
            return bool(((v >= 1) & (v < threshold)).any())

        reason = f"counts under {threshold}"
        out = {}
        rates = self.results.get("sick_leave", {}).get("rates")
        if rates is not None and small(rates.table["events"]):
            out["sick_leave_rr"] = reason
        means = self.tables.get("survey", {}).get("means")
        if means is not None and small(means["count"]):
            out["survey_change"] = reason
        return out


def _team_start(frames: SiteData) -> pd.Series:
    """Each team's start: its own model_start (pilot), the site's pilot start (comparison)."""
    teams = frames["teams"].set_index("team_id")
    return teams["model_start"].where(teams["arm"] == "pilot", frames.pilot_start).fillna(frames.pilot_start)


def _arm(frames: SiteData) -> pd.Series:
    return frames["teams"].set_index("team_id")["arm"]


# --- analyses ---------------------------------------------------------------------------


def duration_data(frames: SiteData) -> pd.DataFrame:
    """Cases opened from their team's start: days, end (0 open/aged out, 1 closed, 2 placement)."""
    c = frames["cases"]
    c = c[c["opened"] >= c["team_id"].map(_team_start(frames))]
    end = c["closed"].fillna(frames.extracted_on)
    reason = c["end_reason"].astype("object")
    event = np.select([reason.eq("placement"), c["closed"].notna() & reason.ne("age_limit")], [2, 1], 0)
    return pd.DataFrame(
        {
            "days": (end - c["opened"]).dt.days.to_numpy(),
            "event": event,
            "any_end": (event > 0).astype(int),
            "placement": (event == 2).astype(int),
            "pilot": c["team_id"].map(_arm(frames)).eq("pilot").astype(int).to_numpy(),
            "lsl": c["legal_basis"].eq("LSL").astype(int).to_numpy(),
            "team": c["team_id"].to_numpy(),
        }
    )


def analyse_duration(frames: SiteData, cfg: SiteConfig) -> tuple[dict[str, Result], dict[str, pd.DataFrame]]:
    d = duration_data(frames)
    d["arm"] = np.where(d["pilot"] == 1, "pilot", "comparison")
    res = {
        "km": survival.km(d, "days", "any_end", group="arm", alpha=cfg.alpha),
        "median": survival.median_survival(d, "days", "any_end", group="arm", alpha=cfg.alpha),
        "cif_placement": survival.cif(d, "days", "event", cause=2, group="arm", alpha=cfg.alpha),
        "gray_placement": survival.gray_test(d, "days", "event", "arm", cause=2),
    }
    # a hazard ratio that cannot be estimated leaves the curves and the other ratio standing
    missing = {}
    for key, cause in (("cox_end", None), ("cox_placement", 2)):
        try:
            months = _duration.period_length(frames["cases"], cause)
            window = (frames.follow_start, frames.extracted_on)
            ep = _duration.episodes(frames["cases"], frames["teams"], window, months)
            unsupported = support.did_supported(ep, "team", "period", "model_work")
            if unsupported:  # cases opened after the start, pilot against comparison teams: a description
                event = "any_end" if cause is None else "placement"
                crude = survival.cox(d, "days", event, ["pilot", "lsl"], alpha=cfg.alpha)
                res[key] = support.descriptive(crude, "pilot", "model_work", unsupported)
            else:
                res[key] = _duration.cox_did(ep, cause, cfg.alpha, months)
        except EstimationError as exc:
            missing[key] = str(exc)
    counts = d.groupby("arm")["event"].value_counts().unstack(fill_value=0)
    tabs = {"end_counts": counts.rename(columns={0: "open", 1: "closed", 2: "placement"})}
    if missing:
        tabs["not_estimable"] = pd.DataFrame({"reason": missing}).rename_axis("result")
    return res, tabs


def monthly_costs(frames: SiteData) -> pd.DataFrame:
    """Site's purchased-service euros per month: month, t (1, 2, ...), pilot, comparison, site, total."""
    return _costs.monthly_by_arm(
        _costs.team_months(frames["services"], frames["teams"]), _costs.site_months(frames["services"])
    )


def analyse_costs(frames: SiteData, cfg: SiteConfig) -> tuple[dict[str, Result], dict[str, pd.DataFrame]]:
    panel = _costs.team_months(frames["services"], frames["teams"])
    if panel.empty:
        raise EvalkitError("no purchased-service costs booked to the site's teams")
    usable = _costs.usable(panel)
    unsupported = (
        support.did_supported(
            usable.assign(work=usable["month"] >= usable["start"].fillna("9999")), "team_id", "month", "work"
        )
        if len(usable)
        else f"no pilot team has {_costs.MIN_PRE_MONTHS} months of cost data before its start"
    )
    tabs: dict[str, pd.DataFrame] = {}
    if unsupported:
        res = {"panel": support.descriptive(_costs.after_start(panel, cfg.alpha), "pilot", "level_change", unsupported)}
        tabs["not_estimable"] = pd.DataFrame({"reason": {"panel": unsupported}}).rename_axis("result")
    else:
        res = {"panel": _costs.panel_effect(panel, cfg.alpha)}
        try:
            res["pretrend"] = _costs.pretrend(panel, cfg.alpha)
        except EstimationError:
            pass  # too short a pre-period for a slope: the report says the check could not be made
    m = _costs.monthly_by_arm(panel, _costs.site_months(frames["services"]))
    return res, {
        **tabs,
        "monthly": m,
        "by_service": _costs_by_service(frames),
        "per_child": _costs_per_child(frames, m),
        "team_months": panel.drop(columns="team_id"),
    }


def _costs_by_service(frames: SiteData) -> pd.DataFrame:
    """Mean euros per month by service type, before and after the site's pilot start."""
    s = frames["services"]
    start = frames.pilot_start.strftime("%Y-%m")
    monthly = s.groupby(["service", "month"])["cost_eur"].sum().reset_index()
    monthly["period"] = np.where(monthly["month"] >= start, "after", "before")
    out = monthly.pivot_table(index="service", columns="period", values="cost_eur", aggfunc="mean")
    out = out.reindex(columns=["before", "after"])
    out["ratio"] = out["after"] / out["before"]
    return out


def _costs_per_child(frames: SiteData, monthly: pd.DataFrame) -> pd.DataFrame:
    """Euros per open case (child) per month, averaged by year; months with no open case, or incomplete
    counts, left out."""
    load = caseload_by_month(frames)
    open_cases = load[load["complete"]].groupby("month")["open_cases"].sum()
    open_cases.index = open_cases.index.strftime("%Y-%m")
    m = monthly.set_index("month")["total"].to_frame().join(open_cases.rename("open_cases"), how="inner")
    m = m[m["open_cases"] > 0]
    m["per_child"] = m["total"] / m["open_cases"]
    return m.groupby(m.index.str[:4])["per_child"].mean().rename_axis("year").to_frame()


def _person_years(spells: pd.DataFrame, lo: pd.Series, hi: pd.Series) -> pd.Series:
    """FTE-years of each spell inside [lo, hi) (aligned Series of dates)."""
    start = spells["start"].where(spells["start"] > lo, lo)
    end = spells["end_excl"].where(spells["end_excl"] < hi, hi)
    return ((end - start).dt.days.clip(lower=0) / 365.25) * spells["fte"]


def sick_leave_data(frames: SiteData) -> pd.DataFrame:
    """Per worker and period (before/after the team's start): sick-leave days and FTE-years.

    Worker-level rows let the quasi-Poisson model see the between-worker
    variation (its dispersion), which team totals would hide on small sites.
    An absence counts in the period and spell where it starts.
    """
    st = frames["staff"].copy()
    st["spell"] = np.arange(len(st))
    st["end_excl"] = st["end"].fillna(frames.extracted_on) + pd.Timedelta(days=1)
    st["split"] = st["team_id"].map(_team_start(frames))
    lo = pd.Series(frames.follow_start, index=st.index)
    hi = pd.Series(frames.extracted_on + pd.Timedelta(days=1), index=st.index)
    st["before"] = _person_years(st, lo, st["split"])
    st["after"] = _person_years(st, st["split"], hi)
    ab = frames["absences"]
    ab = ab[(ab["kind"] == "sick_leave") & (ab["start"] >= frames.follow_start)].merge(
        st[["worker_id", "spell", "split", "start", "end_excl"]].rename(columns={"start": "s0"}), on="worker_id"
    )
    ab = ab[(ab["start"] >= ab["s0"]) & (ab["start"] < ab["end_excl"])]
    ab["days"] = (ab["end"] - ab["start"]).dt.days + 1
    ab["period"] = np.where(ab["start"] >= ab["split"], "after", "before")
    days = ab.groupby(["spell", "period"])["days"].sum()
    py = st.set_index("spell")[["before", "after"]].stack().rename("fte_years")
    py.index = py.index.set_names(["spell", "period"])
    out = pd.concat([py, days.rename("days")], axis=1).fillna({"days": 0}).reset_index()
    out["team_id"] = out["spell"].map(st.set_index("spell")["team_id"])
    out["arm"] = out["team_id"].map(_arm(frames))
    out["post"] = (out["period"] == "after").astype(int)
    out["pilot"] = (out["arm"] == "pilot").astype(int)
    return out[out["fte_years"] > 0].drop(columns="spell")


def analyse_sick_leave(frames: SiteData, cfg: SiteConfig) -> tuple[dict[str, Result], dict[str, pd.DataFrame]]:
    d = sick_leave_data(frames)
    res = {
        "rates": rates.compare_rates(
            d, "days", "fte_years", "arm", by="period", reference="comparison", alpha=cfg.alpha
        )
    }
    panel = _sick_leave.worker_periods(
        frames["staff"], frames["absences"], frames["teams"], (frames.follow_start, frames.extracted_on)
    )
    unsupported = support.did_supported(panel, "team_id", "half", "model_work")
    if unsupported:  # rates after the start, pilot against comparison teams, as a description
        after = d[d["post"] == 1]
        crude = rates.rate_model(after, "days ~ pilot", exposure="fte_years", family="quasipoisson", alpha=cfg.alpha)
        res["rate_twfe"] = support.descriptive(crude, "pilot", "model_work", unsupported)
    else:
        res["rate_twfe"] = _sick_leave.rate_effect(panel, cfg.alpha)
    return res, {"by_worker": d}


def analyse_survey(frames: SiteData, cfg: SiteConfig) -> tuple[dict[str, Result], dict[str, pd.DataFrame]]:
    s = frames["surveys"]
    s = s[(s["respondent"] == "worker") & (s["scale"] == "wellbeing")].copy()
    s["arm"] = s["team_id"].map(_arm(frames))
    first = s["wave"].min()
    s["model_work"] = ((s["arm"] == "pilot") & (s["wave"] > first)).astype(int)
    res = {
        "did": effects.twfe(
            s, "score", "model_work", "team_id", "wave", cluster="respondent_id", se_type="cr2", alpha=cfg.alpha
        )
    }
    tabs = {"means": s.groupby(["arm", "wave"])["score"].agg(["mean", "count"]).reset_index()}
    try:  # the ANOVA describes; the headline above stands without it
        res["anova"] = effects.mixed_anova(s, "score", "wave", "arm", "respondent_id")
    except (EvalkitError, np.linalg.LinAlgError) as exc:
        tabs["not_estimable"] = pd.DataFrame({"reason": {"anova": str(exc)}}).rename_axis("result")
    return res, tabs


def caseload_by_month(frames: SiteData) -> pd.DataFrame:
    """Open cases per social-worker FTE on the 15th of each month, by arm.

    ``complete`` is False in the months before
    :func:`evalkit.site._duration.buildup_end`, whose counts miss the cases
    opened before the data begin (they rise from zero although the caseload
    did not): figures and costs per case leave those months out.
    """
    months = pd.date_range(frames.follow_start, frames.extracted_on, freq="MS") + pd.Timedelta(days=14)
    arm = _arm(frames)
    c, st = frames["cases"], frames["staff"]
    st = st[st["role"].isin(SOCIAL_WORKERS)]
    rows = []
    for name in ("pilot", "comparison"):
        cc = c[c["team_id"].map(arm) == name]
        ss = st[st["team_id"].map(arm) == name]
        opened = np.sort(cc["opened"].to_numpy())
        closed = np.sort(cc["closed"].dropna().to_numpy())
        month_days = months.to_numpy()
        open_n = np.searchsorted(opened, month_days, "right") - np.searchsorted(closed, month_days, "left")
        s_end = ss["end"].fillna(frames.extracted_on).to_numpy()
        fte = np.array(
            [ss["fte"].to_numpy()[(ss["start"].to_numpy() <= m) & (s_end >= m)].sum() for m in months.to_numpy()]
        )
        rows.append(pd.DataFrame({"month": months, "arm": name, "open_cases": open_n, "sw_fte": fte}))
    out = pd.concat(rows, ignore_index=True)
    out["caseload"] = out["open_cases"] / out["sw_fte"].where(out["sw_fte"] > 0)
    out["complete"] = out["month"] >= _duration.buildup_end(c, (frames.follow_start, frames.extracted_on))
    return out


def analyse_workforce(frames: SiteData, cfg: SiteConfig) -> tuple[dict[str, Result], dict[str, pd.DataFrame]]:
    workers = frames["staff"][["worker_id", "team_id"]].drop_duplicates("worker_id")
    tu = frames["time_use"].merge(workers, on="worker_id")
    tu["arm"] = tu["team_id"].map(_arm(frames))
    hours = tu.pivot_table(index=["arm", "wave"], columns="activity", values="hours", aggfunc="sum", fill_value=0)
    share = (hours.get("face_to_face", 0) / hours.sum(axis=1)).rename("face_to_face_share").reset_index()
    st = frames["staff"].copy()
    st["left"] = st["end"].notna().astype(int)
    st["end_excl"] = st["end"].fillna(frames.extracted_on) + pd.Timedelta(days=1)
    st["fte_years"] = _person_years(
        st,
        pd.Series(frames.follow_start, index=st.index),
        pd.Series(frames.extracted_on + pd.Timedelta(days=1), index=st.index),
    )
    st["left"] = (st["left"] & (st["end"] >= frames.follow_start)).astype(int)
    st["arm"] = st["team_id"].map(_arm(frames))
    st = st[st["fte_years"] > 0]
    res = {"turnover": rates.compare_rates(st, "left", "fte_years", "arm", reference="comparison", alpha=cfg.alpha)}
    return res, {"caseload": caseload_by_month(frames), "face_to_face": share}


def design_stats(frames: SiteData) -> dict[str, int]:
    """What limits a site's comparisons: teams per arm, and months of follow-up after the first start."""
    arms = frames["teams"]["arm"].astype("object")
    end, start = frames.extracted_on, frames.pilot_start
    months = (end.year - start.year) * 12 + end.month - start.month
    return {
        "n_pilot_teams": int((arms == "pilot").sum()),
        "n_comparison_teams": int((arms == "comparison").sum()),
        "months_after_start": int(months),
    }


ANALYSES: dict[str, Callable[[SiteData, SiteConfig], tuple[dict[str, Result], dict[str, pd.DataFrame]]]] = {
    "duration": analyse_duration,
    "costs": analyse_costs,
    "sick_leave": analyse_sick_leave,
    "survey": analyse_survey,
    "workforce": analyse_workforce,
}


def analyse(tables: dict[str, pd.DataFrame], meta: dict[str, Any], config: SiteConfig) -> SiteResults:
    """Run every analysis of the plan on one site; a failing one is recorded, not raised.

    Parameters
    ----------
    tables : dict of DataFrame
        Valid rows of every table (``evalkit.validation.validate(...).tables``).
    meta : dict
        The dataset manifest (``extracted_on`` at least).
    config : SiteConfig

    Returns
    -------
    SiteResults
        ``results[analysis][name]`` are Results; ``tables[analysis][name]``
        descriptive tables; ``skipped[analysis]`` the reason an analysis
        could not run.
    """
    # One BLAS thread: a multi-threaded sum can change the last bits of a fit,
    # and a report's numbers must not depend on the machine or on how it was run.
    with threadpool_limits(limits=1):
        return _analyse(site_data(tables, meta, config), config)


def _analyse(frames: SiteData, config: SiteConfig) -> SiteResults:
    names = frames["sites"]["municipality"] if "municipality" in frames["sites"] else pd.Series(dtype=object)
    out = SiteResults(config.site, municipality=str(names.iloc[0]) if len(names) else "")
    limits = design_stats(frames)
    for name, fn in ANALYSES.items():
        try:
            out.results[name], out.tables[name] = fn(frames, config)
            for analysis, key, _, _ in KEY_ESTIMATES.values():
                if analysis == name and key in out.results[name]:
                    out.results[name][key].stats.update(limits)
        except EvalkitError as exc:
            out.skipped[name] = str(exc)
        except np.linalg.LinAlgError:
            # e.g. a mixed model on a site whose design is singular: say so, keep the others
            out.skipped[name] = "the model could not be estimated on these data (singular matrix)"
    return out
