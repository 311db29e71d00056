"""Event rates per person-time: Poisson-family rate models, crude rates, DiD on rates.

The typical use is sick leave: days of sick leave (events) per person-year of
employment (FTE-years, the exposure). Rate models are GLMs with a log link
and ``log(exposure)`` as offset, so exponentiated coefficients are rate
ratios. The GLM conventions (quasi-Poisson, glm.nb-style negative binomial,
cluster-robust SEs, aliased terms) live in :mod:`evalkit.stats._glm` and are
shared with :mod:`evalkit.trends`.

Exact crude-rate intervals (Garwood) and the conditional exact rate-ratio
test are a few lines of scipy; they are written here because no maintained
Python library returns them with R's ``poisson.test`` conventions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import patsy
from scipy import stats as st

from evalkit.core.result import (
    EstimationError,
    InputError,
    Result,
    binary_codes,
    check_alpha,
    checks_alpha,
    choice,
    renamed,
    require_columns,
)
from evalkit.stats import _glm

__all__ = ["rate_model", "compare_rates", "rate_did", "rate_twfe"]


@checks_alpha
def rate_model(
    data: pd.DataFrame,
    formula: str,
    *,
    exposure: str | None = None,
    family: str = "poisson",
    cluster: str | None = None,
    se_type: str | None = None,
    alpha: float = 0.05,
) -> Result:
    """Poisson, quasi-Poisson or negative binomial (NB2) regression of event counts.

    Parameters
    ----------
    data : pandas.DataFrame
    formula : str
        Patsy formula ``"events ~ terms"``; ``C(x)`` makes a factor. Rows are
        named as patsy names the columns: ``Intercept``, ``x`` for a numeric
        term, ``C(x)[T.b]`` / ``x[T.b]`` for level ``b`` of a factor against
        its first level (R's treatment contrasts), ``a:b`` for interactions.
    exposure : str, optional
        Person-time column; ``log(exposure)`` enters as offset, so the model
        is for the rate per unit of exposure. Rows with zero exposure and no
        events are dropped with a warning; zero exposure with events,
        negative or missing exposure raise :class:`InputError`.
    family : {"poisson", "quasipoisson", "negbin"}
        quasi-Poisson: Poisson SE x sqrt(Pearson dispersion), t-tests and t
        intervals on the residual df (R ``summary.glm``). negbin: NB2 by
        maximum likelihood of theta and beta; coefficient SEs are the GLM
        SEs at the fitted theta, as R ``MASS::glm.nb``.
    cluster : str, optional
        Column of cluster ids (e.g. team or worker) for cluster-robust SEs.
    se_type : {"model", "cluster", "cr2", "cr3"}, optional
        "model": the family's SEs (default without ``cluster``); "cluster"
        (default with it): the sandwich with the small-sample factor
        G/(G-1) * (N-1)/(N-K) (Stata ``vce(cluster)``, R
        ``sandwich::vcovCL(type = "HC1")``), z-tests; "cr2": the CR2
        (Bell-McCaffrey) sandwich with the GLM working model and a
        Satterthwaite t per coefficient (column ``df``), as R clubSandwich
        ``coef_test(fit, vcov = "CR2", test = "Satterthwaite")``: the choice
        with few clusters; "cr3": the jackknife form (``vcov = "CR3"``),
        larger where a few clusters weigh much or the counts are heavy-tailed.
    alpha : float
        1 - confidence level.

    Returns
    -------
    Result
        ``table`` rows per term: ``estimate`` (log rate ratio), ``se``,
        ``ci_low``, ``ci_high``, ``z`` (``t`` for quasipoisson), ``p``,
        ``ratio``, ``ratio_ci_low``, ``ratio_ci_high`` (Wald). ``stats``:
        ``n``, ``loglik``, ``deviance``, ``null_deviance``, ``df_resid``,
        ``dispersion`` (the scale used for the SEs, R's
        ``summary(fit)$dispersion``), ``pearson_dispersion`` (Pearson
        chi-square / df_resid, the overdispersion check), ``aic`` (not for
        quasipoisson, as in R), ``theta`` and ``theta_se`` for negbin
        (glm.nb's ``theta`` and ``SE.theta``), ``n_clusters`` with cluster.
        For quasipoisson ``loglik`` is that of the Poisson fit.

    References
    ----------
    R ``glm(y ~ x + offset(log(t)), family = poisson | quasipoisson)``;
    ``MASS::glm.nb``; McCullagh & Nelder (1989) section 6.3 (ships).

    Examples
    --------
    >>> df = pd.DataFrame({"days": [30, 12, 45, 20], "fte": [3.0, 2.0, 3.5, 2.5],
    ...                    "pilot": [0, 1, 0, 1]})
    >>> res = rate_model(df, "days ~ pilot", exposure="fte")
    >>> print(round(res["pilot"]["ratio"], 4))
    0.6163
    """
    require_columns(data, exposure, cluster)
    family = _glm.check_family(family, _glm.COUNT_FAMILIES)
    try:
        y, X = patsy.dmatrices(formula, data, return_type="dataframe", NA_action="raise")
    except patsy.PatsyError as err:
        raise InputError(f"cannot build the model from formula {formula!r}: {err}") from err
    events = y.iloc[:, 0].to_numpy(dtype=float)
    keep = np.ones(len(events), dtype=bool)
    offset: np.ndarray | None = None
    notes: list[str] = []
    if exposure is not None:
        keep, offset, notes = _glm.exposure_offset(data, exposure, events)
        offset = offset[keep]
    _glm.check_counts(events[keep], y.columns[0])
    groups = _cluster_ids(data, cluster, keep)
    check_alpha(alpha)
    se_type = choice(
        se_type or ("cluster" if cluster is not None else "model"), ("model", "cluster", "cr2", "cr3"), "se_type"
    )
    if (se_type == "model") != (cluster is None):
        raise InputError(f"se_type={se_type!r} " + ("needs cluster=" if cluster is None else "ignores cluster="))
    fit = _glm.fit(
        events[keep],
        X[keep],
        family=family,
        offset=offset,
        cluster=groups,
        alpha=alpha,
        small_sample=se_type.upper() if se_type in ("cr2", "cr3") else None,
    )
    return Result(
        table=fit.table,
        stats=fit.stats,
        warnings=notes + fit.warnings,
        method=f"{_FAMILY_NAME[family]} rate model, log link"
        + (", log-exposure offset" if exposure else "")
        + f"; {fit.convention}",
    )


_FAMILY_NAME = {
    "poisson": "Poisson",
    "quasipoisson": "Quasi-Poisson",
    "negbin": "Negative binomial (NB2, ML theta as MASS::glm.nb)",
}


def _cluster_ids(data: pd.DataFrame, cluster: str | None, keep: np.ndarray) -> np.ndarray | None:
    if cluster is None:
        return None
    ids = data[cluster]
    if ids.isna().any():
        raise InputError(f"cluster column {cluster!r} has missing values")
    return ids.to_numpy()[keep]


@renamed(events="outcome", arm="treatment", period="post")
@checks_alpha
def rate_did(
    data: pd.DataFrame,
    outcome: str,
    exposure: str,
    treatment: str,
    post: str,
    *,
    family: str = "poisson",
    cluster: str | None = None,
    alpha: float = 0.05,
) -> Result:
    """Difference-in-differences on rates: the ratio of rate ratios.

    Fits ``events ~ arm + period + arm:period`` with ``log(exposure)`` as
    offset. The ``did`` row is the arm x period interaction: its ``ratio`` is
    (rate pilot after / rate pilot before) / (rate comparison after / rate
    comparison before), the multiplicative DiD.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per unit (worker, team) and period, or aggregated counts.
    outcome, exposure : str
        Event count (e.g. sick-leave days) and person-time (e.g. FTE-years).
    treatment, post : str
        0/1 (or boolean) columns: 1 = pilot arm, 1 = after the start (formerly
        ``events``, ``arm``, ``period``: those names still work, with a warning).
    family : {"poisson", "quasipoisson", "negbin"}
        As :func:`rate_model`.
    cluster : str, optional
        Cluster ids (worker or team) for cluster-robust SEs, as :func:`rate_model`.
    alpha : float
        1 - confidence level.

    Returns
    -------
    Result
        Rows ``did``, ``arm`` (pilot vs comparison before), ``period``
        (change in the comparison arm) and ``intercept`` (log baseline rate),
        with the columns of :func:`rate_model`; same stats.

    References
    ----------
    R ``glm(events ~ arm * period + offset(log(exposure)), family = poisson)``;
    the interaction is the ratio of rate ratios.

    Examples
    --------
    >>> df = pd.DataFrame({"days": [120, 110, 130, 80], "fte": [10.0, 10, 10, 10],
    ...                    "pilot": [0, 0, 1, 1], "after": [0, 1, 0, 1]})
    >>> print(round(rate_did(df, "days", "fte", "pilot", "after")["did"]["ratio"], 4))
    0.6713
    """
    events, arm, period = outcome, treatment, post
    require_columns(data, events, exposure, arm, period)
    frame = pd.DataFrame(
        {
            "events": data[events],
            "exposure": data[exposure],
            "arm": binary_codes(data[arm], arm, ("comparison", "pilot")),
            "period": binary_codes(data[period], period, ("before", "after")),
        }
    )
    if cluster is not None:
        require_columns(data, cluster)
        frame["cluster"] = data[cluster]
    cells = frame.groupby(["arm", "period"]).size()
    if len(cells) < 4:
        raise EstimationError("rate DiD needs rows in all four arm x period cells")
    res = rate_model(
        frame,
        "events ~ arm * period",
        exposure="exposure",
        family=family,
        cluster="cluster" if cluster is not None else None,
        alpha=alpha,
    )
    res.table = res.table.rename(index={"arm:period": "did", "Intercept": "intercept"}).loc[
        ["did", "arm", "period", "intercept"]
    ]
    res.method = "Rate DiD (ratio of rate ratios): " + res.method
    return res


@renamed(events="outcome")
@checks_alpha
def rate_twfe(
    data: pd.DataFrame,
    outcome: str,
    exposure: str,
    treatment: str,
    unit: str,
    time: str,
    *,
    family: str = "quasipoisson",
    cluster: str | None = None,
    se_type: str | None = None,
    alpha: float = 0.05,
) -> Result:
    """Difference-in-differences on rates with unit and time fixed effects (staggered starts).

    Fits ``events ~ treatment + factor(unit) + factor(time)`` with
    ``log(exposure)`` as offset: the ``treatment`` row's ``ratio`` is the
    rate ratio when treated (e.g. a pilot team after its own start) against
    the same unit untreated, net of what changed for every unit in the same
    period. With :func:`rate_did` the arms switch at one date; here each unit
    may switch at its own.

    Parameters
    ----------
    data : pandas.DataFrame
        Rows of person-time, e.g. worker x half-year.
    outcome, exposure : str
        Event count (e.g. sick-leave days) and person-time (e.g. FTE-years);
        ``outcome`` was ``events``, which still works, with a warning.
    treatment : str
        0/1 column: 1 where the unit is treated.
    unit, time : str
        Columns absorbed as fixed effects (team, half-year).
    family : {"poisson", "quasipoisson", "negbin"}
        As :func:`rate_model`.
    cluster, se_type : str, optional
        Cluster ids (e.g. worker) and the kind of SE, as :func:`rate_model`.
    alpha : float
        1 - confidence level.

    Returns
    -------
    Result
        Row named ``treatment`` with the columns of :func:`rate_model`
        (the fixed effects are left out of the table); its stats.

    References
    ----------
    R ``glm(events ~ d + factor(unit) + factor(time) + offset(log(exposure)),
    family = quasipoisson)``; Wooldridge (2023), Econometrics Journal 26:
    C31-C66, on two-way fixed effects Poisson with staggered starts.

    Examples
    --------
    >>> df = pd.DataFrame({"team": ["a", "a", "b", "b", "c", "c"], "half": [1, 2] * 3,
    ...                    "d": [0, 1, 0, 0, 0, 1], "days": [50, 40, 60, 66, 30, 25], "fte": [5.0] * 6})
    >>> print(round(rate_twfe(df, "days", "fte", "d", "team", "half")["d"]["ratio"], 3))
    0.739
    """
    events = outcome
    require_columns(data, events, exposure, treatment, unit, time, cluster)
    frame = pd.DataFrame(
        {
            "events": data[events].to_numpy(),
            "exposure": data[exposure].to_numpy(),
            "d": binary_codes(data[treatment], treatment, ("not treated", "treated")),
            "unit": pd.factorize(data[unit], sort=True)[0],
            "time": pd.factorize(data[time], sort=True)[0],
        }
    )
    if cluster is not None:
        frame["cluster"] = data[cluster].to_numpy()
    if frame["d"].nunique() < 2:
        raise EstimationError(f"{treatment!r} does not vary: nothing to compare")
    res = rate_model(
        frame,
        "events ~ d + C(unit) + C(time)",
        exposure="exposure",
        family=family,
        cluster="cluster" if cluster is not None else None,
        se_type=se_type,
        alpha=alpha,
    )
    if "d" not in res.table.index:
        raise EstimationError(f"{treatment!r} is collinear with the unit and time effects")
    res.table = res.table.loc[["d"]].rename(index={"d": treatment})
    res.method = "Rate DiD with unit and time fixed effects: " + res.method
    return res


@renamed(events="outcome")
@checks_alpha
def compare_rates(
    data: pd.DataFrame,
    outcome: str,
    exposure: str,
    group: str,
    *,
    by: str | None = None,
    reference=None,
    alpha: float = 0.05,
) -> Result:
    """Crude rates per group with exact CIs, and exact rate ratios against a reference group.

    Rates are events per unit of ``exposure`` (per person-year when exposure
    is in person-years; multiply by 100 for "per 100 person-years").

    Parameters
    ----------
    data : pandas.DataFrame
    outcome, exposure : str
        Event counts and person-time; summed within each group (``outcome``
        was ``events``, which still works, with a warning).
    group : str
        Group column (e.g. pilot / comparison team).
    by : str, optional
        Stratum column (e.g. site, year): the comparison is repeated within each.
    reference : optional
        The comparator group; default the first group in sorted order.
    alpha : float
        1 - confidence level.

    Returns
    -------
    Result
        ``table`` indexed by group (by, group with ``by``): ``events``,
        ``exposure``, ``estimate`` (the rate), ``se`` (sqrt(events)/exposure),
        ``ci_low``, ``ci_high`` (exact Garwood interval: chi-square quantiles
        of 2x and 2x + 2 degrees of freedom, as R ``poisson.test(x, T)``),
        ``ratio`` (rate / reference rate), ``ratio_ci_low``,
        ``ratio_ci_high`` and ``p``: the exact conditional test and
        interval, the binomial test of x1 out of x1 + x0 events, as R
        ``poisson.test(c(x1, x0), c(t1, t0))``. The reference row has ratio 1
        and NaN for the undefined interval and p (flagged in warnings).
        ``stats``: ``n`` (rows), ``reference``.

    References
    ----------
    R ``poisson.test``; Garwood (1936) Biometrika 28:437-442.

    Examples
    --------
    >>> df = pd.DataFrame({"team": ["comparison", "pilot"], "days": [21, 11],
    ...                    "fte": [3011.0, 800.0]})
    >>> res = compare_rates(df, "days", "fte", "team")
    >>> print(round(res.table.loc["pilot", "ratio"], 6))
    1.971488
    """
    events = outcome
    require_columns(data, events, exposure, group, by)
    x = pd.to_numeric(data[events], errors="coerce")
    t = pd.to_numeric(data[exposure], errors="coerce")
    if x.isna().any() or t.isna().any():
        raise InputError(f"{events!r} and {exposure!r} must be numeric without missing values")
    if (x < 0).any() or (t < 0).any():
        raise InputError(f"{events!r} and {exposure!r} must not be negative")
    if not np.allclose(x, np.round(x)):
        raise InputError(f"{events!r} must hold whole counts: exact Poisson methods need integers")
    keys = [by, group] if by is not None else [group]
    sums = pd.DataFrame({"events": x, "exposure": t}).groupby([data[k] for k in keys]).sum()
    if (sums["exposure"] <= 0).any():
        raise EstimationError("a group has no person-time (total exposure 0): its rate is undefined")
    groups = sums.index.get_level_values(-1).unique()
    ref = sorted(groups)[0] if reference is None else reference
    if ref not in groups:
        raise InputError(f"reference group {ref!r} is not in {group!r}")
    parts = [_compare_stratum(s, ref, alpha) for _, s in (sums.groupby(level=0) if by else [(None, sums)])]
    table = pd.concat(parts)
    notes = []  # the reference row's NaN ratio CI and p need no warning: they are undefined by construction
    if np.isinf(table["ratio"]).any():
        notes.append("the reference group has no events in some stratum: rate ratios are infinite there")
    return Result(
        table=table,
        stats={"n": int(len(data)), "reference": ref},
        warnings=notes,
        method="Crude rates per unit of exposure, exact Garwood CI; rate ratio vs "
        f"{ref!r} with exact conditional (binomial) CI and test, as R poisson.test",
    )


def _compare_stratum(s: pd.DataFrame, ref, alpha: float) -> pd.DataFrame:
    s = s.copy()
    x, t = s["events"].to_numpy(float), s["exposure"].to_numpy(float)
    s["estimate"] = x / t
    s["se"] = np.sqrt(x) / t
    s["ci_low"] = np.where(x > 0, st.chi2.ppf(alpha / 2, 2 * x) / 2, 0.0) / t
    s["ci_high"] = st.chi2.ppf(1 - alpha / 2, 2 * x + 2) / 2 / t
    at_ref = s.index.get_level_values(-1) == ref
    if not at_ref.any():
        raise EstimationError(f"reference group {ref!r} is absent from a stratum")
    x0, t0 = float(x[at_ref][0]), float(t[at_ref][0])
    rows = [
        _exact_ratio(xi, ti, x0, t0, alpha) if not r else (1.0, np.nan, np.nan, np.nan)
        for xi, ti, r in zip(x, t, at_ref)
    ]
    s[["ratio", "ratio_ci_low", "ratio_ci_high", "p"]] = rows
    return s


def _exact_ratio(x1: float, t1: float, x0: float, t0: float, alpha: float) -> tuple[float, ...]:
    """Rate ratio (x1/t1)/(x0/t0) with the conditional binomial CI and p of poisson.test."""
    n = int(round(x1 + x0))
    if n == 0:
        raise EstimationError("no events in either group: the rate ratio is undefined")
    test = st.binomtest(int(round(x1)), n, t1 / (t1 + t0))
    ci = test.proportion_ci(confidence_level=1 - alpha, method="exact")
    odds = np.array([ci.low, ci.high])
    with np.errstate(divide="ignore"):
        bounds = odds / (1 - odds) * t0 / t1
        ratio = (x1 / t1) / (x0 / t0) if x0 > 0 else np.inf
    return float(ratio), float(bounds[0]), float(bounds[1]), float(test.pvalue)
