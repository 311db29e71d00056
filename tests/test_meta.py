"""Tests for evalkit.meta: pooling as R metafor::rma, effect sizes as metafor::escalc.

Expected values come from the BCG case of docs/REFERENCES.md (metafor's dat.bcg example), from
metafor's own test suite (tests/testthat/test_misc_metan_vs_rma.uni_with_dat.bcg.r,
which checks rma() against Stata metan; test_misc_rma_uni.r;
test_analysis_example_normand1999.r, which checks against Normand 1999's
printed tables), and from independent computations (statsmodels, matrix forms).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as st
from statsmodels.stats.meta_analysis import combine_effects

from evalkit import datasets
from evalkit import InputError
from evalkit import meta
from evalkit.meta import effect_sizes, forest_data, pool


@pytest.fixture(scope="module")
def bcg() -> pd.DataFrame:
    return pd.read_csv(datasets.path("dat_bcg"))


def _es(bcg: pd.DataFrame, measure: str) -> pd.DataFrame:
    # R: dat <- escalc(measure=measure, ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg)
    return effect_sizes(bcg, measure, ai="tpos", bi="tneg", ci="cpos", di="cneg").table


@pytest.fixture(scope="module")
def rr(bcg) -> pd.DataFrame:
    return _es(bcg, "RR")


def test_bcg_log_rr_matches_reference_definition(bcg, rr):
    # reference README case 6: yi = log((tpos/(tpos+tneg)) / (cpos/(cpos+cneg))),
    # vi = 1/tpos - 1/(tpos+tneg) + 1/cpos - 1/(cpos+cneg)
    n1, n2 = bcg.tpos + bcg.tneg, bcg.cpos + bcg.cneg
    np.testing.assert_allclose(rr["yi"], np.log((bcg.tpos / n1) / (bcg.cpos / n2)), rtol=1e-12)
    np.testing.assert_allclose(rr["vi"], 1 / bcg.tpos - 1 / n1 + 1 / bcg.cpos - 1 / n2, rtol=1e-12)


def test_bcg_reml_matches_metafor_printout(rr):
    # R: rma(yi, vi, data=dat)   (docs/REFERENCES.md, the BCG trials)
    res = pool(rr, yi="yi", vi="vi")
    s, row = res.stats, res["pooled"]
    assert s["k"] == 13
    assert round(s["tau2"], 4) == 0.3132
    assert round(s["tau2_se"], 4) == 0.1664
    assert round(s["tau"], 4) == 0.5597
    assert round(s["i2"], 2) == 92.22
    assert round(s["h2"], 2) == 12.86
    assert round(s["q"], 4) == 152.2330 and s["q_df"] == 12
    assert round(row["estimate"], 4) == -0.7145
    assert round(row["se"], 4) == 0.1798
    assert round(row["z"], 4) == -3.9744
    assert round(row["ci_low"], 4) == -1.0669
    assert round(row["ci_high"], 4) == -0.3622
    # exp of the printed z CI (-1.0669, -0.3622) is 0.34-0.70
    assert [round(math.exp(row[c]), 2) for c in ("estimate", "ci_low", "ci_high")] == [0.49, 0.34, 0.70]


def test_bcg_pooled_rr_line_of_reference_is_knapp_hartung(rr):
    # Reference README case 6 also prints "pooled RR 0.49 (0.33-0.73), prediction interval
    # for RR 0.14-1.76": not the exp of its own z CI above, but what
    # R: predict(rma(yi, vi, data=dat, test="knha"), transf=exp) gives (t on 12 df).
    row = pool(rr, yi="yi", vi="vi", test="knha")["pooled"]
    rounded = [round(math.exp(row[c]), 2) for c in ("estimate", "ci_low", "ci_high", "pi_low", "pi_high")]
    assert rounded == [0.49, 0.33, 0.73, 0.14, 1.76]


def test_reml_is_the_restricted_likelihood_maximum(rr):
    # independent check: the REML estimate maximises the restricted log-likelihood
    y, v = rr["yi"].to_numpy(), rr["vi"].to_numpy()

    def restricted_ll(t):
        w = 1 / (v + t)
        mu = np.sum(w * y) / w.sum()
        return -0.5 * (np.sum(np.log(v + t)) + np.log(w.sum()) + np.sum(w * (y - mu) ** 2))

    tau2 = pool(rr, yi="yi", vi="vi").stats["tau2"]
    grid = np.linspace(0.05, 1.0, 2001)
    assert abs(grid[np.argmax([restricted_ll(t) for t in grid])] - tau2) < 1e-3
    assert restricted_ll(tau2) >= max(restricted_ll(tau2 - 1e-6), restricted_ll(tau2 + 1e-6))


def test_bcg_prediction_interval(rr):
    res = pool(rr, yi="yi", vi="vi")
    row, tau2 = res["pooled"], res.stats["tau2"]
    # metafor predict.rma (pi.type "default", test="z"): mu +- z * sqrt(se^2 + tau2)
    half = st.norm.ppf(0.975) * math.sqrt(row["se"] ** 2 + tau2)
    assert row["pi_low"] == pytest.approx(row["estimate"] - half, abs=1e-12)
    assert row["pi_high"] == pytest.approx(row["estimate"] + half, abs=1e-12)
    assert (round(math.exp(row["pi_low"]), 2), round(math.exp(row["pi_high"]), 2)) == (0.15, 1.55)
    # pi_type="t" as R predict(res, pi.type="t"): metafor predict.rma.r takes qt on k-p df
    t_pi = pool(rr, yi="yi", vi="vi", pi_type="t")["pooled"]
    crit = st.t.ppf(0.975, 12)
    assert t_pi["pi_high"] == pytest.approx(row["estimate"] + crit * math.sqrt(row["se"] ** 2 + tau2))
    assert (round(math.exp(t_pi["pi_low"]), 2), round(math.exp(t_pi["pi_high"]), 2)) == (0.14, 1.76)


@pytest.mark.parametrize(
    "measure, method, expected",
    [
        # R: metafor tests/testthat/test_misc_metan_vs_rma.uni_with_dat.bcg.r
        # (rma(yi, vi, data=dat, method=...) checked against Stata metan)
        ("RR", "FE", dict(estimate=-0.4303, ci_low=-0.5097, ci_high=-0.3509, z=-10.6247, q=152.2330)),
        ("RR", "DL", dict(estimate=-0.7141, ci_low=-1.0644, ci_high=-0.3638, z=-3.9952, tau2=0.3088, i2=92.1173)),
        ("OR", "FE", dict(estimate=-0.4361, ci_low=-0.5190, ci_high=-0.3533, z=-10.3190, q=163.1649)),
        ("OR", "DL", dict(estimate=-0.7474, ci_low=-1.1242, ci_high=-0.3706, z=-3.8873, tau2=0.3663, i2=92.6455)),
        ("RD", "FE", dict(estimate=-0.0009, ci_low=-0.0014, ci_high=-0.0005, z=-4.0448, q=276.4737)),
        ("RD", "DL", dict(estimate=-0.0071, ci_low=-0.0101, ci_high=-0.0040, z=-4.5128, tau2=0.0000, i2=95.6596)),
    ],
)
def test_bcg_against_metafor_tests(bcg, measure, method, expected):
    res = pool(_es(bcg, measure), yi="yi", vi="vi", method=method)
    got = {**res["pooled"].to_dict(), **res.stats}
    for key, value in expected.items():
        assert round(got[key], 4) == value, key


@pytest.mark.parametrize(
    "method, expected",
    [
        # R: predict(rma(yi, vi, data=dat, method=...), transf=exp), same metafor test file
        ("FE", (0.6503, 0.6007, 0.7040)),
        ("DL", (0.4896, 0.3449, 0.6950)),
    ],
)
def test_bcg_exponentiated_predictions(rr, method, expected):
    row = pool(rr, yi="yi", vi="vi", method=method)["pooled"]
    assert tuple(round(math.exp(row[c]), 4) for c in ("estimate", "ci_low", "ci_high")) == expected


def test_bcg_log_odds_ratios(bcg):
    # R: escalc(measure="OR", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.colditz1994)
    # printed on metafor-project.org/doku.php/analyses:vanhouwelingen2002 (same 13 trials)
    es = _es(bcg, "OR").head(6)
    assert es["yi"].round(4).tolist() == [-0.9387, -1.6662, -1.3863, -1.4564, -0.2191, -0.9581]
    assert es["vi"].round(4).tolist() == [0.3571, 0.2081, 0.4334, 0.0203, 0.0520, 0.0099]


def test_pm_solves_generalised_q_and_matches_iterated_dl(rr):
    res = pool(rr, yi="yi", vi="vi", method="PM")
    tau2 = res.stats["tau2"]
    # R: rma(yi, vi, data=dat, method="DLIT") and method="SJIT" give 0.3181
    # (metafor test_misc_rma_uni.r); both iterate to the Paule-Mandel root.
    assert round(tau2, 4) == 0.3181
    y, v = rr["yi"].to_numpy(), rr["vi"].to_numpy()
    w = 1 / (v + tau2)
    assert np.sum(w * (y - np.sum(w * y) / w.sum()) ** 2) == pytest.approx(12, abs=1e-8)
    # metafor: se.tau2 <- sqrt(2*k^2/(k-p) / sum(wi)^2); equal to its long PV form
    p = np.diag(w) - np.outer(w, w) / w.sum()
    pv = p @ np.diag(v)
    long = math.sqrt(
        (13 / 12) ** 2
        / w.sum() ** 2
        * (2 * np.sum(pv * pv.T) + 4 * tau2 * np.sum(pv * p) + 2 * tau2**2 * np.sum(p * p))
    )
    assert res.stats["tau2_se"] == pytest.approx(long, rel=1e-10)


@pytest.mark.parametrize("method, sm_method", [("DL", "dl"), ("PM", "iterated")])
def test_against_statsmodels_combine_effects(rr, method, sm_method):
    # independent implementation: statsmodels.stats.meta_analysis.combine_effects
    sm = combine_effects(rr["yi"].to_numpy(), rr["vi"].to_numpy(), method_re=sm_method)
    frame = sm.summary_frame()
    ours = pool(rr, yi="yi", vi="vi", method=method)
    assert ours.stats["tau2"] == pytest.approx(sm.tau2, rel=1e-6)
    assert ours["pooled"]["estimate"] == pytest.approx(frame.loc["random effect", "eff"], rel=1e-6)
    assert ours["pooled"]["se"] == pytest.approx(frame.loc["random effect", "sd_eff"], rel=1e-6)
    # statsmodels' "wls" row scales the variance by the weighted residual variance: Knapp-Hartung
    kh = pool(rr, yi="yi", vi="vi", method=method, test="knha")["pooled"]
    assert kh["se"] == pytest.approx(frame.loc["random effect wls", "sd_eff"], rel=1e-6)


def test_knapp_hartung_uses_t_on_k_minus_1(rr):
    res = pool(rr, yi="yi", vi="vi", test="knha")
    row = res["pooled"]
    assert res.stats["df"] == 12 and "t" in row.index and "z" not in row.index
    assert row["p"] == pytest.approx(2 * st.t.sf(abs(row["t"]), 12))
    assert row["ci_high"] - row["estimate"] == pytest.approx(st.t.ppf(0.975, 12) * row["se"])


def test_knapp_hartung_factor_not_truncated_at_one():
    # homogeneous studies: the weighted residual variance is < 1, and metafor's
    # default (no truncation) lets the KH SE fall below the z SE
    d = pd.DataFrame({"yi": [0.10, 0.11, 0.12, 0.10], "vi": [0.04, 0.05, 0.04, 0.06]})
    z_se = pool(d, yi="yi", vi="vi", method="FE")["pooled"]["se"]
    kh_se = pool(d, yi="yi", vi="vi", method="FE", test="knha")["pooled"]["se"]
    assert kh_se < z_se
    # metafor test = "adhoc": the factor truncated at 1, so the SE is the z SE here, still with t on k - 1 df
    adhoc = pool(d, yi="yi", vi="vi", method="FE", test="adhoc")
    assert adhoc["pooled"]["se"] == pytest.approx(z_se, rel=1e-12) and adhoc.stats["df"] == 3


def test_adhoc_equals_knapp_hartung_when_its_factor_exceeds_one(rr):
    # BCG: the KH factor is (0.1808 / 0.1798)^2 > 1, so metafor's "adhoc" and "knha" agree
    # R: rma(yi, vi, data = dat, test = "adhoc") prints se 0.1808 on t(12), as test = "knha"
    kh = pool(rr, yi="yi", vi="vi", test="knha")["pooled"]
    adhoc = pool(rr, yi="yi", vi="vi", test="adhoc")["pooled"]
    assert round(adhoc["se"], 4) == 0.1808 and adhoc["ci_low"] == pytest.approx(kh["ci_low"], rel=1e-12)


def test_dl_tau2_se_matches_metafor_matrix_formula(rr):
    # metafor rma.uni: se.tau2 <- sqrt(1/trP^2 * (2*(k-p) + 4*tau2*trP + 2*tau2^2*sum(P*P))),
    # P from the fixed-effect weights; here built as an explicit k x k matrix
    res = pool(rr, yi="yi", vi="vi", method="DL")
    w = 1 / rr["vi"].to_numpy()
    p = np.diag(w) - np.outer(w, w) / w.sum()
    t = res.stats["tau2"]
    expected = math.sqrt((2 * 12 + 4 * t * np.trace(p) + 2 * t**2 * np.sum(p * p)) / np.trace(p) ** 2)
    assert res.stats["tau2_se"] == pytest.approx(expected, rel=1e-10)


def test_fixed_effect_flags_tau2_se_and_uses_q_based_i2(rr):
    res = pool(rr, yi="yi", vi="vi", method="EE")
    assert res.stats["method"] == "FE" and res.stats["tau2"] == 0
    assert math.isnan(res.stats["tau2_se"]) and any("tau2_se" in w for w in res.warnings)
    q = res.stats["q"]
    assert res.stats["i2"] == pytest.approx(100 * (q - 12) / q)
    assert res.stats["h2"] == pytest.approx(q / 12)
    assert res["pooled"]["pi_low"] == res["pooled"]["ci_low"]


def test_hine1989_risk_differences_normand_tables():
    # R: metafor tests/testthat/test_analysis_example_normand1999.r (Normand 1999, Tables III and VII)
    d = pd.read_csv(datasets.path("dat_hine1989"))
    es = effect_sizes(d, "RD", ai="ai", n1i="n1i", ci="ci", n2i="n2i").table
    yi, vi = es["yi"] * 100, es["vi"] * 100**2
    assert yi.round(4).tolist() == [2.8026, 0.0000, 1.9711, 1.7961, 3.5334, 4.4031]
    assert vi.round(4).tolist() == [17.7575, 37.5657, 8.1323, 10.8998, 8.0114, 6.1320]
    pct = pd.DataFrame({"yi": yi, "vi": vi})
    for method in ("FE", "REML", "DL"):
        res = pool(pct, yi="yi", vi="vi", method=method)
        assert round(res["pooled"]["estimate"], 2) == 2.94
        assert (round(res["pooled"]["ci_low"], 1), round(res["pooled"]["ci_high"], 1)) == (0.4, 5.5)
        assert round(res.stats["tau2"], 3) == 0.000


def test_normand1999_mean_differences_tables():
    # R: test_analysis_example_normand1999.r: escalc(measure="MD") with the pooled SD,
    # then rma(); values from Normand 1999 Tables VIII and IX
    d = pd.read_csv(datasets.path("dat_normand1999"))
    sp2 = ((d.n1i - 1) * d.sd1i**2 + (d.n2i - 1) * d.sd2i**2) / (d.n1i + d.n2i - 2)
    md = pd.DataFrame({"yi": d.m1i - d.m2i, "vi": sp2 * (1 / d.n1i + 1 / d.n2i)})
    assert md["yi"].tolist() == [-20, -2, -55, -71, -4, 1, 11, -10, 7]
    assert md["vi"].round(2).tolist() == [40.59, 2.05, 15.28, 150.22, 20.19, 1.22, 95.38, 8.03, 20.69]
    expected = {
        "FE": (-3.49, -5.03, -1.96, None),
        "DL": (-14.10, -24.45, -3.75, 218.72),
        "REML": (-15.12, -32.67, 2.43, 685.20),
    }
    for method, (est, lo, hi, tau2) in expected.items():
        res = pool(md, yi="yi", vi="vi", method=method)
        row = res["pooled"]
        assert (round(row["estimate"], 2), round(row["ci_low"], 2), round(row["ci_high"], 2)) == (est, lo, hi)
        if tau2 is not None:
            assert round(res.stats["tau2"], 2) == tau2


def test_smd_reml_normand_subset():
    # R: dat <- escalc(measure="SMD", m1i=m1i, sd1i=sd1i, n1i=n1i, m2i=m2i, sd2i=sd2i, n2i=n2i,
    #                  data=dat.normand1999, subset=1:4); rma(yi, vi, data=dat)  -> tau2 1.0090
    # (metafor tests/testthat/test_misc_rma_uni.r)
    d = pd.read_csv(datasets.path("dat_normand1999")).head(4)
    es = effect_sizes(d, "SMD", m1i="m1i", sd1i="sd1i", n1i="n1i", m2i="m2i", sd2i="sd2i", n2i="n2i")
    assert round(pool(es.table, yi="yi", vi="vi").stats["tau2"], 4) == 1.0090


def test_smd_uses_exact_hedges_correction():
    # J(m) = Gamma(m/2) / (sqrt(m/2) Gamma((m-1)/2)); closed forms J(2) = 1/sqrt(pi),
    # J(4) = 2/sqrt(2 pi); d = 1 with equal SDs of 1
    d = pd.DataFrame({"m1": [1.0, 1.0], "m2": [0.0, 0.0], "s": [1.0, 1.0], "n": [2, 3]})
    es = effect_sizes(d, "SMD", m1i="m1", m2i="m2", sd1i="s", sd2i="s", n1i="n", n2i="n").table
    assert es["yi"].tolist() == pytest.approx([1 / math.sqrt(math.pi), 2 / math.sqrt(2 * math.pi)], rel=1e-12)
    g, n = es["yi"].to_numpy(), d["n"].to_numpy()
    # escalc vtype="LS": vi = 1/n1 + 1/n2 + yi^2 / (2 (n1 + n2))
    assert es["vi"].tolist() == pytest.approx(2 / n + g**2 / (4 * n), rel=1e-12)


def test_zero_cells_get_one_half_everywhere():
    # escalc defaults add=1/2, to="only0": all four cells of tables with a zero get 1/2
    d = pd.DataFrame({"a": [0, 3], "b": [20, 17], "c": [4, 5], "d": [16, 15]})
    es = effect_sizes(d, "OR", ai="a", bi="b", ci="c", di="d")
    assert es.table["yi"].iloc[0] == pytest.approx(math.log(0.5 * 16.5 / (20.5 * 4.5)))
    assert es.table["vi"].iloc[0] == pytest.approx(1 / 0.5 + 1 / 20.5 + 1 / 4.5 + 1 / 16.5)
    assert es.table["yi"].iloc[1] == pytest.approx(math.log(3 * 15 / (17 * 5)))
    assert es.stats["corrected"] == 1 and es.warnings
    with pytest.raises(InputError, match="zero cells"):
        effect_sizes(d, "RR", ai="a", bi="b", ci="c", di="d", add=0)


def test_double_zero_tables_are_kept():
    # drop00=FALSE (escalc's default): a table with no events in either arm stays, with 1/2 added
    d = pd.DataFrame({"a": [0], "n1": [10], "c": [0], "n2": [12]})
    es = effect_sizes(d, "RR", ai="a", n1i="n1", ci="c", n2i="n2").table
    assert es["yi"].iloc[0] == pytest.approx(math.log((0.5 / 11) / (0.5 / 13)))


def test_forest_data_weights_and_summary_rows(bcg, rr):
    fd = forest_data(rr.assign(author=bcg["author"] + " " + bcg["year"].astype(str)), yi="yi", vi="vi", label="author")
    fit = pool(rr, yi="yi", vi="vi")
    studies = fd.table[fd.table["kind"] == "study"]
    assert len(studies) == 13 and studies.index[0] == "Aronson 1948"
    # metafor weights(res): 100 * (1/(vi + tau2)) / sum(1/(vi + tau2))
    w = 1 / (rr["vi"].to_numpy() + fit.stats["tau2"])
    np.testing.assert_allclose(studies["weight"], 100 * w / w.sum())
    assert fd["pooled"]["estimate"] == pytest.approx(fit["pooled"]["estimate"])
    assert fd["prediction"]["ci_low"] == pytest.approx(fit["pooled"]["pi_low"])
    assert studies["ci_low"].iloc[0] == pytest.approx(rr["yi"].iloc[0] - 1.959964 * math.sqrt(rr["vi"].iloc[0]))


def test_single_study_is_flagged():
    res = pool(yi=[0.3], vi=[0.04], test="knha")
    assert res["pooled"]["estimate"] == 0.3 and res["pooled"]["se"] == pytest.approx(0.2)
    assert math.isnan(res.stats["tau2"]) and math.isnan(res["pooled"]["pi_low"])
    assert any("only one study" in w for w in res.warnings)
    assert any("Knapp-Hartung" in w for w in res.warnings)


def test_input_errors_name_the_rows():
    d = pd.DataFrame({"yi": [0.1, np.nan, 0.3], "vi": [0.1, 0.1, 0.1]}, index=["A", "B", "C"])
    with pytest.raises(InputError, match="B"):
        pool(d, yi="yi", vi="vi")
    d = pd.DataFrame({"yi": [0.1, 0.2, 0.3], "vi": [0.1, 0.0, -1.0]}, index=["A", "B", "C"])
    with pytest.raises(InputError, match="B, C"):
        pool(d, yi="yi", vi="vi")
    with pytest.raises(InputError, match="method"):
        pool(yi=[0.1, 0.2], vi=[0.1, 0.1], method="ML")
    with pytest.raises(InputError, match="length"):
        pool(yi=[0.1, 0.2], vi=[0.1])
    with pytest.raises(InputError, match="not in data"):
        pool(d, yi="effect", vi="vi")
    with pytest.raises(InputError, match="measure"):
        effect_sizes(d, "IRR", ai="yi")


def test_reml_falls_back_to_bounded_maximisation_and_says_so(rr, monkeypatch):
    exact = pool(rr, yi="yi", vi="vi")
    monkeypatch.setattr(meta, "REML_MAXITER", 1)
    res = pool(rr, yi="yi", vi="vi")
    assert res.stats["tau2"] == pytest.approx(exact.stats["tau2"], rel=1e-6)  # 0.3132 as rma
    assert res["pooled"]["estimate"] == pytest.approx(exact["pooled"]["estimate"], rel=1e-6)
    assert any("bounded maximisation" in w for w in res.warnings)
    assert not any("bounded" in w for w in exact.warnings)


def test_reml_always_ends_and_is_zero_when_the_score_at_zero_is_negative():
    # near tau2 = 0 scoring used to zigzag in steps of ~1e-5 without reaching its tolerance
    rng = np.random.default_rng(7)
    for _ in range(2000):
        vi = rng.uniform(0.005, 0.08, 8)
        yi = rng.normal(0.2, np.sqrt(vi))
        res = pool(yi=yi, vi=vi)
        score0, _ = meta._reml_score(yi, vi, 0.0)
        if score0 <= 0:
            assert res.stats["tau2"] == 0.0
        else:
            # an interior optimum: the Fisher-scoring step from it is nil (converged as REML_TOL says)
            score, info = meta._reml_score(yi, vi, res.stats["tau2"])
            assert abs(score / info) < 1e-9
        assert np.isfinite(res["pooled"]["ci_low"])


def test_reml_ci_coverage_on_simulated_sites():
    # recover a known effect: 200 meta-analyses of 20 sites, mu = 0.3, tau2 = 0.05
    rng = np.random.default_rng(20261122)
    vi = rng.uniform(0.02, 0.2, size=20)
    covered, tau2s = 0, []
    for _ in range(200):
        yi = 0.3 + rng.normal(0, math.sqrt(0.05), 20) + rng.normal(0, np.sqrt(vi))
        res = pool(yi=yi, vi=vi)
        covered += res["pooled"]["ci_low"] <= 0.3 <= res["pooled"]["ci_high"]
        tau2s.append(res.stats["tau2"])
    assert 0.90 <= covered / 200 <= 0.99  # nominal 0.95, Monte Carlo SE ~0.015
    assert abs(np.mean(tau2s) - 0.05) < 0.015
