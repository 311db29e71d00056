"""Tests for evalkit.trends: equivalent hand-built fits, Newey-West by hand, simulations, edge cases."""

from __future__ import annotations


import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from scipy import stats as st

from evalkit import datasets
from evalkit import EstimationError, InputError
from evalkit.trends import controlled_its, its


@pytest.fixture(scope="module")
def sicily():
    return pd.read_csv(datasets.path("sicily"))


def _with_harmonics(d, s, k=2, period=12):
    out = d.copy()
    for j in range(1, k + 1):
        out[f"s{j}"] = np.sin(2 * np.pi * j * s / period)
        out[f"c{j}"] = np.cos(2 * np.pi * j * s / period)
    return out


def test_sicily_matches_hand_built_quasipoisson_glm(sicily):
    # The tutorial's model 3 (Lopez Bernal et al. 2017, Rcode.R):
    # R: glm(aces ~ offset(log(stdpop)) + smokban + time + harmonic(month, 2, 12), family = quasipoisson)
    res = its(sicily, "aces", "time", start=37, offset="stdpop", family="quasipoisson", harmonics=2, season="month")
    d = _with_harmonics(sicily, sicily["month"])
    ref = smf.glm(
        "aces ~ smokban + time + s1 + c1 + s2 + c2", d, offset=np.log(d["stdpop"]), family=sm.families.Poisson()
    ).fit(scale="X2", tol=1e-12)
    for ours, theirs in [("level_change", "smokban"), ("trend", "time"), ("sin1", "s1"), ("cos2", "c2")]:
        assert res[ours]["estimate"] == pytest.approx(ref.params[theirs], rel=1e-6)
        # evalkit stops IRLS where R's glm.fit does; statsmodels here runs to 1e-12, so SEs
        # agree to the 5th significant digit, not to machine precision
        assert res[ours]["se"] == pytest.approx(ref.bse[theirs], rel=1e-4)
    assert res.stats["dispersion"] == pytest.approx(ref.scale, rel=1e-6)
    assert res.stats["n"] == 59 and res.stats["n_pre"] == 36 and res.stats["n_post"] == 23
    row = res["level_change"]
    assert row["ratio"] == pytest.approx(np.exp(row["estimate"]))
    assert row["ci_low"] == pytest.approx(row["estimate"] - st.t.ppf(0.975, 52) * row["se"])


def test_monthly_time_forms_and_default_season(sicily):
    base = its(
        sicily, "aces", "time", start=37, offset="stdpop", family="quasipoisson", harmonics=2, season="month"
    ).table
    ym = sicily["year"].astype(str) + "-" + sicily["month"].astype(str).str.zfill(2)
    forms = [
        (ym, "2005-01"),
        (pd.PeriodIndex(ym, freq="M"), pd.Period("2005-01", "M")),
        (pd.to_datetime(ym + "-15"), pd.Timestamp("2005-01-01")),
    ]
    for values, start in forms:
        # harmonics of the time index span the same space as harmonics of the calendar month
        res = its(
            sicily.assign(ym=values), "aces", "ym", start=start, offset="stdpop", family="quasipoisson", harmonics=2
        )
        for term in ("level_change", "trend"):
            assert res[term]["estimate"] == pytest.approx(base.loc[term, "estimate"], rel=1e-7)
            assert res[term]["se"] == pytest.approx(base.loc[term, "se"], rel=1e-7)
    shuffled = its(
        sicily.sample(frac=1, random_state=1),
        "aces",
        "time",
        start=37,
        offset="stdpop",
        family="quasipoisson",
        harmonics=2,
        season="month",
    )
    assert shuffled["level_change"]["estimate"] == pytest.approx(base.loc["level_change", "estimate"])


def test_slope_change_term(sicily):
    res = its(sicily, "aces", "time", start=37, offset="stdpop", family="poisson", slope_change=True)
    # R (Rcode.R, model 4 without harmonics): glm(aces ~ offset(log(stdpop)) + smokban + time
    #   + I(time - 36):smokban, family = poisson)
    ref = smf.glm(
        "aces ~ smokban + time + I((time - 36) * smokban)",
        sicily,
        offset=np.log(sicily["stdpop"]),
        family=sm.families.Poisson(),
    ).fit(tol=1e-12)
    assert res["slope_change"]["estimate"] == pytest.approx(ref.params["I((time - 36) * smokban)"], rel=1e-6)
    assert res["level_change"]["estimate"] == pytest.approx(ref.params["smokban"], rel=1e-6)
    assert list(res.table.index[:3]) == ["level_change", "slope_change", "trend"]


