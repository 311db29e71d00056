"""The bodies of the site report's analysis sections (private to :mod:`evalkit.report`).

Each ``*_body(page, res, tabs)`` writes one section onto a :class:`Page`
from the Results (``res``) and descriptive tables (``tabs``) of one
analysis of :func:`evalkit.site.analyse`. Counts of people, cases and
events pass through :func:`evalkit.disclosure.suppress_counts`; a rate or
mean resting on a suppressed count is hidden with it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evalkit.core.disclosure import SECONDARY_MARK
from evalkit.core.i18n import fmt_ci, fmt_number, fmt_percent
from evalkit.core.result import Result
from evalkit.data.schemas import ARMS
from evalkit.report import plots
from evalkit.report._html import Page, blank_where_hidden, number_format, small
from evalkit.report._text import (
    Estimate,
    caveats,
    design_limits,
    estimate_from_row,
    evidence,
    missing_reason,
    not_estimable,
    signed_percent,
)

__all__ = ["duration_body", "costs_body", "sick_leave_body", "survey_body", "workforce_body", "direction", "ARMS"]

#: how far into a case the cumulative incidence of placement is quoted (days)
_CIF_DAY = 365


def pilot_first(table: pd.DataFrame) -> pd.DataFrame:
    """Rows of pilot teams first, so that every figure gives each arm the same colour."""
    return table.sort_values("arm", key=lambda arm: arm.ne("pilot"), kind="stable")


def arm_names(page: Page) -> dict[str, str]:
    """How the arms are named in tables and figures ("Pilot teams", never a team id)."""
    return {"pilot": page.t("pilot_teams"), "comparison": page.t("comparison_teams")}


def direction(page: Page, name: str, est: Estimate, measure: str, digits: int = 2) -> list[str]:
    """Sentences on a key estimate by the wording rules (:func:`evalkit.report._text.evidence`), with caveats.

    A description (the design supports no interval) compares different
    teams, so no direction of change is claimed and no caveat applies.
    """
    said = evidence(name, est, measure, page.cfg, digits)
    assert est.result is not None  # every estimate here is a row of a Result (estimate_from_row)
    return said if est.kind in ("descriptive", "unbounded") else [*said, *caveats(est.result, page.cfg)]


def _days(value: float, page: Page) -> str:
    return page.t("not_reached") if pd.isna(value) else fmt_number(value, page.cfg.lang, 0)


# --- case duration -----------------------------------------------------------------------


def duration_body(page: Page, res: dict[str, Result], tabs: dict[str, pd.DataFrame]) -> None:
    """Case ends by arm, medians, the two hazard ratios, placement within a year, KM and CIF figures."""
    lang, names = page.cfg.lang, arm_names(page)
    ends = tabs["end_counts"].reindex(index=list(ARMS), columns=["closed", "placement", "open"], fill_value=0)
    ends = ends.rename(index=names, columns={c: page.t(f"end_{c}") for c in ends.columns})
    ends.index.name = ends.columns.name = None
    safe = page.suppress(ends)
    shown = page.in_words(safe.display)
    page.para(
        page.t(
            "dur_scope",
            pilot=shown.loc[names["pilot"], page.total],
            comparison=shown.loc[names["comparison"], page.total],
        )
    )
    med = res["median"].table
    page.para(
        page.t(
            "dur_median",
            pilot=_days(med.loc["pilot", "estimate"], page),
            comparison=_days(med.loc["comparison", "estimate"], page),
        )
    )
    for name, key in (("hr_case_end", "cox_end"), ("hr_placement", "cox_placement")):
        reason = missing_reason(tabs, key, page.t("not_run"))
        said = (
            direction(page, name, estimate_from_row(res[key], "model_work", "log"), "hazard_ratio")
            if key in res
            else [f"{page.t(name + '_title')}: {not_estimable(reason, page.cfg)}"]
        )
        page.para(*said, *([_cif_sentence(page, res["cif_placement"].table)] if key == "cox_placement" else []))
    if "cox_end" in res and "descriptive" not in res["cox_end"].stats:  # what the DiD estimates, and its limits
        page.para(page.t("dur_adjusted"), *design_limits(res["cox_end"], page.cfg))
    page.show(safe, page.t("dur_table_ends"))
    medians = pd.DataFrame(
        {
            page.t("median_days"): [_days(med.loc[a, "estimate"], page) for a in ARMS],
            page.t("ci_level", level=page.level): [
                fmt_ci(med.loc[a, "ci_low"], med.loc[a, "ci_high"], lang, 0) for a in ARMS
            ],
        },
        index=[names[a] for a in ARMS],
    )
    page.table(medians, page.t("dur_table_median"))
    km = res["km"].table
    step = 365 if km["time"].max() > 730 else 90
    labels = {**_curve_labels(page), "title": page.t("km_title"), "ylabel": page.t("km_ylabel")}
    page.figure(
        plots.km_curves(
            pilot_first(km),
            group="arm",
            threshold=page.cfg.disclosure_threshold,
            risk_times=list(np.arange(0, km["time"].max() + 1, step)),
            labels=labels,
            number_format=number_format(lang),
        ),
        page.t("km_caption"),
        curves=True,
    )
    labels = {**_curve_labels(page), "title": page.t("cif_title"), "ylabel": page.t("cif_ylabel")}
    page.figure(
        plots.cif_curves(
            pilot_first(res["cif_placement"].table),
            group="arm",
            threshold=page.cfg.disclosure_threshold,
            labels=labels,
            number_format=number_format(lang),
        ),
        page.t("cif_caption"),
        curves=True,
    )


def _curve_labels(page: Page) -> dict[str, str]:
    # {threshold} is left in for the figure functions to fill
    return {
        "xlabel": page.t("days_since_opening"),
        "risk_table": page.t("at_risk"),
        "note": page.t("curve_note"),
        "hidden": page.t("curve_hidden"),
        "all": page.total,
        **{a: page.t(a + "_teams") for a in ARMS},
    }


def _cif_sentence(page: Page, cif: pd.DataFrame) -> str:
    """Share of cases ended in placement within a year, by arm (omitted if the risk set is small)."""
    shares = {}
    for arm in ARMS:
        rows = cif[(cif["arm"] == arm) & (cif["time"] <= _CIF_DAY)]
        if not rows.empty and rows["n_risk"].iloc[-1] < page.cfg.disclosure_threshold:
            return ""
        shares[arm] = fmt_percent(rows["cif"].iloc[-1] if not rows.empty else 0.0, page.cfg.lang, 1)
    return page.t("dur_cif", **shares)


# --- purchased services ------------------------------------------------------------------

SERVICE_KEYS = ("family_work", "institutional_care", "foster_care", "substance_abuse", "therapy", "other")


def costs_body(page: Page, res: dict[str, Result], tabs: dict[str, pd.DataFrame]) -> None:
    """Pilot teams' level and slope change at their own starts, the pre-trend check, the figure and tables."""
    lang = page.cfg.lang
    m = tabs["monthly"]
    panel = res["panel"]
    months = m["month"].tolist()
    starts = tabs["team_months"]["start"].dropna()
    page.para(
        page.t(
            "costs_scope",
            first=_month(months[0], lang),
            last=_month(months[-1], lang),
            start=_month(starts.min(), lang) if len(starts) else "–",
        )
    )
    page.para(*direction(page, "cost_level", estimate_from_row(panel, "level_change", "log"), "cost_ratio"))
    if "slope_change" in panel.table.index:
        page.para(*direction(page, "cost_slope", estimate_from_row(panel, "slope_change", "log"), "monthly_ratio", 3))
    if "fitted" not in panel.frames:  # a description has no model of the course without the pilot
        _cost_tables(page, m, tabs)
        return
    page.para(page.t("costs_note"), *_pretrend_sentence(page, res.get("pretrend")), *design_limits(panel, page.cfg))
    fitted = _pilot_lines(panel, tabs["team_months"])
    labels = {
        "title": page.t("its_title"),
        "xlabel": "",
        "ylabel": page.t("euros_per_month"),
        "observed": page.t("its_observed"),
        "fitted": page.t("its_fitted"),
        "counterfactual": page.t("its_counterfactual"),
        "start": page.t("its_start"),
    }
    page.figure(
        plots.its_plot(
            fitted,
            "month",
            "observed",
            start=starts.min(),
            fitted=fitted["fitted"].to_numpy(),
            counterfactual=fitted["counterfactual"].to_numpy(),
            labels=labels,
            number_format=number_format(lang),
        ),
        page.t("its_caption"),
    )
    _cost_tables(page, m, tabs)


