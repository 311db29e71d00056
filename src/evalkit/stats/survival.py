"""Time-to-event estimators: case durations, closings and placements.

Kaplan-Meier curves, medians and log-rank tests follow R ``survival``
(``survfit``, ``quantile.survfit``, ``survdiff``); the arithmetic is in
``evalkit.stats._km``, written by hand because lifelines' KM uses a log(-log) band,
reports the SE of log S and has no R-style median CI. Cox models are fitted by
``evalkit.stats._coxph``: Efron ties and R ``coxph``'s Newton-Raphson and
convergence rule, vectorised (a site report fits four Cox models and a
national run over a thousand; lifelines' ``CoxPHFitter`` took most of the
analysis time). With ``cluster`` the robust variance is R's
``coxph(cluster = )``: t(D) %*% D with D the dfbeta residuals summed by
cluster, the residuals following the Efron ties method, no small-sample
factor. lifelines' ``cluster_col`` gives the same sandwich when no event
times are tied, but with tied times its residuals are not Efron's and its
SEs differ (Rossi, ``fin + age + prio``, one cluster per row, SE of fin:
lifelines 0.187, Efron residuals 0.191). The fits match R on Rossi and lung
to the printed digits and lifelines to its own convergence; the Efron
residuals are checked against leave-one-out refits (the infinitesimal
jackknife that the sandwich rests on) on Rossi's tied weeks.
:func:`cox_zph` still uses lifelines' fit and test.

Competing risks (a case ends by closing or by a placement) follow R
``cmprsk``: ``cif`` is ``cuminc`` (Aalen-Johansen estimate, Aalen's variance
with cmprsk's tie correction) and ``gray_test`` is cuminc's Gray (1988) test
(``crstm``, rho = 0). Libraries evaluated and rejected: lifelines'
``AalenJohansenFitter`` breaks tied times with random jitter and uses a
Greenwood-type variance (Collett), not cmprsk's Aalen-type one; PyPI
``comprisk`` (0.8, alpha) gives cmprsk's numbers with two causes but pulls
in numba, scikit-learn and joblib for two short functions, and with three
or more causes its variance handles each competing cause's tied events
separately where cmprsk pools them. ``evalkit.stats._cmprsk`` implements cmprsk's
formulas instead and reproduces cmprsk's published output on the BMT data
(Scrucca et al. 2007) to the printed 7-8 digits.
"""
from __future__ import annotations

import re
import warnings
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats as _st

from evalkit.core.columns import with_aliases
from evalkit.core.result import (
    EstimationError,
    InputError,
    Result,
    check_alpha,
    checks_alpha,
    choice,
    require_columns,
    wald_table,
)
from evalkit.stats import _cmprsk, _coxph, _km, _rmst

__all__ = ["km", "median_survival", "quantile_survival", "survival_at", "rmst", "logrank", "cox", "cox_zph", "cif",
           "finegray", "gray_test"]


# ---------------------------------------------------------------- input checks
def _prepare(data, duration, event, *others, competing=False):
    """Complete rows with a numeric, non-negative duration and a valid event code."""
    cols = list(dict.fromkeys(c for c in (duration, event, *others) if c is not None))
    require_columns(data, *cols)
    if data.empty:
        raise InputError("data has no rows")
    df = data[cols].dropna()
    warns = []
    if len(df) < len(data):
        warns.append(f"{len(data) - len(df)} row(s) with missing values in {', '.join(cols)} dropped")
    if df.empty:
        raise InputError("no complete rows to analyse")
    t = pd.to_numeric(df[duration], errors="coerce").astype(float)
    if t.isna().any() or not np.isfinite(t).all():
        raise InputError(f"duration column {duration!r} must be finite numbers")
    if (t < 0).any():
        raise InputError(f"{int((t < 0).sum())} negative value(s) in duration column {duration!r}")
    e = pd.to_numeric(df[event].astype(float) if df[event].dtype == bool else df[event], errors="coerce")
    allowed = "0 (censored) or 1, 2, ... (causes)" if competing else "0 (censored) or 1 (event)"
    bad = e.isna() | (e != np.round(e)) | (e < 0)
    if not competing:
        bad |= e > 1
    if bad.any():
        raise InputError(f"event column {event!r} must be {allowed}; {int(bad.sum())} value(s) are not")
    out = df.assign(_t=t.to_numpy(), _e=e.astype(int).to_numpy())
    return out, warns


def _groups(df, group):
    """(label, sub-frame) pairs in sorted order; one ('all', df) pair without a group."""
    if group is None:
        return [("all", df)]
    return [(g, df[df[group] == g]) for g in sorted(df[group].unique())]


def _stack(parts, group):
    """One long table from (label, table) pairs, the group column first."""
    if group is None:
        return pd.concat([t for _, t in parts], ignore_index=True)
    table = pd.concat([t.assign(**{group: g}) for g, t in parts], ignore_index=True)
    return table[[group] + [c for c in table.columns if c != group]]


def _check_conf(conf_type, alpha=0.05):
    """The allowed spelling of ``conf_type`` (any case); ``alpha`` checked."""
    check_alpha(alpha)
    return choice(conf_type, _km.CONF_TYPES, "conf_type")


def _km_table(sub, conf_type, alpha):
    curve = _km.km_curve(sub["_t"].to_numpy(), sub["_e"].to_numpy())
    se, lo, hi = _km.band(curve["survival"], curve["se_log"], conf_type, alpha)
    return curve.drop(columns="se_log").assign(se=se, ci_low=lo, ci_high=hi)


def _ci_label(conf_type, alpha):
    return f"{100 * (1 - alpha):g}% {conf_type} CI as R survfit(conf.type = '{conf_type}')"


