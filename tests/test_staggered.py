"""Tests of evalkit.effects.staggered_did (Callaway & Sant'Anna 2021).

Reference values:
* point estimates: R ``did`` output on its ``mpdta`` example, as printed
  (4 decimals) in the did documentation;
* analytic SEs: R is not available here, so they are checked against two
  independent Python ports of R did that state they reproduce it, run on the
  same data with analytic SEs: ``csdid`` 0.4.3 (``ATTgt(...).fit(est_method=
  "reg", bstrap=False)``, printed to 4 decimals) and ``differences`` 0.3.0
  (``ATTgt(...).fit(est_method="reg")`` then ``.aggregate(...)``, 6 decimals);
* mathematically independent checks (2x2 DiD, OLS with HC0 SEs) and
  recovery of known effects from simulated staggered data.
"""

from __future__ import annotations


import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from evalkit import datasets
from evalkit import EstimationError, InputError
from evalkit.effects import staggered_did


@pytest.fixture(scope="module")
def mpdta() -> pd.DataFrame:
    return pd.read_csv(datasets.path("mpdta"))


def _cs(df, **kw):
    return staggered_did(df, "lemp", "countyreal", "year", "first.treat", **kw)


# R: att_gt(yname="lemp", tname="year", idname="countyreal", gname="first.treat",
#           xformla=~1, data=mpdta)  -> summary(): Group, Time, ATT(g,t)
R_ATT_GT = {
    (2004, 2004): -0.0105,
    (2004, 2005): -0.0704,
    (2004, 2006): -0.1373,
    (2004, 2007): -0.1008,
    (2006, 2004): 0.0065,
    (2006, 2005): -0.0028,
    (2006, 2006): -0.0046,
    (2006, 2007): -0.0412,
    (2007, 2004): 0.0305,
    (2007, 2005): -0.0027,
    (2007, 2006): -0.0311,
    (2007, 2007): -0.0261,
}
# csdid 0.4.3: ATTgt(yname="lemp", gname="first.treat", idname="countyreal", tname="year",
#              data=mpdta).fit(est_method="reg", bstrap=False), Std. Error column
PORT_SE_GT = [0.0233, 0.0310, 0.0364, 0.0344, 0.0233, 0.0196, 0.0178, 0.0202, 0.0150, 0.0164, 0.0179, 0.0167]


def test_mpdta_group_time_atts_match_r(mpdta):
    res = _cs(mpdta, aggregate=None)
    assert list(zip(res.table["group"], res.table["time"])) == list(R_ATT_GT)
    np.testing.assert_allclose(res.table["estimate"], list(R_ATT_GT.values()), atol=5e-5)
    np.testing.assert_allclose(res.table["se"], PORT_SE_GT, atol=5e-5)
    assert res["ATT(2004,2004)"]["estimate"] == pytest.approx(-0.0105, abs=5e-5)
    assert res.stats["n_units"] == 500 and res.stats["n_groups"] == 3 and res.stats["n"] == 2500
    assert "analytic" in res.method and "never-treated" in res.method
    assert res.warnings == []


def test_mpdta_simple_aggregate(mpdta):
    res = _cs(mpdta, aggregate="simple")
    # R: aggte(out, type = "simple") -> ATT -0.04 (printed to 2 decimals)
    assert res["ATT"]["estimate"] == pytest.approx(-0.04, abs=0.005)
    # differences 0.3.0: att.aggregate("simple") -> ATT -0.039951, analytic std_error 0.012034
    assert res["ATT"]["estimate"] == pytest.approx(-0.039951, abs=5e-7)
    assert res["ATT"]["se"] == pytest.approx(0.012034, abs=5e-7)
    # csdid 0.4.3: aggte(typec="simple", bstrap=False) -> CI -0.0635, -0.0164
    assert res["ATT"]["ci_low"] == pytest.approx(-0.0635, abs=5e-5)
    assert res["ATT"]["ci_high"] == pytest.approx(-0.0164, abs=5e-5)
    assert res.stats["overall_att"] == res["ATT"]["estimate"]


