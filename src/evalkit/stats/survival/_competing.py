"""Competing ends of a case: cumulative incidence, Gray's test and Fine-Gray regression (R cmprsk)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats as _st

from evalkit.core.result import (
    EstimationError,
    InputError,
    Result,
    checks_alpha,
    wald_table,
)
from evalkit.stats.survival import _cmprsk
from evalkit.stats.survival._frames import by_group, covariate_columns, design_matrix, prepare, stack

__all__ = ["finegray", "cif", "gray_test"]


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
    cols, rhs = covariate_columns(data, covariates, "finegray")
    df, warns = prepare(data, duration, event, *cols, competing=True)
    codes = df["_e"].to_numpy()
    if not (codes == cause).any():
        raise EstimationError(f"no ends by cause {cause} in {event!r}: the Fine-Gray model cannot be estimated")
    x, names = design_matrix(df, rhs, covariates)
    from evalkit.stats.survival import _finegray  # noqa: PLC0415 - only Fine-Gray callers pay for it

    fit = _finegray.fit(df["_t"].to_numpy(), codes, x, cause=cause, censored=censored)
    if not fit.converged:
        warns.append(
            "the Fine-Gray iterations did not converge (crr's rule, 10 Newton steps); "
            "the estimates may not be the maximum"
        )
    lr = 2 * (fit.loglik - fit.loglik0)
    stats = {
        "n": len(df),
        "events": int((codes == cause).sum()),
        "competing": int(((codes != cause) & (codes != censored)).sum()),
        "loglik": fit.loglik,
        "lr_chi2": lr,
        "lr_df": len(names),
        "lr_p": float(_st.chi2.sf(lr, len(names))),
        "converged": fit.converged,
    }
    table = wald_table(names, fit.beta, np.sqrt(np.diag(fit.vcov)), alpha=alpha, ratio=True)
    return Result(
        table,
        stats,
        f"Fine-Gray subdistribution hazards for cause {cause} (R cmprsk crr: "
        "censoring-weighted risk sets, Breslow ties, Fine & Gray sandwich SE), Wald CI",
        warns,
    )


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
    df, warns = prepare(data, duration, event, group, competing=True)
    if cause not in set(df["_e"]) - {0}:
        warns.append(f"no events of cause {cause}: its cumulative incidence is 0 throughout")
    req = None if times is None else np.sort(np.unique(np.asarray(times, dtype=float)))
    if req is not None and (req.size == 0 or np.isnan(req).any() or (req < 0).any()):
        raise InputError("times must be one or more non-negative numbers")
    parts = []
    for g, sub in by_group(df, group):
        curve = _cmprsk.aalen_johansen(sub["_t"].to_numpy(), sub["_e"].to_numpy(), cause)
        if req is None:
            out = pd.DataFrame(
                {"time": curve["time"], "n_risk": curve["n_risk"].astype(int), "cif": curve["cif"], "var": curve["var"]}
            )
        else:
            f, v = _cmprsk.at_times(curve, req)
            out = pd.DataFrame({"time": req, "cif": f, "var": v})
            late = np.isnan(f)
            if late.any():
                warns.append(
                    f"group {g}: time(s) {', '.join(f'{x:g}' for x in req[late])} after the "
                    f"last follow-up ({curve['max_time']:g}); CIF not estimable there (NaN)"
                )
        lo, hi = _cmprsk.log_log_band(out["cif"].to_numpy(), out["var"].to_numpy(), alpha)
        out = out.assign(se=np.sqrt(out["var"]), ci_low=lo, ci_high=hi).drop(columns="var")
        parts.append((g, out))
    table = stack(parts, group)
    stats = {
        "n": len(df),
        "cause": cause,
        "events": int((df["_e"] == cause).sum()),
        "competing": int(((df["_e"] != cause) & (df["_e"] > 0)).sum()),
    }
    return Result(
        table,
        stats,
        f"Aalen-Johansen CIF, Aalen variance, {100 * (1 - alpha):g}% log(-log) CI, as R cmprsk::cuminc",
        warns,
    )


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
    df, warns = prepare(data, duration, event, group, competing=True)
    labels = sorted(df[group].unique())
    k = len(labels)
    if k < 2:
        raise InputError(f"Gray's test needs at least two groups in {group!r}; found {k}")
    if not (df["_e"] == cause).any():
        raise EstimationError(f"no events of cause {cause}: Gray's test is not defined")
    codes = pd.Categorical(df[group], categories=labels).codes
    score, var = _cmprsk.gray_score(df["_t"].to_numpy(), df["_e"].to_numpy(), codes, k, cause)
    if np.linalg.matrix_rank(var) < k - 1:
        raise EstimationError(
            "the variance of Gray's score is singular (a group without follow-up "
            "at the event times?); the test is not defined"
        )
    chi2 = float(score @ np.linalg.solve(var, score))
    e = df["_e"].to_numpy()
    table = pd.DataFrame(
        {
            "n": np.bincount(codes, minlength=k),
            "events": np.bincount(codes, weights=e == cause, minlength=k).astype(int),
            "competing": np.bincount(codes, weights=(e > 0) & (e != cause), minlength=k).astype(int),
            "censored": np.bincount(codes, weights=e == 0, minlength=k).astype(int),
        },
        index=pd.Index(labels, name=group),
    )
    for g in table.index[table["events"] == 0]:
        warns.append(f"group {g} has no events of cause {cause}")
    stats = {"chi2": chi2, "df": k - 1, "p": float(_st.chi2.sf(chi2, k - 1)), "n": len(df), "cause": cause}
    return Result(table, stats, "Gray's K-sample test (rho = 0), as R cmprsk::cuminc", warns)