def test_gaussian_newey_west_by_hand(sicily):
    d = sicily.assign(rate=sicily["aces"] / sicily["stdpop"] * 1e5)
    res = its(d, "rate", "time", start=37, family="gaussian", harmonics=2, season="month")
    d = _with_harmonics(d, d["month"])
    X = np.column_stack([np.ones(59), d["time"], d["smokban"], d[["s1", "c1", "s2", "c2"]]])
    beta, *_ = np.linalg.lstsq(X, d["rate"], rcond=None)
    u = X * (d["rate"].to_numpy() - X @ beta)[:, None]
    lags = int(4 * (59 / 100) ** (2 / 9))
    meat = u.T @ u
    for lag in range(1, lags + 1):
        gamma = u[lag:].T @ u[:-lag]
        meat += (1 - lag / (lags + 1)) * (gamma + gamma.T)  # Bartlett weights
    bread = np.linalg.inv(X.T @ X)
    se = np.sqrt(np.diag(bread @ meat @ bread))  # R: NeweyWest(fit, lag=3, prewhite=FALSE, adjust=FALSE)
    assert res.stats["hac_lags"] == lags == 3
    assert res["level_change"]["estimate"] == pytest.approx(beta[2], rel=1e-10)
    assert res["level_change"]["se"] == pytest.approx(se[2], rel=1e-8)
    assert res["trend"]["se"] == pytest.approx(se[1], rel=1e-8)
    assert res["level_change"]["p"] == pytest.approx(2 * st.t.sf(abs(beta[2] / se[2]), 52))
    assert "ratio" not in res.table.columns
    assert any("undercover" in w for w in res.warnings)


def _counts(rng, n=48, start=25, rr=0.85, theta=50.0):
    """Monthly purchased-service decisions: trend, seasonality, level change rr, gamma frailty."""
    t = np.arange(1, n + 1)
    month = (t - 1) % 12 + 1
    log_mu = (
        np.log(200)
        + 0.005 * t
        + 0.1 * np.sin(2 * np.pi * month / 12)
        + 0.05 * np.cos(2 * np.pi * month / 12)
        + np.log(rr) * (t >= start)
    )
    frailty = rng.gamma(theta, 1 / theta, n)
    return pd.DataFrame({"t": t, "month": month, "y": rng.poisson(np.exp(log_mu) * frailty)})


def _costs(rng, n, level=-5000.0, slope=-100.0):
    """Monthly purchased-service costs (euros) with seasonality, level and slope change at mid-series."""
    t = np.arange(1, n + 1)
    start = n // 2 + 1
    post = t >= start
    y = (
        50000
        + 200 * t
        + 3000 * np.sin(2 * np.pi * t / 12)
        + level * post
        + slope * (t - start + 1) * post
        + rng.normal(0, 2000, n)
    )
    return pd.DataFrame({"t": t, "cost": y}), start


def test_its_recovers_known_changes():
    res = its(
        _counts(np.random.default_rng(7), n=240, start=121, theta=1e6),
        "y",
        "t",
        start=121,
        family="quasipoisson",
        harmonics=1,
        season="month",
    )
    assert res["level_change"]["ratio"] == pytest.approx(0.85, abs=0.02)
    assert res["trend"]["estimate"] == pytest.approx(0.005, abs=0.0005)
    df, start = _costs(np.random.default_rng(8), 480)
    res = its(df, "cost", "t", start=start, family="gaussian", harmonics=1, slope_change=True)
    assert res["level_change"]["estimate"] == pytest.approx(-5000, abs=3 * res["level_change"]["se"])
    assert res["slope_change"]["estimate"] == pytest.approx(-100, abs=3 * res["slope_change"]["se"])


