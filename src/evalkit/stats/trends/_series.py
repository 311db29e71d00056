"""One interrupted time series, alone (its) or against a comparison series (controlled_its): segmented GLMs."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from evalkit.core.result import EstimationError, InputError, Result, checks_alpha, require_columns
from evalkit.stats import _glm
from evalkit.stats.trends._time import time_index

__all__ = ["its", "controlled_its"]


@checks_alpha
def its(
    data: pd.DataFrame,
    outcome: str,
    time: str,
    *,
    start,
    offset: str | None = None,
    family: str = "poisson",
    harmonics: int = 0,
    period: int = 12,
    season: str | None = None,
    slope_change: bool = False,
    alpha: float = 0.05,
) -> Result:
    """Segmented regression of one series around an intervention start.

    ``post = time >= start``; the linear predictor is
    ``intercept + trend * time + level_change * post
    [+ slope_change * (time - start + 1) * post] + harmonics``.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per time point, in any order (rows are sorted by time; a gap
        in the series is treated as adjacent by the Newey-West lags).
    outcome : str
        Counts for the count families, any numeric outcome (e.g. euros) for
        gaussian.
    time : str
        Integer index or monthly times (``YYYY-MM``, Period, datetime).
    start : int or str or Period or Timestamp
        First time point of the intervention, in the form of ``time``.
    offset : str, optional
        Exposure column (e.g. population, caseload) entered as ``log(offset)``;
        count families only. Zero exposure: as :func:`evalkit.rates.rate_model`.
    family : {"poisson", "quasipoisson", "gaussian", "negbin"}
        Count families as :func:`evalkit.rates.rate_model`. gaussian: least
        squares with Newey-West (HAC) SEs, Bartlett kernel with
        ``floor(4 * (n / 100) ** (2 / 9))`` lags (n = time points per series), no prewhitening and no
        small-sample adjustment, t-tests on the residual df. This equals R
        ``coeftest(fit, NeweyWest(fit, lag = L, prewhite = FALSE, adjust =
        FALSE))``; it is *not* ``NeweyWest(fit)`` at its defaults, which
        chooses the lag from the data and prewhitens with a VAR(1). Short
        series undercover (flagged in ``warnings`` below 100 time points).
    harmonics : int
        Number of sine/cosine pairs ``sin(2 pi k s / period)``,
        ``cos(2 pi k s / period)``, k = 1..harmonics (tsModel::harmonic).
    period : int
        Length of the seasonal cycle in time units (12 for months).
    season : str, optional
        Column giving s (e.g. calendar month); default the time index.
    slope_change : bool
        Add the ``slope_change`` term.
    alpha : float
        1 - confidence level of the intervals.

    Returns
    -------
    Result
        Rows ``level_change``, ``slope_change`` (if asked), ``trend``,
        ``intercept``, ``sin1``, ``cos1``, ...: ``estimate``, ``se``,
        ``ci_low``, ``ci_high``, ``z`` or ``t``, ``p``; log-link families add
        ``ratio``, ``ratio_ci_low``, ``ratio_ci_high`` (the level change as a
        rate ratio, the trend and slope change per time unit). ``stats``: as
        :func:`evalkit.rates.rate_model` (``n``, ``dispersion``, ...) plus
        ``n_pre``, ``n_post`` and ``hac_lags`` for gaussian. ``frames["fitted"]``:
        ``time``, ``observed``, ``fitted`` and ``counterfactual`` (the model
        without its level and slope change) per time point, for figures.

    References
    ----------
    R ``glm(y ~ offset(log(pop)) + post + time + harmonic(month, 2, 12),
    family = quasipoisson)`` (Lopez Bernal et al. 2017, Int J Epidemiol
    46:348-355); gaussian: ``lmtest::coeftest`` with ``sandwich::NeweyWest``.

    Examples
    --------
    >>> df = pd.DataFrame({"month": pd.period_range("2017-01", periods=24, freq="M"),
    ...                    "cases": [30, 32, 31, 33, 35, 34, 36, 35, 37, 38, 37, 39,
    ...                              30, 31, 30, 32, 31, 33, 32, 34, 33, 35, 34, 35]})
    >>> res = its(df, "cases", "month", start="2018-01")
    >>> print(round(res["level_change"]["ratio"], 3))
    0.754
    """
    require_columns(data, outcome, time, offset, season)
    family = _glm.check_family(family)
    t, s0 = time_index(data[time], start)
    if pd.Series(t).duplicated().any():
        raise InputError(f"{time!r} repeats a time point: its() takes one row per time point")
    order = np.argsort(t, kind="stable")
    frame = data.iloc[order]
    t = t[order]
    X = _segments(t, s0, slope_change)
    X = X.join(_harmonics(frame, season, t, harmonics, period))
    fit = _fit_series(frame, outcome, offset, family, X, None, alpha)
    res = _result(fit, family, "Interrupted time series (segmented regression)")
    res.frames["fitted"] = _fitted_frame(frame, (time, outcome, offset), X, res.table["estimate"], family)
    return res


def _fitted_frame(frame: pd.DataFrame, columns: tuple, X: pd.DataFrame, beta: pd.Series, family: str) -> pd.DataFrame:
    """Observed, fitted and counterfactual (no level or slope change) values per time point, on the outcome's scale."""
    time, outcome, offset = columns
    b = beta.reindex(X.columns).to_numpy(float)
    eta = X.to_numpy(float) @ b
    eta0 = X.assign(**{c: 0.0 for c in ("level_change", "slope_change") if c in X}).to_numpy(float) @ b
    if offset is not None:
        off = pd.to_numeric(frame[offset], errors="coerce").to_numpy(float)
        with np.errstate(divide="ignore", invalid="ignore"):
            off = np.where(off > 0, np.log(off), np.nan)
        eta, eta0 = eta + off, eta0 + off
    inverse = (lambda v: v) if family == "gaussian" else np.exp
    return pd.DataFrame(
        {
            "time": frame[time].to_numpy(),
            "observed": pd.to_numeric(frame[outcome]).to_numpy(float),
            "fitted": inverse(eta),
            "counterfactual": inverse(eta0),
        }
    )


