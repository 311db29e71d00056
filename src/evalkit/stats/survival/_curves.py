"""Kaplan-Meier curves, their quantiles and values at given times, restricted means and
log-rank tests (R survfit, quantile.survfit, survdiff)."""

from __future__ import annotations

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
)
from evalkit.stats.survival import _km, _rmst
from evalkit.stats.survival._frames import by_group, prepare, stack

__all__ = ["km", "median_survival", "quantile_survival", "survival_at", "rmst", "logrank"]


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
    df, warns = prepare(data, duration, event, group)
    parts = []
    for g, sub in by_group(df, group):
        tab = _km_table(sub, conf_type, alpha)
        if (tab["survival"] <= 0).any():
            t0 = tab.loc[tab["survival"] <= 0, "time"].iloc[0]
            warns.append(
                f"group {g}: survival reaches 0 at time {t0:g}; its SE and "
                f"{conf_type} CI are undefined from there on (NaN), as in R"
            )
        parts.append((g, tab))
    table = stack(parts, group)
    return Result(
        table,
        {"n": len(df), "events": int(df["_e"].sum())},
        f"Kaplan-Meier, Greenwood SE, {_ci_label(conf_type, alpha)}",
        warns,
    )


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
    df, warns = prepare(data, duration, event, group)
    rows = {}
    for g, sub in by_group(df, group):
        est, lo, hi = _km_quantile(_km_table(sub, conf_type, alpha), 0.5)
        for name, v in (("median", est), ("lower limit", lo), ("upper limit", hi)):
            if np.isnan(v):
                warns.append(f"group {g}: {name} not reached (curve stays above 0.5); reported as NaN")
        rows[g] = {"n": len(sub), "events": int(sub["_e"].sum()), "estimate": est, "ci_low": lo, "ci_high": hi}
    table = pd.DataFrame.from_dict(rows, orient="index").rename_axis(group or "group")
    return Result(
        with_aliases(table, {"median": "estimate"}, "median_survival"),
        {"n": len(df)},
        f"Kaplan-Meier median, R quantile.survfit rule, {_ci_label(conf_type, alpha)}",
        warns,
    )


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
    df, warns = prepare(data, duration, event, group)
    parts = []
    for g, sub in by_group(df, group):
        tab = _km_table(sub, conf_type, alpha)
        rows = []
        for p in probs:
            est, lo, hi = _km_quantile(tab, p)
            missing = [name for name, v in (("estimate", est), ("lower limit", lo), ("upper limit", hi)) if np.isnan(v)]
            if missing:
                warns.append(f"group {g}, q = {p:g}: {', '.join(missing)} not reached; reported as NaN")
            rows.append({"q": p, "estimate": est, "ci_low": lo, "ci_high": hi})
        parts.append((g, pd.DataFrame(rows)))
    return Result(
        stack(parts, group),
        {"n": len(df)},
        f"Kaplan-Meier quantiles, R quantile.survfit rule, {_ci_label(conf_type, alpha)}",
        warns,
    )


@checks_alpha
def survival_at(data, duration, event, times: Sequence[float], *, group=None, conf_type="log", alpha=0.05) -> Result:
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
    df, warns = prepare(data, duration, event, group)
    parts = []
    for g, sub in by_group(df, group):
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
            warns.append(
                f"group {g}: time(s) {', '.join(f'{x:g}' for x in req[late])} after the "
                f"last follow-up ({t.max():g}); survival not estimable there (NaN)"
            )
        parts.append((g, out))
    table = stack(parts, group)
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
    df, warns = prepare(data, duration, event, group)
    check_alpha(alpha)
    parts = [(g, sub["_t"].to_numpy(), sub["_e"].to_numpy()) for g, sub in by_group(df, group)]
    tau = _rmst.check_tau(tau, _rmst.tau_limit([(t, e) for _, t, e in parts]))
    z = _st.norm.ppf(1 - alpha / 2)
    est, var, rows = {}, {}, []
    for g, t, e in parts:
        est[g], var[g] = _rmst.rmst_one(t, e, tau)
        se = float(np.sqrt(var[g]))
        rows.append(
            {
                "group": str(g),
                "estimate": est[g],
                "se": se,
                "ci_low": est[g] - z * se,
                "ci_high": est[g] + z * se,
                "rmtl": tau - est[g],
            }
        )
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
    return Result(
        table,
        stats,
        f"Restricted mean survival time up to tau = {tau:g} as R survRM2 rmst2 "
        "(KM area, survRM2 variance, Wald z; ratio on the log scale)",
        warns,
    )


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
    df, warns = prepare(data, duration, event, group, strata)
    labels = sorted(df[group].unique())
    if len(labels) < 2:
        raise InputError(f"the log-rank test needs at least two groups in {group!r}; found {len(labels)}")
    if df["_e"].sum() == 0:
        raise EstimationError("no events: the log-rank test is not defined")
    k, codes = len(labels), pd.Categorical(df[group], categories=labels).codes
    obs, exp, var = np.zeros(k), np.zeros(k), np.zeros((k, k))
    layers = (
        [np.ones(len(df), dtype=bool)]
        if strata is None
        else [(df[strata] == s).to_numpy() for s in df[strata].unique()]
    )
    for rows in layers:
        o, e, v = _km.logrank_arrays(df["_t"].to_numpy()[rows], df["_e"].to_numpy()[rows], codes[rows], k)
        obs, exp, var = obs + o, exp + e, var + v
    empty = [str(g) for g, v in zip(labels, np.diag(var)) if v <= 0]
    if empty:
        raise EstimationError(
            f"group(s) {', '.join(empty)} have nobody at risk at any event time"
            f"{' of their strata' if strata else ''}; the log-rank test cannot use them"
        )
    diff = (obs - exp)[:-1]
    chi2 = float(diff @ np.linalg.solve(var[:-1, :-1], diff))
    table = pd.DataFrame(
        {
            "n": np.bincount(codes, minlength=k),
            "observed": obs,
            "expected": exp,
            "oe2_e": (obs - exp) ** 2 / exp,
            "oe2_v": (obs - exp) ** 2 / np.diag(var),
        },
        index=pd.Index(labels, name=group),
    )
    for g in table.index[table["observed"] == 0]:
        warns.append(f"group {g} has no events")
    stats = {"chi2": chi2, "df": k - 1, "p": float(_st.chi2.sf(chi2, k - 1)), "n": len(df)}
    method = "Log-rank test (R survdiff, rho = 0), chi-square on k - 1 df"
    if strata is not None:
        stats["n_strata"] = len(layers)
        method = f"Stratified log-rank test by {strata} (R survdiff + strata()), chi-square on k - 1 df"
    return Result(table, stats, method, warns)
