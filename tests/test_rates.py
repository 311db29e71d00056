"""Tests for evalkit.rates: published R output, independent checks, simulations."""

from __future__ import annotations


import numpy as np
import pandas as pd
import patsy
import pytest
import statsmodels.api as sm
from scipy import stats as st

from evalkit import datasets
from evalkit import EstimationError, InputError
from evalkit.rates import compare_rates, rate_did, rate_model, rate_twfe

SHIPS_FORMULA = "incidents ~ type + C(year) + C(period)"


@pytest.fixture(scope="module")
def ships():
    d = pd.read_csv(datasets.path("ships"))
    return d[d["service"] > 0].reset_index(drop=True)


# R: glm(incidents ~ type + year + period + offset(log(service)), family = poisson,
#        data = ships, subset = service > 0), factors; McCullagh & Nelder (1989) 6.3
SHIPS_R = {
    "Intercept": (-6.40590, 0.21744),
    "type[T.B]": (-0.54334, 0.17759),
    "type[T.C]": (-0.68740, 0.32904),
    "type[T.D]": (-0.07596, 0.29058),
    "type[T.E]": (0.32558, 0.23588),
    "C(year)[T.65]": (0.69714, 0.14964),
    "C(year)[T.70]": (0.81843, 0.16977),
    "C(year)[T.75]": (0.45343, 0.23317),
    "C(period)[T.75]": (0.38447, 0.11827),
}


def test_ships_poisson_matches_r(ships):
    res = rate_model(ships, SHIPS_FORMULA, exposure="service")
    for term, (est, se) in SHIPS_R.items():
        assert round(res[term]["estimate"], 5) == est, term
        assert round(res[term]["se"], 5) == se, term
    assert round(res.stats["deviance"], 3) == 38.695  # R: residual deviance 38.695 on 25 df
    assert res.stats["df_resid"] == 25
    assert round(res.stats["pearson_dispersion"], 3) == 1.691  # R: sum(residuals(fit, "pearson")^2)/25
    assert res.stats["dispersion"] == 1.0
    row = res["type[T.B]"]
    assert row["ratio"] == pytest.approx(np.exp(row["estimate"]))
    assert row["ratio_ci_low"] == pytest.approx(np.exp(row["estimate"] - st.norm.ppf(0.975) * row["se"]))
    assert row["p"] == pytest.approx(2 * st.norm.sf(abs(row["estimate"] / row["se"])))


def test_ships_quasipoisson_scales_se_and_uses_t(ships):
    pois = rate_model(ships, SHIPS_FORMULA, exposure="service")
    quasi = rate_model(ships, SHIPS_FORMULA, exposure="service", family="quasipoisson")
    phi = quasi.stats["dispersion"]
    assert round(phi, 3) == 1.691  # R: summary(glm(..., family = quasipoisson))$dispersion
    np.testing.assert_allclose(quasi.table["se"], pois.table["se"] * np.sqrt(phi), rtol=1e-12)
    np.testing.assert_allclose(quasi.table["estimate"], pois.table["estimate"], rtol=1e-12)
    row = quasi["C(period)[T.75]"]
    assert row["p"] == pytest.approx(2 * st.t.sf(abs(row["t"]), 25))  # R summary.glm: t on df_resid
    assert row["ci_high"] == pytest.approx(row["estimate"] + st.t.ppf(0.975, 25) * row["se"])
    assert "aic" not in quasi.stats  # R: AIC is NA for quasi families


def test_zero_exposure_rows_excluded_with_warning():
    full = pd.read_csv(datasets.path("ships"))  # 6 rows with service == 0, all without incidents
    res = rate_model(full, SHIPS_FORMULA, exposure="service")
    assert res.stats["n"] == 34
    assert round(res["type[T.C]"]["se"], 5) == 0.32904
    assert any("zero service" in w for w in res.warnings)


