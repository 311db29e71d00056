"""Pooling site (or study) effects: random-effects meta-analysis as R metafor.

``pool`` fits the intercept-only model of ``metafor::rma`` (Viechtbauer 2010):
yi = mu + u_i + e_i, u_i ~ N(0, tau2), e_i ~ N(0, vi) with vi known.

Conventions (all as metafor 4.x):

- tau2 estimators: ``"REML"`` by Fisher scoring from the Hedges (HE) start,
  step-halving to stay >= 0, converged to 1e-10 (metafor stops at 1e-5, so
  its printed values can differ from the exact optimum in the 5th decimal).
  When the REML score at tau2 = 0 is not positive the optimum is the
  boundary, tau2 = 0, taken at once (scoring can zigzag there in ever
  smaller steps); if scoring still has not converged after
  ``REML_MAXITER`` steps, the REML likelihood is maximised by bounded
  Brent search instead and a warning says so: REML always ends;
  ``"DL"`` DerSimonian-Laird truncated at 0; ``"PM"`` Paule-Mandel (the root of
  the generalised Q statistic Q(tau2) = k - 1, 0 when Q(0) <= k - 1);
  ``"FE"``/``"EE"`` fixes tau2 at 0.
- ``tau2_se``: REML sqrt(2 / tr(PP)) (inverse Fisher information); DL
  metafor's moment formula with the fixed-effect P matrix; PM
  sqrt(2 k^2 / (k - 1)) / sum(w). Not estimated under FE (flagged).
- I2 and H2 for random-effects fits use the "typical" within-study variance
  s2 = (k - 1) sum w / ((sum w)^2 - sum w^2), w = 1/vi: I2 = 100 tau2 /
  (tau2 + s2), H2 = (tau2 + s2) / s2. For FE they come from Q as metafor:
  I2 = 100 max(0, Q - (k - 1)) / Q, H2 = Q / (k - 1).
- ``test="knha"``: Knapp-Hartung: t on k - 1 df, variance of the estimate
  scaled by the weighted residual variance sum w (y - mu)^2 / (k - 1),
  without truncating that factor at 1 (metafor's default). ``test="adhoc"``
  truncates it at 1, so the interval is never narrower than the Wald one
  (metafor's ``test = "adhoc"``; Röver, Knapp & Friede 2015): with few sites
  and little heterogeneity the untruncated factor is often below 1 and the
  interval too narrow.
- Prediction interval as ``predict.rma``: mu +- crit sqrt(se^2 + tau2), crit
  from N(0, 1), or from t(k - 1) under knha; ``pi_type="t"`` uses t(k - 1)
  also with z tests (metafor's ``predict(..., pi.type="t")``). Under FE the
  interval equals the CI (tau2 = 0); metafor leaves it out.

``effect_sizes`` follows ``metafor::escalc`` for RR, OR, RD and SMD; see its
docstring for the zero-cell rule.

Library choice: PyPI ``pymare`` 0.0.13 (alpha) was evaluated on dat.bcg. Its
REML tau2 agrees (0.3132) but its SE of the estimate (0.1808), CI (t-based)
and I2 (Higgins' Q-based 92.12%) differ from metafor's (0.1798, z, 92.22%),
it has no tau2 SE or prediction interval, and it pulls in sympy. statsmodels'
``combine_effects`` has DL and PM (its "iterated") but no REML, no tau2 SE and
Q-based I2. Neither reproduces ``rma`` as printed, so the estimators are
written here from the formulas (Viechtbauer 2005, 2010); statsmodels serves as
an independent check of DL and PM in the tests.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize
from scipy import stats as st

from evalkit.stats import _effect_sizes as _es
from evalkit.core.columns import with_aliases
from evalkit.core.result import InputError, Result, check_alpha, checks_alpha, choice, require_columns, wald_table

__all__ = ["pool", "effect_sizes", "forest_data"]

METHODS = ("REML", "DL", "PM", "FE", "EE")
TESTS = ("z", "knha", "adhoc")
#: Fisher-scoring limits for REML. metafor stops at a change of 1e-5 within 100
#: iterations; scoring can zigzag slowly (ratio ~0.8 per step), so the tighter
#: tolerance gets more iterations.
REML_TOL = 1e-10
REML_MAXITER = 1000
#: escalc's default continuity correction: add 1/2 to every cell of tables with a zero.
ZERO_CELL_ADD = 0.5


def _vectors(data: pd.DataFrame | None, yi: Any, vi: Any) -> tuple[np.ndarray, np.ndarray, pd.Index]:
    """Validated effect and variance vectors, with the labels of their rows."""
    if isinstance(yi, str) or isinstance(vi, str):
        if data is None:
            raise InputError("yi and vi name columns, so data must be given")
        require_columns(data, *(c for c in (yi, vi) if isinstance(c, str)))
    y = data[yi] if isinstance(yi, str) and data is not None else pd.Series(np.asarray(yi, dtype=float))
    v = data[vi] if isinstance(vi, str) and data is not None else pd.Series(np.asarray(vi, dtype=float))
    labels = data.index if data is not None else pd.RangeIndex(len(y))
    if len(y) != len(v) or len(y) != len(labels):
        raise InputError(f"yi and vi differ in length ({len(y)} and {len(v)})")
    if len(y) == 0:
        raise InputError("no studies to pool")
    y = np.asarray(pd.to_numeric(pd.Series(np.asarray(y)), errors="coerce"), dtype=float)
    v = np.asarray(pd.to_numeric(pd.Series(np.asarray(v)), errors="coerce"), dtype=float)
    bad = ~(np.isfinite(y) & np.isfinite(v))
    if bad.any():
        rows = ", ".join(map(str, labels[bad]))
        raise InputError(f"missing or non-finite yi/vi in row(s): {rows}")
    if (v <= 0).any():
        rows = ", ".join(map(str, labels[v <= 0]))
        raise InputError(f"sampling variance vi must be > 0; not so in row(s): {rows}")
    return y, v, labels


def _wmean(y: np.ndarray, w: np.ndarray) -> float:
    return float(np.sum(w * y) / np.sum(w))


def _q(y: np.ndarray, v: np.ndarray, tau2: float) -> float:
    """Generalised Cochran Q at tau2 (Q itself at tau2 = 0)."""
    w = 1.0 / (v + tau2)
    return float(np.sum(w * (y - _wmean(y, w)) ** 2))


def _p_stats(w: np.ndarray) -> tuple[float, float]:
    """tr(P) and tr(PP) of P = W - w w'/sum(w) (intercept-only model)."""
    s1, s2, s3 = w.sum(), (w**2).sum(), (w**3).sum()
    return s1 - s2 / s1, s2 - 2 * s3 / s1 + s2**2 / s1**2


