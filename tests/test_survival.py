"""Tests for evalkit.survival: R survival / cmprsk reference values and independent checks."""

from __future__ import annotations


import numpy as np
import pandas as pd
import pytest
from scipy import stats as st

from evalkit import datasets
from evalkit.stats.survival import _cmprsk as _cmprsk, _coxph, _km
from evalkit.core.result import EstimationError, InputError
from evalkit.survival import (
    cif,
    cox,
    cox_zph,
    finegray,
    gray_test,
    km,
    logrank,
    median_survival,
    quantile_survival,
    rmst,
    survival_at,
)

ROSSI_TERMS = ["fin", "age", "race", "wexp", "mar", "paro", "prio"]


@pytest.fixture(scope="module")
def lung():
    return pd.read_csv(datasets.path("lung"))


@pytest.fixture(scope="module")
def rossi():
    return pd.read_csv(datasets.path("rossi"))


@pytest.fixture(scope="module")
def bmt():
    return pd.read_csv(datasets.path("bmtcrr"))


# ------------------------------------------------------------------ Kaplan-Meier
def test_lung_overall_median_and_log_ci(lung):
    # R: survfit(Surv(time, status) ~ 1, data = lung)  -> n 228, events 165, median 310 (285, 363)
    row = median_survival(lung, "time", "status").table.loc["all"]
    assert (row["n"], row["events"]) == (228, 165)
    assert (row["estimate"], row["ci_low"], row["ci_high"]) == (310, 285, 363)


def test_lung_median_by_sex(lung):
    # R: survfit(Surv(time, status) ~ sex, data = lung)
    tab = median_survival(lung, "time", "status", group="sex").table
    assert tab.loc[1, ["n", "events", "estimate", "ci_low", "ci_high"]].tolist() == [138, 112, 270, 212, 310]
    assert tab.loc[2, ["n", "events", "estimate", "ci_low", "ci_high"]].tolist() == [90, 53, 426, 348, 550]


def test_lung_survival_at_200(lung):
    # R: summary(survfit(Surv(time, status) ~ 1, lung), times = 200)
    #    survival 0.680, std.err 0.0311, lower 0.622, upper 0.744
    row = survival_at(lung, "time", "status", [200]).table.iloc[0]
    assert round(row["survival"], 3) == 0.680
    assert round(row["se"], 4) == 0.0311
    assert (round(row["ci_low"], 3), round(row["ci_high"], 3)) == (0.622, 0.744)


def test_log_log_band_matches_lifelines_and_its_median_ci(lung):
    # lifelines' KM band is log(-log) (independent implementation); its median CI is 284-361
    from lifelines import KaplanMeierFitter

    mine = km(lung, "time", "status", conf_type="log-log").table.set_index("time")
    ref = KaplanMeierFitter().fit(lung["time"], lung["status"]).confidence_interval_.loc[mine.index]
    np.testing.assert_allclose(mine["ci_low"], ref.iloc[:, 0], atol=1e-12)
    np.testing.assert_allclose(mine["ci_high"], ref.iloc[:, 1], atol=1e-12)
    row = median_survival(lung, "time", "status", conf_type="log-log").table.loc["all"]
    assert (row["ci_low"], row["ci_high"]) == (284, 361)


def test_km_by_hand_plain_band():
    # hand calculation: S(1)=4/5, S(3)=4/5*2/3; Greenwood var(log S)=1/(5*4)+1/(3*2)
    df = pd.DataFrame({"t": [1, 2, 3, 3, 4], "e": [1, 0, 1, 0, 0]})
    tab = km(df, "t", "e", conf_type="plain").table.set_index("time")
    s3 = 0.8 * 2 / 3
    se3 = s3 * np.sqrt(1 / 20 + 1 / 6)
    assert tab.loc[3, "survival"] == pytest.approx(s3)
    assert tab.loc[3, "se"] == pytest.approx(se3)
    assert tab.loc[3, "ci_low"] == pytest.approx(s3 - st.norm.ppf(0.975) * se3)
    assert tab.loc[3, "ci_high"] == 1.0  # clipped, as R
    assert tab["n_risk"].tolist() == [5, 4, 3, 1]


def test_median_on_a_flat_at_one_half_is_the_midpoint():
    # R: survfit(Surv(1:4) ~ 1) prints median 2.5 (S = 0.5 exactly on [2, 3))
    df = pd.DataFrame({"t": [1, 2, 3, 4], "e": 1})
    assert median_survival(df, "t", "e").table.loc["all", "estimate"] == 2.5
    assert _km.r_quantile(np.array([1.0, 2.0, 3.0]), np.array([0.8, 0.5, 0.5])) == 2.5  # flat to the end


def test_median_not_reached_is_nan_and_flagged():
    df = pd.DataFrame({"t": [1, 2, 3, 4, 5, 6], "e": [1, 0, 0, 1, 0, 0]})
    res = median_survival(df, "t", "e")
    assert np.isnan(res.table.loc["all", "estimate"])
    assert any("median not reached" in w for w in res.warnings)


def test_survival_reaching_zero_is_flagged():
    df = pd.DataFrame({"t": [1, 2, 3], "e": 1})
    res = km(df, "t", "e")
    assert res.table["survival"].iloc[-1] == 0
    assert np.isnan(res.table["se"].iloc[-1])
    assert any("reaches 0" in w for w in res.warnings)


def test_all_censored_curve_stays_at_one():
    df = pd.DataFrame({"t": [1, 2, 3], "e": 0})
    tab = km(df, "t", "e").table
    assert (tab["survival"] == 1).all() and (tab["ci_low"] == 1).all() and (tab["se"] == 0).all()
    assert any("not reached" in w for w in median_survival(df, "t", "e").warnings)


def test_survival_at_after_follow_up_is_nan_and_flagged():
    df = pd.DataFrame({"t": [1, 2, 3], "e": [1, 0, 1]})
    res = survival_at(df, "t", "e", [2, 10])
    assert res.table["n_event"].tolist() == [1, 1]
    assert np.isnan(res.table["survival"].iloc[1])
    assert any("after the last follow-up" in w for w in res.warnings)