def _cost_tables(page: Page, m: pd.DataFrame, tabs: dict[str, pd.DataFrame]) -> None:
    """Costs per year by arm (the site's own purchases apart), by service type, per open case."""
    lang = page.cfg.lang
    year = m.assign(year=m["month"].str[:4]).groupby("year")
    columns = [c for c in ("pilot", "comparison", "site", "total") if c in m.columns]
    yearly = year[columns].sum().map(lambda v: f"{fmt_number(v, lang, 0)}\u00a0€")
    yearly = yearly.rename(
        columns={
            "pilot": page.t("pilot_teams"),
            "comparison": page.t("comparison_teams"),
            "site": page.t("site_level"),
            "total": page.total,
        }
    )
    yearly.index.name = yearly.columns.name = None
    page.table(yearly, page.t("costs_table"))
    if "by_service" in tabs and not tabs["by_service"].empty:
        svc = tabs["by_service"]
        shown = pd.DataFrame(
            {
                page.t("costs_before_start"): svc["before"].map(lambda v: f"{fmt_number(v, lang, 0)}\u00a0€"),
                page.t("costs_after_start"): svc["after"].map(lambda v: f"{fmt_number(v, lang, 0)}\u00a0€"),
                page.t("costs_change_ratio"): svc["ratio"].map(lambda v: fmt_number(v, lang, 2)),
            }
        )
        shown.index = [page.t(str(k)) if str(k) in SERVICE_KEYS else str(k) for k in svc.index]
        page.table(shown, page.t("costs_by_service_table"))
    if "per_child" in tabs and not tabs["per_child"].empty:
        pc = (
            tabs["per_child"]["per_child"]
            .map(lambda v: f"{fmt_number(v, lang, 0)}\u00a0€")
            .to_frame(page.t("costs_per_child_column"))
        )
        pc.index.name = None
        page.table(pc, page.t("costs_per_child_table"))