def test_its_quasipoisson_ci_coverage():
    rng = np.random.default_rng(1)
    rows = [
        its(_counts(rng), "y", "t", start=25, family="quasipoisson", harmonics=1, season="month")["level_change"]
        for _ in range(200)
    ]
    coverage = np.mean([r["ratio_ci_low"] < 0.85 < r["ratio_ci_high"] for r in rows])
    assert 0.90 <= coverage <= 0.99  # 95% +- 3 binomial SEs for 200 replications


def test_its_gaussian_ci_coverage_long_series():
    rng = np.random.default_rng(2)
    rows = [
        its(*_costs(rng, 240)[:1], "cost", "t", start=121, family="gaussian", harmonics=1, slope_change=True)[
            "level_change"
        ]
        for _ in range(200)
    ]
    coverage = np.mean([r["ci_low"] < -5000 < r["ci_high"] for r in rows])
    assert 0.90 <= coverage <= 0.99


def _two_series(rng, n=60, start=31):
    t = np.arange(1, n + 1)
    post = t >= start
    frames = []
    for pilot, base, rr in [(1, 2000.0, 0.80), (0, 1500.0, 0.95)]:
        mu = base * np.exp(0.003 * t + 0.1 * np.sin(2 * np.pi * t / 12) + np.log(rr) * post)
        frames.append(pd.DataFrame({"t": t, "pilot": pilot, "y": rng.poisson(mu)}))
    return pd.concat(frames, ignore_index=True)


def test_controlled_its_recovers_and_matches_formula_fit():
    df = _two_series(np.random.default_rng(11))
    res = controlled_its(df, "y", "t", "pilot", start=31, family="poisson", harmonics=1)
    assert res["level_change_diff"]["ratio"] == pytest.approx(0.80 / 0.95, abs=0.03)
    assert res["level_change_diff"]["ratio_ci_low"] < 0.80 / 0.95 < res["level_change_diff"]["ratio_ci_high"]
    d = _with_harmonics(df.assign(post=(df["t"] >= 31).astype(float)), df["t"], k=1)
    d["slope"] = (d["t"] - 31 + 1) * d["post"]
    # Linden (2015) itsa: y ~ t + post + slope + g + g:t + g:post + g:slope
    ref = smf.glm(
        "y ~ t + post + slope + pilot + pilot:t + pilot:post + pilot:slope + s1 + c1", d, family=sm.families.Poisson()
    ).fit(tol=1e-12)
    assert res["level_change_diff"]["estimate"] == pytest.approx(ref.params["pilot:post"], rel=1e-6)
    assert res["slope_change_diff"]["estimate"] == pytest.approx(ref.params["pilot:slope"], rel=1e-5)
    assert res["trend_diff"]["estimate"] == pytest.approx(ref.params["pilot:t"], rel=1e-5)
    assert res["level_change_diff"]["se"] == pytest.approx(ref.bse["pilot:post"], rel=1e-4)
    assert list(res.table.index[:2]) == ["level_change_diff", "slope_change_diff"]


def test_controlled_its_gaussian_uses_within_series_hac():
    rng = np.random.default_rng(12)
    t = np.arange(1, 49)
    df = pd.DataFrame(
        {
            "t": np.tile(t, 2),
            "team": np.repeat(["pilot", "comparison"], 48),
            "cost": np.r_[100 + t - 10 * (t >= 25), 80 + t] + rng.normal(0, 2, 96),
        }
    )
    res = controlled_its(df, "cost", "t", "team", start=25, treated="pilot", family="gaussian")
    g = (df["team"] == "pilot").to_numpy(float)
    post = (df["t"] >= 25).to_numpy(float)
    slope = (df["t"].to_numpy() - 24) * post
    tt = df["t"].to_numpy(float)
    X = np.column_stack([np.ones(96), tt, post, slope, g, g * tt, g * post, g * slope])
    y = df["cost"].to_numpy()
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    u = X * (y - X @ beta)[:, None]
    meat = u.T @ u
    for series in (g == 1, g == 0):  # lagged products only within a series (Stata newey on a panel)
        us = u[series]
        for lag in (1, 2, 3):
            gamma = us[lag:].T @ us[:-lag]
            meat += (1 - lag / 4) * (gamma + gamma.T)
    bread = np.linalg.inv(X.T @ X)
    se = np.sqrt(np.diag(bread @ meat @ bread))
    assert res.stats["hac_lags"] == 3
    assert res["level_change_diff"]["estimate"] == pytest.approx(beta[6], rel=1e-8)
    assert res["level_change_diff"]["estimate"] == pytest.approx(-10, abs=3 * res["level_change_diff"]["se"])
    assert res["level_change_diff"]["se"] == pytest.approx(se[6], rel=1e-8)
    assert res["slope_change_diff"]["se"] == pytest.approx(se[7], rel=1e-8)