# ---------------------------------------------------------------- Kaplan-Meier
@checks_alpha
def km(data, duration, event, *, group=None, conf_type="log", alpha=0.05) -> Result:
    """Kaplan-Meier survival curve(s) with Greenwood SEs, as R ``survfit``.

    Parameters
    ----------
    data : pandas.DataFrame
    duration, event : str
        Columns: time (>= 0) and event indicator (1 = event, 0 = censored).
    group : str, optional
        Column whose values get one curve each.
    conf_type : {"log", "log-log", "plain"}
        Scale of the pointwise CI: "log" (R's default) is S*exp(+-z*se(log S)),
        "log-log" is on log(-log S), "plain" is S +- z*se(S); clipped to [0, 1].
    alpha : float
        1 - confidence level.

    Returns
    -------
    Result
        ``table``: one row per distinct time (events and censorings), columns
        (``group``), ``time``, ``n_risk``, ``n_event``, ``n_censor``,
        ``survival``, ``se`` (standard error of S, Greenwood, as R's
        ``summary(survfit)$std.err``), ``ci_low``, ``ci_high``. Where S is 0
        the SE and log-scale limits are undefined (NaN, flagged in warnings).

    References
    ----------
    R ``survival::survfit(Surv(time, status) ~ group, conf.type = ...)``.

    Examples
    --------
    >>> df = pd.DataFrame({"days": [5, 8, 8, 12, 20, 30], "closed": [1, 1, 0, 1, 0, 1]})
    >>> round(float(km(df, "days", "closed").table["survival"].iloc[-1]), 4)
    0.0
    >>> round(float(km(df, "days", "closed").table["survival"].iloc[1]), 4)
    0.6667
    """
    conf_type = _check_conf(conf_type, alpha)
    df, warns = _prepare(data, duration, event, group)
    parts = []
    for g, sub in _groups(df, group):
        tab = _km_table(sub, conf_type, alpha)
        if (tab["survival"] <= 0).any():
            t0 = tab.loc[tab["survival"] <= 0, "time"].iloc[0]
            warns.append(f"group {g}: survival reaches 0 at time {t0:g}; its SE and "
                         f"{conf_type} CI are undefined from there on (NaN), as in R")
        parts.append((g, tab))
    table = _stack(parts, group)
    return Result(table, {"n": len(df), "events": int(df["_e"].sum())},
                  f"Kaplan-Meier, Greenwood SE, {_ci_label(conf_type, alpha)}", warns)


def _km_quantile(tab: pd.DataFrame, q: float) -> tuple[float, ...]:
    """The ``q`` quantile of a Kaplan-Meier table and its limits (R's rule, :func:`_km.r_quantile`)."""
    t = tab["time"].to_numpy()
    return tuple(_km.r_quantile(t, tab[c].to_numpy(), 1 - q) for c in ("survival", "ci_low", "ci_high"))


@checks_alpha
def median_survival(data, duration, event, *, group=None, conf_type="log", alpha=0.05) -> Result:
    """Median survival time and its CI, as R ``print(survfit(...))``.

    The median is the first time S falls to 0.5 or below (the midpoint of
    the interval when S equals 0.5 exactly over it, as ``quantile.survfit``);
    the CI limits are the first times the lower / upper band falls to 0.5
    or below. A median or limit that is never reached is NaN (R prints NA)
    and named in ``warnings``.

    Parameters
    ----------
    data : pandas.DataFrame
    duration, event : str
        Time and event (1/0) columns.
    group : str, optional
    conf_type : {"log", "log-log", "plain"}
    alpha : float

    Returns
    -------
    Result
        ``table`` indexed by group ("all" without one): ``n``, ``events``,
        ``estimate`` (the median), ``ci_low``, ``ci_high``. The column was
        called ``median``; that name still reads it, with a
        ``DeprecationWarning``.

    References
    ----------
    R ``survival::survfit``, ``quantile.survfit``.

    Examples
    --------
    >>> df = pd.DataFrame({"days": [5, 8, 8, 12, 20, 30], "closed": [1, 1, 0, 1, 0, 1]})
    >>> float(median_survival(df, "days", "closed").table.loc["all", "estimate"])
    12.0
    """
    conf_type = _check_conf(conf_type, alpha)
    df, warns = _prepare(data, duration, event, group)
    rows = {}
    for g, sub in _groups(df, group):
        est, lo, hi = _km_quantile(_km_table(sub, conf_type, alpha), 0.5)
        for name, v in (("median", est), ("lower limit", lo), ("upper limit", hi)):
            if np.isnan(v):
                warns.append(f"group {g}: {name} not reached (curve stays above 0.5); reported as NaN")
        rows[g] = {"n": len(sub), "events": int(sub["_e"].sum()), "estimate": est, "ci_low": lo, "ci_high": hi}
    table = pd.DataFrame.from_dict(rows, orient="index").rename_axis(group or "group")
    return Result(with_aliases(table, {"median": "estimate"}, "median_survival"), {"n": len(df)},
                  f"Kaplan-Meier median, R quantile.survfit rule, {_ci_label(conf_type, alpha)}", warns)