def test_cluster_se_equals_hand_cr1_sandwich(ships):
    res = rate_model(ships, SHIPS_FORMULA, exposure="service", cluster="type")
    y, X = patsy.dmatrices(SHIPS_FORMULA, ships, return_type="dataframe")
    y, X = y.to_numpy().ravel(), X.to_numpy()
    mu = np.exp(X @ res.table["estimate"].to_numpy() + np.log(ships["service"].to_numpy()))
    bread = np.linalg.inv(X.T @ (X * mu[:, None]))
    scores = X * (y - mu)[:, None]
    by_type = pd.DataFrame(scores).groupby(ships["type"].to_numpy()).sum().to_numpy()
    meat = sum(np.outer(s, s) for s in by_type)
    n, k, g = len(y), X.shape[1], 5
    cov = bread @ meat @ bread * g / (g - 1) * (n - 1) / (n - k)  # Stata vce(cluster) / vcovCL HC1
    np.testing.assert_allclose(res.table["se"], np.sqrt(np.diag(cov)), rtol=1e-5)
    assert res.stats["n_clusters"] == 5
    assert any("only 5 clusters" in w for w in res.warnings)


def test_quine_negbin_matches_glm_nb():
    quine = pd.read_csv(datasets.path("quine"))
    res = rate_model(quine, "Days ~ Eth*Sex*Age*Lrn", family="negbin")
    # R: summary(glm.nb(Days ~ Eth*Sex*Age*Lrn, data = quine)) as printed in Crawley,
    # The R Book, "Negative binomial errors": init.theta = 1.92836014510701
    assert round(res.stats["theta"], 3) == 1.928
    assert round(res.stats["theta_se"], 3) == 0.269
    assert round(2 * res.stats["loglik"], 3) == -1039.324
    assert round(res.stats["deviance"], 2) == 167.45
    assert res.stats["df_resid"] == 118
    assert round(res.stats["null_deviance"], 2) == 272.29
    assert round(res.stats["aic"], 1) == 1097.3
    assert res.stats["theta"] == pytest.approx(1.92836014510701, rel=1e-8)
    assert any("aliased" in w for w in res.warnings)  # empty F3 x SL cells, NA in R


def test_negbin_se_is_glm_se_at_fitted_theta():
    quine = pd.read_csv(datasets.path("quine"))
    formula = "Days ~ Sex/(Age + Eth*Lrn)"
    res = rate_model(quine, formula, family="negbin")
    y, X = patsy.dmatrices(formula, quine, return_type="dataframe")
    family = sm.families.NegativeBinomial(alpha=1 / res.stats["theta"])
    ref = sm.GLM(y, X, family=family).fit(tol=1e-12)
    np.testing.assert_allclose(res.table["estimate"], ref.params, rtol=1e-6)
    np.testing.assert_allclose(res.table["se"], ref.bse, rtol=1e-4)
    # theta is the ML estimate: the profile log-likelihood falls on both sides
    y = y.to_numpy().ravel()

    def loglik(theta):
        mu = sm.GLM(y, X, family=sm.families.NegativeBinomial(alpha=1 / theta)).fit(tol=1e-12).mu
        return np.sum(st.nbinom.logpmf(y, theta, theta / (theta + mu)))

    th = res.stats["theta"]
    assert loglik(th) == pytest.approx(res.stats["loglik"], rel=1e-8)
    assert loglik(th) > max(loglik(th * 0.98), loglik(th * 1.02))


def test_input_errors(ships):
    bad = ships.assign(incidents=ships["incidents"].where(ships.index != 0, -1))
    with pytest.raises(InputError, match="negative"):
        rate_model(bad, SHIPS_FORMULA, exposure="service")
    with pytest.raises(InputError, match="events but zero"):
        rate_model(ships.assign(service=ships["service"].where(ships.index != 2, 0)), SHIPS_FORMULA, exposure="service")
    with pytest.raises(InputError, match="negative"):
        rate_model(ships.assign(service=-ships["service"]), SHIPS_FORMULA, exposure="service")
    with pytest.raises(EstimationError, match="no events"):
        rate_model(ships.assign(incidents=0), SHIPS_FORMULA, exposure="service")
    with pytest.raises(InputError, match="family"):
        rate_model(ships, SHIPS_FORMULA, exposure="service", family="binomial")
    with pytest.raises(EstimationError, match="2 clusters"):
        rate_model(ships.assign(team="a"), SHIPS_FORMULA, exposure="service", cluster="team")
    with pytest.raises(InputError, match="formula"):
        rate_model(ships, "incidents ~ nosuchcolumn", exposure="service")
    # ships has no overdispersion beyond Poisson: the NB2 likelihood rises to theta = infinity
    with pytest.raises(EstimationError, match="theta diverges"):
        rate_model(ships, SHIPS_FORMULA, exposure="service", family="negbin")