def _pretrend_sentence(page: Page, pretrend: Result | None) -> list[str]:
    """The pre-trend check in words: a warning when it flags, a modest 'no sign' otherwise."""
    if pretrend is None:
        return []
    est = estimate_from_row(pretrend, "pretrend", "log")
    ci = page.t("ci_level", level=page.level) + " " + fmt_ci(est.low - 1, est.high - 1, page.cfg.lang, 3)
    key = "costs_pretrend_flag" if est.clear else "costs_pretrend_ok"
    return [page.t(key, pct=signed_percent(est.value, page.cfg.lang), ci=ci)]


def _pilot_lines(panel: Result, team_months: pd.DataFrame) -> pd.DataFrame:
    """Pilot teams' observed, fitted and counterfactual euros per month, summed over the teams."""
    fitted = panel.frames["fitted"]
    out = fitted[fitted["treated"]].groupby("time")[["observed", "fitted", "counterfactual"]].sum().reset_index()
    first = pd.Period(team_months["month"].min(), freq="M")
    out["month"] = [str(first + int(t) - 1) for t in out["time"]]
    return out


def _month(month: str, lang: str) -> str:
    """``2018-01`` as ``1/2018`` in fi and sv."""
    year, mon = month.split("-")
    return month if lang == "en" else f"{int(mon)}/{year}"


# --- sick leave --------------------------------------------------------------------------


