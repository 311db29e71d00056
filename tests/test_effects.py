"""Tests of evalkit.effects (and its wild cluster bootstrap engine, evalkit.stats.effects._wild)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import patsy
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from scipy import stats as st

from evalkit import datasets
from evalkit import effects as ef
from evalkit.stats.effects._wild import cluster_codes, wild_test
from evalkit.core.result import EstimationError, InputError


@pytest.fixture(scope="module")
def ck() -> pd.DataFrame:
    return pd.read_csv(datasets.path("card_krueger_mhe"))


@pytest.fixture(scope="module")
def few() -> pd.DataFrame:
    return pd.read_csv(datasets.path("did_few_clusters"))


def _panel(seed: int, n_teams: int = 10, per_team: int = 3, periods: int = 5, drop: float = 0.1):
    """Unbalanced panel of units nested in teams, staggered treatment, effect 2."""
    rng = np.random.default_rng(seed)
    units = np.arange(n_teams * per_team)
    df = pd.DataFrame([(u, t) for u in units for t in range(periods)], columns=["unit", "time"])
    df["team"] = df["unit"] // per_team
    start = np.where(units % 3 == 0, 2, np.where(units % 3 == 1, 3, periods + 1))
    df["d"] = (df["time"] >= start[df["unit"]]).astype(int)
    team_shock = rng.normal(0, 0.5, (n_teams, periods))
    df["y"] = (
        0.5 * df["unit"]
        + 0.3 * df["time"]
        + 2.0 * df["d"]
        + team_shock[df["team"], df["time"]]
        + rng.normal(0, 1, len(df))
    )
    return df.drop(df.sample(frac=drop, random_state=seed).index).reset_index(drop=True)


# --- Card & Krueger (1994), Table 3 ---------------------------------------------------------


def test_card_krueger_balanced_did(ck):
    # Card & Krueger (1994) Table 3 row 4: NJ - PA change, balanced sample: 2.75 (1.34)
    res = ef.did(ck, "fte", "nj", "d", unit="id", balanced=True)
    assert res["did"]["estimate"] == pytest.approx(2.75, abs=0.005)
    assert res["did"]["se"] == pytest.approx(1.34, abs=0.005)
    assert (res.stats["n_control"], res.stats["n_treated"]) == (75, 309)


@pytest.mark.parametrize(
    "row, estimate, se",
    [
        # Card & Krueger (1994) Table 3, rows 1, 2 and 4 (PA = control, NJ = treated)
        ("before:control", 23.33, 1.35),
        ("before:treated", 20.44, 0.51),
        ("after:control", 21.17, 0.94),
        ("after:treated", 21.03, 0.52),
        ("change:control", -2.28, 1.25),
        ("change:treated", 0.47, 0.48),
    ],
)
def test_card_krueger_table3_groups(ck, row, estimate, se):
    res = ef.did_table(ck, "fte", "nj", "d", unit="id")
    assert res[row]["estimate"] == pytest.approx(estimate, abs=0.005)
    assert res[row]["se"] == pytest.approx(se, abs=0.005)


@pytest.mark.parametrize(
    "period, estimate, se",
    [
        # Card & Krueger (1994) Table 3, column NJ - PA
        ("before", -2.89, 1.44),
        ("after", -0.14, 1.07),
        ("change", 2.75, 1.34),
    ],
)
def test_card_krueger_table3_differences(ck, period, estimate, se):
    res = ef.did_table(ck, "fte", "nj", "d", unit="id")
    diff, se_c, se_t = (res[f"{period}:{g}"]["se"] for g in ("difference", "control", "treated"))
    assert res[f"{period}:difference"]["estimate"] == pytest.approx(estimate, abs=0.005)
    assert diff == pytest.approx(np.hypot(se_c, se_t), rel=1e-12)
    # The paper combined its printed (2-decimal) group SEs: sqrt(0.94^2 + 0.52^2) = 1.074
    # gives its 1.07, whereas the unrounded SEs give 1.0772 for the after row.
    assert np.hypot(round(se_c, 2), round(se_t, 2)) == pytest.approx(se, abs=0.005)


def test_balanced_did_is_welch_test_on_change_scores(ck):
    # R: t.test(change ~ nj) on the balanced change scores (Welch)
    wide = ck.pivot(index="id", columns="d", values="fte").dropna()
    nj = ck.drop_duplicates("id").set_index("id").loc[wide.index, "nj"]
    change = wide[1] - wide[0]
    welch = st.ttest_ind(change[nj == 1], change[nj == 0], equal_var=False)
    res = ef.did(ck, "fte", "nj", "d", unit="id", balanced=True)
    assert res["did"]["t"] == pytest.approx(welch.statistic, rel=1e-10)
    assert res["did"]["p"] == pytest.approx(welch.pvalue, rel=1e-10)
    ci = welch.confidence_interval()
    assert (res["did"]["ci_low"], res["did"]["ci_high"]) == pytest.approx((ci.low, ci.high), rel=1e-10)


def test_ols_did_is_difference_of_cell_means(ck):
    means = ck.dropna(subset=["fte"]).groupby(["nj", "d"])["fte"].mean()
    expected = (means[1, 1] - means[1, 0]) - (means[0, 1] - means[0, 0])
    res = ef.did(ck, "fte", "nj", "d")
    assert res["did"]["estimate"] == pytest.approx(expected, rel=1e-12)
    assert res.stats["n"] == 794


def test_ols_did_hc1_and_cluster_se_by_hand(ck):
    df = ck.dropna(subset=["fte"])
    x = np.column_stack([np.ones(len(df)), df["nj"], df["d"], df["nj"] * df["d"]])
    y = df["fte"].to_numpy()
    bread = np.linalg.inv(x.T @ x)
    e = y - x @ bread @ x.T @ y
    n, k = x.shape
    hc1 = n / (n - k) * bread @ (x.T * e**2) @ x @ bread
    scores = pd.DataFrame(x * e[:, None]).groupby(df["id"].to_numpy()).sum().to_numpy()
    g = len(scores)
    crv1 = g / (g - 1) * (n - 1) / (n - k) * bread @ scores.T @ scores @ bread
    assert ef.did(ck, "fte", "nj", "d", se_type="hc1")["did"]["se"] == pytest.approx(np.sqrt(hc1[3, 3]), rel=1e-10)
    clustered = ef.did(ck, "fte", "nj", "d", cluster="id")
    assert clustered["did"]["se"] == pytest.approx(np.sqrt(crv1[3, 3]), rel=1e-10)
    t = clustered["did"]["t"]
    assert clustered["did"]["p"] == pytest.approx(2 * st.t.sf(abs(t), g - 1), rel=1e-10)
    assert clustered.warnings == []


def test_did_recovers_known_effect_with_covariate():
    rng = np.random.default_rng(5)
    df = pd.DataFrame({"tr": np.repeat([0, 1], 400), "post": np.tile([0, 1], 400)})
    df["age"] = rng.normal(40, 10, 800)
    df["y"] = (
        1 + 0.5 * df["tr"] + 0.3 * df["post"] + 1.5 * df["tr"] * df["post"] + 0.05 * df["age"] + rng.normal(0, 1, 800)
    )
    row = ef.did(df, "y", "tr", "post", covariates=["age"], se_type="hc1")["did"]
    assert row["ci_low"] < 1.5 < row["ci_high"]
    assert row["se"] < 0.2


# --- wild cluster bootstrap -----------------------------------------------------------------


def _design(few):
    x = np.column_stack([np.ones(len(few)), few["pilot"], few["post"], few["pilot"] * few["post"]])
    codes, g = cluster_codes(few["team"])
    return x, few["wellbeing"].to_numpy(dtype=float), codes, g


def test_wild_matches_wildboottest_package(few):
    # Python wildboottest 0.3.2: wildboottest(sm.OLS(y, X), B=9999, cluster=team codes,
    #   param=..., weights_type="rademacher", impose_null=True, bootstrap_type="11")
    #   -> full enumeration of the 2^8 = 256 sign vectors:
    #   post: p = 0.125 (32/256); pilot_post: p = 0.171875 (44/256), t = 1.751016.
    # The draws v = +-1 reproduce the sample (|t*| = |t| exactly) and, as in boottest, do not
    # count; wildboottest counts |t*| > |t| without a tolerance, so rounding decides them: for
    # pilot_post it leaves both out (44/256 as evalkit), for post it counts both. post is
    # identified by a few clusters and 30 further draws tie with it; evalkit counts those ties.
    x, y, codes, g = _design(few)
    assert wild_test(x, y, codes, g, 2, weights="rademacher").p == (32 - 2) / 256
    boot = wild_test(x, y, codes, g, 3, weights="rademacher")
    assert boot.enumerated and boot.reps == 256
    assert boot.p == 44 / 256
    res = ef.did(few, "wellbeing", "pilot", "post", cluster="team")
    assert res["did"]["t"] == pytest.approx(1.751016, abs=1e-6)


def _brute_force_p(x, y, codes, j):
    """WCR p-value by refitting every enumerated bootstrap sample (no algebra shortcuts)."""

    def t_stat(yy):
        fit = sm.OLS(yy, x).fit(cov_type="cluster", cov_kwds={"groups": codes})
        return fit.params[j] / fit.bse[j]

    restricted = sm.OLS(y, np.delete(x, j, axis=1)).fit()
    t_obs = abs(t_stat(y))
    g = codes.max() + 1
    draws = [
        (abs(t_stat(restricted.fittedvalues + restricted.resid * np.array(v)[codes])), len(set(v)) == 1)
        for v in itertools.product((-1.0, 1.0), repeat=g)
    ]
    # as extreme as the data, except the two draws that reproduce the sample
    hits = [t > t_obs * (1 + 1e-9) or (abs(t - t_obs) <= t_obs * 1e-9 and not constant) for t, constant in draws]
    return np.mean(hits)


def test_wild_algebra_matches_brute_force(few):
    sub = few[few["team"].isin(["T1", "T2", "T3", "T5", "T6", "T7"])]
    x, y, codes, g = _design(sub)
    assert wild_test(x, y, codes, g, 3, weights="rademacher").p == pytest.approx(_brute_force_p(x, y, codes, 3))


def test_wild_ci_is_test_inversion(few):
    x, y, codes, g = _design(few)
    boot = wild_test(x, y, codes, g, 3, seed=3)
    assert boot.weights == "webb" and not boot.enumerated  # G = 8 < 12
    for bound, inside in ((boot.ci_low, 1), (boot.ci_high, -1)):

        def p_at(r):
            return wild_test(x, y - r * x[:, 3], codes, g, 3, seed=3).p

        assert p_at(bound + inside * 1e-6) > 0.05 >= p_at(bound - inside * 1e-6)


def test_did_wild_is_seeded_and_flags_few_clusters(few):
    a = ef.did(few, "wellbeing", "pilot", "post", cluster="team", se_type="wild", seed=11)
    b = ef.did(few, "wellbeing", "pilot", "post", cluster="team", se_type="wild", seed=11)
    pd.testing.assert_frame_equal(a.table, b.table)
    assert "wild cluster restricted bootstrap" in a.method and "webb" in a.method
    assert any("8 clusters" in w for w in a.warnings)
    clustered = ef.did(few, "wellbeing", "pilot", "post", cluster="team")
    assert "very few clusters" in clustered.method
    assert any("wild" in w for w in clustered.warnings)
    assert a["did"]["se"] == clustered["did"]["se"]


def test_few_treated_clusters_are_flagged(few):
    two_pilots = few[few["team"].isin(["T1", "T2", "T5", "T6", "T7", "T8"])]
    res = ef.did(two_pilots, "wellbeing", "pilot", "post", cluster="team")
    assert any("MacKinnon & Webb" in w and w.startswith("2 clusters with treated") for w in res.warnings)
    assert not any("MacKinnon" in w for w in ef.did(few, "wellbeing", "pilot", "post", cluster="team").warnings)


def test_cluster_warning_thresholds():
    df = _panel(1, n_teams=20)
    res = ef.twfe(df, "y", "d", "unit", "time", cluster="team")
    assert "few clusters (G=20)" in res.method and len(res.warnings) == 1
    big = _panel(1, n_teams=40)
    assert ef.twfe(big, "y", "d", "unit", "time", cluster="team").warnings == []


# --- two-way fixed effects ------------------------------------------------------------------


@pytest.mark.parametrize(
    "cluster, k_nested",
    [
        ("team", lambda u, t: 1 + t),  # units nested in teams: K = x + period FE
        ("unit", lambda u, t: 1 + t),
        ("time", lambda u, t: 1 + u),  # periods nested: K = x + unit FE
        ("cross", lambda u, t: 1 + u + t - 1),  # nothing nested: K = x + all FE - 1 reference
    ],
)
def test_twfe_matches_dummy_ols_with_fixest_k(cluster, k_nested):
    df = _panel(2)
    df["cross"] = (df["unit"] * 7 + df["time"] * 3) % 11
    res = ef.twfe(df, "y", "d", "unit", "time", cluster=cluster)
    u, t, n = df["unit"].nunique(), df["time"].nunique(), len(df)
    assert res.stats["dof_k"] == k_nested(u, t)
    groups = pd.factorize(df[cluster])[0]
    dummy = smf.ols("y ~ d + C(unit) + C(time)", df).fit(cov_type="cluster", cov_kwds={"groups": groups})
    k_full = dummy.model.exog.shape[1]
    assert res["d"]["estimate"] == pytest.approx(dummy.params["d"], rel=1e-10)
    # statsmodels uses (N-1)/(N-K) with every dummy in K; fixest drops nested ones.
    expected_se = dummy.bse["d"] * np.sqrt((n - k_full) / (n - res.stats["dof_k"]))
    assert res["d"]["se"] == pytest.approx(expected_se, rel=1e-10)
    assert res["d"]["p"] == pytest.approx(2 * st.t.sf(abs(res["d"]["t"]), res.stats["n_clusters"] - 1))


def test_twfe_k_as_fixest_documentation_example():
    # R: fixest ?ssc example: base$fe1 = rep(1:3, c(4, 3, 3)); base$fe2 = rep(1:5, each = 2);
    #    feols(y ~ x | fe1 + fe2, base) clustered by fe1 -> "adjustment K = 1 + 5 (i.e. x + fe2)"
    rng = np.random.default_rng(0)
    base = pd.DataFrame(
        {"x": rng.normal(size=10), "fe1": np.repeat([1, 2, 3], [4, 3, 3]), "fe2": np.repeat([1, 2, 3, 4, 5], 2)}
    )
    base["y"] = base["x"] + rng.normal(size=10)
    assert ef.twfe(base, "y", "x", "fe1", "fe2").stats["dof_k"] == 6


def test_twfe_recovers_known_effect():
    df = _panel(4, n_teams=40, per_team=3)
    row = ef.twfe(df, "y", "d", "unit", "time", cluster="team")["d"]
    assert row["ci_low"] < 2.0 < row["ci_high"]
    assert abs(row["estimate"] - 2.0) < 4 * row["se"]


def test_twfe_wild_equals_bootstrap_on_full_dummy_design():
    df = _panel(6, n_teams=12)
    res = ef.twfe(df, "y", "d", "unit", "time", cluster="team", se_type="wild")
    assert res.stats["boot_weights"] == "rademacher" and res.stats["boot_reps"] == 2**12
    x = np.column_stack(
        [
            df["d"],
            pd.get_dummies(df["unit"]).to_numpy(float),
            pd.get_dummies(df["time"], drop_first=True).to_numpy(float),
        ]
    )
    codes, g = cluster_codes(df["team"])
    boot = wild_test(x, df["y"].to_numpy(), codes, g, 0)
    assert res["d"]["p"] == pytest.approx(boot.p, abs=1e-12)
    assert (res["d"]["ci_low"], res["d"]["ci_high"]) == pytest.approx((boot.ci_low, boot.ci_high), rel=1e-6)


# --- coverage simulation --------------------------------------------------------------------


def test_cluster_did_ci_coverage():
    """200 synthetic team-clustered panels, true DiD effect 1.0, 40 teams (20 pilot)."""
    rng = np.random.default_rng(2026)
    teams, workers = 40, 5
    base = pd.DataFrame(
        [(t, w, p) for t in range(teams) for w in range(workers) for p in (0, 1)], columns=["team", "worker", "post"]
    )
    base["pilot"] = (base["team"] < teams // 2).astype(int)
    covered = 0
    for _ in range(200):
        shock = rng.normal(0, 1, (teams, 2))
        y = (
            shock[base["team"], base["post"]]
            + 0.5 * base["post"]
            + 1.0 * base["pilot"] * base["post"]
            + rng.normal(0, 1, len(base))
        )
        row = ef.did(base.assign(y=y), "y", "pilot", "post", cluster="team")["did"]
        covered += row["ci_low"] <= 1.0 <= row["ci_high"]
    # 95% nominal; 3 binomial SDs (sqrt(.95 * .05 / 200) = 0.0154) either side.
    assert 0.95 - 3 * 0.0154 <= covered / 200 <= 0.95 + 3 * 0.0154


# --- mixed ANOVA ----------------------------------------------------------------------------


def test_mixed_anova_reference():
    # pingouin mixed_anova data set; values cross-checked by pingouin's authors against
    # JASP and R afex::aov_ez("Subject", "Scores", data, between = "Group", within = "Time")
    df = pd.read_csv(datasets.path("mixed_anova"))
    res = ef.mixed_anova(df, "Scores", "Time", "Group", "Subject")
    assert list(res.table.index) == ["Group", "Time", "Interaction"]
    assert res.table["F"].to_numpy() == pytest.approx([5.05171, 4.02739, 2.72800], abs=5e-6)
    assert res.table["df1"].tolist() == [1, 2, 2]
    assert res.table["df2"].tolist() == [58, 116, 116]
    assert res.table["np2"].to_numpy() == pytest.approx([0.08012, 0.06493, 0.04492], abs=5e-6)
    assert res.table["p"].to_numpy() == pytest.approx([0.02842, 0.02037, 0.06954], abs=5e-6)
    assert res.stats["eps_gg"] == pytest.approx(0.99812, abs=5e-6)
    assert res.table.loc["Group", "p_gg"] == res.table.loc["Group", "p"]
    assert (res.table["p_gg"] >= res.table["p"]).all()
    assert "p_gg" not in ef.mixed_anova(df, "Scores", "Time", "Group", "Subject", correction=False).table


def test_two_by_two_interaction_is_squared_change_score_t():
    rng = np.random.default_rng(9)
    df = pd.DataFrame(
        {
            "id": np.repeat(np.arange(30), 2),
            "wave": np.tile(["w1", "w2"], 30),
            "arm": np.repeat(["comparison", "pilot"], [28, 32]),
        }
    )
    df["score"] = rng.normal(3, 1, 60) + 0.4 * ((df["arm"] == "pilot") & (df["wave"] == "w2"))
    wide = df.pivot(index="id", columns="wave", values="score")
    arm = df.drop_duplicates("id").set_index("id")["arm"]
    change = wide["w2"] - wide["w1"]
    t = st.ttest_ind(change[arm == "pilot"], change[arm == "comparison"]).statistic
    res = ef.mixed_anova(df, "score", "wave", "arm", "id")
    assert res["Interaction"]["F"] == pytest.approx(t**2, rel=1e-10)


def test_mixed_anova_unbalanced_falls_back_to_mixed_model():
    df = pd.read_csv(datasets.path("mixed_anova"))
    res = ef.mixed_anova(df.drop(index=[5, 70]), "Scores", "Time", "Group", "Subject")
    assert "mixed model" in res.method.lower() and any("linear mixed model" in w for w in res.warnings)
    assert {"chi2", "df1", "p", "F"} <= set(res.table.columns)
    assert res.table["df1"].tolist() == [1, 2, 2]
    assert res.stats["n"] == 178


def test_random_intercept_reml_matches_statsmodels_mixedlm():
    import statsmodels.formula.api as smf

    from evalkit.stats.effects import _lmm as _lmm

    rng = np.random.default_rng(4)
    n = 120
    df = pd.DataFrame(
        {
            "s": np.repeat(np.arange(n), 3),
            "w": np.tile(["1", "2", "3"], n),
            "b": np.repeat(rng.choice(["c", "p"], n), 3),
        }
    )
    df["y"] = rng.normal(0, 0.8, n)[df["s"]] + rng.normal(3, 1, len(df)) + 0.4 * ((df["b"] == "p") & (df["w"] == "3"))
    df = df.drop(index=rng.choice(len(df), 60, replace=False))  # unbalanced: missed waves
    sm = smf.mixedlm("y ~ C(b, Sum) * C(w, Sum)", df, groups=df["s"]).fit(reml=True)
    x = np.asarray(patsy.dmatrix("C(b, Sum) * C(w, Sum)", df))
    ours = _lmm.fit_random_intercept(x, df["y"].to_numpy(), df["s"].to_numpy())
    # ours maximises the same REML likelihood at least as well as MixedLM's optimiser
    assert ours.llf >= sm.llf - 1e-9 and ours.llf == pytest.approx(sm.llf, abs=1e-6)
    np.testing.assert_allclose(ours.beta, sm.fe_params, rtol=1e-5)
    # The covariance of the coefficients is lme4's vcov(): GLS at the REML variances,
    # (X' V^-1 X)^-1 with V = sigma2 I + tau2 Z Z', here built densely. (MixedLM inverts
    # the joint Hessian of coefficients and variances instead: 3rd-digit differences.)
    z = (df["s"].to_numpy()[:, None] == np.unique(df["s"])[None, :]).astype(float)
    v = ours.sigma2 * np.eye(len(df)) + ours.tau2 * z @ z.T
    np.testing.assert_allclose(ours.cov, np.linalg.inv(x.T @ np.linalg.solve(v, x)), rtol=1e-9)
    assert ours.tau2 == pytest.approx(sm.cov_re.iloc[0, 0], rel=1e-3)
    assert ours.sigma2 == pytest.approx(sm.scale, rel=1e-4) and not ours.boundary
    # subject means flatter than chance allows (noise centred within subject): the
    # subject variance is estimated at zero and the fit is ordinary least squares
    e = pd.Series(rng.normal(0, 1, len(df)), index=df.index)
    flat = e - e.groupby(df["s"]).transform("mean") + 5 * (df["w"] == "2")
    zero = _lmm.fit_random_intercept(x, flat.to_numpy(), df["s"].to_numpy())
    assert zero.boundary and zero.tau2 < 1e-10
    np.testing.assert_allclose(zero.beta, np.linalg.lstsq(x, flat.to_numpy(), rcond=None)[0], rtol=1e-6)


def test_mixed_model_wald_f_equals_anova_f_when_balanced():
    # In a balanced split-plot design REML estimates reproduce the ANOVA mean squares,
    # so the Wald chi2 / df1 of every term equals the ANOVA F: an independent check of
    # the fallback's contrasts and term tests.
    df = pd.read_csv(datasets.path("mixed_anova"))
    from evalkit.stats.effects._groups import _anova_mixedlm

    lmm = _anova_mixedlm(df, "Scores", "Time", "Group", "Subject")
    anova = ef.mixed_anova(df, "Scores", "Time", "Group", "Subject")
    assert lmm.table["F"].to_numpy() == pytest.approx(anova.table["F"].to_numpy(), rel=1e-4)


# --- two-group comparison -------------------------------------------------------------------


def test_compare_groups_sleep():
    # R: t.test(extra ~ group, data = sleep): t = -1.8608, df = 17.776, p-value = 0.07939,
    #    95 percent CI -3.3654832 0.2054832 (group 1 - group 2; evalkit reports 2 - 1)
    # R: wilcox.test(extra ~ group, data = sleep): W = 25.5, p-value = 0.06933
    res = ef.compare_groups(pd.read_csv(datasets.path("sleep")), "extra", "group")
    row = res["difference"]
    assert row["estimate"] == pytest.approx(1.58, abs=1e-12)
    assert res.stats["t"] == pytest.approx(1.8608, abs=5e-5)
    assert res.stats["df"] == pytest.approx(17.776, abs=5e-4)
    assert row["p"] == pytest.approx(0.07939, abs=5e-6)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((-0.2054832, 3.3654832), abs=5e-8)
    assert res.stats["mw_u"] == 10 * 10 - 25.5
    assert res.stats["mw_p"] == pytest.approx(0.06933, abs=5e-6)


def test_hedges_g_as_metafor_escalc():
    sleep = pd.read_csv(datasets.path("sleep"))
    a, b = (sleep.loc[sleep["group"] == g, "extra"].to_numpy() for g in (1, 2))
    sp = np.sqrt((9 * a.var(ddof=1) + 9 * b.var(ddof=1)) / 18)
    # metafor .cmicalc(18): exact J = gamma(m/2) / (sqrt(m/2) gamma((m-1)/2)), m = n1 + n2 - 2
    j = math.exp(math.lgamma(9) - math.log(math.sqrt(9)) - math.lgamma(8.5))
    g = j * (b.mean() - a.mean()) / sp
    row = ef.compare_groups(sleep, "extra", "group")["hedges_g"]
    assert row["estimate"] == pytest.approx(g, rel=1e-12)
    assert row["se"] == pytest.approx(np.sqrt(1 / 10 + 1 / 10 + g**2 / 40), rel=1e-12)
    assert row["ci_low"] == pytest.approx(g - st.norm.ppf(0.975) * row["se"], rel=1e-12)
    # pingouin uses the approximate J = 1 - 3 / (4 (n1 + n2) - 9): agrees to 1e-3
    import pingouin as pg

    assert row["estimate"] == pytest.approx(pg.compute_effsize(b, a, eftype="hedges"), rel=1e-3)


def test_compare_groups_exact_mann_whitney_small_samples():
    df = pd.DataFrame({"y": [1.1, 2.3, 0.7, 3.2, 4.5, 5.1, 3.9, 6.0], "g": ["a"] * 4 + ["b"] * 4})
    res = ef.compare_groups(df, "y", "g")
    exact = st.mannwhitneyu([4.5, 5.1, 3.9, 6.0], [1.1, 2.3, 0.7, 3.2], method="exact")
    assert res.stats["mw_p"] == pytest.approx(exact.pvalue) and "exact" in res.method
    assert res.stats["cles"] == 1.0


# --- edge cases -----------------------------------------------------------------------------


def test_single_cluster_is_an_estimation_error(few):
    one = few[few["team"] == "T1"].assign(
        team="all", pilot=lambda d: d["worker"].str.endswith(("1", "2", "3")).astype(int)
    )
    with pytest.raises(EstimationError, match="one cluster"):
        ef.did(one, "wellbeing", "pilot", "post", cluster="team")
    with pytest.raises(EstimationError, match="one cluster"):
        ef.twfe(one.assign(d=one["pilot"] * one["post"]), "wellbeing", "d", "worker", "post", cluster="team")


def test_constant_outcome_is_an_estimation_error(few):
    flat = few.assign(wellbeing=3.0)
    with pytest.raises(EstimationError, match="constant"):
        ef.did(flat, "wellbeing", "pilot", "post")
    with pytest.raises(EstimationError):
        ef.did(flat, "wellbeing", "pilot", "post", unit="worker", balanced=True)
    with pytest.raises(EstimationError, match="constant"):
        ef.compare_groups(flat, "wellbeing", "pilot")


def test_group_without_rows_and_missing_period_are_input_errors(few):
    with pytest.raises(InputError, match="pilot == 1"):
        ef.did(few[few["pilot"] == 0], "wellbeing", "pilot", "post")
    with pytest.raises(InputError, match="post == 1"):
        ef.did(few[few["post"] == 0], "wellbeing", "pilot", "post")
    with pytest.raises(InputError, match="exactly two groups"):
        ef.compare_groups(few[few["pilot"] == 1], "wellbeing", "pilot")
    with pytest.raises(InputError, match="single period"):
        ef.twfe(few[few["post"] == 0].assign(d=0.0), "wellbeing", "pilot", "worker", "post")


def test_non_binary_treated_and_bad_options_are_input_errors(few):
    with pytest.raises(InputError, match="coded 0/1"):
        ef.did(few.assign(pilot=few["pilot"] * 2), "wellbeing", "pilot", "post")
    with pytest.raises(InputError, match="needs unit"):
        ef.did(few, "wellbeing", "pilot", "post", balanced=True)
    with pytest.raises(InputError, match="cluster"):
        ef.did(few, "wellbeing", "pilot", "post", se_type="cluster")
    with pytest.raises(InputError, match="se_type"):
        ef.did(few, "wellbeing", "pilot", "post", se_type="HC3")
    with pytest.raises(InputError, match="column"):
        ef.did(few, "nope", "pilot", "post")
    with pytest.raises(InputError, match="must be numeric"):
        ef.did(few, "team", "pilot", "post")
    with pytest.raises(InputError, match="ignored"):
        ef.did(few, "wellbeing", "pilot", "post", cluster="team", se_type="hc1")
    with pytest.raises(InputError, match="fixed per unit"):
        ef.did(few.assign(pilot=few["post"]), "wellbeing", "pilot", "post", unit="worker", balanced=True)


def test_twfe_collinear_treatment_and_mixed_anova_duplicates(few):
    same_start = few.assign(d=few["post"])
    with pytest.raises(EstimationError, match="collinear"):
        ef.twfe(same_start, "wellbeing", "d", "worker", "post", cluster="team")
    with pytest.raises(InputError, match="several rows"):
        ef.mixed_anova(pd.concat([few, few.head(1)]), "wellbeing", "post", "pilot", "worker")


# --- CR2 / CR3 with Satterthwaite df (clubSandwich) -------------------------------------------


def test_cr2_lm_chickweight_matches_clubsandwich():
    # R: lm_fit <- lm(weight ~ Diet * Time, data = ChickWeight)
    #    coef_test(lm_fit, vcov = "CR2", cluster = ChickWeight$Chick, coefs = diet_index)
    #    conf_int(lm_fit, vcov = "CR2", cluster = ChickWeight$Chick, coefs = diet_index)
    # (clubSandwich reference pages coef_test.html / conf_int.html, pkgdown 0.6.0)
    cw = pd.read_csv(datasets.path("chickweight")).astype({"Diet": str})
    t = ef.ols(cw, "weight ~ C(Diet) * Time", cluster="Chick", se_type="cr2").table
    rows = ["C(Diet)[T.2]:Time", "C(Diet)[T.3]:Time", "C(Diet)[T.4]:Time"]
    assert t.loc[rows, "estimate"].round(2).tolist() == [1.77, 4.58, 2.87]
    assert t.loc[rows, "se"].round(2).tolist() == [1.49, 1.35, 1.01]
    assert t.loc[rows, "df"].round(1).tolist() == [18.8, 18.8, 18.3]
    assert t.loc[rows, "p"].round(4).tolist() == [0.2497, 0.0031, 0.0105]
    assert t.loc[rows, "ci_low"].round(3).tolist() == [-1.349, 1.751, 0.757]
    assert t.loc[rows, "ci_high"].round(2).tolist() == [4.88, 7.41, 4.99]


def test_cr2_lm_star_extreme_satterthwaite_df():
    # R (clubSandwich vignette "Wald-tests-in-clubSandwich"): STAR with levels(stark)[3] <- "aide",
    #    levels(schoolk)[1] <- "urban"; lm_urbanicity <- lm(math1 ~ schoolk * stark + gender + ethnicity
    #    + lunchk); coef_test(lm_urbanicity, vcov = vcovCR(lm_urbanicity, cluster = schoolidk, type = "CR2"))
    #    ethnicityhispanic 39.23 20.62 t 1.9028 df 1.01 p 0.3067; ethnicityother 8.86 18.78 0.4720 3.02 0.6690;
    #    starksmall 9.42 4.56 2.0649 17.10 0.0544; lunchkfree -19.37 2.04 -9.4848 57.38
    star = pd.read_csv(datasets.path("star_k")).replace(
        {"stark": {"regular+aide": "aide"}, "schoolk": {"inner-city": "urban"}}
    )
    formula = (
        "math1 ~ C(schoolk, levels=['urban', 'suburban', 'rural']) * C(stark, levels=['regular', 'small', "
        "'aide']) + C(gender, levels=['male', 'female']) + C(ethnicity, levels=['cauc', 'afam', 'asian', "
        "'hispanic', 'other']) + C(lunchk, levels=['non-free', 'free'])"
    )
    t = ef.ols(star, formula, cluster="schoolidk", se_type="cr2").table
    row = lambda start: t.loc[[i for i in t.index if i.startswith(start)][0]]  # noqa: E731
    hisp = row("C(ethnicity, levels=['cauc', 'afam', 'asian', 'hispanic', 'other'])[T.hispanic]")
    assert (
        round(hisp["estimate"], 2),
        round(hisp["se"], 2),
        round(hisp["t"], 4),
        round(hisp["df"], 2),
        round(hisp["p"], 4),
    ) == (39.23, 20.62, 1.9028, 1.01, 0.3067)
    other = row("C(ethnicity, levels=['cauc', 'afam', 'asian', 'hispanic', 'other'])[T.other]")
    assert (round(other["t"], 4), round(other["df"], 2), round(other["p"], 4)) == (0.4720, 3.02, 0.6690)
    small = row("C(stark, levels=['regular', 'small', 'aide'])[T.small]")
    assert (round(small["estimate"], 2), round(small["se"], 2), round(small["df"], 2)) == (9.42, 4.56, 17.10)
    free = row("C(lunchk, levels=['non-free', 'free'])[T.free]")
    assert (round(free["t"], 4), round(free["df"], 2)) == (-9.4848, 57.38)


def test_cr2_nine_region_clusters_matches_clubsandwich_vcov():
    # R: plm_FE <- plm(log(gsp) ~ log(pcap) + log(pc) + log(emp) + unemp, data = Produc,
    #    index = c("state","year","region"), effect = "individual", model = "within")
    #    vcovCR(plm_FE, type = "CR2", cluster = Produc$region)   (clubSandwich vcovCR.plm reference page)
    #    diag: 6.973505e-03 0.0054359010 0.0108260634 1.170089e-05   (9 region clusters, states nested)
    produc = pd.read_csv(datasets.path("produc"))
    t = ef.ols(
        produc,
        "np.log(gsp) ~ 0 + C(state) + np.log(pcap) + np.log(pc) + np.log(emp) + unemp",
        cluster="region",
        se_type="cr2",
    ).table
    np.testing.assert_allclose(
        t["se"].iloc[-4:] ** 2, [6.973505e-03, 0.0054359010, 0.0108260634, 1.170089e-05], rtol=5e-7
    )


def test_cr2_five_unequal_clusters_as_dfadjust():
    # dfadjust (Kolesar) tests/testthat/test_clustervar.R: x <- sin(1:100); y <- 1:100;
    # lm(y ~ x + I(x^2)), clusters of 40, 20, 20, 10, 10 rows: coefficient x -1.955355241, CR2 se 2.460094992
    x = np.sin(np.arange(1, 101))
    d = pd.DataFrame(
        {"y": np.arange(1, 101, dtype=float), "x": x, "x2": x**2, "g": np.repeat([1, 5, 2, 3, 4], [40, 20, 20, 10, 10])}
    )
    row = ef.ols(d, "y ~ x + x2", cluster="g", se_type="cr2")["x"]
    assert row["estimate"] == pytest.approx(-1.955355241, abs=1e-9)
    assert row["se"] == pytest.approx(2.460094992, abs=1e-9)
    assert 1 < row["df"] < 4  # five clusters, two of them large: the t has few degrees of freedom


def test_cr2_twfe_absorbed_equals_clubsandwich_on_mortality_rates():
    # R (clubSandwich vignette panel-data-CRVE): MV_deaths <- subset(MortalityRates, cause == "Motor Vehicle"
    #    & year <= 1983 & !is.na(beertaxa)); plm(mrate ~ legal + beertaxa, effect = "twoways",
    #    index = c("state","year")); coef_test(..., vcov = "CR2", cluster = "individual", test = "Satterthwaite")
    #    legal 7.59 SE 2.51 t 3.019 df 24.58 p 0.00583 (the lm with state and year dummies prints the same)
    mv = pd.read_csv(datasets.path("mortality_rates_mv"), float_precision="round_trip")
    mv = mv[(mv["year"] <= 1983) & mv["beertaxa"].notna()]
    row = ef.twfe(mv, "mrate", "legal", "state", "year", covariates=["beertaxa"], se_type="cr2")["legal"]
    assert (
        round(row["estimate"], 2),
        round(row["se"], 2),
        round(row["t"], 3),
        round(row["df"], 2),
        round(row["p"], 5),
    ) == (7.59, 2.51, 3.019, 24.58, 0.00583)
    # the same coefficient from the dummy-variable lm, clustered by year (not nested): CR2 on the full design
    dummies = ef.ols(mv, "mrate ~ legal + beertaxa + C(state) + C(year)", cluster="year", se_type="cr2")["legal"]
    absorbed = ef.twfe(mv, "mrate", "legal", "state", "year", covariates=["beertaxa"], cluster="year", se_type="cr2")[
        "legal"
    ]
    assert absorbed["se"] == pytest.approx(dummies["se"], rel=1e-9)
    assert absorbed["df"] == pytest.approx(dummies["df"], rel=1e-9)


def test_cr2_did_equals_ols_interaction(few):
    did = ef.did(few, "wellbeing", "pilot", "post", cluster="team", se_type="cr2")["did"]
    ols = ef.ols(few, "wellbeing ~ pilot * post", cluster="team", se_type="cr2")["pilot:post"]
    for col in ("estimate", "se", "df", "ci_low", "ci_high", "p"):
        assert did[col] == pytest.approx(ols[col], rel=1e-10)
    assert did["df"] < 7  # eight teams, four of them pilots


def test_cr3_is_the_leave_one_cluster_out_jackknife(few):
    res = ef.ols(few, "wellbeing ~ pilot * post", cluster="team", se_type="cr3")
    full = smf.ols("wellbeing ~ pilot * post", few).fit().params
    jack = np.zeros((4, 4))
    for team in few["team"].unique():
        step = smf.ols("wellbeing ~ pilot * post", few[few["team"] != team]).fit().params - full
        jack += np.outer(step, step)
    np.testing.assert_allclose(res.table["se"], np.sqrt(np.diag(jack)), rtol=1e-10)
    assert (res.table["se"] > ef.ols(few, "wellbeing ~ pilot * post", cluster="team", se_type="cr2").table["se"]).all()


def test_wild_ci_matches_boottest_enumerated_example():
    # Stata: use collapsed; regress hasinsurance selfemployed post post_self, cluster(year)
    #        boottest post_self=.04        (Roodman et al. 2019; droodman/boottest unit tests.log, 4.5.3)
    #   t(7) = 2.0194; Rademacher, 2^8 = 256 draws enumerated;
    #   julia:  p = 0.0703, 95% CI [.03815, .07148];  Mata: p = 0.0742 (one tie counted by rounding),
    #   CI [.03874, .07098]. boottest stops its CI search within 1/B of alpha, so its printed bounds lie
    #   inside the step of the exact p-curve; the exact strict-count step is [0.03821, 0.07128].
    d = pd.read_csv(datasets.path("collapsed"), float_precision="round_trip")
    crv1 = ef.did(d, "hasinsurance", "selfemployed", "post", cluster="year")["did"]
    assert (crv1["estimate"] - 0.04) / crv1["se"] == pytest.approx(2.0194, abs=5e-5)
    res = ef.did(d, "hasinsurance", "selfemployed", "post", cluster="year", se_type="wild", boot_weights="rademacher")
    row = res["did"]
    assert "all sign vectors enumerated" in res.method
    assert row["ci_low"] == pytest.approx(0.03815, abs=1e-4) and row["ci_high"] == pytest.approx(0.07148, abs=3e-4)
    assert 0.0380 < row["ci_low"] < 0.0388 and 0.0709 < row["ci_high"] < 0.0716  # between Mata's and julia's
    x = np.column_stack([np.ones(len(d)), d["selfemployed"], d["post"], d["post_self"]])
    codes, g = cluster_codes(d["year"])
    # the p-value of H0: post_self = .04 (julia's 0.0703 = 18/256)
    y = d["hasinsurance"].to_numpy() - 0.04 * d["post_self"].to_numpy()
    assert wild_test(x, y, codes, g, 3, weights="rademacher").p == 18 / 256