def test_edge_cases(sicily):
    kw = {"offset": "stdpop", "family": "quasipoisson"}
    with pytest.raises(EstimationError, match="no time points at or after"):
        its(sicily, "aces", "time", start=100, **kw)
    with pytest.raises(EstimationError, match="before start"):
        its(sicily, "aces", "time", start=1, **kw)
    with pytest.raises(InputError, match="negative"):
        its(sicily.assign(aces=-sicily["aces"]), "aces", "time", start=37, **kw)
    with pytest.raises(EstimationError, match="constant"):
        its(sicily.assign(aces=5), "aces", "time", start=37, family="quasipoisson")
    with pytest.raises(EstimationError, match="constant"):
        its(sicily.assign(aces=5.0), "aces", "time", start=37, family="gaussian")
    with pytest.raises(EstimationError, match="no events"):
        its(sicily.assign(aces=0), "aces", "time", start=37, **kw)
    with pytest.raises(InputError, match="repeats"):
        its(pd.concat([sicily, sicily.head(1)]), "aces", "time", start=37, **kw)
    with pytest.raises(InputError, match="offset"):
        its(sicily, "aces", "time", start=37, offset="stdpop", family="gaussian")
    with pytest.raises(InputError, match="harmonics"):
        its(sicily, "aces", "time", start=37, harmonics=7, **kw)
    with pytest.raises(InputError, match="start must be a number"):
        its(sicily, "aces", "time", start="2005-01", **kw)
    with pytest.raises(InputError, match="family"):
        its(sicily, "aces", "time", start=37, offset="stdpop", family="binomial")
    zero = sicily.assign(
        stdpop=sicily["stdpop"].where(sicily.index != 3, 0), aces=sicily["aces"].where(sicily.index != 3, 0)
    )
    res = its(zero, "aces", "time", start=37, **kw)
    assert res.stats["n"] == 58 and any("zero stdpop" in w for w in res.warnings)
    with pytest.raises(InputError, match="events but zero"):
        its(sicily.assign(stdpop=sicily["stdpop"].where(sicily.index != 3, 0)), "aces", "time", start=37, **kw)


def test_controlled_its_edge_cases():
    df = _two_series(np.random.default_rng(13))
    with pytest.raises(InputError, match="exactly two"):
        controlled_its(df.assign(pilot=df.index % 3), "y", "t", "pilot", start=31)
    with pytest.raises(EstimationError, match="before and after"):
        controlled_its(df[(df.pilot == 0) | (df.t < 31)], "y", "t", "pilot", start=31)
    with pytest.raises(InputError, match="within a group"):
        controlled_its(pd.concat([df, df.head(1)]), "y", "t", "pilot", start=31)


# --- GLS with correlated errors (nlme::gls) and the staggered team-month panel -----------------


@pytest.fixture(scope="module")
def ovary():
    d = pd.read_csv(datasets.path("ovary"), float_precision="round_trip")
    # nlme's corAR1(form = ~ 1 | Mare) uses the order of the rows within a mare, not Time
    return d.assign(pos=d.groupby("Mare").cumcount(), s=np.sin(2 * np.pi * d["Time"]), c=np.cos(2 * np.pi * d["Time"]))