@checks_alpha
def controlled_its(
    data: pd.DataFrame,
    outcome: str,
    time: str,
    group: str,
    *,
    start,
    treated=1,
    offset: str | None = None,
    family: str = "poisson",
    harmonics: int = 0,
    period: int = 12,
    season: str | None = None,
    alpha: float = 0.05,
) -> Result:
    """Controlled ITS: a pilot series against a comparison series.

    Both series share the start; the model (Linden 2015, Lopez Bernal et al.
    2018) is ``trend + level_change + slope_change + group + group:trend +
    group:level_change + group:slope_change (+ shared harmonics)``, so the
    ``_diff`` rows are the pilot's changes beyond those in the comparison series.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per group and time point.
    outcome, time, start, offset, family, harmonics, period, season
        As :func:`its`. gaussian HAC SEs are computed within each series
        (statsmodels ``hac-panel``; Stata ``newey`` on panel data).
    group : str
        Column with exactly two values, the pilot and the comparison.
    treated
        The pilot's value in ``group`` (default 1).
    alpha : float
        1 - confidence level of the intervals.

    Returns
    -------
    Result
        Rows ``level_change_diff``, ``slope_change_diff`` (pilot minus
        comparison), ``level_change``, ``slope_change`` (comparison),
        ``trend``, ``trend_diff`` (pre-period trend difference), ``group``,
        ``intercept`` and harmonics; columns and stats as :func:`its`.

    References
    ----------
    Linden (2015) Stata J 15:480-500 (``itsa``); Lopez Bernal, Cummins &
    Gasparrini (2018) Int J Epidemiol 47:2082-2093.

    Examples
    --------
    >>> t = np.arange(1, 25)
    >>> df = pd.DataFrame({"t": np.tile(t, 2), "pilot": np.repeat([1, 0], 24),
    ...                    "cost": np.r_[100 + t - 10 * (t >= 13), 80 + t] + np.tile([0.5, -0.5], 24)})
    >>> res = controlled_its(df, "cost", "t", "pilot", start=13, family="gaussian")
    >>> print(round(res["level_change_diff"]["estimate"], 6), round(res["level_change_diff"]["se"], 4))
    -10.0 0.2809
    """
    require_columns(data, outcome, time, group, offset, season)
    family = _glm.check_family(family)
    labels = data[group].dropna().unique()
    if len(labels) != 2 or treated not in labels:
        raise InputError(f"{group!r} must have exactly two values, one of them treated={treated!r}")
    g = (data[group] == treated).to_numpy(dtype=float)
    t, s0 = time_index(data[time], start)
    if pd.DataFrame({"g": g, "t": t}).duplicated().any():
        raise InputError(f"{time!r} repeats a time point within a group")
    order = np.lexsort((t, g))
    frame, t, g = data.iloc[order], t[order], g[order]
    seg = _segments(t, s0, True)
    post = seg["level_change"].to_numpy()
    if any(len(np.unique(post[g == arm])) < 2 for arm in (0.0, 1.0)):
        raise EstimationError("each series needs time points both before and after start")
    X = seg.assign(
        group=g, trend_diff=g * t, level_change_diff=g * seg["level_change"], slope_change_diff=g * seg["slope_change"]
    )
    X = X.join(_harmonics(frame, season, t, harmonics, period))
    fit = _fit_series(frame, outcome, offset, family, X, g, alpha)
    return _result(fit, family, "Controlled interrupted time series (pilot vs comparison)")