def test_mpdta_event_aggregate(mpdta):
    res = _cs(mpdta, aggregate="event")
    assert list(res.table["event_time"]) == [-3, -2, -1, 0, 1, 2, 3]
    # R: aggte(out, type = "dynamic"): event time 0 -> -0.0199
    assert res["e=0"]["estimate"] == pytest.approx(-0.0199, abs=5e-5)
    # differences 0.3.0: att.aggregate("event") -> ATT and analytic std_error
    np.testing.assert_allclose(
        res.table["estimate"], [0.030507, -0.000563, -0.024459, -0.019932, -0.050957, -0.137259, -0.100811], atol=5e-7
    )
    np.testing.assert_allclose(
        res.table["se"], [0.015034, 0.013292, 0.014236, 0.011826, 0.016893, 0.036436, 0.034359], atol=5e-7
    )
    # csdid 0.4.3: aggte(typec="dynamic", bstrap=False) overall -> ATT -0.0772, SE 0.02
    assert res.stats["overall_att"] == pytest.approx(-0.0772, abs=5e-5)
    assert res.stats["overall_se"] == pytest.approx(0.02, abs=5e-4)


def test_mpdta_group_aggregate(mpdta):
    res = _cs(mpdta, aggregate="group")
    assert list(res.table["group"]) == [2004, 2006, 2007]
    # differences 0.3.0: att.aggregate("cohort") -> ATT and analytic std_error
    np.testing.assert_allclose(res.table["estimate"], [-0.079749, -0.022910, -0.026054], atol=5e-7)
    np.testing.assert_allclose(res.table["se"], [0.026368, 0.016703, 0.016655], atol=5e-7)
    # csdid 0.4.3: aggte(typec="group", bstrap=False) overall -> ATT -0.031, SE 0.0124
    assert res.stats["overall_att"] == pytest.approx(-0.031, abs=5e-4)
    assert res.stats["overall_se"] == pytest.approx(0.0124, abs=5e-5)


def test_mpdta_not_yet_treated_controls(mpdta):
    res = _cs(mpdta, aggregate=None, control="notyet")
    # csdid 0.4.3: ATTgt(..., control_group=["notyettreated"]).fit(est_method="reg", bstrap=False)
    np.testing.assert_allclose(
        res.table["estimate"],
        [-0.0194, -0.0783, -0.1363, -0.1008, -0.0026, -0.0019, 0.0047, -0.0412, 0.0298, -0.0024, -0.0311, -0.0261],
        atol=5e-5,
    )
    np.testing.assert_allclose(
        res.table["se"],
        [0.0223, 0.0304, 0.0354, 0.0344, 0.0225, 0.0190, 0.0163, 0.0202, 0.0145, 0.0160, 0.0179, 0.0167],
        atol=5e-5,
    )
    simple = _cs(mpdta, control="notyet")
    # csdid 0.4.3: aggte(typec="simple", bstrap=False) -> -0.0398 (0.0121)
    assert simple["ATT"]["estimate"] == pytest.approx(-0.0398, abs=5e-5)
    assert simple["ATT"]["se"] == pytest.approx(0.0121, abs=5e-5)
    assert "not-yet-treated" in simple.method


def test_missing_first_treated_means_never_treated(mpdta):
    coded_nan = mpdta.assign(**{"first.treat": mpdta["first.treat"].replace(0, np.nan)})
    pd.testing.assert_frame_equal(_cs(coded_nan, aggregate=None).table, _cs(mpdta, aggregate=None).table)


# --- independent checks -------------------------------------------------------


def _two_period(seed=3, n=80):
    rng = np.random.default_rng(seed)
    units = pd.DataFrame({"id": np.arange(n), "g": np.where(np.arange(n) < 30, 2, 0)})
    df = units.merge(pd.DataFrame({"t": [1, 2]}), how="cross")
    df["y"] = rng.normal(0, 1, len(df)) + 0.7 * ((df["g"] == 2) & (df["t"] == 2)) + 0.3 * df["t"]
    return df


def test_single_cohort_two_periods_equals_2x2_did():
    df = _two_period()
    res = staggered_did(df, "y", "id", "t", "g", aggregate=None)
    wide = df.pivot(index="id", columns="t", values="y")
    change = (wide[2] - wide[1]).rename("dy").to_frame().join(df.groupby("id")["g"].first())
    did = change.loc[change.g == 2, "dy"].mean() - change.loc[change.g == 0, "dy"].mean()
    assert res["ATT(2,2)"]["estimate"] == pytest.approx(did, abs=1e-12)
    # OLS of the change on the cohort dummy with HC0 SEs: the same influence-function SE
    change["treated"] = (change.g == 2).astype(float)
    ols = smf.ols("dy ~ treated", data=change).fit(cov_type="HC0")
    assert res["ATT(2,2)"]["se"] == pytest.approx(ols.bse["treated"], rel=1e-10)
    simple = staggered_did(df, "y", "id", "t", "g")
    assert simple["ATT"]["estimate"] == pytest.approx(did, abs=1e-12)
    assert simple["ATT"]["se"] == pytest.approx(ols.bse["treated"], rel=1e-10)