@checks_alpha
def quantile_survival(data, duration, event, *, q, group=None, conf_type="log", alpha=0.05) -> Result:
    """Quantiles of the survival time and their CIs, as R ``quantile(survfit(...), probs = q)``.

    The ``q`` quantile is the first time the Kaplan-Meier curve falls to
    1 - q or below (the midpoint of the interval when it equals 1 - q exactly
    over it); its CI limits are the first times the lower and upper bands do.
    What is never reached is NaN (R prints NA) and named in ``warnings``.

    Parameters
    ----------
    data : pandas.DataFrame
    duration, event : str
        Time and event (1/0) columns.
    q : float or sequence of float
        Probabilities in (0, 1), e.g. ``[0.25, 0.5, 0.75]`` (R's default).
    group : str, optional
    conf_type : {"log", "log-log", "plain"}
    alpha : float

    Returns
    -------
    Result
        ``table``, one row per group and ``q``: the group column (with
        ``group``), ``q``, ``estimate``, ``ci_low``, ``ci_high``.

    References
    ----------
    R ``quantile(survfit(Surv(time, status) ~ group), probs = q)``
    (``survival::quantile.survfit``).

    Examples
    --------
    >>> df = pd.DataFrame({"days": [5, 8, 8, 12, 20, 30], "closed": [1, 1, 0, 1, 0, 1]})
    >>> quantile_survival(df, "days", "closed", q=[0.25, 0.5]).table["estimate"].tolist()
    [8.0, 12.0]
    """
    conf_type = _check_conf(conf_type, alpha)
    probs = np.atleast_1d(np.asarray(q, dtype=float))
    if probs.size == 0 or not np.all((probs > 0) & (probs < 1)):
        raise InputError(f"q must be probabilities between 0 and 1 (e.g. 0.25, 0.5, 0.75), not {q!r}")
    df, warns = _prepare(data, duration, event, group)
    parts = []
    for g, sub in _groups(df, group):
        tab = _km_table(sub, conf_type, alpha)
        rows = []
        for p in probs:
            est, lo, hi = _km_quantile(tab, p)
            missing = [name for name, v in (("estimate", est), ("lower limit", lo), ("upper limit", hi))
                       if np.isnan(v)]
            if missing:
                warns.append(f"group {g}, q = {p:g}: {', '.join(missing)} not reached; reported as NaN")
            rows.append({"q": p, "estimate": est, "ci_low": lo, "ci_high": hi})
        parts.append((g, pd.DataFrame(rows)))
    return Result(_stack(parts, group), {"n": len(df)},
                  f"Kaplan-Meier quantiles, R quantile.survfit rule, {_ci_label(conf_type, alpha)}", warns)


@checks_alpha
def survival_at(data, duration, event, times: Sequence[float], *, group=None,
                conf_type="log", alpha=0.05) -> Result:
    """Kaplan-Meier survival at given times, as R ``summary(survfit, times = )``.

    Parameters
    ----------
    data : pandas.DataFrame
    duration, event : str
    times : sequence of float
        Times (>= 0) at which to read the curve.
    group : str, optional
    conf_type : {"log", "log-log", "plain"}
    alpha : float

    Returns
    -------
    Result
        ``table`` with (``group``), ``time``, ``n_risk`` (at risk at t),
        ``n_event`` (events since the previous requested time), ``survival``,
        ``se`` (of S), ``ci_low``, ``ci_high``. Times after the last
        follow-up of a group are NaN and flagged (R drops them).

    References
    ----------
    R ``summary(survfit(Surv(time, status) ~ 1), times = ...)``.

    Examples
    --------
    >>> df = pd.DataFrame({"days": [5, 8, 8, 12, 20, 30], "closed": [1, 1, 0, 1, 0, 1]})
    >>> round(float(survival_at(df, "days", "closed", [10]).table["survival"].iloc[0]), 4)
    0.6667
    """
    conf_type = _check_conf(conf_type, alpha)
    req = np.sort(np.unique(np.asarray(times, dtype=float)))
    if req.size == 0 or np.isnan(req).any() or (req < 0).any():
        raise InputError("times must be one or more non-negative numbers")
    df, warns = _prepare(data, duration, event, group)
    parts = []
    for g, sub in _groups(df, group):
        tab = _km_table(sub, conf_type, alpha)
        idx = np.searchsorted(tab["time"].to_numpy(), req, side="right") - 1
        first = pd.DataFrame({"survival": [1.0], "se": [0.0], "ci_low": [1.0], "ci_high": [1.0]})
        vals = pd.concat([first, tab[["survival", "se", "ci_low", "ci_high"]]], ignore_index=True)
        out = vals.iloc[idx + 1].reset_index(drop=True)
        t = sub["_t"].to_numpy()
        cum = np.array([sub["_e"].to_numpy()[t <= x].sum() for x in req])
        out.insert(0, "time", req)
        out.insert(1, "n_risk", [(t >= x).sum() for x in req])
        out.insert(2, "n_event", np.diff(np.concatenate([[0], cum])))
        late = req > t.max()
        if late.any():
            out.loc[late, ["survival", "se", "ci_low", "ci_high"]] = np.nan
            warns.append(f"group {g}: time(s) {', '.join(f'{x:g}' for x in req[late])} after the "
                         f"last follow-up ({t.max():g}); survival not estimable there (NaN)")
        parts.append((g, out))
    table = _stack(parts, group)
    return Result(table, {"n": len(df)}, f"Kaplan-Meier at fixed times, {_ci_label(conf_type, alpha)}", warns)


