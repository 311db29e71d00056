"""Tests for evalkit.design: minimum detectable effects, power, estimability checks."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import optimize
from scipy import stats as st

from evalkit import EstimationError, InputError
from evalkit.design import (
    EVENTS_PER_COVARIATE,
    FEW_CLUSTERS,
    estimable,
    mde,
    power,
    require_estimable,
)


# ---------------------------------------------------------------- power and mde


def test_power_matches_r_power_t_test():
    # R: power.t.test(n = 64, delta = 0.5)  -> power = 0.8014596
    res = power(effect=0.5, clusters_per_arm=64, cluster_size=1, icc=0)
    assert round(res["power"]["estimate"], 7) == 0.8014596


def test_power_differs_from_r_default_only_by_the_far_tail():
    # R: power.t.test(n = 20, delta = 1)  -> power = 0.8689528 (R's ?power.t.test example).
    # R's default strict = FALSE counts only the upper rejection region; ours is the
    # strict two-sided power, larger by P(T' < -t_crit).
    got = power(effect=1, clusters_per_arm=20, cluster_size=1, icc=0)["power"]["estimate"]
    far = st.nct.cdf(-st.t.ppf(0.975, 38), 38, 1 / math.sqrt(2 / 20))
    assert round(got - far, 7) == 0.8689528
    assert 0 < far < 1e-6


def test_mde_two_sample_formula_and_its_approximation():
    res = mde(clusters_per_arm=64, cluster_size=1, icc=0)
    df = 126
    expected = (st.t.ppf(0.975, df) + st.t.ppf(0.8, df)) * math.sqrt(2 / 64)
    assert res["mde"]["estimate"] == pytest.approx(expected, rel=1e-12)
    assert res.stats["df"] == df and res.stats["design_effect"] == 1
    # the t-quantile sum approximates the exact noncentral-t answer: the exact effect with
    # 80% power (root of the exact noncentral-t power, found here) is 0.49907, the MDE 0.49912
    exact = optimize.brentq(
        lambda e: power(effect=e, clusters_per_arm=64, cluster_size=1, icc=0)["power"]["estimate"] - 0.8, 0.3, 0.7
    )
    assert abs(res["mde"]["estimate"] - exact) < 1e-4
    assert power(effect=res["mde"]["estimate"], clusters_per_arm=64, cluster_size=1, icc=0)["power"][
        "estimate"
    ] == pytest.approx(0.8, abs=5e-4)


def test_mde_approximation_is_rougher_with_very_few_clusters():
    # 3 teams per arm (4 df): power at the MDE is 0.791, not 0.80 -- documented, not hidden
    res = mde(clusters_per_arm=3, cluster_size=1, icc=0)
    achieved = power(effect=res["mde"]["estimate"], clusters_per_arm=3, cluster_size=1, icc=0)
    assert 0.785 < achieved["power"]["estimate"] < 0.80


def test_design_effect_inflates_mde_by_its_square_root():
    base = mde(clusters_per_arm=9, cluster_size=112 / 18, icc=0)
    clustered = mde(clusters_per_arm=9, cluster_size=112 / 18, icc=0.05)
    de = 1 + (112 / 18 - 1) * 0.05
    assert clustered.stats["design_effect"] == pytest.approx(de)
    assert clustered["mde"]["estimate"] / base["mde"]["estimate"] == pytest.approx(math.sqrt(de))
    assert clustered.stats["n_effective"] == pytest.approx(112 / de)
    assert clustered.stats["df"] == 16 and clustered.warnings  # 18 teams < FEW_CLUSTERS
    assert 18 < FEW_CLUSTERS


def test_power_is_recovered_by_simulating_team_data():
    # teams of m = 6, ICC 0.05, effect = MDE: the t-test on team means (2J - 2 df) should
    # reject about as often as power() says (equal team sizes make it exact)
    rng = np.random.default_rng(7)
    j, m, icc = 9, 6, 0.05
    effect = mde(clusters_per_arm=j, cluster_size=m, icc=icc)["mde"]["estimate"]
    target = power(effect=effect, clusters_per_arm=j, cluster_size=m, icc=icc)["power"]["estimate"]
    reps = 400
    team = rng.normal(0, math.sqrt(icc), size=(reps, 2, j))
    person = rng.normal(0, math.sqrt(1 - icc), size=(reps, 2, j, m)).mean(axis=3)
    means = team + person
    means[:, 1, :] += effect
    p = st.ttest_ind(means[:, 1, :], means[:, 0, :], axis=1).pvalue
    assert abs((p < 0.05).mean() - target) < 0.07  # Monte Carlo SE ~0.02


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(clusters_per_arm=1, cluster_size=5, icc=0.1), "at least 2"),
        (dict(clusters_per_arm=5, cluster_size=0, icc=0.1), "cluster_size"),
        (dict(clusters_per_arm=5, cluster_size=5, icc=1.5), "icc"),
        (dict(clusters_per_arm=5, cluster_size=5, icc=0.1, power=1.0), "power"),
    ],
)
def test_mde_rejects_impossible_designs(kwargs, match):
    with pytest.raises(InputError, match=match):
        mde(**kwargs)


# ---------------------------------------------------------------- estimable


def _cases(n_per_arm=20, events=(5, 5), teams=(2, 2)):
    rows = []
    for arm in (0, 1):
        for i in range(n_per_arm):
            rows.append({"arm": arm, "event": int(i < events[arm]), "team": f"{arm}-{i % teams[arm]}"})
    return pd.DataFrame(rows)


def test_cox_passes_with_enough_events():
    res = estimable(_cases(events=(6, 6)), "cox", event="event", group="arm")
    assert res.stats["ok"] and res.table["ok"].all()
    assert set(res.table.columns) >= {"value", "required", "ok", "reason"}
    assert res.table.loc["events per covariate", "required"] == EVENTS_PER_COVARIATE


def test_cox_fails_without_events_in_an_arm_and_says_why():
    res = estimable(_cases(events=(8, 0)), "cox", event="event", group="arm")
    assert not res.stats["ok"]
    assert "no events in group(s) 1" in res.table.loc["events per arm", "reason"]
    with pytest.raises(EstimationError, match="no events in group"):
        require_estimable(_cases(events=(8, 0)), "cox", event="event", group="arm")


def test_cox_events_per_covariate():
    res = estimable(_cases(events=(6, 6)), "cox", event="event", group="arm", n_covariates=2)
    assert not res.stats["ok"]
    assert "12 events for 2 covariate(s); 20 wanted" in res.table.loc["events per covariate", "reason"]


def test_clusters_per_arm_and_few_clusters_warning():
    one_team = estimable(_cases(events=(6, 6), teams=(1, 3)), "cox", event="event", group="arm", cluster="team")
    assert not one_team.stats["ok"] and not one_team.table.loc["clusters per arm", "ok"]
    ok = estimable(_cases(events=(6, 6), teams=(3, 3)), "cox", event="event", group="arm", cluster="team")
    assert ok.stats["ok"]  # few clusters is advisory: a warning, not a bar
    assert not ok.table.loc["clusters in all", "ok"] and ok.table.loc["clusters in all", "advisory"]
    assert any("cluster-robust" in w for w in ok.warnings)


def test_km_all_censored():
    res = estimable(_cases(events=(0, 0)), "km", event="event")
    assert not res.stats["ok"] and "no median" in res.table.loc["events", "reason"]


def test_rates_zero_exposure_and_no_events():
    d = pd.DataFrame({"arm": [0, 0, 1, 1], "days": [3, 1, 0, 0], "fte": [1.0, 0.0, 1.0, 0.5]})
    res = estimable(d, "rates", event="days", exposure="fte", group="arm")
    assert not res.table.loc["exposure > 0", "ok"] and not res.table.loc["events per arm", "ok"]
    d["fte"] = 1.0
    d.loc[2, "days"] = 2
    assert estimable(d, "rates", event="days", exposure="fte", group="arm").stats["ok"]


def test_its_epoc_and_seasonality():
    d = pd.DataFrame({"month": range(1, 25)})
    res = estimable(d, "its", time="month", start=13)
    assert res.stats["ok"] and res.table.loc["points per segment for seasonality", "ok"]
    short = estimable(d.head(14), "its", time="month", start=13)
    assert not short.stats["ok"]
    assert "12 points before and 2 from the start" in short.table.loc["points before/after", "reason"]
    mid = estimable(d.head(17), "its", time="month", start=13)  # 5 after: EPOC ok, seasonality weak
    assert mid.stats["ok"] and mid.warnings
    with pytest.raises(InputError, match="start"):
        estimable(d, "its", time="month")


def test_did_cells():
    d = pd.DataFrame({"nj": [0, 0, 1, 1, 0, 0, 1], "post": [0, 1, 0, 1, 0, 1, 0]})
    res = estimable(d, "did", group="nj", time="post")
    assert not res.stats["ok"] and "1/1: 1" in res.table.loc["group x period cells", "reason"]
    d = pd.concat([d, pd.DataFrame({"nj": [1], "post": [1]})])
    assert estimable(d, "did", group="nj", time="post").stats["ok"]


def test_twfe_needs_switching_units():
    d = pd.DataFrame({"unit": [1, 1, 2, 2], "t": [1, 2, 1, 2], "treated": [0, 0, 1, 1]})
    res = estimable(d, "twfe", unit="unit", time="t", group="treated")
    assert not res.stats["ok"] and "absorb" in res.table.loc["treatment variation", "reason"]
    d["treated"] = [0, 0, 0, 1]
    assert estimable(d, "twfe", unit="unit", time="t", group="treated").stats["ok"]


def test_staggered_needs_controls_and_pre_periods():
    d = pd.DataFrame({"unit": [1, 1, 2, 2], "t": [1, 2, 1, 2], "g": [2, 2, 1, 1]})
    res = estimable(d, "staggered", unit="unit", time="t", first_treated="g")
    assert not res.stats["ok"] and not res.table.loc["control units", "ok"]
    d["g"] = [2, 2, 0, 0]
    assert estimable(d, "staggered", unit="unit", time="t", first_treated="g").stats["ok"]


def test_anova_complete_subjects():
    d = pd.DataFrame({"id": [1, 1, 2, 2, 3, 3, 4], "wave": [1, 2] * 3 + [1], "grp": ["a"] * 4 + ["b"] * 3})
    res = estimable(d, "anova", unit="id", time="wave", group="grp")
    assert not res.stats["ok"]  # group b has one complete subject
    d = pd.concat([d, pd.DataFrame({"id": [4], "wave": [2], "grp": ["b"]})])
    assert estimable(d, "anova", unit="id", time="wave", group="grp").stats["ok"]


def test_estimable_argument_errors():
    d = _cases()
    with pytest.raises(InputError, match="analysis"):
        estimable(d, "glm", event="event")
    with pytest.raises(InputError, match="needs column name"):
        estimable(d, "cox", event="event")
    with pytest.raises(InputError, match="unknown column role"):
        estimable(d, "km", event="event", arm="arm")
    with pytest.raises(InputError, match="not in data"):
        estimable(d, "km", event="status")