def _teams(seed, n_teams=240, periods=8, cohorts=(0, 3, 5, 7), effects=None, noise=0.5, draw=False):
    """Teams with their own level, common period shocks, staggered starts.

    Effect of cohort g at event time e >= 0: effects[g] + 0.25 * e (heterogeneous by
    cohort and growing with time in the model). Cohorts are of equal size, or with
    ``draw`` drawn at random for each team (as the sampling model of the SEs assumes).
    """
    effects = effects or {3: 1.0, 5: 2.0, 7: 3.0}
    rng = np.random.default_rng(seed)
    start = rng.choice(cohorts, n_teams) if draw else np.resize(cohorts, n_teams)
    teams = pd.DataFrame({"team": np.arange(n_teams), "start": start, "level": rng.normal(10, 2, n_teams)})
    df = teams.merge(pd.DataFrame({"month": np.arange(1, periods + 1)}), how="cross")
    shock = dict(zip(range(1, periods + 1), rng.normal(0, 1, periods)))
    e = df["month"] - df["start"]
    treated = (df["start"] > 0) & (e >= 0)
    effect = np.where(treated, df["start"].map(effects).fillna(0) + 0.25 * e, 0.0)
    df["y"] = df["level"] + df["month"].map(shock) + effect + rng.normal(0, noise, len(df))
    return df


def test_recovers_heterogeneous_cohort_effects():
    df = _teams(seed=11)
    res = staggered_did(df, "y", "team", "month", "start", aggregate="group")
    # true cohort ATT: effect + 0.25 * mean event time over the cohort's post periods (to month 8)
    truth = {3: 1.0 + 0.25 * 2.5, 5: 2.0 + 0.25 * 1.5, 7: 3.0 + 0.25 * 0.5}
    for g, value in truth.items():
        row = res[f"g={g}"]
        assert abs(row["estimate"] - value) < 3 * row["se"]
        assert row["se"] < 0.15  # precise enough to tell the cohorts (1 apart) from each other
    event = staggered_did(df, "y", "team", "month", "start", aggregate="event")
    pre = event.table[event.table["event_time"] < 0]
    assert (np.abs(pre["estimate"]) < 3 * pre["se"]).all()


def test_not_yet_treated_without_never_treated_units():
    df = _teams(seed=5, cohorts=(3, 5, 7))
    with pytest.raises(EstimationError, match="notyet"):
        staggered_did(df, "y", "team", "month", "start", control="never")
    res = staggered_did(df, "y", "team", "month", "start", control="notyet", aggregate="group")
    # periods from month 7 on have no comparison units: cohort 7 and those periods dropped, as R
    assert list(res.table["group"]) == [3, 5]
    assert any("no never-treated" in w for w in res.warnings)
    truth = {3: 1.0 + 0.25 * 1.5, 5: 2.0 + 0.25 * 0.5}  # post periods up to month 6
    for g, value in truth.items():
        assert abs(res[f"g={g}"]["estimate"] - value) < 3 * res[f"g={g}"]["se"]


def test_cohort_treated_in_first_period_is_dropped_with_warning():
    df = _teams(seed=2)
    always = _teams(seed=9, n_teams=20, cohorts=(1,)).assign(team=lambda d: d["team"] + 1000)
    res = staggered_did(pd.concat([df, always]), "y", "team", "month", "start", aggregate=None)
    base = staggered_did(df, "y", "team", "month", "start", aggregate=None)
    pd.testing.assert_frame_equal(res.table, base.table)
    assert any("first period" in w for w in res.warnings)


def test_unbalanced_panel_drops_incomplete_units_with_warning():
    df = _teams(seed=4)
    holey = df.drop(index=df.index[(df["team"] == 7) & (df["month"] == 4)])
    res = staggered_did(holey, "y", "team", "month", "start")
    base = staggered_did(df[df["team"] != 7], "y", "team", "month", "start")
    assert res["ATT"]["estimate"] == pytest.approx(base["ATT"]["estimate"], abs=1e-12)
    assert res.stats["n_units"] == 239
    assert any("unbalanced" in w for w in res.warnings)