def test_level_without_events_is_flagged():
    df = pd.DataFrame({"team": list("aabbcc"), "days": [5, 7, 0, 0, 9, 4], "fte": [1.0] * 6})
    res = rate_model(df, "days ~ team", exposure="fte")
    assert any("team[T.b]" in w and "diverge" in w for w in res.warnings)


# R: poisson.test(137, 24.19893) -> rate 5.661407, 95% CI 4.753125 6.692709
# R: poisson.test(c(11, 6+8+7), c(800, 1083+1050+878)) -> rate ratio 1.971488,
#    95% CI 0.8584264 4.2772659, p-value 0.07966863
# (point estimates and p-values as recorded from R in the tidystats package's tests)
def test_compare_rates_matches_poisson_test():
    one = compare_rates(pd.DataFrame({"g": ["nickel"], "x": [137], "t": [24.19893]}), "x", "t", "g")
    row = one.table.loc["nickel"]
    assert (round(row["estimate"], 6), round(row["ci_low"], 6), round(row["ci_high"], 6)) == (
        5.661407,
        4.753125,
        6.692709,
    )
    eba = pd.DataFrame({"city": ["Fredericia", "other"], "cases": [11, 21], "py": [800.0, 3011.0]})
    two = compare_rates(eba, "cases", "py", "city", reference="other")
    row = two.table.loc["Fredericia"]
    assert round(row["ratio"], 6) == 1.971488
    assert (round(row["ratio_ci_low"], 7), round(row["ratio_ci_high"], 7)) == (0.8584264, 4.2772659)
    assert round(row["p"], 8) == 0.07966863
    # the reference row's ratio CI and p are undefined by construction: NaN, and no warning that always fires
    assert np.isnan(two.table.loc["other", "p"]) and two.warnings == []


def test_compare_rates_by_strata_and_zero_events():
    df = pd.DataFrame(
        {
            "site": ["A", "A", "A", "B", "B"],
            "team": ["c", "p", "p", "c", "p"],
            "days": [10, 0, 0, 12, 6],
            "fte": [2.0, 1.0, 0.5, 2.0, 1.5],
        }
    )
    res = compare_rates(df, "days", "fte", "team", by="site")
    zero = res.table.loc[("A", "p")]
    assert zero["exposure"] == 1.5 and zero["estimate"] == 0 and zero["ci_low"] == 0
    assert zero["ci_high"] == pytest.approx(-np.log(0.025) / 1.5)  # chi2(2 df)/2 = -log(alpha/2)
    assert zero["ratio"] == 0 and zero["ratio_ci_low"] == 0
    b = res.table.loc[("B", "p")]
    assert b["ratio"] == pytest.approx((6 / 1.5) / (12 / 2.0))
    with pytest.raises(InputError, match="whole counts"):
        compare_rates(df.assign(days=df["days"] + 0.5), "days", "fte", "team")
    with pytest.raises(InputError, match="reference"):
        compare_rates(df, "days", "fte", "team", reference="x")
    with pytest.raises(EstimationError, match="person-time"):
        compare_rates(df.assign(fte=[2.0, 0, 0, 2.0, 0], days=[10, 0, 0, 12, 0]), "days", "fte", "team")