def _tau2_dl(y: np.ndarray, v: np.ndarray) -> tuple[float, float]:
    k = len(y)
    tr_p, tr_pp = _p_stats(1.0 / v)
    tau2 = max(0.0, (_q(y, v, 0.0) - (k - 1)) / tr_p)
    se = math.sqrt((2 * (k - 1) + 4 * tau2 * tr_p + 2 * tau2**2 * tr_pp) / tr_p**2)
    return tau2, se


def _tau2_pm(y: np.ndarray, v: np.ndarray) -> tuple[float, float]:
    k = len(y)

    def gap(t: float) -> float:
        return _q(y, v, t) - (k - 1)

    if gap(0.0) <= 0:
        tau2 = 0.0
    else:
        upper = max(1.0, float(np.var(y, ddof=1)))
        while gap(upper) > 0:  # Q(tau2) falls towards 0 as tau2 grows, so this ends
            upper *= 10
        tau2 = optimize.brentq(gap, 0.0, upper, xtol=1e-14, rtol=1e-14)
    se = math.sqrt(2 * k**2 / (k - 1)) / np.sum(1.0 / (v + tau2))
    return tau2, se


def _reml_score(y: np.ndarray, v: np.ndarray, tau2: float) -> tuple[float, float]:
    """Twice the REML score in tau2, and tr(PP) (the Fisher information times 2)."""
    w = 1.0 / (v + tau2)
    tr_p, tr_pp = _p_stats(w)
    py = w * (y - _wmean(y, w))
    return float(np.sum(py**2) - tr_p), tr_pp