def test_gls_ar1_reml_matches_nlme_on_ovary(ovary):
    from evalkit.trends import gls

    # R: summary(gls(follicles ~ sin(2*pi*Time) + cos(2*pi*Time), Ovary,
    #                correlation = corAR1(form = ~ 1 | Mare)))   (nlme-Ex.Rout, R 4.3.3)
    #   Phi 0.7532079; (Intercept) 12.216398 (0.6646437), sin -2.774712 (0.6450478),
    #   cos -0.899605 (0.6975383); logLik -780.7273; residual SE 4.616172; 305 residual df
    # Full precision as nlme returned them (easystats/parameters tests/testthat/test-gls.R; nlme
    # tests/anova.gls.R): SE 0.664643651063474, 0.645047778144975, 0.697538308948056; Phi 0.753207889.
    # nlme stops its optimiser within ~1e-8 of the optimum, so the last printed digit of the
    # intercept's SE (0.6646437) sits on a rounding edge: compared to 1e-7, not by rounding.
    res = gls(ovary, "follicles", ["s", "c"], unit="Mare", time="pos", errors="ar1")
    t = res.table
    assert t["estimate"].round(6).tolist() == [12.216398, -2.774712, -0.899605]
    np.testing.assert_allclose(t["se"], [0.664643651063474, 0.645047778144975, 0.697538308948056], atol=1e-7)
    assert res.stats["cor_phi"] == pytest.approx(0.753207889, abs=1e-7)
    assert round(res.stats["loglik_reml"], 4) == -780.7273
    assert res.stats["sigma"] == pytest.approx(4.61617157, abs=1e-6) and res.stats["df_resid"] == 305
    assert t["p"].tolist() == pytest.approx([2.6187369542827e-51, 2.28628382225752e-05, 0.198137111907874], rel=1e-5)


def test_gls_iid_is_ordinary_least_squares(ovary):
    from evalkit.trends import gls

    ols = smf.ols("follicles ~ s + c", ovary).fit()
    res = gls(ovary, "follicles", ["s", "c"], unit="Mare", time="pos", errors="iid")
    np.testing.assert_allclose(res.table["estimate"], ols.params.to_numpy(), rtol=1e-10)
    np.testing.assert_allclose(res.table["se"], ols.bse.to_numpy(), rtol=1e-10)


def test_gls_ar1_with_noise_nests_ar1_and_fits_at_least_as_well(ovary):
    from evalkit.trends import gls

    ar1 = gls(ovary, "follicles", ["s", "c"], unit="Mare", time="pos", errors="ar1")
    noisy = gls(ovary, "follicles", ["s", "c"], unit="Mare", time="pos", errors="ar1_noise")
    assert noisy.stats["loglik_reml"] >= ar1.stats["loglik_reml"] - 1e-6
    assert 0 < noisy.stats["cor_share"] <= 1 and 0 < noisy.stats["cor_phi"] < 1


def _team_panel(seed, level=-0.2, slope=-0.004, rho=0.6, teams=(("a", 13), ("b", 25), ("c", None), ("d", None))):
    rng = np.random.default_rng(seed)
    rows = []
    for team, start in teams:
        disturbance = np.zeros(48)
        for m in range(48):  # AR(1) disturbance plus month-to-month noise
            disturbance[m] = (rho * disturbance[m - 1] if m else 0) + rng.normal(0, 0.06)
        months = np.arange(1, 49)
        post = (months >= start) if start else np.zeros(48, bool)
        since = np.where(post, months - (start or 0) + 1, 0)
        log_cost = (
            9
            + rng.normal(0, 0.3)
            + 0.002 * months
            + 0.05 * np.sin(months / 2)
            + level * post
            + slope * since
            + disturbance
            + rng.normal(0, 0.04, 48)
        )
        rows.append(pd.DataFrame({"team": team, "month": months, "start": start or np.nan, "eur": np.exp(log_cost)}))
    return pd.concat(rows, ignore_index=True)


def test_staggered_its_is_gls_on_the_two_way_design():
    from evalkit.trends import gls, staggered_its

    p = _team_panel(1)
    res = staggered_its(p, "eur", "month", "team", "start", errors="ar1", se_type="model")
    post = (p["month"] >= p["start"]).astype(float)
    design = p.assign(
        y=np.log(p["eur"]), level_change=post, slope_change=np.where(post == 1, p["month"] - p["start"] + 1, 0.0)
    )
    for team in ("b", "c", "d"):
        design[f"u_{team}"] = (design["team"] == team).astype(float)
    for m in range(2, 49):
        design[f"m_{m}"] = (design["month"] == m).astype(float)
    terms = ["level_change", "slope_change", *[c for c in design if c.startswith(("u_", "m_"))]]
    direct = gls(design, "y", terms, unit="team", time="month", errors="ar1")
    for term in ("level_change", "slope_change"):
        assert res[term]["estimate"] == pytest.approx(direct[term]["estimate"], rel=1e-6)
        assert res[term]["se"] == pytest.approx(direct[term]["se"], rel=1e-4)
    assert res["level_change"]["ratio"] == pytest.approx(np.exp(res["level_change"]["estimate"]))
    fitted = res.frames["fitted"]
    assert set(fitted.columns) >= {"unit", "time", "treated", "observed", "fitted", "counterfactual"}
    treated_after = fitted["treated"] & (fitted["fitted"] != fitted["counterfactual"])
    assert treated_after.sum() == (p["month"] >= p["start"]).sum()  # the changes act from each team's own start
    untreated = fitted.loc[~fitted["treated"]]
    np.testing.assert_allclose(untreated["fitted"], untreated["counterfactual"])