def _sick_leave(rng, rrr, n_workers=30, overdispersion=None):
    """Sick-leave days per worker and period; comparison 12 -> 11 days per FTE-year."""
    arm = np.repeat([0, 1], 2 * n_workers)
    period = np.tile(np.repeat([0, 1], n_workers), 2)
    fte = rng.uniform(0.4, 1.0, arm.size)
    base = np.where(arm == 1, 14.0, 12.0) * np.where(period == 1, 11 / 12, 1.0)
    rate = base * np.where((arm == 1) & (period == 1), rrr, 1.0)
    mean = rate * fte
    if overdispersion is not None:  # gamma frailty: NB2 with theta = overdispersion
        mean = mean * rng.gamma(overdispersion, 1 / overdispersion, arm.size)
    return pd.DataFrame({"days": rng.poisson(mean), "fte": fte, "pilot": arm, "after": period})


def test_rate_did_is_ratio_of_crude_rate_ratios():
    df = _sick_leave(np.random.default_rng(1), 0.7)
    res = rate_did(df, "days", "fte", "pilot", "after")
    cell = df.groupby(["pilot", "after"])[["days", "fte"]].sum()
    r = cell["days"] / cell["fte"]
    assert res["did"]["ratio"] == pytest.approx((r[1, 1] / r[1, 0]) / (r[0, 1] / r[0, 0]), rel=1e-7)
    assert list(res.table.index) == ["did", "arm", "period", "intercept"]


def test_rate_did_recovers_known_ratio():
    df = _sick_leave(np.random.default_rng(2), 0.7, n_workers=3000)
    res = rate_did(df, "days", "fte", "pilot", "after", family="quasipoisson")
    assert res["did"]["ratio"] == pytest.approx(0.7, abs=0.02)
    assert res["did"]["ratio_ci_low"] < 0.7 < res["did"]["ratio_ci_high"]


@pytest.mark.parametrize("family, overdispersion", [("poisson", None), ("quasipoisson", 2.0)])
def test_rate_did_ci_coverage(family, overdispersion):
    rng = np.random.default_rng(20261122)
    hits = [
        rate_did(_sick_leave(rng, 0.75, overdispersion=overdispersion), "days", "fte", "pilot", "after", family=family)[
            "did"
        ][["ratio_ci_low", "ratio_ci_high"]]
        for _ in range(200)
    ]
    coverage = np.mean([lo < 0.75 < hi for lo, hi in hits])
    assert 0.91 <= coverage <= 0.985  # 95% +- ~2.5 binomial SEs for 200 replications


def test_rate_did_cluster_and_errors():
    rng = np.random.default_rng(3)
    df = _sick_leave(rng, 0.8).assign(worker=lambda d: np.tile(np.arange(60), 2))
    res = rate_did(df, "days", "fte", "pilot", "after", cluster="worker")
    assert res.stats["n_clusters"] == 60 and "cluster-robust" in res.method
    with pytest.raises(InputError, match="0/1"):
        rate_did(df.assign(pilot=df["pilot"] + 1), "days", "fte", "pilot", "after")
    with pytest.raises(EstimationError, match="four"):
        rate_did(df[~((df.pilot == 1) & (df.after == 1))], "days", "fte", "pilot", "after")


# --- CR2 for rate models (clubSandwich's glm method) and DiD on rates with fixed effects -----------


def _r_poly(x, degree):
    """R's orthogonal poly(x, degree): QR of the centred powers, unit-length columns."""
    x = np.asarray(x, dtype=float) - np.mean(x)
    q, r = np.linalg.qr(np.vander(x, degree + 1, increasing=True))
    z = q * np.diag(r)
    return (z / np.sqrt((z**2).sum(axis=0)))[:, 1:]