def _reml_loglik(y: np.ndarray, v: np.ndarray, tau2: float) -> float:
    w = 1.0 / (v + tau2)
    return float(-0.5 * (np.sum(np.log(v + tau2)) + math.log(w.sum()) + np.sum(w * (y - _wmean(y, w)) ** 2)))


def _tau2_reml(y: np.ndarray, v: np.ndarray) -> tuple[float, float, list[str]]:
    notes: list[str] = []
    score0, _ = _reml_score(y, v, 0.0)
    if score0 <= 0:
        tau2 = 0.0  # the likelihood falls from the boundary on: its maximum on [0, inf) is at 0
    else:
        tau2 = max(0.0, float(np.var(y, ddof=1) - np.mean(v)))  # Hedges start, as metafor
        loglik = _reml_loglik(y, v, tau2)
        for _ in range(REML_MAXITER):
            score, tr_pp = _reml_score(y, v, tau2)
            step = score / tr_pp
            if abs(step) < REML_TOL:  # the full step, never a shortened one: converged means the score is ~0
                break
            # a step past the boundary goes half way to it instead (the optimum is inside: score(0) > 0);
            # a step that lowers the likelihood is halved (scoring alone can oscillate with growing swings)
            new = tau2 + step if tau2 + step > 0 else tau2 / 2
            new_loglik = _reml_loglik(y, v, new)
            while new_loglik < loglik and abs(new - tau2) > REML_TOL:
                new = (new + tau2) / 2
                new_loglik = _reml_loglik(y, v, new)
            tau2, loglik = new, new_loglik
        else:
            upper = 10 * max(float(np.var(y, ddof=1)), float(np.max(v)))
            best = optimize.minimize_scalar(
                lambda t: -_reml_loglik(y, v, t), bounds=(0.0, upper), method="bounded", options={"xatol": 1e-12}
            )
            tau2 = float(best.x)
            notes.append(
                f"REML Fisher scoring did not settle in {REML_MAXITER} steps: tau2 by bounded "
                "maximisation of the REML likelihood instead"
            )
    _, tr_pp = _p_stats(1.0 / (v + tau2))
    return tau2, math.sqrt(2.0 / tr_pp), notes


def _heterogeneity(y: np.ndarray, v: np.ndarray, tau2: float, fixed: bool) -> dict[str, float]:
    k = len(y)
    q = _q(y, v, 0.0)
    w = 1.0 / v
    s2 = (k - 1) * w.sum() / (w.sum() ** 2 - (w**2).sum())
    if fixed:
        i2 = 100 * max(0.0, q - (k - 1)) / q if q > 0 else 0.0
        h2 = q / (k - 1)
    else:
        i2, h2 = 100 * tau2 / (tau2 + s2), (tau2 + s2) / s2
    return {"i2": i2, "h2": h2, "q": q, "q_df": k - 1, "q_p": float(st.chi2.sf(q, k - 1))}


def _fit(y: np.ndarray, v: np.ndarray, method: str, test: str, alpha: float, pi_t: bool) -> Result:
    """The core of ``pool`` on validated vectors (k >= 2)."""
    k = len(y)
    fixed = method in ("FE", "EE")
    warnings: list[str] = []
    if fixed:
        tau2, tau2_se = 0.0, float("nan")
        warnings.append("tau2 is fixed at 0 in the fixed-effect model; tau2_se is not estimated")
    else:
        if method == "REML":
            tau2, tau2_se, notes = _tau2_reml(y, v)
            warnings += notes
        else:
            tau2, tau2_se = {"DL": _tau2_dl, "PM": _tau2_pm}[method](y, v)
    w = 1.0 / (v + tau2)
    mu = _wmean(y, w)
    var_mu = 1.0 / w.sum()
    df = None
    if test in ("knha", "adhoc"):
        df = k - 1
        factor = np.sum(w * (y - mu) ** 2) / (k - 1)
        var_mu *= max(factor, 1.0) if test == "adhoc" else factor
    table = wald_table(["pooled"], [mu], [math.sqrt(var_mu)], alpha=alpha, df=df)
    crit = st.t.ppf(1 - alpha / 2, k - 1) if (df is not None or pi_t) else st.norm.ppf(1 - alpha / 2)
    half = crit * math.sqrt(var_mu + tau2)
    table["pi_low"], table["pi_high"] = mu - half, mu + half
    stats = {
        "n": k,
        "k": k,
        "tau2": tau2,
        "tau2_se": tau2_se,
        "tau": math.sqrt(tau2),
        **_heterogeneity(y, v, tau2, fixed),
        "method": "FE" if fixed else method,
        "test": test,
    }
    if df is not None:
        stats["df"] = df
    return Result(table, stats, _method_line(method, test, pi_t), warnings)


