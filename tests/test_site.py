"""The per-site analysis plan: slices, derived data, and recovery of known effects."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from evalkit import meta, site
from evalkit.config import SiteConfig
from evalkit.synth import synthesise


@pytest.fixture(scope="module")
def data():
    return synthesise(sites=8, seed=3)


@pytest.fixture(scope="module")
def all_results(data):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {s: site.analyse(data.tables, data.meta, SiteConfig(site=s)) for s in data.tables["sites"]["site_id"]}


def test_site_slice_holds_only_that_sites_rows(data):
    frames = site.site_data(data.tables, data.meta, SiteConfig(site="kuopio"))
    teams = set(frames["teams"]["team_id"])
    assert teams and all(t.startswith("kuopio") for t in teams)
    assert set(frames["cases"]["team_id"]) <= teams
    assert set(frames["contacts"]["case_id"]) <= set(frames["cases"]["case_id"])
    # Kuopio's first pilot team started on 2018-01-01 (DOMAIN.md)
    assert frames.pilot_start == pd.Timestamp("2018-01-01")


def test_duration_data_codes_ends_and_censoring(data):
    frames = site.site_data(data.tables, data.meta, SiteConfig(site="kuopio"))
    d = site.duration_data(frames)
    assert (d["days"] >= 0).all()
    assert set(d["event"]) <= {0, 1, 2}
    assert ((d["event"] == 2) == (d["placement"] == 1)).all()
    # every case counted is opened from its team's start
    c = frames["cases"].set_index("case_id")
    assert len(d) < len(c)


def test_person_years_split_at_the_start_add_up(data):
    frames = site.site_data(data.tables, data.meta, SiteConfig(site="kuopio"))
    d = site.sick_leave_data(frames)
    st = frames["staff"]
    end = st["end"].fillna(frames.extracted_on) + pd.Timedelta(days=1)
    start = st["start"].where(st["start"] > frames.follow_start, frames.follow_start)
    total = (((end - start).dt.days.clip(lower=0)) / 365.25 * st["fte"]).sum()
    assert d["fte_years"].sum() == pytest.approx(total, rel=1e-9)
    assert (d["days"] >= 0).all() and set(d["period"]) == {"before", "after"}


def test_every_analysis_runs_on_a_typical_site(all_results):
    res = all_results["kuopio"]
    assert res.skipped == {}
    assert set(res.results) == set(site.ANALYSES)
    assert list(res.key_estimates().index) == list(site.KEY_ESTIMATES)


def test_a_site_without_pilot_start_is_refused_with_a_reason(data):
    tables = dict(data.tables)
    teams = tables["teams"].copy()
    teams.loc[teams["site_id"] == "kuopio", "arm"] = "comparison"
    tables["teams"] = teams
    with pytest.raises(Exception, match="no pilot team"):
        site.analyse(tables, data.meta, SiteConfig(site="kuopio"))


@pytest.mark.parametrize("name", list(site.KEY_ESTIMATES))
def test_pooled_site_estimates_cover_the_true_effect(data, all_results, name):
    """Pool the 8 sites' estimates (REML, Knapp-Hartung) and check the CI covers the truth in dataset.yaml.

    One dataset: a check that each estimate estimates what dataset.yaml defines;
    benchmarks/validity.py measures coverage over hundreds.
    """
    rows = [r.key_estimates().loc[name] for r in all_results.values() if name in r.key_estimates().index]
    k = pd.DataFrame(rows)
    assert len(k) == 8
    pooled = meta.pool(k, yi="estimate", vi=k["se"] ** 2, test="knha").table.loc["pooled"]
    truth_key = site.KEY_ESTIMATES[name][3]
    truth = data.meta["true_effects"][truth_key]["value"]
    target = truth if name == "survey_change" else np.log(truth)
    assert pooled["ci_low"] <= target <= pooled["ci_high"]


def test_key_estimates_state_their_estimand_and_design(all_results):
    key = all_results["suonenjoki"].key_estimates()
    assert list(key.index) == list(site.KEY_ESTIMATES)
    assert (key["estimand"] == pd.Series(site.ESTIMANDS)).all()
    assert key["ci_low"].notna().all() and (key["ci_low"] < key["estimate"]).all()
    cox_end = all_results["suonenjoki"].results["duration"]["cox_end"]
    assert cox_end.stats["n_pilot_teams"] == 1 and cox_end.stats["months_after_start"] > 12
    assert "strata by team" in cox_end.method


def test_survey_change_stands_when_the_anova_cannot_be_fitted(data, monkeypatch):
    from evalkit import effects

    def broken(*args, **kwargs):
        raise np.linalg.LinAlgError("singular")

    monkeypatch.setattr(effects, "mixed_anova", broken)
    res = site.analyse(data.tables, data.meta, SiteConfig(site="kuopio"))
    assert "survey_change" in res.key_estimates().index
    assert "anova" not in res.results["survey"]
    assert "singular" in res.tables["survey"]["not_estimable"].loc["anova", "reason"]


def test_reprs_show_counts_and_estimates_but_no_identifiers(data, all_results):
    frames = site.site_data(data.tables, data.meta, SiteConfig(site="kuopio"))
    res = all_results["kuopio"]
    texts = [repr(frames), frames._repr_html_(), repr(res), res._repr_html_()]
    ids = (
        set(frames["cases"]["case_id"][:50]) | set(frames["staff"]["worker_id"][:50]) | set(frames["teams"]["team_id"])
    )
    assert not any(i in t for i in ids for t in texts)
    assert "hr_case_end" in res._repr_html_() and "cases" in frames._repr_html_()


def test_site_tables_pick_the_same_rows_and_notice_a_replaced_table(data):
    indexed = site.SiteTables(data.tables)
    for s in data.tables["sites"]["site_id"]:
        cfg = SiteConfig(site=s)
        fast, plain = site.site_data(indexed, data.meta, cfg), site.site_data(data.tables, data.meta, cfg)
        for name, frame in plain.tables.items():
            pd.testing.assert_frame_equal(fast[name], frame)
    # a table replaced after the positions were found: they are found again, not reused
    fewer = data.tables["contacts"].iloc[::2]
    indexed["contacts"] = fewer
    cfg = SiteConfig(site="kuopio")
    plain = site.site_data({**data.tables, "contacts": fewer}, data.meta, cfg)
    pd.testing.assert_frame_equal(site.site_data(indexed, data.meta, cfg)["contacts"], plain["contacts"])


def test_a_hazard_ratio_without_a_finite_estimate_is_reported_not_estimable(data):
    from evalkit import report

    # no pilot-team case ends in a placement after the start: the placement hazard ratio runs off to zero
    cases = data.tables["cases"].copy()
    teams = data.tables["teams"].set_index("team_id")
    started = cases["closed"] >= cases["team_id"].map(teams["model_start"])
    cases.loc[started & (cases["end_reason"] == "placement"), "end_reason"] = "no_need"
    cfg = SiteConfig(site="kuopio", lang="en")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = site.analyse({**data.tables, "cases": cases}, data.meta, cfg)
    duration = res.results["duration"]
    assert "cox_placement" not in duration and {"cox_end", "km", "cif_placement"} <= set(duration)
    assert "no finite estimate" in res.tables["duration"]["not_estimable"].loc["cox_placement", "reason"]
    assert "hr_placement" not in res.key_estimates().index and "hr_case_end" in res.key_estimates().index
    section, summary = report.duration(res, cfg).html, report.summary(res, cfg).html
    assert "no finite estimate" in section and "no finite estimate" in summary


def test_a_design_without_a_pre_period_gives_descriptions_without_intervals(data):
    from evalkit import index, report, stamp

    # Kuopio's pilot teams "start" on the first day of the data: no before to compare with
    teams = data.tables["teams"].copy()
    teams.loc[(teams["site_id"] == "kuopio") & (teams["arm"] == "pilot"), "model_start"] = pd.Timestamp("2016-01-01")
    cfg = SiteConfig(site="kuopio", lang="en")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = site.analyse({**data.tables, "teams": teams}, data.meta, cfg)
    key = res.key_estimates()
    described = ["hr_case_end", "hr_placement", "cost_level", "sick_leave_rr"]
    assert key.loc[described, ["se", "ci_low", "ci_high", "p"]].isna().all().all()
    assert key.loc[described, "estimate"].notna().all() and "cost_slope" not in key.index
    assert key.loc["survey_change", "ci_low"] < key.loc["survey_change", "ci_high"]  # survey rounds unaffected
    doc = stamp.results_document(res, {})
    assert doc["key_estimates"]["cost_level"]["ci_low"] is None
    assert set(index.site_estimates({"kuopio": doc})["name"]) == {"survey_change"}  # descriptions are not pooled
    summary = report.summary(res, cfg).html
    assert (
        summary.count("a description, not an estimate of the effect (no pilot team has data from both before and after")
        == 4
    )
    assert "ended sooner" not in summary and "fell" not in summary.split("Worker wellbeing")[0]


def test_months_whose_open_case_counts_miss_earlier_cases_are_flagged_and_left_out_of_costs_per_case():
    warnings.simplefilter("ignore")
    d = synthesise(sites=1, seed=11)
    frames = site.site_data(d.tables, d.meta, SiteConfig(site="kuopio"))
    load = site.caseload_by_month(frames)
    by_month = load.groupby("month").agg(open_cases=("open_cases", "sum"), complete=("complete", "all"))
    assert not by_month["complete"].iloc[0] and by_month["complete"].iloc[-1]
    assert by_month["complete"].is_monotonic_increasing  # one build-up period, then complete
    # the flagged months are the rising ones: their counts are well under the complete months' level
    assert (
        by_month.loc[~by_month["complete"], "open_cases"].mean()
        < 0.8 * by_month.loc[by_month["complete"], "open_cases"].mean()
    )
    first_year = str(by_month.index[0].year)
    per_child = site.analyse(d.tables, d.meta, SiteConfig(site="kuopio")).tables["costs"]["per_child"]
    assert first_year not in per_child.index