def test_cr2_quasipoisson_matches_clubsandwich_dietox():
    # R: dietox$Cu <- as.factor(dietox$Cu)
    #    weight_fit <- glm(Weight ~ Cu * poly(Time, 3), data = dietox, family = "quasipoisson")
    #    coef_test(weight_fit, vcov = vcovCR(weight_fit, cluster = dietox$Pig, type = "CR2"),
    #              test = "Satterthwaite")        (clubSandwich reference page vcovCR.glm)
    dietox = pd.read_csv(datasets.path("dietox"))
    dietox[["p1", "p2", "p3"]] = _r_poly(dietox["Time"], 3)
    res = rate_model(
        dietox,
        "Weight ~ C(Cu, levels=['Cu000', 'Cu035', 'Cu175']) * (p1 + p2 + p3)",
        family="quasipoisson",
        cluster="Pig",
        se_type="cr2",
    )
    t = res.table
    printed = {  # term: (estimate, SE, d.f.)
        "Intercept": (4.0124, 0.0190, 22.0),
        "p3": (0.0292, 0.0566, 21.9),
        "C(Cu, levels=['Cu000', 'Cu035', 'Cu175'])[T.Cu035]": (-0.0134, 0.0286, 45.7),
        "C(Cu, levels=['Cu000', 'Cu035', 'Cu175'])[T.Cu175]:p3": (0.1146, 0.0998, 44.7),
    }
    for term, (est, se, df) in printed.items():
        assert (round(t.loc[term, "estimate"], 4), round(t.loc[term, "se"], 4), round(t.loc[term, "df"], 1)) == (
            est,
            se,
            df,
        ), term
    assert "CR2" in res.method and res.stats["n_clusters"] == 72
    # the dispersion cancels in the sandwich: Poisson gives the same CR2
    pois = rate_model(
        dietox,
        "Weight ~ C(Cu, levels=['Cu000', 'Cu035', 'Cu175']) * (p1 + p2 + p3)",
        family="poisson",
        cluster="Pig",
        se_type="cr2",
    ).table
    np.testing.assert_allclose(pois["se"], t["se"], rtol=1e-10)


def test_rate_twfe_is_the_dummy_variable_glm_and_its_options():
    rng = np.random.default_rng(3)
    d = pd.DataFrame(
        {
            "team": np.repeat(["a", "b", "c", "d"], 30),
            "half": np.tile(np.repeat(np.arange(6), 5), 4),
            "worker": np.repeat(np.arange(24), 5),
            "fte": rng.uniform(0.3, 0.5, 120),
        }
    )
    d["d"] = ((d["team"].isin(["a", "b"])) & (d["half"] >= np.where(d["team"] == "a", 2, 4))).astype(int)
    d["days"] = rng.poisson(d["fte"] * 12 * np.exp(-0.3 * d["d"] + 0.1 * d["half"]))
    res = rate_twfe(d, "days", "fte", "d", "team", "half", cluster="worker", se_type="cr2")
    full = rate_model(
        d, "days ~ d + C(team) + C(half)", exposure="fte", family="quasipoisson", cluster="worker", se_type="cr2"
    )
    assert list(res.table.index) == ["d"]
    for col in ("estimate", "se", "df", "ci_low", "ci_high"):
        assert res["d"][col] == pytest.approx(full["d"][col], rel=1e-10)
    with pytest.raises(InputError, match="needs cluster"):
        rate_model(d, "days ~ d", exposure="fte", se_type="cr2")
    # one 0/1 rule for every estimator (core.result.binary_codes): both codes must be there
    with pytest.raises(InputError, match=r"no rows with d == 1 \(treated\): the comparison needs both"):
        rate_twfe(d.assign(d=0), "days", "fte", "d", "team", "half")


def test_rate_model_alpha_sets_the_interval():
    d = pd.DataFrame(
        {"days": [30, 12, 45, 20, 33, 18], "fte": [3.0, 2.0, 3.5, 2.5, 3.1, 2.2], "pilot": [0, 1, 0, 1, 0, 1]}
    )
    wide, narrow = (rate_model(d, "days ~ pilot", exposure="fte", alpha=a)["pilot"] for a in (0.05, 0.10))
    assert wide["estimate"] == narrow["estimate"]
    z = lambda a: st.norm.ppf(1 - a / 2)  # noqa: E731
    assert wide["ci_high"] - wide["estimate"] == pytest.approx(z(0.05) * wide["se"])
    assert narrow["ci_high"] - narrow["estimate"] == pytest.approx(z(0.10) * narrow["se"])