@pytest.mark.parametrize(
    "bad, message",
    [
        (pd.DataFrame({"t": [-1, 2], "e": [1, 0]}), "negative"),
        (pd.DataFrame({"t": [1, 2], "e": [2, 0]}), "event column"),
        (pd.DataFrame({"t": pd.Series([], dtype=float), "e": pd.Series([], dtype=int)}), "no rows"),
        (pd.DataFrame({"t": ["a", "b"], "e": [1, 0]}), "finite numbers"),
    ],
)
def test_bad_input_raises(bad, message):
    with pytest.raises(InputError, match=message):
        km(bad, "t", "e")


def test_missing_rows_are_dropped_with_a_warning():
    df = pd.DataFrame({"t": [1, 2, np.nan, 4], "e": [1, 0, 1, 1]})
    res = km(df, "t", "e")
    assert res.stats["n"] == 3 and any("dropped" in w for w in res.warnings)


# ------------------------------------------------------------------ log-rank
def test_logrank_lung_sex(lung):
    # R: survdiff(Surv(time, status) ~ sex, data = lung)
    #    observed 112 / 53, expected 91.6 / 73.4, chisq 10.3 on 1 df, p 0.00131
    res = logrank(lung, "time", "status", "sex")
    assert res.table["observed"].tolist() == [112, 53]
    assert res.table["expected"].round(1).tolist() == [91.6, 73.4]
    assert round(res.stats["chi2"], 1) == 10.3 and res.stats["df"] == 1
    assert round(res.stats["p"], 5) == 0.00131


def test_logrank_k_groups_matches_lifelines(lung):
    from lifelines.statistics import multivariate_logrank_test

    d = lung.dropna(subset=["ph.ecog"])
    res = logrank(d, "time", "status", "ph.ecog")
    ref = multivariate_logrank_test(d["time"], d["ph.ecog"], d["status"])
    assert res.stats["df"] == 3
    assert res.stats["chi2"] == pytest.approx(ref.test_statistic, rel=1e-10)


def test_logrank_edge_cases():
    one = pd.DataFrame({"t": [1, 2, 3], "e": [1, 1, 0], "g": "a"})
    with pytest.raises(InputError, match="at least two groups"):
        logrank(one, "t", "e", "g")
    none = one.assign(e=0, g=["a", "b", "b"])
    with pytest.raises(EstimationError, match="no events"):
        logrank(none, "t", "e", "g")
    quiet = pd.DataFrame({"t": [1, 2, 3, 4, 5, 6], "e": [1, 1, 1, 0, 0, 0], "g": list("aaabbb")})
    res = logrank(quiet, "t", "e", "g")
    assert np.isfinite(res.stats["chi2"]) and any("no events" in w for w in res.warnings)


# ------------------------------------------------------------------ Cox
def test_cox_rossi(rossi):
    # R: coxph(Surv(week, arrest) ~ fin + age + race + wexp + mar + paro + prio, data = Rossi)
    res = cox(rossi, "week", "arrest", ROSSI_TERMS)
    coef = [-0.37942, -0.05744, 0.31390, -0.14980, -0.43370, -0.08487, 0.09150]
    se = [0.19138, 0.02200, 0.30799, 0.21222, 0.38187, 0.19576, 0.02865]
    assert res.table.loc[ROSSI_TERMS, "estimate"].round(5).tolist() == coef
    assert res.table.loc[ROSSI_TERMS, "se"].round(5).tolist() == se
    fin = res.table.loc["fin"]
    assert round(fin["ratio"], 5) == 0.68426
    assert (round(fin["ratio_ci_low"], 4), round(fin["ratio_ci_high"], 4)) == (0.4702, 0.9957)
    assert round(res.stats["lr_chi2"], 2) == 33.27 and res.stats["lr_df"] == 7
    assert f"{res.stats['lr_p']:.3g}" == "2.36e-05"
    assert round(res.stats["concordance"], 2) == 0.64
    assert (res.stats["events"], res.stats["n"]) == (114, 432)


def test_cox_lung_sex_and_formula(lung):
    # R: coxph(Surv(time, status) ~ sex, data = lung)
    row = cox(lung, "time", "status", ["sex"]).table.loc["sex"]
    assert round(row["estimate"], 4) == -0.5310 and round(row["ratio"], 4) == 0.5880
    assert round(row["se"], 4) == 0.1672 and round(row["z"], 3) == -3.176
    assert round(row["p"], 5) == 0.00149
    assert (round(row["ratio_ci_low"], 4), round(row["ratio_ci_high"], 3)) == (0.4237, 0.816)
    via_formula = cox(lung, "time", "status", "sex").table.loc["sex"]
    assert via_formula["estimate"] == pytest.approx(row["estimate"])