def _method_line(method: str, test: str, pi_t: bool) -> str:
    model = (
        "Fixed-effect (inverse-variance) model" if method in ("FE", "EE") else f"Random-effects model, {method} tau^2"
    )
    inference = {
        "knha": "Knapp-Hartung t on k-1 df (untruncated)",
        "adhoc": "Knapp-Hartung t on k-1 df, factor truncated at 1 (ad hoc)",
    }.get(test, "Wald z")
    pi = "t(k-1)" if (pi_t or test != "z") else "z"
    return f"{model}; {inference} CI; {pi} prediction interval as metafor predict.rma"


def _single(y: np.ndarray, v: np.ndarray, method: str, test: str, alpha: float) -> Result:
    """k = 1: the study's own estimate, with heterogeneity undefined and flagged."""
    table = wald_table(["pooled"], y, np.sqrt(v), alpha=alpha)
    table["pi_low"], table["pi_high"] = np.nan, np.nan
    nan = float("nan")
    stats = {
        "n": 1,
        "k": 1,
        "tau2": nan,
        "tau2_se": nan,
        "tau": nan,
        "i2": nan,
        "h2": nan,
        "q": nan,
        "q_df": 0,
        "q_p": nan,
        "method": method,
        "test": "z",
    }
    warnings = [
        "only one study: the pooled estimate is that study's estimate; tau2, I2, H2, Q "
        "and the prediction interval are undefined"
    ]
    if test != "z":
        warnings.append("Knapp-Hartung needs k >= 2; a Wald z interval is reported")
    return Result(table, stats, "Single study (no pooling); Wald z CI", warnings)


@checks_alpha
def pool(
    data: pd.DataFrame | None = None,
    *,
    yi: Any,
    vi: Any,
    method: str = "REML",
    test: str = "z",
    alpha: float = 0.05,
    pi_type: str = "default",
) -> Result:
    """Pool effect estimates by fixed- or random-effects meta-analysis, as ``metafor::rma``.

    Parameters
    ----------
    data : pandas.DataFrame, optional
        One row per study or site. Needed when ``yi``/``vi`` are column names.
    yi, vi : str or array-like
        Effect estimates (e.g. log risk ratios) and their sampling variances (> 0).
    method : {"REML", "DL", "PM", "FE", "EE"}
        Estimator of the between-study variance tau2 ("FE"/"EE": tau2 = 0).
    test : {"z", "knha", "adhoc"}
        Wald z inference, or Knapp-Hartung t on k - 1 degrees of freedom
        ("adhoc": its variance factor truncated at 1, as metafor).
    alpha : float
        1 - confidence level of the CI and the prediction interval.
    pi_type : {"default", "t"}
        As metafor ``predict(..., pi.type=)``: "default" takes the critical
        value of the test (z, or t on k - 1 df under knha); "t" always uses
        t on k - 1 df (the Higgins-style interval, wider for few studies).

    Returns
    -------
    Result
        Row ``pooled``: ``estimate``, ``se``, ``ci_low``, ``ci_high``, ``z`` (or
        ``t``), ``p``, ``pi_low``, ``pi_high``. Stats: ``k``, ``n`` (= k),
        ``tau2``, ``tau2_se``, ``tau``, ``i2`` (percent), ``h2``, ``q``, ``q_df``,
        ``q_p``, ``method``, ``test`` (and ``df`` under knha and adhoc).

    Raises
    ------
    InputError
        Missing/non-finite yi or vi (the rows are named), vi <= 0, unknown options.

    References
    ----------
    R ``metafor::rma(yi, vi, method=, test=)`` and ``predict.rma``.
    Viechtbauer W (2005). J Educ Behav Stat 30:261-293. Viechtbauer W (2010).
    J Stat Softw 36(3). Knapp G, Hartung J (2003). Stat Med 22:2693-2710.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"yi": [-0.9, -1.6, -0.2, -0.5], "vi": [0.36, 0.21, 0.05, 0.1]})
    >>> res = pool(d, yi="yi", vi="vi", method="DL")
    >>> print(f"{res['pooled']['estimate']:.4f} {res.stats['tau2']:.4f}")
    -0.6945 0.2137
    """
    method, test = choice(method, METHODS, "method"), choice(test, TESTS, "test")
    check_alpha(alpha)
    pi_type = choice(pi_type, ("default", "t"), "pi_type")
    y, v, _ = _vectors(data, yi, vi)
    if len(y) == 1:
        return _single(y, v, method, test, alpha)
    return _fit(y, v, method, test, alpha, pi_type == "t")