@checks_alpha
def rmst(data, duration, event, *, tau, group=None, reference=None, alpha=0.05) -> Result:
    """Restricted mean survival time up to ``tau``, by group, with the difference and ratio, as R survRM2.

    The RMST is the mean time to the event within the first ``tau`` time
    units (the area under the Kaplan-Meier curve): "cases stayed open on
    average 250 of the first 730 days". Unlike a hazard ratio it reads in
    days and needs no proportional hazards.

    Parameters
    ----------
    data : pandas.DataFrame
    duration, event : str
        Time and event (1/0) columns.
    tau : float or None
        Truncation time, in the units of ``duration``. It may not exceed
        the last time at which every group's curve is defined (survRM2's
        rule); ``None`` takes that time.
    group : str, optional
        Column with the groups; with two, the contrasts are added.
    reference : optional
        The group the other is compared with (default: the first in sorted
        order, as survRM2's arm 0).
    alpha : float
        1 - confidence level.

    Returns
    -------
    Result
        Rows per group value (``all`` without ``group``): ``estimate`` (the
        RMST), ``se``, ``ci_low``, ``ci_high``, ``rmtl`` (tau - RMST, the
        restricted mean time lost); with two groups, rows ``difference``
        (other minus reference, with ``p``) and ``ratio`` (other over
        reference, CI and p on the log scale). Stats: ``tau``, ``n``,
        ``reference``, ``other``.

    References
    ----------
    R ``survRM2::rmst2(time, status, arm, tau)`` (Uno et al. 2014, J Clin
    Oncol 32:2380-2385; Royston & Parmar 2013, BMC Med Res Methodol 13:152).

    Examples
    --------
    >>> df = pd.DataFrame({"days": [5, 8, 12, 20, 3, 9, 15, 30], "closed": [1, 1, 0, 1, 1, 1, 1, 0],
    ...                    "arm": ["comparison"] * 4 + ["pilot"] * 4})
    >>> res = rmst(df, "days", "closed", tau=14, group="arm")
    >>> print(res["comparison"]["estimate"], res["pilot"]["estimate"], res["difference"]["estimate"])
    10.25 10.0 -0.25
    """
    df, warns = _prepare(data, duration, event, group)
    check_alpha(alpha)
    parts = [(g, sub["_t"].to_numpy(), sub["_e"].to_numpy()) for g, sub in _groups(df, group)]
    tau = _rmst.check_tau(tau, _rmst.tau_limit([(t, e) for _, t, e in parts]))
    z = _st.norm.ppf(1 - alpha / 2)
    est, var, rows = {}, {}, []
    for g, t, e in parts:
        est[g], var[g] = _rmst.rmst_one(t, e, tau)
        se = float(np.sqrt(var[g]))
        rows.append({"group": str(g), "estimate": est[g], "se": se, "ci_low": est[g] - z * se,
                     "ci_high": est[g] + z * se, "rmtl": tau - est[g]})
    table = pd.DataFrame(rows).set_index("group")
    stats = {"tau": tau, "n": len(df)}
    if len(parts) == 2:
        labels = [g for g, _, _ in parts]
        if reference is not None and reference not in labels:
            raise InputError(f"reference {reference!r} is not one of the groups")
        ref = labels[0] if reference is None else reference
        other = labels[1] if ref == labels[0] else labels[0]
        table = pd.concat([table, _rmst.contrasts(est, var, other, ref, alpha)])
        stats.update(reference=str(ref), other=str(other))
    table.index.name = "term"
    return Result(table, stats, f"Restricted mean survival time up to tau = {tau:g} as R survRM2 rmst2 "
                                "(KM area, survRM2 variance, Wald z; ratio on the log scale)", warns)


def logrank(data, duration, event, group, *, strata=None) -> Result:
    """Log-rank test of equal survival in k >= 2 groups, as R ``survdiff`` (rho = 0).

    Parameters
    ----------
    data : pandas.DataFrame
    duration, event : str
    group : str
        Column with two or more groups.
    strata : str, optional
        Column of strata (e.g. the team or the institution): observed and
        expected events and their variance are found within each stratum and
        summed, so groups are compared only with those of their own stratum.

    Returns
    -------
    Result
        ``table`` indexed by group: ``n``, ``observed``, ``expected`` (summed
        over strata), ``oe2_e`` ((O-E)^2/E) and ``oe2_v`` ((O-E)^2/V).
        ``stats``: ``chi2``, ``df`` (k - 1), ``p``, ``n``; ``n_strata`` with
        ``strata``.

    References
    ----------
    R ``survival::survdiff(Surv(time, status) ~ group)`` and
    ``survdiff(Surv(time, status) ~ group + strata(s))``.

    Examples
    --------
    >>> df = pd.DataFrame({"days": [3, 5, 7, 9, 11, 4, 10, 14, 18, 22],
    ...                    "closed": [1, 1, 1, 0, 1, 1, 1, 0, 1, 1], "arm": [0] * 5 + [1] * 5})
    >>> round(logrank(df, "days", "closed", "arm").stats["chi2"], 3)
    2.1
    """
    df, warns = _prepare(data, duration, event, group, strata)
    labels = sorted(df[group].unique())
    if len(labels) < 2:
        raise InputError(f"the log-rank test needs at least two groups in {group!r}; found {len(labels)}")
    if df["_e"].sum() == 0:
        raise EstimationError("no events: the log-rank test is not defined")
    k, codes = len(labels), pd.Categorical(df[group], categories=labels).codes
    obs, exp, var = np.zeros(k), np.zeros(k), np.zeros((k, k))
    layers = [np.ones(len(df), dtype=bool)] if strata is None else [(df[strata] == s).to_numpy()
                                                                     for s in df[strata].unique()]
    for rows in layers:
        o, e, v = _km.logrank_arrays(df["_t"].to_numpy()[rows], df["_e"].to_numpy()[rows], codes[rows], k)
        obs, exp, var = obs + o, exp + e, var + v
    empty = [str(g) for g, v in zip(labels, np.diag(var)) if v <= 0]
    if empty:
        raise EstimationError(f"group(s) {', '.join(empty)} have nobody at risk at any event time"
                              f"{' of their strata' if strata else ''}; the log-rank test cannot use them")
    diff = (obs - exp)[:-1]
    chi2 = float(diff @ np.linalg.solve(var[:-1, :-1], diff))
    table = pd.DataFrame({"n": np.bincount(codes, minlength=k), "observed": obs, "expected": exp,
                          "oe2_e": (obs - exp) ** 2 / exp, "oe2_v": (obs - exp) ** 2 / np.diag(var)},
                         index=pd.Index(labels, name=group))
    for g in table.index[table["observed"] == 0]:
        warns.append(f"group {g} has no events")
    stats = {"chi2": chi2, "df": k - 1, "p": float(_st.chi2.sf(chi2, k - 1)), "n": len(df)}
    method = "Log-rank test (R survdiff, rho = 0), chi-square on k - 1 df"
    if strata is not None:
        stats["n_strata"] = len(layers)
        method = f"Stratified log-rank test by {strata} (R survdiff + strata()), chi-square on k - 1 df"
    return Result(table, stats, method, warns)