def sick_leave_body(page: Page, res: dict[str, Result], tabs: dict[str, pd.DataFrame]) -> None:
    """Rates by arm and period, the ratio of rate ratios, days (suppressed) and rates tables, figure."""
    lang, names = page.cfg.lang, arm_names(page)
    rates = res["rates"].table.reset_index()
    periods = {"before": page.t("before_start"), "after": page.t("after_start")}
    wide = lambda col: rates.pivot(index="arm", columns="period", values=col).reindex(  # noqa: E731
        index=list(ARMS), columns=list(periods)
    )
    days = wide("events").fillna(0).rename(index=names, columns=periods)  # no person-time: no days
    days.index.name = days.columns.name = None
    safe = page.suppress(days)
    rate = lambda a, p: (  # noqa: E731
        "\u2013"
        if pd.isna(wide("estimate").loc[a, p])
        else f"{fmt_number(wide('estimate').loc[a, p], lang, 1)} "
        f"({fmt_ci(wide('ci_low').loc[a, p], wide('ci_high').loc[a, p], lang, 1)})"
    )
    shown = pd.DataFrame({p: [rate(a, p) for a in ARMS] for p in periods}, index=list(ARMS))
    shown = blank_where_hidden(shown.rename(index=names, columns=periods), safe)
    cell = lambda a, p: shown.loc[names[a], periods[p]].split(" ")[0]  # noqa: E731
    if "sick_leave_rr" in page.withheld:  # the one rule of SiteResults.withheld, as summary and results.json
        page.para(page.t("hidden_small", threshold=page.cfg.disclosure_threshold))
    else:
        page.para(
            page.t(
                "sick_rates",
                pb=cell("pilot", "before"),
                cb=cell("comparison", "before"),
                pa=cell("pilot", "after"),
                ca=cell("comparison", "after"),
            )
        )
        est = estimate_from_row(res["rate_twfe"], "model_work", "log")
        page.para(*direction(page, "sick_leave_rr", est, "ratio_of_rate_ratios"))
        if not est.descriptive:
            page.para(page.t("sick_note"), *design_limits(res["rate_twfe"], page.cfg))
    page.show(safe, page.t("sick_table_days"))
    page.table(shown, page.t("sick_table_rates", level=page.level))
    keep = ~small(rates["events"], page.cfg.disclosure_threshold)
    if keep.all():
        labels = {
            "title": page.t("sick_title"),
            "ylabel": page.t("sick_ylabel"),
            "ci": page.t("ci_level", level=page.level),
            **periods,
            **names,
        }
        page.figure(
            plots.rates_by_arm(
                pilot_first(rates), periods=list(periods), labels=labels, number_format=number_format(lang, 1)
            ),
            page.t("sick_caption"),
        )


# --- worker wellbeing survey ---------------------------------------------------------------


def survey_body(page: Page, res: dict[str, Result], tabs: dict[str, pd.DataFrame]) -> None:
    """The DiD of mean wellbeing, respondents by round (suppressed) and the means resting on them."""
    lang, names = page.cfg.lang, arm_names(page)
    means = tabs["means"]
    waves = sorted(means["wave"].unique())
    wave_names = {w: page.t("round", n=w) for w in waves}
    grid = lambda col: (  # noqa: E731
        means.pivot(index="arm", columns="wave", values=col)
        .reindex(index=list(ARMS), columns=waves)
        .rename(index=names, columns=wave_names)
    )
    counts = grid("count").fillna(0)
    counts.index.name = counts.columns.name = None
    safe = page.suppress(counts)
    shown = blank_where_hidden(grid("mean").map(lambda v: fmt_number(v, lang, 2)), safe)
    page.para(page.t("survey_scope", k=len(waves)))
    if "survey_change" in page.withheld:
        page.para(page.t("hidden_small", threshold=page.cfg.disclosure_threshold))
    else:
        page.para(
            *direction(
                page, "survey_change", estimate_from_row(res["did"], "model_work", "difference"), "difference_points"
            )
        )
        page.para(page.t("survey_note"), *design_limits(res["did"], page.cfg))
    page.show(safe, page.t("survey_table_n"))
    shown.index.name = shown.columns.name = None
    page.table(shown, page.t("survey_table_means"))


# --- workforce -----------------------------------------------------------------------------