def test_single_cohort_and_late_cohort():
    df = _teams(seed=8, cohorts=(0, 4, 12))
    res = staggered_did(df, "y", "team", "month", "start", aggregate="group")
    # cohort 12 starts after the last month (8): counted as never treated
    assert list(res.table["group"]) == [4]
    assert any("after the last period" in w for w in res.warnings)
    simple = staggered_did(df, "y", "team", "month", "start")
    assert simple["ATT"]["estimate"] == pytest.approx(res.stats["overall_att"], abs=1e-12)
    assert simple["ATT"]["se"] == pytest.approx(res.stats["overall_se"], rel=1e-10)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"control": "all"}, "control"),
        ({"aggregate": "calendar"}, "aggregate"),
        ({"bootstrap": -1}, "bootstrap"),
        ({"alpha": 1.5}, "alpha"),
    ],
)
def test_bad_options(kwargs, match):
    with pytest.raises(InputError, match=match):
        staggered_did(_two_period(), "y", "id", "t", "g", **kwargs)


def test_bad_data():
    df = _two_period()
    with pytest.raises(InputError, match="not in data"):
        staggered_did(df, "y", "id", "t", "cohort")
    with pytest.raises(InputError, match="constant within"):
        staggered_did(df.assign(g=np.where(df["t"] == 2, 0, df["g"])), "y", "id", "t", "g")
    with pytest.raises(InputError, match="one row per unit"):
        staggered_did(pd.concat([df, df.head(1)]), "y", "id", "t", "g")
    with pytest.raises(EstimationError, match="no treated cohort"):
        staggered_did(df.assign(g=0), "y", "id", "t", "g")
    with pytest.raises(InputError, match="must hold periods"):
        staggered_did(df.assign(g=np.where(df["g"] > 0, "spring", None)), "y", "id", "t", "g")
    # one cohort and no never-treated units: nothing to compare with even under "notyet"
    with pytest.raises(EstimationError, match="no treated cohort"):
        staggered_did(df.assign(g=2), "y", "id", "t", "g", control="notyet")


def test_constant_changes_are_flagged():
    df = _two_period().assign(y=lambda d: d["t"] * 1.0)
    res = staggered_did(df, "y", "id", "t", "g")
    assert res["ATT"]["estimate"] == 0 and res["ATT"]["se"] == 0
    assert any("zero standard error" in w for w in res.warnings)


# --- inference ----------------------------------------------------------------


def test_multiplier_bootstrap_is_seeded_and_close_to_analytic(mpdta):
    a = _cs(mpdta, aggregate="event", bootstrap=499, seed=7)
    b = _cs(mpdta, aggregate="event", bootstrap=499, seed=7)
    pd.testing.assert_frame_equal(a.table, b.table)
    analytic = _cs(mpdta, aggregate="event")
    np.testing.assert_allclose(a.table["estimate"], analytic.table["estimate"])
    np.testing.assert_allclose(a.table["se"], analytic.table["se"], rtol=0.15)
    # a simultaneous band over 7 event times is wider than the pointwise interval
    assert 1.96 < a.stats["crit_value"] < 3.5
    assert ((a.table["cb_high"] - a.table["cb_low"]) > (a.table["ci_high"] - a.table["ci_low"])).all()
    assert "bootstrap" in a.method and a.stats["bootstrap"] == 499


def test_simple_aggregate_ci_coverage():
    # 200 simulated staggered panels, each team's cohort drawn at random (0, 3 or 4 with
    # equal probability). The simple ATT weights cells by population cohort shares:
    # post cells (3,3),(3,4),(3,5) with effects 1, 1.25, 1.5 and (4,4),(4,5) with 2, 2.25,
    # so the target is 8 / 5; its SE includes estimating the shares, as R did's aggte.
    # The 95% CI should cover it about 95% of the time (0.955 in 400 runs at writing).
    reps, hits, truth = 200, 0, 8 / 5
    for seed in range(reps):
        df = _teams(seed=seed, n_teams=60, periods=5, cohorts=(0, 3, 4), effects={3: 1.0, 4: 2.0}, noise=1.0, draw=True)
        res = staggered_did(df, "y", "team", "month", "start")
        hits += res["ATT"]["ci_low"] <= truth <= res["ATT"]["ci_high"]
    assert 0.91 <= hits / reps <= 0.99