# ---------------------------------------------------------------- Cox regression
def _covariate_columns(data, covariates, who="cox"):
    """The columns a covariate list or formula right-hand side uses, and the right-hand side."""
    if isinstance(covariates, str):
        rhs = covariates.split("~")[-1].strip()
        tokens = set(re.findall(r"[A-Za-z_.][A-Za-z0-9_.]*", rhs)) | set(re.findall(r"`([^`]+)`", rhs))
        cols = [c for c in data.columns if c in tokens]
    else:
        cols = list(covariates)
        rhs = " + ".join(c if re.fullmatch(r"[A-Za-z_.][A-Za-z0-9_.]*", c) else f"`{c}`" for c in cols)
    if not rhs:
        raise InputError(f"{who} needs at least one covariate")
    return cols, rhs


def _cox_frame(data, duration, event, covariates, extra):
    """Checked frame and formula RHS for lifelines (list of columns or a formula)."""
    cols, rhs = _covariate_columns(data, covariates)
    df, warns = _prepare(data, duration, event, *cols, *extra)
    if df["_e"].sum() == 0:
        raise EstimationError("no events: a Cox model cannot be estimated")
    return df, rhs, warns


def _fit_cox(df, rhs, strata):
    """lifelines fit on the checked frame (for :func:`cox_zph`); its convergence warnings become notes."""
    from lifelines import CoxPHFitter  # lazy: lifelines is slow to import
    from lifelines.exceptions import ConvergenceError

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            cph = CoxPHFitter().fit(df, "_t", "_e", formula=rhs, strata=[strata] if strata else None)
        except (ConvergenceError, np.linalg.LinAlgError) as exc:
            raise EstimationError(f"the Cox model did not converge: {str(exc).splitlines()[0]}") from exc
    notes = [str(w.message).splitlines()[0] for w in caught
             if "Convergence" in type(w.message).__name__ or "converge" in str(w.message).lower()]
    return cph, notes


def _design(df, rhs, covariates):
    """Covariate matrix (no intercept) and term names: numeric columns as they are, else formulaic."""
    if not isinstance(covariates, str) and all(pd.api.types.is_numeric_dtype(df[c])
                                                 or pd.api.types.is_bool_dtype(df[c]) for c in covariates):
        return df[list(covariates)].to_numpy(dtype=float), list(covariates)
    import formulaic  # as lifelines builds a formula's columns: treatment coding, intercept dropped

    mm = formulaic.Formula(rhs).get_model_matrix(df)
    mm = mm.drop(columns="Intercept", errors="ignore")
    return mm.to_numpy(dtype=float), [str(c) for c in mm.columns]


_COX_METHOD = "Cox PH, Efron ties (R coxph convergence), Wald CI"
_TIES = ("efron", "breslow")


def _entry_times(df, entry):
    """Checked entry times of counting-process rows (entry < duration), or None."""
    if entry is None:
        return None
    start = pd.to_numeric(df[entry], errors="coerce").astype(float).to_numpy()
    if not np.isfinite(start).all():
        raise InputError(f"entry column {entry!r} must be finite numbers")
    if (start >= df["_t"].to_numpy()).any():
        n_bad = int((start >= df["_t"].to_numpy()).sum())
        raise InputError(f"{n_bad} row(s) do not end after they enter: each row needs {entry!r} < duration")
    return start


def _cox_fit(data, duration, event, covariates, strata, cluster, entry=None, ties="efron"):
    """Checked frame, fit and the fit's model-level stats: what :func:`cox` and the site plan use."""
    df, rhs, warns = _cox_frame(data, duration, event, covariates, (strata, cluster, entry))
    x, names = _design(df, rhs, covariates)
    start = _entry_times(df, entry)
    fit = _coxph.fit(df["_t"].to_numpy(), df["_e"].to_numpy(), x, df[strata].to_numpy() if strata else None,
                     entry=start, ties=ties)
    lr = 2 * (fit.loglik - fit.loglik0)
    # Harrell's C compares durations from a common origin; with delayed entry it is not defined
    concordance = np.nan if start is not None else _coxph.concordance(df["_t"], df["_e"], x @ fit.beta)
    stats = {"loglik": fit.loglik, "lr_chi2": lr, "lr_df": len(names),
             "lr_p": float(_st.chi2.sf(lr, len(names))), "concordance": concordance,
             "events": int(df["_e"].sum()), "n": len(df)}
    if fit.infinite:
        stats["may_be_infinite"] = [names[i] for i in fit.infinite]
    return df, names, fit, stats, warns


def _clustered(df, fit, cluster):
    """R's grouped-dfbeta sandwich: (vcov, n_clusters, method suffix, warnings)."""
    n_cl = int(df[cluster].nunique())
    if n_cl < 2:
        raise EstimationError(f"robust SEs need at least two clusters in {cluster!r}; found {n_cl}")
    warns = [f"only {n_cl} clusters: the sandwich SE is unreliable with few clusters"] if n_cl < 20 else []
    return (fit.cluster_vcov(df[cluster].to_numpy()), n_cl,
            f", robust SE clustered by {cluster} (R coxph cluster=, no small-sample factor)", warns)