def workforce_body(page: Page, res: dict[str, Result], tabs: dict[str, pd.DataFrame]) -> None:
    """Caseload against the recommended and legal levels, face-to-face share, turnover."""
    lang, names, cfg = page.cfg.lang, arm_names(page), page.cfg
    load = tabs["caseload"].copy()
    load.loc[small(load["open_cases"], cfg.disclosure_threshold), "caseload"] = np.nan
    if "complete" in load and not load["complete"].all():  # counts that miss the cases opened before the data
        first = load.loc[load["complete"], "month"].min()
        page.para(
            page.t(
                "buildup_note",
                start=_month(load["month"].min().strftime("%Y-%m"), lang),
                complete=_month(first.strftime("%Y-%m"), lang) if pd.notna(first) else "–",
            )
        )
        load = load[load["complete"]]
    recent = load[load["month"] > load["month"].max() - pd.DateOffset(months=12)]
    avg = recent.groupby("arm")["caseload"].mean()
    page.para(
        page.t(
            "caseload_recent",
            pilot=fmt_number(avg.get("pilot"), lang, 1),
            comparison=fmt_number(avg.get("comparison"), lang, 1),
            target=fmt_number(cfg.caseload_target, lang, 0),
        )
    )
    labels = {
        "title": page.t("caseload_title"),
        "ylabel": page.t("caseload_ylabel"),
        "target": page.t("caseload_target"),
        "cap": page.t("caseload_cap"),
        **names,
    }
    page.figure(
        plots.caseload(
            pilot_first(load),
            "month",
            "caseload",
            "arm",
            target=cfg.caseload_target,
            labels=labels,
            number_format=number_format(lang),
        ),
        page.t("caseload_caption", threshold=cfg.disclosure_threshold),
    )
    share = tabs["face_to_face"]
    first, last = share["wave"].min(), share["wave"].max()
    pick = lambda a, w: share.loc[(share["arm"] == a) & (share["wave"] == w), "face_to_face_share"]  # noqa: E731
    pct = lambda a, w: fmt_percent(pick(a, w).iloc[0], lang, 0) if len(pick(a, w)) else "–"  # noqa: E731
    page.para(
        page.t(
            "f2f_sentence",
            p1=pct("pilot", first),
            p2=pct("pilot", last),
            c1=pct("comparison", first),
            c2=pct("comparison", last),
        )
    )
    labels = {"title": page.t("f2f_title"), "ylabel": page.t("f2f_ylabel"), "wave": page.t("round_word"), **names}
    page.figure(
        plots.bar_share(
            pilot_first(share), share="face_to_face_share", labels=labels, number_format=number_format(lang, 0)
        ),
        page.t("f2f_caption"),
    )
    _turnover(page, res["turnover"])


def _turnover(page: Page, turnover: Result) -> None:
    """Leavers (suppressed), person-years and rates by arm; the rate ratio only when no count is small."""
    lang, names = page.cfg.lang, arm_names(page)
    t = turnover.table.reindex(list(ARMS))
    leavers = t[["events"]].rename(index=names, columns={"events": page.t("leavers")})
    leavers.index.name = None
    safe = page.suppress(leavers)
    rate = pd.DataFrame(
        {
            page.t("person_years"): [fmt_number(v, lang, 1) for v in t["exposure"]],
            page.t("leavers_rate"): [
                f"{fmt_number(r['estimate'], lang, 2)} ({fmt_ci(r['ci_low'], r['ci_high'], lang, 2)})"
                for _, r in t.iterrows()
            ],
        },
        index=[names[a] for a in ARMS],
    )
    hidden = (safe.primary | safe.secondary).iloc[: len(ARMS), 0].to_numpy()
    rate.loc[hidden, page.t("leavers_rate")] = SECONDARY_MARK
    if safe.n_primary:
        page.para(
            f"{page.t('turnover').capitalize()}: " + page.t("hidden_small", threshold=page.cfg.disclosure_threshold)
        )
    else:
        page.para(
            page.t(
                "turnover_rates",
                pilot=fmt_number(t.loc["pilot", "estimate"], lang, 2),
                comparison=fmt_number(t.loc["comparison", "estimate"], lang, 2),
            ),
            *direction(page, "turnover", estimate_from_row(turnover, "pilot", "ratio"), "rate_ratio"),
        )
    page.show(safe, page.t("turnover_table"))
    page.table(rate, page.t("turnover_rate_table", level=page.level))