def forest_data(
    data: pd.DataFrame | None = None, *, yi: Any, vi: Any, label: str | None = None, **options: Any
) -> Result:
    """Tidy table for a forest plot: each study, the pooled estimate and the prediction interval.

    Parameters
    ----------
    data, yi, vi
        As :func:`pool`.
    label : str, optional
        Column of ``data`` naming the studies/sites (default: the index).
    **options
        ``method``, ``test``, ``alpha``, ``pi_type``, passed to :func:`pool`.

    Returns
    -------
    Result
        One row per study (``kind`` = "study") with ``estimate``, ``se``,
        ``ci_low``, ``ci_high`` (Wald z) and ``weight`` (percent, as metafor
        ``weights()``: 1/(vi + tau2) normalised), then row ``pooled`` (CI of
        :func:`pool`, weight 100) and row ``prediction`` (the prediction
        interval as ``ci_low``/``ci_high``). Stats and warnings as :func:`pool`.

    References
    ----------
    R ``metafor::forest.rma`` / ``weights.rma.uni`` (layout data only; no plotting).

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"site": ["A", "B", "C"], "yi": [0.1, 0.3, 0.2], "vi": [0.04, 0.02, 0.01]})
    >>> fd = forest_data(d, yi="yi", vi="vi", label="site", method="FE")
    >>> print(f"{fd['C']['weight']:.2f}")
    57.14
    """
    fit = pool(data, yi=yi, vi=vi, **options)
    alpha = options.get("alpha", 0.05)
    y, v, labels = _vectors(data, yi, vi)
    if label is not None:
        require_columns(data, label)
        assert data is not None  # require_columns refused anything but a DataFrame
        labels = pd.Index(data[label].astype(str))
    tau2 = fit.stats["tau2"] if len(y) > 1 else 0.0
    w = 1.0 / (v + tau2)
    studies = wald_table(list(map(str, labels)), y, np.sqrt(v), alpha=alpha)
    studies = studies[["estimate", "se", "ci_low", "ci_high"]].assign(weight=100 * w / w.sum(), kind="study")
    row = fit["pooled"]
    summary = pd.DataFrame(
        {
            "estimate": [row["estimate"], row["estimate"]],
            "se": [row["se"], np.nan],
            "ci_low": [row["ci_low"], row["pi_low"]],
            "ci_high": [row["ci_high"], row["pi_high"]],
            "weight": [100.0, np.nan],
            "kind": ["pooled", "prediction"],
        },
        index=pd.Index(["pooled", "prediction"]),
    )
    table = pd.concat([studies, summary])
    table.index.name = "study"
    return Result(table, dict(fit.stats), fit.method + "; study CIs Wald z", list(fit.warnings))


# --------------------------------------------------------------------------- escalc