#: the columns' names before one Result layout (still read, with a DeprecationWarning)
_COX_OLD_NAMES = {"coef": "estimate", "hr": "ratio", "hr_ci_low": "ratio_ci_low", "hr_ci_high": "ratio_ci_high"}


def _cox_result(names, fit, vcov, stats, method, warns, alpha):
    """The Result of a fit with the variance ``vcov``; the fit's own notes follow ``warns``."""
    table = wald_table(names, fit.beta, np.sqrt(np.diag(vcov)), alpha=alpha, ratio=True)
    return Result(with_aliases(table, _COX_OLD_NAMES, "cox"), dict(stats), method, [*warns, *fit.notes])


@checks_alpha
def cox(data, duration, event, covariates, *, ties="efron", strata=None, cluster=None,
        entry=None, alpha=0.05) -> Result:
    """Cox proportional-hazards regression, as R ``coxph``.

    Parameters
    ----------
    data : pandas.DataFrame
    duration, event : str
        Time and event (1/0) columns.
    covariates : list of str or str
        Columns, or a formula right-hand side (e.g. ``"pilot + C(legal_basis)"``).
    ties : {"efron", "breslow"}
        How tied event times are handled: Efron's approximation (R's default)
        or Breslow's (R ``ties = "breslow"``; SAS PHREG's and Stata
        ``stcox``'s default). They differ only where events share a time.
    strata : str, optional
        Column whose values get separate baseline hazards (R ``strata()``).
    cluster : str, optional
        Column of clusters (e.g. team): robust sandwich SEs as R
        ``coxph(..., cluster = )``: grouped dfbeta residuals, no small-sample
        factor.
    entry : str, optional
        Entry-time column for counting-process data, as R ``Surv(entry,
        duration, event)``: a row is at risk at times t with entry < t <=
        duration. One subject may have several rows (time-varying
        covariates, delayed entry); give ``cluster`` = the subject id for
        SEs that allow for that.
    alpha : float

    Returns
    -------
    Result
        ``table`` indexed by term, as every ratio model: ``estimate`` (the
        log hazard ratio, R's ``coef``), ``se``, ``ci_low``, ``ci_high``,
        ``z``, ``p``, ``ratio`` (the hazard ratio), ``ratio_ci_low``,
        ``ratio_ci_high``. The old names ``coef``, ``hr``, ``hr_ci_low`` and
        ``hr_ci_high`` still read these columns, with a
        ``DeprecationWarning``. ``stats``:
        ``loglik``, ``lr_chi2``, ``lr_df``, ``lr_p`` (likelihood-ratio test
        against the null model), ``concordance`` (NaN with ``entry``),
        ``events``, ``n``, and ``n_clusters`` with ``cluster``.

    References
    ----------
    R ``survival::coxph(Surv(time, status) ~ x, ties = "efron" | "breslow")`` and, with
    ``entry``, ``coxph(Surv(start, stop, event) ~ x)``; the check of
    proportional hazards is :func:`cox_zph`.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> x = np.repeat([0, 1], 100)
    >>> df = pd.DataFrame({"t": rng.exponential(1 / np.exp(0.7 * x)), "e": 1, "pilot": x})
    >>> round(float(cox(df, "t", "e", ["pilot"]).table.loc["pilot", "ratio"]), 2)
    1.93
    """
    ties = choice(ties, _TIES, "ties")
    df, names, fit, stats, warns = _cox_fit(data, duration, event, covariates, strata, cluster, entry, ties)
    vcov, method = fit.vcov, _COX_METHOD.replace("Efron", ties.capitalize())
    if entry is not None:
        method += ", counting-process rows (entry, stop]"
    if cluster is not None:
        vcov, n_cl, suffix, notes = _clustered(df, fit, cluster)
        stats, method, warns = {**stats, "n_clusters": n_cl}, method + suffix, warns + notes
    if strata:
        method += f", stratified by {strata}"
    return _cox_result(names, fit, vcov, stats, method, warns, alpha)


def cox_zph(data, duration, event, covariates, *, strata=None, transform="km") -> Result:
    """Test of proportional hazards from scaled Schoenfeld residuals.

    The Grambsch & Therneau (1994) per-term test computed by lifelines'
    ``proportional_hazard_test``: association of each term's scaled
    Schoenfeld residuals with g(time), the test of R ``cox.zph`` before
    survival 3.0. R survival >= 3.0 uses a score test instead, so its
    p-values differ somewhat (no R output was available to check either;
    the tests here check that a known departure is detected). No global
    test is reported.

    Parameters
    ----------
    data : pandas.DataFrame
    duration, event : str
    covariates : list of str or str
        As :func:`cox`.
    strata : str, optional
    transform : {"km", "rank", "identity", "log"}
        g(time); "km" (1 - KM of the pooled data) is R's default.

    Returns
    -------
    Result
        ``table`` indexed by term: ``chi2``, ``df`` (1), ``p``. ``stats``:
        ``n``, ``events``, ``min_p``.

    References
    ----------
    R ``survival::cox.zph(fit, transform = "km")``; Grambsch P, Therneau T
    (1994), Biometrika 81:515-526.

    Examples
    --------
    >>> rng = np.random.default_rng(2)
    >>> x = np.repeat([0, 1], 150)
    >>> df = pd.DataFrame({"t": rng.exponential(1 / np.exp(0.5 * x)), "e": 1, "pilot": x})
    >>> bool(cox_zph(df, "t", "e", ["pilot"]).table.loc["pilot", "p"] > 0.05)
    True
    """
    from lifelines.statistics import proportional_hazard_test

    transform = choice(transform, ("km", "rank", "identity", "log"), "transform")
    df, rhs, warns = _cox_frame(data, duration, event, covariates, (strata,))
    cph, notes = _fit_cox(df, rhs, strata)
    res = proportional_hazard_test(cph, df, time_transform=transform).summary
    table = pd.DataFrame({"chi2": res["test_statistic"], "df": 1, "p": res["p"]})
    table = table.reindex(cph.params_.index).rename_axis("term")
    stats = {"n": len(df), "events": int(df["_e"].sum()), "min_p": float(table["p"].min())}
    return Result(table, stats, f"Scaled Schoenfeld residual PH test (Grambsch-Therneau, lifelines), "
                  f"{transform} time transform, per term", warns + notes)