def _untied(rossi):
    rng = np.random.default_rng(1)
    return rossi.assign(week=rossi["week"] + rng.uniform(-0.4, 0.4, len(rossi)), team=np.arange(len(rossi)) // 4)


def test_cluster_se_without_ties_matches_lifelines_and_statsmodels(rossi):
    # Without tied times R's, lifelines' and statsmodels' grouped sandwiches coincide.
    import statsmodels.api as sm
    from lifelines import CoxPHFitter

    d = _untied(rossi)
    terms = ["fin", "age", "prio"]
    res = cox(d, "week", "arrest", terms, cluster="team")
    ll = CoxPHFitter().fit(d[terms + ["week", "arrest", "team"]], "week", "arrest", cluster_col="team")
    smf = sm.PHReg(d["week"], d[terms], status=d["arrest"], ties="efron").fit(groups=d["team"])
    np.testing.assert_allclose(res.table.loc[terms, "se"], ll.standard_errors_[terms], rtol=1e-6)
    np.testing.assert_allclose(res.table.loc[terms, "se"], smf.bse, rtol=1e-6)
    assert res.stats["n_clusters"] == 108
    strat = cox(d, "week", "arrest", ["age", "prio"], strata="fin", cluster="team")
    ll_strat = CoxPHFitter().fit(
        d[terms + ["week", "arrest", "team"]], "week", "arrest", strata=["fin"], cluster_col="team"
    )
    np.testing.assert_allclose(
        strat.table.loc[["age", "prio"], "se"], ll_strat.standard_errors_[["age", "prio"]], rtol=1e-6
    )


def test_efron_score_residuals_sum_to_the_efron_score(rossi):
    # With tied weeks the residuals must still sum to zero at the Efron MLE.
    fit = _coxph.fit(rossi["week"], rossi["arrest"], rossi[["fin", "age", "prio"]].to_numpy(float))
    np.testing.assert_allclose(fit.score_residuals().sum(axis=0), 0, atol=1e-4)


def _efron_score_residuals_by_loop(time, event, x, beta, breslow=False):
    # Efron score residuals written event time by event time (R coxscore2's loop),
    # to check the cumulative-sum version in _coxph against; breslow: every tied term
    # uses the whole risk set (R coxscore with method = "breslow")
    w = np.exp(x @ beta)
    resid = np.zeros_like(x)
    for t in np.unique(time[event == 1]):
        risk = time >= t
        dead = risk & (time == t) & (event == 1)
        d = dead.sum()
        s0, s1, e0, e1 = w[risk].sum(), w[risk] @ x[risk], w[dead].sum(), w[dead] @ x[dead]
        for k in range(d):
            f = 0.0 if breslow else k / d
            den = s0 - f * e0
            xbar = (s1 - f * e1) / den
            resid[dead] += (x[dead] - xbar) / d
            share = w[risk] * np.where(dead[risk], 1 - f, 1.0) / den
            resid[risk] -= share[:, None] * (x[risk] - xbar)
    return resid


def test_vectorised_efron_residuals_equal_the_event_time_loop(rossi):
    cols = ["fin", "age", "prio"]
    x = rossi[cols].to_numpy(float)
    fit = _coxph.fit(rossi["week"], rossi["arrest"], x)
    loop = _efron_score_residuals_by_loop(rossi["week"].to_numpy(float), rossi["arrest"].to_numpy(), x, fit.beta)
    np.testing.assert_allclose(fit.score_residuals(), loop, atol=1e-12)
    # strata: each stratum's residuals are its own fit's
    strat = _coxph.fit(rossi["week"], rossi["arrest"], x[:, 1:], strata=rossi["fin"])
    for f in (0, 1):
        m = rossi["fin"].to_numpy() == f
        loop = _efron_score_residuals_by_loop(
            rossi["week"].to_numpy(float)[m], rossi["arrest"].to_numpy()[m], x[m, 1:], strat.beta
        )
        np.testing.assert_allclose(strat.score_residuals()[m], loop, atol=1e-12)


def test_cox_matches_lifelines_with_ties_strata_and_a_formula(rossi):
    from lifelines import CoxPHFitter

    d = rossi[["week", "arrest", "fin", "age", "prio", "race"]]
    ll = CoxPHFitter().fit(d, "week", "arrest", strata=["race"])
    ours = cox(d, "week", "arrest", ["fin", "age", "prio"], strata="race").table
    np.testing.assert_allclose(ours["estimate"], ll.params_[ours.index], rtol=1e-7)
    np.testing.assert_allclose(ours["se"], ll.standard_errors_[ours.index], rtol=1e-6)
    cat = d.assign(band=pd.cut(d["age"], [0, 20, 25, 99], labels=["young", "mid", "old"]).astype(str))
    ll = CoxPHFitter().fit(cat[["week", "arrest", "fin", "band"]], "week", "arrest", formula="fin + C(band)")
    fit = cox(cat, "week", "arrest", "fin + C(band)")
    ours = fit.table
    assert list(ours.index) == list(ll.params_.index)
    # lifelines stops its Newton steps a little earlier here (its log-likelihood is ~1e-11
    # below ours), which leaves its coefficients ~1e-6 from the maximum: compare to 1e-5
    assert fit.stats["loglik"] >= ll.log_likelihood_
    np.testing.assert_allclose(ours["estimate"], ll.params_, atol=1e-5)


def test_concordance_counts_pairs_as_lifelines():
    from lifelines.utils import concordance_index

    rng = np.random.default_rng(3)
    for levels in (2, 4, 200):  # few scores: the sorted count; many: lifelines' own
        t = rng.integers(1, 30, 300).astype(float)  # tied times, censored at event times
        e, r = rng.integers(0, 2, 300), rng.integers(0, levels, 300) * 0.3
        assert _coxph.concordance(t, e, r) == pytest.approx(concordance_index(t, -r, e), abs=1e-12)


@pytest.mark.filterwarnings("ignore:overflow encountered in exp")
def test_cox_flags_an_infinite_coefficient_and_refuses_a_constant_covariate():
    # every event in group 1 happens before any in group 0: the MLE is +infinity, and R
    # coxph says "Loglik converged before variable 1; coefficient may be infinite"
    d = pd.DataFrame({"t": np.arange(1, 21), "e": 1, "x": [1] * 10 + [0] * 10})
    res = cox(d, "t", "e", ["x"])
    assert any("may be infinite" in w for w in res.warnings) and res.stats["may_be_infinite"] == ["x"]
    # one event only, in a group of its own: the iterations run out on the way to infinity, and
    # the term is still flagged (R only says it ran out of iterations)
    # (a small site's single placement: 17 cases at risk, the event in the x = z = 1 cell)
    one = pd.DataFrame({"x": [0] * 7 + [1] * 10, "z": [0] * 4 + [1] * 3 + [0] * 5 + [1] * 5, "e": 0})
    one["t"] = 10.0 + np.arange(len(one))
    one.loc[12:, "t"] = [5, 11, 12, 13, 14]
    one.loc[12, "e"] = 1
    res = cox(one, "t", "e", ["x", "z"])
    assert "x" in res.stats["may_be_infinite"] and any("converge" in w for w in res.warnings)
    assert "may_be_infinite" not in cox(d.assign(x=np.tile([0, 1], 10)), "t", "e", ["x"]).stats
    with pytest.raises(EstimationError, match="constant or collinear"):
        cox(d.assign(x=1), "t", "e", ["x"])


def test_cluster_edge_cases(rossi):
    with pytest.raises(EstimationError, match="at least two clusters"):
        cox(rossi.assign(team=1), "week", "arrest", ["fin"], cluster="team")
    res = cox(rossi.assign(team=np.arange(len(rossi)) % 5), "week", "arrest", ["fin"], cluster="team")
    assert any("only 5 clusters" in w for w in res.warnings)


def test_cox_strata_removes_baseline_confounding():
    # Two strata with 10-fold different baselines; x is more common in the high stratum.
    rng = np.random.default_rng(7)
    n = 2000
    s = rng.integers(0, 2, n)
    x = rng.binomial(1, np.where(s == 1, 0.8, 0.2))
    t = rng.exponential(1 / (np.where(s == 1, 10.0, 1.0) * np.exp(np.log(2) * x)))
    df = pd.DataFrame({"t": t, "e": 1, "x": x, "s": s})
    strat = cox(df, "t", "e", ["x"], strata="s").table.loc["x"]
    naive = cox(df, "t", "e", ["x"]).table.loc["x"]
    assert abs(strat["estimate"] - np.log(2)) < 2.5 * strat["se"]
    assert abs(naive["estimate"] - np.log(2)) > 5 * naive["se"]


@pytest.mark.slow
def test_cox_ci_coverage_simulation():
    # 200 data sets, HR 1.5, exponential times, exponential censoring (~25% censored).
    # Observed with this seed: 193/200 = 0.965.
    rng = np.random.default_rng(20261122)
    beta, covered, reps = np.log(1.5), 0, 200
    for _ in range(reps):
        x = rng.integers(0, 2, 120)
        t = rng.exponential(1 / np.exp(beta * x))
        c = rng.exponential(2.5, x.size)
        df = pd.DataFrame({"t": np.minimum(t, c), "e": (t <= c).astype(int), "x": x})
        row = cox(df, "t", "e", ["x"]).table.loc["x"]
        covered += row["ci_low"] <= beta <= row["ci_high"]
    # binomial(200, 0.95): 0.90-0.99 holds with probability > 0.999
    assert 0.90 <= covered / reps <= 0.99


def test_cox_edge_cases(rossi):
    with pytest.raises(EstimationError, match="no events"):
        cox(rossi.assign(arrest=0), "week", "arrest", ["fin"])
    with pytest.raises(InputError, match="efron"):
        cox(rossi, "week", "arrest", ["fin"], ties="exact")
    with pytest.raises(InputError, match="not in data"):
        cox(rossi, "week", "arrest", ["nope"])


def test_cox_zph_detects_non_proportional_hazards():
    rng = np.random.default_rng(11)
    n = 400
    x = np.repeat([0, 1], n // 2)
    ph = rng.exponential(1 / np.exp(0.5 * x))
    # x = 1: Weibull shape 3 against exponential -> crossing hazards
    nonph = np.where(x == 1, rng.weibull(3.0, n), rng.exponential(1.0, n))
    ok = cox_zph(pd.DataFrame({"t": ph, "e": 1, "x": x}), "t", "e", ["x"])
    bad = cox_zph(pd.DataFrame({"t": nonph, "e": 1, "x": x}), "t", "e", ["x"])
    assert ok.table.loc["x", "p"] > 0.01
    assert bad.table.loc["x", "p"] < 1e-6


# ------------------------------------------------------------------ competing risks
def test_gray_test_bmt(bmt):
    # R: cuminc(bmtcrr$ftime, bmtcrr$Status, bmtcrr$D)$Tests  (cmprsk; Scrucca et al. 2007)
    #    1 2.8623325 0.09067592 1 ; 2 0.4481279 0.50322531 1
    relapse = gray_test(bmt, "ftime", "Status", "D", cause=1).stats
    death = gray_test(bmt, "ftime", "Status", "D", cause=2).stats
    assert (round(relapse["chi2"], 7), round(relapse["p"], 8), relapse["df"]) == (2.8623325, 0.09067592, 1)
    assert (round(death["chi2"], 7), round(death["p"], 8)) == (0.4481279, 0.50322531)


def test_cif_bmt_timepoints(bmt):
    # R: timepoints(cuminc(bmtcrr$ftime, bmtcrr$Status, bmtcrr$D), c(20, 40, 60, 80, 100, 120))$est
    #    (printed by print.cuminc; AML followed up to 114.7 months -> NA at 120)
    times = [20, 40, 60, 80, 100, 120]
    expected = {
        (1, "ALL"): [0.3713851, 0.3875571, 0.3875571, 0.3875571, 0.3875571, 0.3875571],
        (1, "AML"): [0.2414530, 0.2663827, 0.2810390, 0.2810390, 0.2810390, np.nan],
        (2, "ALL"): [0.3698630, 0.3860350, 0.3860350, 0.3860350, 0.3860350, 0.3860350],
        (2, "AML"): [0.4439103, 0.4551473, 0.4551473, 0.4551473, 0.4551473, np.nan],
    }
    for cause in (1, 2):
        res = cif(bmt, "ftime", "Status", cause=cause, group="D", times=times)
        for g in ("ALL", "AML"):
            got = res.table.loc[res.table["D"] == g, "cif"].round(7).to_numpy()
            np.testing.assert_array_equal(got, expected[(cause, g)])
        assert any("after the last follow-up" in w for w in res.warnings)


def test_cif_single_cause_is_one_minus_km_with_aalen_variance(lung):
    # No competing cause: F = 1 - S. cmprsk's variance then reduces to
    # S^2 * sum d / ((r - 1)(r - d)) (Greenwood has r(r - d) in the denominator).
    res = cif(lung, "time", "status", cause=1).table.set_index("time")
    surv = km(lung, "time", "status").table.set_index("time")
    ev = surv[surv["n_event"] > 0]
    np.testing.assert_allclose(res["cif"], 1 - ev["survival"], atol=1e-12)
    r, d = ev["n_risk"].to_numpy(float), ev["n_event"].to_numpy(float)
    with np.errstate(divide="ignore"):
        aalen = ev["survival"] ** 2 * np.cumsum(d / ((r - 1) * (r - d)))
    finite = ev["survival"] > 0
    np.testing.assert_allclose(res["se"][finite] ** 2, aalen[finite], rtol=1e-10)


def test_cif_log_log_ci_formula(bmt):
    res = cif(bmt, "ftime", "Status", cause=1, times=[20]).table.iloc[0]
    f, se = res["cif"], res["se"]
    k = st.norm.ppf(0.975) * se / (f * np.log(f))
    assert res["ci_low"] == pytest.approx(f ** np.exp(-k))
    assert res["ci_high"] == pytest.approx(f ** np.exp(k))
    assert res["ci_low"] < f < res["ci_high"]


def test_gray_score_equals_logrank_o_minus_e_without_competing_risks(lung):
    # With one cause, Gray's score is the log-rank O - E exactly; the two tests differ only in
    # the variance estimate (Gray's is not hypergeometric), so the chi-squares are close, not equal.
    t, e = lung["time"].to_numpy(float), lung["status"].to_numpy()
    codes = lung["sex"].to_numpy() - 1
    score, var_gray = _cmprsk.gray_score(t, e, codes, 2, cause=1)
    obs, exp, var_lr = _km.logrank_arrays(t, e, codes, 2)
    assert score[0] == pytest.approx((obs - exp)[0], rel=1e-12)
    assert var_gray[0, 0] / var_lr[0, 0] == pytest.approx(1, abs=0.1)
    gray, lr = gray_test(lung, "time", "status", "sex", cause=1), logrank(lung, "time", "status", "sex")
    assert gray.stats["chi2"] == pytest.approx(score[0] ** 2 / var_gray[0, 0])
    assert gray.stats["chi2"] == pytest.approx(lr.stats["chi2"], rel=0.1)


def test_cif_recovers_analytic_incidence():
    # Constant cause-specific hazards 0.3 (placement) and 0.7 (closing), uniform censoring:
    # F1(t) = 0.3 / 1.0 * (1 - exp(-t)).
    rng = np.random.default_rng(5)
    n = 3000
    t = rng.exponential(1.0, n)
    cause = np.where(rng.uniform(size=n) < 0.3, 1, 2)
    c = rng.uniform(0, 3, n)
    df = pd.DataFrame({"t": np.minimum(t, c), "e": np.where(t <= c, cause, 0)})
    times = np.array([0.25, 0.5, 1.0, 1.5])
    res = cif(df, "t", "e", cause=1, times=times).table
    truth = 0.3 * (1 - np.exp(-times))
    assert np.all(np.abs(res["cif"] - truth) < 3.5 * res["se"])
    assert np.all((res["ci_low"] < truth) | (res["ci_high"] > truth))


def test_competing_edge_cases(bmt):
    with pytest.raises(InputError, match="at least two groups"):
        gray_test(bmt.assign(D="ALL"), "ftime", "Status", "D", cause=1)
    with pytest.raises(EstimationError, match="no events of cause 3"):
        gray_test(bmt, "ftime", "Status", "D", cause=3)
    with pytest.raises(InputError, match="event column"):
        cif(bmt.assign(Status=bmt["Status"] - 0.5), "ftime", "Status", cause=1)
    res = cif(bmt, "ftime", "Status", cause=3)
    assert res.table.empty and any("no events of cause 3" in w for w in res.warnings)
    zero = cif(bmt, "ftime", "Status", cause=1, times=[0.01]).table.iloc[0]
    assert (zero["cif"], zero["se"], zero["ci_low"], zero["ci_high"]) == (0, 0, 0, 0)


def test_efron_dfbeta_approximates_leave_one_out_with_tied_times(rossi):
    # The robust (sandwich) SE rests on dfbeta = score residual x inverse information,
    # the infinitesimal jackknife: beta - beta(-i) for each deleted row. Rossi's weeks
    # are heavily tied, so this checks the Efron tie handling of the residuals, which a
    # residual-sum check cannot (any hazard scaling keeps the sum at zero).
    from lifelines import CoxPHFitter

    cols = ["fin", "age", "prio"]
    d = rossi[cols + ["week", "arrest"]]
    fit = _coxph.fit(d["week"], d["arrest"], d[cols].to_numpy(float))
    beta = fit.beta
    dfbeta = fit.score_residuals() @ fit.vcov
    # Censored rows at week 52 sit in every tied risk set, so their residual is all
    # hazard part: scaling the tied hazard steps by 1/d shrinks them about 2.4-fold.
    # 15% allows for the first-order (jackknife) approximation itself (~10% here).
    censored = np.flatnonzero(d["arrest"].to_numpy() == 0)
    for i in censored[np.argsort(-np.abs(dfbeta[censored, 0]))[:3]]:
        loo = CoxPHFitter().fit(d.drop(index=d.index[i]), "week", "arrest").params_[cols].to_numpy()
        assert dfbeta[i, 0] == pytest.approx(beta[0] - loo[0], rel=0.15)


def _gray_score_by_time(time, status, codes, k, cause, rho=0.0):
    # cmprsk crstm's walk over distinct times, to check the vectorised _cmprsk.gray_score
    ut, inv = np.unique(time, return_inverse=True)
    m = ut.size
    d1 = np.zeros((m, k))
    d2 = np.zeros((m, k))
    at = np.zeros((m, k))
    np.add.at(d1, (inv, codes), status == cause)
    np.add.at(d2, (inv, codes), (status != 0) & (status != cause))
    np.add.at(at, (inv, codes), 1.0)
    rs = at.sum(axis=0)
    skmm, f1m, fm = np.ones(k), np.zeros(k), 0.0
    c, v2 = np.zeros((k, k)), np.zeros((k, k))
    v3, score, v = np.zeros(k), np.zeros(k), np.zeros((k, k))
    for j in range(m):
        n1, n2 = d1[j].sum(), d2[j].sum()
        if n1 + n2 > 0:
            act = rs > 0
            safe = np.where(act, rs, 1.0)
            skm = np.where(act, skmm * (rs - d1[j] - d2[j]) / safe, skmm)
            f1 = np.where(act, f1m + skmm * d1[j] / safe, f1m)
            with np.errstate(divide="ignore", invalid="ignore"):
                h = np.where(act, rs / skmm, 0.0)  # R_r / S_r(t-) in Gray's notation
            tr = h.sum()
            tq = (h * (1 - f1m)).sum()
            f = fm + n1 / tr
            fb = (1 - fm) ** rho
            a = fb * (np.diag(h) - np.outer(h, h) / tr)
            if fm < 1:
                c += a * n1 / (tr * (1 - fm))
            score += np.where(act, fb * (d1[j] - n1 * h * (1 - f1m) / tq), 0.0)
            if n1 > 0:
                kk = np.flatnonzero(act)
                t4 = np.where(skm[kk] > 0, 1 - (1 - f) / np.where(skm[kk] > 0, skm[kk], 1.0), 1.0)
                t5 = 1.0 if n1 <= 1 else 1 - (n1 - 1) / (tr * skmm[kk] - 1)
                t3 = t5 * skmm[kk] * n1 / (tr * rs[kk])
                t1 = a[:, kk] - t4 * c[:, kk]
                v3[kk] += t4**2 * t3
                v2[:, kk] += t1 * t4 * t3
                v += (t1 * t3) @ t1.T
            if n2 > 0:
                kk = np.flatnonzero((skm > 0) & (d2[j] > 0))
                t4 = (1 - f) / skm[kk]
                t3 = _cmprsk._tie_factor(d2[j][kk], rs[kk]) * skmm[kk] ** 2 * d2[j][kk] / rs[kk] ** 2
                t1 = t4 * c[:, kk]
                v3[kk] += t4**2 * t3
                v2[:, kk] -= t1 * t4 * t3
                v += (t1 * t3) @ t1.T
            fm, f1m, skmm = f, f1, skm
        rs = rs - at[j]
    v += (c * v3) @ c.T + c @ v2.T + v2 @ c.T
    return score[:-1], v[:-1, :-1]


def test_vectorised_gray_score_equals_the_walk_over_times():
    rng = np.random.default_rng(5)
    for k in (2, 3):
        for rep in range(12):
            n = int(rng.integers(15, 300))
            t = rng.exponential(10, n) if rep % 3 == 0 else rng.integers(1, 40, n).astype(float)
            status, g = rng.integers(0, 3, n), rng.integers(0, k, n)
            for cause, rho in ((1, 0.0), (2, 0.0), (1, 1.0)):
                want = _gray_score_by_time(t, status, g, k, cause, rho)
                got = _cmprsk.gray_score(t, status, g, k, cause, rho)
                np.testing.assert_allclose(got[0], want[0], atol=1e-10)
                np.testing.assert_allclose(got[1], want[1], atol=1e-10)


# --- counting-process Cox (delayed entry, time-varying covariates) ---------------------------------


@pytest.fixture(scope="module")
def heart():
    return pd.read_csv(datasets.path("heart"))


def test_counting_process_cox_matches_r_on_stanford_heart(heart):
    # R: coxph(Surv(start, stop, event) ~ age + year + surgery + transplant, data = heart)
    #    (printed in bi-sdal/workshop training/130-ml/README.md):
    #    age 0.02717 (0.01371), year -0.14635 (0.07047), surgery -0.63721 (0.36723),
    #    transplant -0.01025 (0.31375); z 1.981, -2.077, -1.735, -0.033; n = 172, 75 events
    res = cox(heart, "stop", "event", ["age", "year", "surgery", "transplant"], entry="start")
    t = res.table
    assert t["estimate"].round(5).tolist() == [0.02717, -0.14635, -0.63721, -0.01025]
    assert t["se"].round(5).tolist() == [0.01371, 0.07047, 0.36723, 0.31375]
    assert t["z"].round(3).tolist() == [1.981, -2.077, -1.735, -0.033]
    assert res.stats["events"] == 75 and res.stats["n"] == 172 and np.isnan(res.stats["concordance"])
    assert "counting-process" in res.method


def test_counting_process_score_residuals_match_their_definition():
    # no tied times: the score residual of row i is its event term minus its share of every
    # later hazard increment while it is at risk (entry < t <= stop)
    rng = np.random.default_rng(3)
    n = 200
    x = rng.normal(size=(n, 2))
    entry = rng.uniform(0, 2, n)
    stop = entry + rng.exponential(1 / np.exp(0.5 * x[:, 0])) + 1e-3
    event = (rng.uniform(size=n) < 0.7).astype(int)
    fit = _coxph.fit(stop, event, x, entry=entry)
    xc = x - x.mean(axis=0)
    w = np.exp(xc @ fit.beta)
    expected = np.zeros((n, 2))
    for j in np.flatnonzero(event):
        at_risk = (entry < stop[j]) & (stop >= stop[j])
        xbar = (w[at_risk, None] * xc[at_risk]).sum(axis=0) / w[at_risk].sum()
        expected[j] += xc[j] - xbar
        expected[at_risk] -= w[at_risk, None] * (xc[at_risk] - xbar) / w[at_risk].sum()
    np.testing.assert_allclose(fit.score_residuals(), expected, atol=1e-12)


def test_entry_must_come_before_the_end(heart):
    with pytest.raises(InputError, match="do not end after they enter"):
        cox(heart.assign(start=heart["stop"]), "stop", "event", ["age"], entry="start")


def test_splitting_follow_up_changes_nothing(lung):
    # a subject's follow-up cut into (0, c] and (c, t] gives the same Cox fit as one row
    whole = cox(lung.dropna(subset=["ph.ecog"]), "time", "status", ["age", "ph.ecog"])
    d = lung.dropna(subset=["ph.ecog"])
    cut = 200.0
    early = d.assign(start=0.0, stop=np.minimum(d["time"], cut), status=np.where(d["time"] <= cut, d["status"], 0))
    late = d[d["time"] > cut].assign(start=cut, stop=lambda f: f["time"])
    split = cox(pd.concat([early, late]), "stop", "status", ["age", "ph.ecog"], entry="start")
    np.testing.assert_allclose(split.table["estimate"], whole.table["estimate"], rtol=1e-8)
    np.testing.assert_allclose(split.table["se"], whole.table["se"], rtol=1e-8)


# --- restricted mean survival time (survRM2) ----------------------------------------------------


@pytest.fixture(scope="module")
def pbc():
    return pd.read_csv(datasets.path("pbc_rmst2"), float_precision="round_trip")


def test_rmst_matches_survrm2_vignette(pbc):
    # R: D <- rmst2.sample.data(); rmst2(D$time, D$status, D$arm, tau = 10)   (survRM2 1.0-4 vignette)
    #   RMST (arm=1) 7.146 0.283 6.592 7.701;  RMST (arm=0) 7.283 0.295 6.704 7.863
    #   RMTL (arm=1) 2.854;  RMTL (arm=0) 2.717
    #   RMST (arm=1)-(arm=0) -0.137 -0.939 0.665 p 0.738;  RMST (arm=1)/(arm=0) 0.981 0.878 1.096 p 0.738
    t = rmst(pbc, "time", "status", tau=10, group="arm").table.round(3)
    assert t.loc["1", ["estimate", "se", "ci_low", "ci_high", "rmtl"]].tolist() == [7.146, 0.283, 6.592, 7.701, 2.854]
    assert t.loc["0", ["estimate", "se", "ci_low", "ci_high", "rmtl"]].tolist() == [7.283, 0.295, 6.704, 7.863, 2.717]
    assert t.loc["difference", ["estimate", "ci_low", "ci_high", "p"]].tolist() == [-0.137, -0.939, 0.665, 0.738]
    assert t.loc["ratio", ["estimate", "ci_low", "ci_high", "p"]].tolist() == [0.981, 0.878, 1.096, 0.738]


def test_rmst_tau_rule_and_reference(pbc):
    # both arms end censored: the default tau is the smaller of the arms' last times (4523 days)
    res = rmst(pbc, "time", "status", tau=None, group="arm")
    assert res.stats["tau"] == pytest.approx(4523 / 365.25)
    with pytest.raises(InputError, match="beyond the data"):
        rmst(pbc, "time", "status", tau=13, group="arm")
    flipped = rmst(pbc, "time", "status", tau=10, group="arm", reference=1)
    assert flipped["difference"]["estimate"] == pytest.approx(0.1369227648694764, abs=1e-12)
    # one group: the area under its curve, as lifelines' restricted_mean_survival_time
    from lifelines import KaplanMeierFitter
    from lifelines.utils import restricted_mean_survival_time

    one = rmst(pbc, "time", "status", tau=10)
    kmf = KaplanMeierFitter().fit(pbc["time"], pbc["status"])
    assert one["all"]["estimate"] == pytest.approx(restricted_mean_survival_time(kmf, t=10), rel=1e-12)


def test_stratified_logrank_matches_survdiff_on_lung_by_institution():
    # R: survdiff(Surv(time, status) ~ pat.karno + strata(inst), data = lung)
    #    printed by broom: glance() statistic 21.4, df 7, p.value 0.00326; tidy() N, obs, exp
    lung = pd.read_csv(datasets.path("lung"))
    res = logrank(lung, "time", "status", "pat.karno", strata="inst")
    assert res.stats["n"] == 224 and res.stats["df"] == 7
    assert round(res.stats["chi2"], 1) == 21.4 and round(res.stats["p"], 5) == 0.00326
    assert res.table["n"].tolist() == [2, 2, 4, 30, 41, 50, 60, 35]
    assert res.table["observed"].tolist() == [1, 1, 4, 27, 31, 38, 38, 21]
    expected = [0.692, 1.10, 1.17, 16.3, 26.4, 41.9, 47.2, 26.2]  # 3 significant digits, as printed
    assert [float(f"{e:.3g}") for e in res.table["expected"]] == expected
    unstratified = logrank(lung.dropna(subset=["inst"]), "time", "status", "pat.karno")
    assert unstratified.stats["chi2"] != pytest.approx(res.stats["chi2"])  # the strata matter here


def test_quantile_survival_matches_quantile_survfit_on_lung_by_ecog():
    # R: fit <- survfit(Surv(time, status) ~ ph.ecog, data = lung); quantile(fit)
    #    (survival package examples, tests/Examples/survival-Ex.Rout.save; NA printed as NaN here)
    lung = pd.read_csv(datasets.path("lung"))
    res = quantile_survival(lung, "time", "status", q=[0.25, 0.5, 0.75], group="ph.ecog")
    wide = {
        c: res.table.pivot(index="ph.ecog", columns="q", values=c).to_numpy().tolist()
        for c in ("estimate", "ci_low", "ci_high")
    }
    nan = float("nan")
    expected = {
        "estimate": [[285, 394, 655], [181, 306, 550], [105, 199, 351], [118, 118, 118]],
        "ci_low": [[189, 348, 558], [156, 268, 460], [61, 156, 285], [nan, nan, nan]],
        "ci_high": [[350, 574, nan], [223, 429, 689], [163, 288, 654], [nan, nan, nan]],
    }
    for column, rows in expected.items():
        np.testing.assert_array_equal(wide[column], rows, err_msg=column)
    assert any("q = 0.75: upper limit not reached" in w for w in res.warnings)
    median = median_survival(lung, "time", "status", group="ph.ecog").table
    np.testing.assert_array_equal(res.table.loc[res.table["q"] == 0.5, "estimate"], median["estimate"])


@pytest.mark.parametrize("q", [0, 1, 1.5, [], [0.5, -0.1]])
def test_quantile_survival_refuses_what_is_not_a_probability(q):
    df = pd.DataFrame({"t": [1, 2, 3], "e": [1, 1, 0]})
    with pytest.raises(InputError, match="q must be probabilities"):
        quantile_survival(df, "t", "e", q=q)


def _veteran():
    v = pd.read_csv(datasets.path("veteran"))
    v["celltype"] = pd.Categorical(v["celltype"], categories=["large", "squamous", "smallcell", "adeno"])
    return v


def test_cox_with_breslow_ties_matches_r_on_veteran():
    # R: coxph(Surv(time, status) ~ celltype + karno, data = veteran, method = "breslow"),
    #    celltype releveled to "large"; printed by summary(): coef, se(coef); LR 58.77, Wald 60.58
    res = cox(_veteran(), "time", "status", "C(celltype) + karno", ties="breslow")
    expected = {
        "C(celltype)[T.squamous]": (-0.325143, 0.276694),
        "C(celltype)[T.smallcell]": (0.387005, 0.261005),
        "C(celltype)[T.adeno]": (0.825659, 0.293329),
        "karno": (-0.030904, 0.005179),
    }
    for term, (coef, se) in expected.items():
        assert round(res.table.loc[term, "estimate"], 6) == coef and round(res.table.loc[term, "se"], 6) == se
    assert round(res.stats["lr_chi2"], 2) == 58.77 and "Breslow ties" in res.method
    efron = cox(_veteran(), "time", "status", "C(celltype) + karno")  # the ties matter here: 128 deaths, many tied
    assert abs(efron.table.loc["karno", "estimate"] - res.table.loc["karno", "estimate"]) > 1e-4


def test_vectorised_breslow_residuals_equal_the_event_time_loop():
    v = _veteran()
    x = pd.get_dummies(v["celltype"], drop_first=True, dtype=float).assign(karno=v["karno"]).to_numpy()
    time, event = v["time"].to_numpy(float), v["status"].to_numpy()
    fit = _coxph.fit(time, event, x, ties="breslow")
    centred = x - x.mean(axis=0)  # as the fit centres them
    loop = _efron_score_residuals_by_loop(time, event, centred, fit.beta, breslow=True)
    np.testing.assert_allclose(fit.score_residuals(), loop, atol=1e-12)
    np.testing.assert_allclose(fit.score_residuals().sum(axis=0), 0, atol=1e-6)


@pytest.mark.parametrize("ties", ["exact", "discrete", ""])
def test_cox_refuses_ties_it_does_not_have(ties):
    with pytest.raises(InputError, match="ties must be one of 'efron', 'breslow'"):
        cox(_veteran(), "time", "status", ["karno"], ties=ties)


def _bmt_codes():
    # as the published call codes them: each factor's levels as integers 1, 2, ... (R as.integer(factor))
    b = pd.read_csv(datasets.path("bmtcrr"))
    for col in ("Sex", "D", "Phase", "Source"):
        b[col] = pd.Categorical(b[col]).codes + 1
    return b


def test_finegray_matches_crr_on_the_bone_marrow_transplant_data():
    # R: covs <- bmtcrr[, c("Sex", "D", "Phase", "Age", "Source")] as integer codes;
    #    summary(crr(bmtcrr$ftime, bmtcrr$Status, covs, failcode = 1, cencode = 0)):
    #    coef, se(coef), p-value; Num. cases = 177; Pseudo Log-likelihood = -267; LR test = 23.6 on 5 df
    res = finegray(_bmt_codes(), "ftime", "Status", ["Sex", "D", "Phase", "Age", "Source"], cause=1)
    expected = {
        "Sex": (0.0494, 0.2867, 0.86),
        "D": (-0.4860, 0.3040, 0.11),
        "Phase": (0.4144, 0.1194, 0.00052),
        "Age": (-0.0174, 0.0118, 0.14),
        "Source": (0.9526, 0.5469, 0.082),
    }
    for term, (coef, se, p) in expected.items():
        row = res.table.loc[term]
        assert round(row["estimate"], 4) == coef and round(row["se"], 4) == se
        assert float(f"{row['p']:.2g}") == p
    assert res.stats["n"] == 177 and round(res.stats["loglik"]) == -267 and round(res.stats["lr_chi2"], 1) == 23.6
    # the sandwich, not the model-based SE (0.2741 for Sex): the published SE needs the censoring's part too
    sex = res.table.loc["Sex"]
    assert round(sex["ratio_ci_low"], 3) == 0.599 and round(sex["ratio_ci_high"], 2) == 1.84


def _finegray_middle_by_loops(time, status, z, beta):
    # Fine & Gray's (1999) eta_i + psi_i written subject by subject and failure by failure, the way crr's
    # crrvv walks them, to check the cumulative sums in _finegray against
    from evalkit.stats.survival._finegray import _censoring_km_before

    order = np.argsort(time, kind="stable")
    time, status, z = time[order], status[order], z[order]
    n, p = z.shape
    g = _censoring_km_before(time, (status == 0).astype(float))
    w = np.exp(z @ beta)
    fails = np.flatnonzero(status == 1)

    def weight(j, i):  # subject j in the risk set of failure i
        if time[j] >= time[i]:
            return w[j]
        return w[j] * g[i] / g[j] if status[j] == 2 else 0.0

    s0 = {i: sum(weight(j, i) for j in range(n)) for i in fails}
    zbar = {i: sum(weight(j, i) * z[j] for j in range(n)) / s0[i] for i in fails}
    at_risk = np.array([(time >= time[i]).sum() for i in range(n)])
    q = {}
    for u in np.unique(time[status == 0]):
        q[u] = sum(
            sum(weight(j2, j1) * (z[j2] - zbar[j1]) for j2 in range(n) if time[j2] < u and status[j2] == 2) / s0[j1]
            for j1 in fails
            if time[j1] >= u
        )
    middle = np.zeros((p, p))
    for i in range(n):
        eta = (z[i] - zbar[i]) if status[i] == 1 else np.zeros(p)
        for j in fails:
            if weight(i, j) > 0:
                eta = eta - weight(i, j) * (z[i] - zbar[j]) / s0[j]
        psi = np.zeros(p)
        for c in np.flatnonzero((status == 0) & (time <= time[i])):
            psi = psi - q[time[c]] / at_risk[c] ** 2
        if status[i] == 0:
            psi = psi + q[time[i]] / at_risk[i]
        middle += np.outer(eta + psi, eta + psi)
    return middle


def test_finegray_sandwich_equals_the_subject_by_subject_formulas():
    from evalkit.stats.survival import _finegray as _finegray

    b = _bmt_codes().iloc[::2]  # 89 subjects with ties, censorings and both causes: the loops stay quick
    z = b[["Phase", "Age"]].to_numpy(float)
    time, status = b["ftime"].to_numpy(float), b["Status"].to_numpy()
    fit = _finegray.fit(time, status, z)
    data = _finegray._prepare(time, status, z, 1, 0)
    np.testing.assert_allclose(
        _finegray._sandwich_middle(data, fit.beta), _finegray_middle_by_loops(time, status, z, fit.beta), rtol=1e-10
    )


def test_finegray_says_what_is_wrong():
    b = _bmt_codes()
    with pytest.raises(EstimationError, match="no ends by cause 3"):
        finegray(b, "ftime", "Status", ["Age"], cause=3)
    with pytest.raises(InputError, match="finegray needs at least one covariate"):
        finegray(b, "ftime", "Status", [], cause=1)
    with pytest.raises(InputError, match="alpha must be"):
        finegray(b, "ftime", "Status", ["Age"], cause=1, alpha=2)


def test_the_old_cox_and_median_column_names_still_read_the_new_columns_with_a_warning(lung):
    # one Result layout: no duplicate columns; notebooks written against coef/hr/median keep running
    res = cox(lung, "time", "status", ["sex", "age"])
    assert not {"coef", "hr", "hr_ci_low", "hr_ci_high"} & set(res.table.columns)
    table = res.table
    with pytest.warns(DeprecationWarning, match="'hr' is now 'ratio'"):
        assert table.loc["sex", "hr"] == table.loc["sex", "ratio"]
    with pytest.warns(DeprecationWarning, match="'coef' is now 'estimate'"):
        assert table["coef"].equals(table["estimate"])
    with pytest.warns(DeprecationWarning, match="'hr_ci_low' is now 'ratio_ci_low'"):
        assert res["sex"]["hr_ci_low"] == table.loc["sex", "ratio_ci_low"]
    with pytest.warns(DeprecationWarning):
        assert table[["hr", "p"]].columns.tolist() == ["ratio", "p"]
    with pytest.warns(DeprecationWarning):
        assert table.hr_ci_high.equals(table["ratio_ci_high"])
    median = median_survival(lung, "time", "status", group="sex").table
    assert "median" not in median.columns
    with pytest.warns(DeprecationWarning, match="median_survival: column 'median' is now 'estimate'"):
        assert median.loc[1, "median"] == 270
    with pytest.raises(KeyError):
        table.loc["sex", "hazard"]  # a name that never existed is still an error