def test_staggered_its_intervals_cover_with_persistent_noisy_errors():
    from evalkit.trends import staggered_its

    covered = {"level_change": 0, "slope_change": 0}
    reps = 150
    for seed in range(reps):
        res = staggered_its(_team_panel(seed), "eur", "month", "team", "start")
        for term, truth in (("level_change", -0.2), ("slope_change", -0.004)):
            covered[term] += res[term]["ci_low"] <= truth <= res[term]["ci_high"]
    # nominal 0.95; Monte Carlo SE about 0.018 at 150 replicates; plain AR(1) falls to about 0.88 here
    for term, n in covered.items():
        assert 0.91 <= n / reps <= 0.99, (term, n / reps)


def test_pretrend_test_flags_drift_and_not_parallel_teams():
    from evalkit.trends import pretrend_test

    flat = _team_panel(5)
    drift = flat.assign(eur=flat["eur"] * np.exp(0.02 * flat["month"] * flat["start"].notna()))
    assert pretrend_test(drift, "eur", "month", "team", "start", se_type="model")["pretrend"]["p"] < 0.01
    # the default CR2 by unit-year blocks has Satterthwaite df of about 3 with two treated teams: less power,
    # still a flag at 5%
    robust = pretrend_test(drift, "eur", "month", "team", "start")["pretrend"]
    assert robust["p"] < 0.05 and robust["df"] < 10
    res = pretrend_test(flat, "eur", "month", "team", "start")
    assert res["pretrend"]["ci_low"] < 0 < res["pretrend"]["ci_high"]
    assert res.stats["n_pre"] == 24  # the never-treated teams run up to the last start


def test_staggered_its_refuses_what_it_cannot_estimate():
    from evalkit.trends import staggered_its

    p = _team_panel(2)
    with pytest.raises(EstimationError, match="no unit has time at or after"):
        staggered_its(p.assign(start=None), "eur", "month", "team", "start")
    with pytest.raises(InputError, match="<= 0"):
        staggered_its(p.assign(eur=0.0), "eur", "month", "team", "start")
    with pytest.raises(InputError, match="same on every row"):
        staggered_its(p.assign(start=p["month"]), "eur", "month", "team", "start")


def test_its_carries_fitted_and_counterfactual_values_for_figures():
    df = pd.DataFrame(
        {
            "month": pd.period_range("2017-01", periods=24, freq="M"),
            "cases": [30, 32, 31, 33, 35, 34, 36, 35, 37, 38, 37, 39, 30, 31, 30, 32, 31, 33, 32, 34, 33, 35, 34, 35],
        }
    )
    res = its(df, "cases", "month", start="2018-01", slope_change=True)
    line = res.frames["fitted"]
    assert list(line.columns) == ["time", "observed", "fitted", "counterfactual"] and len(line) == 24
    # Poisson with its canonical log link and an intercept: fitted values sum to the observed (score equation)
    assert line["fitted"].sum() == pytest.approx(line["observed"].sum(), rel=1e-8)
    before = line["time"] < pd.Period("2018-01", freq="M")
    np.testing.assert_allclose(line.loc[before, "counterfactual"], line.loc[before, "fitted"])
    after = line.loc[~before]
    # after the start the counterfactual removes exactly the level and slope change (slope counted from 1)
    step = np.log(after["fitted"] / after["counterfactual"]).to_numpy()
    lc, sc = res["level_change"]["estimate"], res["slope_change"]["estimate"]
    np.testing.assert_allclose(step, lc + sc * np.arange(1, len(after) + 1), rtol=1e-8)