# ---------------------------------------------------------------- competing risks
@checks_alpha
def finegray(data, duration, event, covariates, *, cause, censored=0, alpha=0.05) -> Result:
    """Fine-Gray regression of one cause's cumulative incidence (subdistribution hazards), as R ``crr``.

    With placements as a competing end of a case, the ratio says how a
    covariate changes the rate at which cases end in that cause, among
    cases that have not yet ended by it (those ended otherwise stay at risk,
    weighted by the censoring), so it speaks to the cumulative incidence.
    Cause-specific hazards are :func:`cox` with the other causes censored.

    Parameters
    ----------
    data : pandas.DataFrame
    duration : str
        Time to the end (or to censoring).
    event : str
        ``censored`` for censored rows, otherwise the code of the cause that
        ended the follow-up (e.g. 1 = closed, 2 = placement).
    covariates : list of str or str
        Columns, or a formula right-hand side (e.g. ``"pilot + C(legal_basis)"``).
    cause : int
        The cause whose incidence is modelled (R ``failcode``).
    censored : int
        The code of censored rows (R ``cencode``).
    alpha : float

    Returns
    -------
    Result
        ``table`` indexed by term: ``estimate`` (log subdistribution hazard
        ratio), ``se`` (Fine & Gray's sandwich, as ``crr``), ``ci_low``,
        ``ci_high``, ``z``, ``p``, ``ratio``, ``ratio_ci_low``,
        ``ratio_ci_high``. ``stats``: ``n``, ``events`` (by ``cause``),
        ``competing`` (ends by other causes), ``loglik`` (pseudo
        log-likelihood), ``lr_chi2``, ``lr_df``, ``lr_p`` (pseudo
        likelihood-ratio test), ``converged``.

    References
    ----------
    R ``cmprsk::crr(ftime, fstatus, cov1, failcode = cause, cencode = censored)``;
    Fine & Gray (1999) JASA 94:496-509.

    Examples
    --------
    >>> rng = np.random.default_rng(4)
    >>> x = np.repeat([0, 1], 150)
    >>> t = rng.exponential(1 / np.exp(0.5 * x))
    >>> df = pd.DataFrame({"t": t, "end": rng.choice([1, 2], x.size), "x": x})
    >>> df.loc[rng.random(x.size) < 0.2, "end"] = 0
    >>> round(float(finegray(df, "t", "end", ["x"], cause=2).table.loc["x", "ratio"]), 2)
    1.24
    """
    cols, rhs = _covariate_columns(data, covariates, "finegray")
    df, warns = _prepare(data, duration, event, *cols, competing=True)
    codes = df["_e"].to_numpy()
    if not (codes == cause).any():
        raise EstimationError(f"no ends by cause {cause} in {event!r}: the Fine-Gray model cannot be estimated")
    x, names = _design(df, rhs, covariates)
    from evalkit.stats import _finegray  # noqa: PLC0415 - only Fine-Gray callers pay for it

    fit = _finegray.fit(df["_t"].to_numpy(), codes, x, cause=cause, censored=censored)
    if not fit.converged:
        warns.append("the Fine-Gray iterations did not converge (crr's rule, 10 Newton steps); "
                     "the estimates may not be the maximum")
    lr = 2 * (fit.loglik - fit.loglik0)
    stats = {"n": len(df), "events": int((codes == cause).sum()),
             "competing": int(((codes != cause) & (codes != censored)).sum()), "loglik": fit.loglik,
             "lr_chi2": lr, "lr_df": len(names), "lr_p": float(_st.chi2.sf(lr, len(names))),
             "converged": fit.converged}
    table = wald_table(names, fit.beta, np.sqrt(np.diag(fit.vcov)), alpha=alpha, ratio=True)
    return Result(table, stats, f"Fine-Gray subdistribution hazards for cause {cause} (R cmprsk crr: "
                                "censoring-weighted risk sets, Breslow ties, Fine & Gray sandwich SE), Wald CI",
                  warns)