@checks_alpha
def effect_sizes(
    data: pd.DataFrame, measure: str = "RR", *, add: float = ZERO_CELL_ADD, alpha: float = 0.05, **columns: str
) -> Result:
    """Per-study effect sizes and sampling variances, as ``metafor::escalc``.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per study or site.
    measure : {"RR", "OR", "RD", "SMD"}
        Log risk ratio, log odds ratio, risk difference, or Hedges' g.
    add : float
        Added to every cell of each 2x2 table that has a zero cell (metafor's
        defaults ``add=1/2, to="only0"``, applied to RR, OR and RD alike; tables
        are kept even when both arms have no events, ``drop00=FALSE``). 0 turns
        it off (then tables with a zero give an error for RR/OR).
    alpha : float
        For the per-study Wald CIs.
    **columns : str
        Column names by metafor role. Binary measures: ``ai`` (events, arm 1),
        ``bi`` (non-events, arm 1), ``ci``, ``di`` (arm 2); or ``ai``, ``n1i``,
        ``ci``, ``n2i``. SMD: ``m1i``, ``sd1i``, ``n1i``, ``m2i``, ``sd2i``, ``n2i``.

    Returns
    -------
    Result
        Indexed like ``data``: ``yi`` (the estimate), ``vi`` (escalc's names,
        ready for :func:`pool`), ``se``, ``ci_low``, ``ci_high``, ``z``, ``p``.
        ``estimate`` still reads ``yi``, with a ``DeprecationWarning``.
        RR: yi = log(a/n1) - log(c/n2), vi = 1/a - 1/n1 + 1/c - 1/n2.
        OR: log(ad/bc), 1/a + 1/b + 1/c + 1/d. RD: p1 - p2, p1(1-p1)/n1 +
        p2(1-p2)/n2. SMD: g = J(m) (m1 - m2)/s_pooled with the exact
        J(m) = G(m/2)/(sqrt(m/2) G((m-1)/2)), m = n1 + n2 - 2, and vi = 1/n1 +
        1/n2 + g^2/(2(n1 + n2)) (escalc's default vtype="LS"). Stats: ``n``
        (studies), ``measure``, ``corrected`` (tables given the 1/2).

    References
    ----------
    R ``metafor::escalc(measure=, ai=, bi=, ci=, di=)`` / ``(m1i=, sd1i=, n1i=, ...)``.
    Hedges LV (1981). J Educ Stat 6:107-128.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"tpos": [4], "tneg": [119], "cpos": [11], "cneg": [128]})
    >>> es = effect_sizes(d, "RR", ai="tpos", bi="tneg", ci="cpos", di="cneg")
    >>> print(f"{es.table['yi'].iloc[0]:.4f} {es.table['vi'].iloc[0]:.4f}")
    -0.8893 0.3256
    """
    measure = str(measure).upper()
    unknown = set(columns) - _es.ROLES
    if unknown:
        raise InputError(f"unknown column role(s): {', '.join(sorted(unknown))}")
    require_columns(data, *columns.values())
    warnings: list[str] = []
    corrected = 0
    if measure in _es.BINARY:
        a, b, c, d = _es.tables(data, columns)
        zero = (np.vstack([a, b, c, d]) == 0).any(axis=0)
        if add and zero.any():
            a, b, c, d = (x + add * zero for x in (a, b, c, d))
            corrected = int(zero.sum())
            warnings.append(
                f"{add} added to all cells of {corrected} table(s) with a zero cell: "
                + ", ".join(map(str, data.index[zero]))
            )
        elif zero.any() and measure != "RD":
            raise InputError(
                "zero cells with add=0: log ratios undefined in row(s): " + ", ".join(map(str, data.index[zero]))
            )
        yi, vi = _es.binary(measure, a, b, c, d)
    elif measure == "SMD":
        yi, vi = _es.smd(data, columns)
    else:
        raise InputError(f"measure must be RR, OR, RD or SMD, not {measure!r}")
    table = wald_table(list(data.index), yi, np.sqrt(vi), alpha=alpha).rename(columns={"estimate": "yi"})
    table.index = data.index
    table.insert(1, "vi", vi)
    method = {
        "RR": "log risk ratio",
        "OR": "log odds ratio",
        "RD": "risk difference",
        "SMD": "Hedges' g (exact J), large-sample variance",
    }[measure]
    return Result(
        with_aliases(table, {"estimate": "yi"}, "effect_sizes"),
        {"n": len(table), "measure": measure, "corrected": corrected},
        f"Effect sizes as metafor escalc: {method}; Wald z CI",
        warnings,
    )