def _segments(t: np.ndarray, start: float, slope: bool) -> pd.DataFrame:
    post = (t >= start).astype(float)
    if post.all():
        raise EstimationError("no time points before start: the pre-intervention trend cannot be estimated")
    if not post.any():
        raise EstimationError("no time points at or after start: there is no post-intervention period")
    cols = {"intercept": np.ones_like(t), "trend": t, "level_change": post}
    if slope:
        cols["slope_change"] = (t - start + 1) * post
    return pd.DataFrame(cols)


def _harmonics(frame: pd.DataFrame, season: str | None, t: np.ndarray, k: int, period: int) -> pd.DataFrame:
    if not isinstance(k, (int, np.integer)) or k < 0 or 2 * k > period:
        raise InputError(f"harmonics must be an integer from 0 to period/2 ({period // 2}); got {k!r}")
    s = t if season is None else pd.to_numeric(frame[season], errors="coerce").to_numpy(dtype=float)
    if not np.all(np.isfinite(s)):
        raise InputError(f"season column {season!r} must be numeric without missing values")
    cols = {}
    for j in range(1, k + 1):
        cols[f"sin{j}"] = np.sin(2 * math.pi * j * s / period)
        cols[f"cos{j}"] = np.cos(2 * math.pi * j * s / period)
    return pd.DataFrame(cols, index=range(len(t)))


def _fit_series(frame, outcome, offset, family, X, groups, alpha: float) -> _glm.GlmFit:
    y = pd.to_numeric(frame[outcome], errors="coerce").to_numpy(dtype=float)
    keep, log_off, notes = np.ones(len(y), dtype=bool), None, list[str]()
    if family == "gaussian":
        if offset is not None:
            raise InputError("offset is for the count families; for gaussian model a rate as the outcome")
        if not np.all(np.isfinite(y)):
            raise InputError(f"{outcome!r} has missing or non-numeric values")
    else:
        if offset is not None:
            keep, log_off, notes = _glm.exposure_offset(frame, offset, np.nan_to_num(y))
            log_off = log_off[keep]
        _glm.check_counts(y[keep], outcome)
    if offset is None and np.ptp(y) == 0 and family in ("gaussian", "quasipoisson"):
        raise EstimationError(f"{outcome!r} is constant: its variance, and so every SE, is zero")
    length = int(keep.sum()) if groups is None else int(keep.sum()) // 2
    lags = int(4 * (length / 100) ** (2 / 9)) if family == "gaussian" else None
    hac = None if lags is None else (lags, None if groups is None else groups[keep])
    fit = _glm.fit(y[keep], X.loc[keep], family=family, offset=log_off, hac=hac, alpha=alpha)
    post = X["level_change"].to_numpy()[keep]
    fit.stats.update(n_pre=int((post == 0).sum()), n_post=int((post == 1).sum()))
    if lags is not None and length < 100:
        notes.append(
            f"Newey-West CIs undercover in short series ({length} time points): in evalkit's "
            "simulations a nominal 95% CI covered about 84-90% of the time for 48-120 "
            "monthly points, and a CI at another level falls short likewise"
        )
    fit.warnings = notes + fit.warnings
    return fit


def _result(fit: _glm.GlmFit, family: str, what: str) -> Result:
    lead = [
        c
        for c in (
            "level_change_diff",
            "slope_change_diff",
            "level_change",
            "slope_change",
            "trend",
            "trend_diff",
            "group",
        )
        if c in fit.table.index
    ]
    table = fit.table.loc[lead + [r for r in fit.table.index if r not in lead]]
    link = "identity link" if family == "gaussian" else "log link"
    return Result(
        table=table, stats=fit.stats, warnings=fit.warnings, method=f"{what}, {family}, {link}; {fit.convention}"
    )