@checks_alpha
def cif(data, duration, event, *, cause, group=None, times=None, alpha=0.05) -> Result:
    """Cumulative incidence of one cause with competing causes, as R ``cmprsk::cuminc``.

    Aalen-Johansen estimate; Aalen's variance exactly as cmprsk (its tie
    correction, no random jitter; between jumps of the cause the variance
    of the last jump is carried, as cmprsk's ``timepoints``); pointwise
    CI on the log(-log) scale, F ** exp(+-z se / (F log F)).

    Parameters
    ----------
    data : pandas.DataFrame
    duration : str
        Time column (>= 0).
    event : str
        0 = censored (case still open), 1..k = the way the case ended
        (e.g. 1 = closed, 2 = placement).
    cause : int
        The event code whose incidence is estimated.
    group : str, optional
    times : sequence of float, optional
        Report at these times (cmprsk ``timepoints``); default every jump.
    alpha : float

    Returns
    -------
    Result
        ``table``: (``group``), ``time``, ``cif``, ``se``, ``ci_low``,
        ``ci_high`` (and ``n_risk`` at jumps). Times after a group's last
        follow-up are NaN (cmprsk's NA) and flagged; where F is 0 the CI
        is [0, 0].

    References
    ----------
    R ``cmprsk::cuminc(ftime, fstatus, group)``, ``timepoints()``;
    Scrucca L, Santucci A, Aversa F (2007), Bone Marrow Transplant 40:381-387.

    Examples
    --------
    >>> df = pd.DataFrame({"days": [2, 3, 3, 5, 8, 9, 12, 15],
    ...                    "end": [1, 2, 1, 0, 1, 2, 0, 1]})
    >>> round(float(cif(df, "days", "end", cause=1, times=[10]).table["cif"].iloc[0]), 5)
    0.40625
    """
    df, warns = _prepare(data, duration, event, group, competing=True)
    if cause not in set(df["_e"]) - {0}:
        warns.append(f"no events of cause {cause}: its cumulative incidence is 0 throughout")
    req = None if times is None else np.sort(np.unique(np.asarray(times, dtype=float)))
    if req is not None and (req.size == 0 or np.isnan(req).any() or (req < 0).any()):
        raise InputError("times must be one or more non-negative numbers")
    parts = []
    for g, sub in _groups(df, group):
        curve = _cmprsk.aalen_johansen(sub["_t"].to_numpy(), sub["_e"].to_numpy(), cause)
        if req is None:
            out = pd.DataFrame({"time": curve["time"], "n_risk": curve["n_risk"].astype(int),
                                "cif": curve["cif"], "var": curve["var"]})
        else:
            f, v = _cmprsk.at_times(curve, req)
            out = pd.DataFrame({"time": req, "cif": f, "var": v})
            late = np.isnan(f)
            if late.any():
                warns.append(f"group {g}: time(s) {', '.join(f'{x:g}' for x in req[late])} after the "
                             f"last follow-up ({curve['max_time']:g}); CIF not estimable there (NaN)")
        lo, hi = _cmprsk.log_log_band(out["cif"].to_numpy(), out["var"].to_numpy(), alpha)
        out = out.assign(se=np.sqrt(out["var"]), ci_low=lo, ci_high=hi).drop(columns="var")
        parts.append((g, out))
    table = _stack(parts, group)
    stats = {"n": len(df), "cause": cause, "events": int((df["_e"] == cause).sum()),
             "competing": int(((df["_e"] != cause) & (df["_e"] > 0)).sum())}
    return Result(table, stats, f"Aalen-Johansen CIF, Aalen variance, {100 * (1 - alpha):g}% "
                  "log(-log) CI, as R cmprsk::cuminc", warns)


def gray_test(data, duration, event, group, *, cause) -> Result:
    """Gray's (1988) K-sample test of equal cumulative incidence, as R ``cmprsk``.

    Parameters
    ----------
    data : pandas.DataFrame
    duration, event : str
        Time column and event code (0 = censored, 1..k = causes).
    group : str
        Column with two or more groups.
    cause : int
        The cause whose cumulative incidence functions are compared.

    Returns
    -------
    Result
        ``table`` indexed by group: ``n``, ``events`` (of ``cause``),
        ``competing``, ``censored``. ``stats``: ``chi2``, ``df`` (k - 1),
        ``p``, ``n``, ``cause``.

    References
    ----------
    R ``cmprsk::cuminc(ftime, fstatus, group, rho = 0)$Tests`` (Fortran
    ``crstm``); Gray RJ (1988), Annals of Statistics 16:1141-1154.

    Examples
    --------
    >>> rng = np.random.default_rng(3)
    >>> df = pd.DataFrame({"days": rng.exponential(100, 200), "end": rng.integers(0, 3, 200),
    ...                    "team": np.repeat(["pilot", "comparison"], 100)})
    >>> bool(0 <= gray_test(df, "days", "end", "team", cause=1).stats["p"] <= 1)
    True
    """
    df, warns = _prepare(data, duration, event, group, competing=True)
    labels = sorted(df[group].unique())
    k = len(labels)
    if k < 2:
        raise InputError(f"Gray's test needs at least two groups in {group!r}; found {k}")
    if not (df["_e"] == cause).any():
        raise EstimationError(f"no events of cause {cause}: Gray's test is not defined")
    codes = pd.Categorical(df[group], categories=labels).codes
    score, var = _cmprsk.gray_score(df["_t"].to_numpy(), df["_e"].to_numpy(), codes, k, cause)
    if np.linalg.matrix_rank(var) < k - 1:
        raise EstimationError("the variance of Gray's score is singular (a group without follow-up "
                              "at the event times?); the test is not defined")
    chi2 = float(score @ np.linalg.solve(var, score))
    e = df["_e"].to_numpy()
    table = pd.DataFrame({
        "n": np.bincount(codes, minlength=k),
        "events": np.bincount(codes, weights=e == cause, minlength=k).astype(int),
        "competing": np.bincount(codes, weights=(e > 0) & (e != cause), minlength=k).astype(int),
        "censored": np.bincount(codes, weights=e == 0, minlength=k).astype(int),
    }, index=pd.Index(labels, name=group))
    for g in table.index[table["events"] == 0]:
        warns.append(f"group {g} has no events of cause {cause}")
    stats = {"chi2": chi2, "df": k - 1, "p": float(_st.chi2.sf(chi2, k - 1)), "n": len(df), "cause": cause}
    return Result(table, stats, "Gray's K-sample test (rho = 0), as R cmprsk::cuminc", warns)
