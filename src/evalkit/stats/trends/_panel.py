"""Many units' series: staggered ITS, the pre-trend test and GLS with serially correlated errors (as R nlme::gls)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from evalkit.core.result import EstimationError, InputError, Result, checks_alpha, choice, require_columns, wald_table
from evalkit.stats import _crve
from evalkit.stats.trends import _gls
from evalkit.stats.trends._time import time_index

__all__ = ["staggered_its", "pretrend_test", "gls"]


def _panel(data: pd.DataFrame, outcome: str, time: str, unit: str, start: str, log: bool) -> pd.DataFrame:
    """Checked panel sorted by unit and time: y, t (numeric), s (unit's start, NaN never), u (unit code)."""
    require_columns(data, outcome, time, unit, start)
    if data[[time, unit]].isna().any().any():
        raise InputError(f"{time!r} and {unit!r} must not have missing values")
    starts = data.groupby(unit, sort=False)[start].nunique(dropna=False)
    if (starts > 1).any():
        raise InputError(f"{start!r} must be the same on every row of a unit")
    starts_col = data[start]
    if ptypes.is_numeric_dtype(data[time]) and starts_col.dtype == object:
        starts_col = pd.to_numeric(starts_col, errors="coerce")  # integer starts with None for never
    has = starts_col.notna().to_numpy()
    t, _ = time_index(data[time], data[time].iloc[0])
    s = np.full(len(data), np.nan)
    if has.any():
        both = pd.concat([data[time], starts_col[has]], ignore_index=True)
        index, _ = time_index(both, both.iloc[0])
        t, s[has] = index[: len(data)], index[len(data) :]
    y = pd.to_numeric(data[outcome], errors="coerce").to_numpy(dtype=float)
    if not np.isfinite(y).all():
        raise InputError(f"{outcome!r} has missing or non-numeric values")
    if log:
        if (y <= 0).any():
            raise InputError(
                f"{outcome!r} has {int((y <= 0).sum())} value(s) <= 0: log=True needs positive values "
                "(leave such months out, or use log=False)"
            )
        y = np.log(y)
    frame = pd.DataFrame({"y": y, "t": t, "s": s, "u": pd.factorize(data[unit], sort=True)[0]})
    if frame.duplicated(["u", "t"]).any():
        raise InputError(f"{time!r} repeats a time point within a {unit!r}: one row per unit and time")
    return frame.sort_values(["u", "t"], kind="stable", ignore_index=True)


def _fixed_effects(frame: pd.DataFrame) -> np.ndarray:
    """Unit and time dummies (first time dropped): the two-way fixed effects."""
    units = np.eye(frame["u"].max() + 1)[frame["u"].to_numpy()]
    codes, _ = pd.factorize(frame["t"], sort=True)
    times = np.eye(codes.max() + 1)[codes][:, 1:]
    return np.column_stack([units, times])


def _panel_result(frame, x, names, options: tuple[str, str, float], what) -> tuple[Result, _gls.GlsFit]:
    """GLS fit of a unit-by-time panel; SEs model-based, or CR2 by unit on the whitened regression."""
    errors, se_type, alpha = options
    unit, time = frame["u"].to_numpy(), frame["t"].to_numpy()
    fit = _gls.fit(x, frame["y"].to_numpy(), unit, time, errors=errors)
    k = len(names)
    if se_type == "cr2":
        whitened = _gls.whiten(np.column_stack([x, fit.resid]), unit, time, errors, fit.params)
        blocks = unit.astype(np.int64) * 100_000 + ((time - time.min()) // 12).astype(np.int64)
        robust = _crve.cr2(whitened[:, :-1], whitened[:, -1], blocks, coefs=list(range(k)))
        se, df = np.sqrt(np.diag(robust.vcov)[:k]), robust.df[:k]
        said = "CR2 SEs by unit on the GLS-whitened regression, t on Satterthwaite df"
    else:
        se, df = np.sqrt(np.diag(fit.vcov)[:k]), np.full(k, float(fit.df_resid))
        said = "GLS SEs, t on n - k df"
    table = wald_table(names, fit.beta[:k], se, alpha=alpha, df=df)
    table["df"] = df
    stats = {
        "n": len(frame),
        "n_units": int(frame["u"].nunique()),
        "n_periods": int(frame["t"].nunique()),
        "n_treated_units": int(frame.loc[frame["s"].notna(), "u"].nunique()),
        "df_resid": fit.df_resid,
        "sigma": float(np.sqrt(fit.sigma2)),
        "loglik_reml": fit.loglik_reml,
        **{f"cor_{k}": v for k, v in fit.params.items()},
    }
    return Result(
        table,
        stats,
        f"{what}; unit and time fixed effects; GLS by REML with {_ERRORS_SAID[errors]} within unit; {said}",
    ), fit


_SE_TYPES = ("cr2", "model")


_ERRORS_SAID = {
    "iid": "independent errors",
    "ar1": "AR(1) errors (as nlme corAR1)",
    "arma11": "ARMA(1,1) errors (as nlme corARMA(p = 1, q = 1))",
    "ar1_noise": "AR(1)-plus-noise errors (as nlme corExp(nugget = TRUE))",
}


@checks_alpha
def staggered_its(
    data: pd.DataFrame,
    outcome: str,
    time: str,
    unit: str,
    start: str,
    *,
    log: bool = True,
    slope_change: bool = True,
    errors: str = "ar1_noise",
    se_type: str = "cr2",
    alpha: float = 0.05,
) -> Result:
    """Each treated unit's level (and slope) change at its own start, against units not (yet) started.

    A two-way fixed-effects interrupted time series on a panel (e.g. a
    team's purchased-service euros per month): ``y_it = a_i + d_t +
    level_change * post_it + slope_change * (t - s_i + 1) * post_it + e_it``
    with ``post_it = t >= s_i``, the unit's own start ``s_i``. Unit effects
    take out fixed differences between units, time effects whatever changed
    for every unit in the same month (seasons, prices, a shock), so that the
    changes are net of the comparison units' course: staggered starts need
    nothing special. Months of high spending follow each other, so the errors
    within a unit are by default a persistent AR(1) disturbance plus
    month-to-month noise, corr(lag k) = share * phi^k, fitted by REML (GLS);
    plain AR(1) mistakes such a series for a weakly persistent one and gives
    SEs too small; ARMA(1, 1) fits the same shape but also negative
    correlations, which with two or three units it finds in noise and again
    gives SEs too small (both seen in ``benchmarks/validity.py``). Even
    AR(1)-plus-noise is only a working model (two persistent processes, say,
    are not one), and its GLS SEs fell short with strongly autocorrelated
    shocks (95% intervals covering 0.93 in the stress scenario). So the
    default SEs are cluster-robust on the GLS-whitened regression: CR2 with
    Satterthwaite df (:func:`evalkit.effects.ols`), clustered by unit-year
    blocks, which leaves the working model to absorb most of the correlation
    and lets the sandwich catch what it misses within a year. Clustering by
    unit alone is no remedy: with two or three treated units its SEs are
    far too small (the few-treated-clusters failure of cluster-robust
    variances; MacKinnon & Webb 2017). ``se_type="model"`` gives the GLS SEs
    as nlme prints them.

    Parameters
    ----------
    data : DataFrame
        One row per unit and time.
    outcome : str
        Positive amounts (``log=True``: the changes are log ratios) or any numbers.
    time : str
        Integer index or monthly times (``YYYY-MM``, Period, datetime).
    unit : str
        Unit (team) id.
    start : str
        Each unit's start in the form of ``time`` (the same on all its rows);
        missing for units never treated.
    log : bool
        Model log(outcome): changes are proportional, shown as ratios.
    slope_change : bool
        Add the change of slope per time unit after the start (the start counts as 1).
    errors : {"ar1_noise", "ar1", "arma11", "iid"}
        Correlation of the errors within a unit (see above); "iid": ordinary
        least squares.
    se_type : {"cr2", "model"}
        CR2 by unit-year blocks (12 consecutive time points) on the whitened regression with
        Satterthwaite df (default), or the GLS model-based SEs on n - k df.
    alpha : float
        1 - confidence level.

    Returns
    -------
    Result
        Rows ``level_change`` and ``slope_change``: ``estimate``, ``se``,
        ``ci_low``, ``ci_high``, ``t``, ``p``, ``df``; with ``log``, also
        ``ratio``, ``ratio_ci_low``, ``ratio_ci_high``. Stats ``n``,
        ``n_units``, ``n_treated_units``, ``n_periods``, ``df_resid``,
        ``sigma``, ``loglik_reml`` and the correlation parameters
        (``cor_phi``, ``cor_share`` or ``cor_theta``). ``frames["fitted"]``:
        per row ``unit`` (code), ``time`` (1, 2, ... for monthly times),
        ``treated`` (the unit has a start), ``observed``, ``fitted`` and
        ``counterfactual`` (the changes set to zero), on the outcome's scale.

    References
    ----------
    R ``nlme::gls(log(y) ~ post + since + factor(unit) + factor(time),
    correlation = corExp(form = ~ time | unit, nugget = TRUE), method =
    "REML")``; Lopez Bernal, Cummins & Gasparrini (2017) for the segmented
    model; Wooldridge (2021) for two-way fixed effects with staggered starts
    when effects follow the modelled path.

    Examples
    --------
    >>> rng = np.random.default_rng(2)
    >>> p = pd.DataFrame({"team": np.repeat(["a", "b", "c"], 36), "m": np.tile(np.arange(1, 37), 3)})
    >>> p["start"] = p["team"].map({"a": 13, "b": 25, "c": None})
    >>> post = p["m"] >= p["start"]
    >>> p["eur"] = np.exp(8 + 0.01 * p["m"] - 0.2 * post + rng.normal(0, 0.05, len(p)))
    >>> res = staggered_its(p, "eur", "m", "team", "start", slope_change=False)
    >>> print(round(res["level_change"]["ratio"], 2))
    0.81
    """
    frame = _panel(data, outcome, time, unit, start, log)
    post = (frame["t"] >= frame["s"]).to_numpy(dtype=float)
    if not post.any():
        raise EstimationError("no unit has time at or after its start: nothing to compare")
    if (frame["s"].notna() & (frame["t"] < frame["s"])).sum() == 0:
        raise EstimationError("the treated units have no time before their start: no before-after contrast")
    cols = {"level_change": post}
    if slope_change:
        cols["slope_change"] = np.where(post == 1, frame["t"] - frame["s"] + 1, 0.0)
    x = np.column_stack([*cols.values(), _fixed_effects(frame)])
    res, fit = _panel_result(
        frame, x, list(cols), (errors, _se_type(se_type), alpha), "Staggered interrupted time series (two-way FE)"
    )
    if log:
        for c in ("", "_ci_low", "_ci_high"):
            res.table["ratio" + c] = np.exp(res.table["estimate" if not c else c[1:]])
    res.frames["fitted"] = _fitted(frame, x, len(cols), fit.beta, log)
    return res


def _se_type(se_type: str) -> str:
    return choice(se_type, _SE_TYPES, "se_type")


def _fitted(frame: pd.DataFrame, x: np.ndarray, k: int, beta: np.ndarray, log: bool) -> pd.DataFrame:
    """Observed, fitted and counterfactual (no change) values per row, on the outcome's scale."""
    fitted = x @ beta
    counterfactual = fitted - x[:, :k] @ beta[:k]
    back = np.exp if log else (lambda v: v)
    return pd.DataFrame(
        {
            "unit": frame["u"].to_numpy(),
            "time": frame["t"].to_numpy(),
            "treated": frame["s"].notna().to_numpy(),
            "observed": back(frame["y"].to_numpy()),
            "fitted": back(fitted),
            "counterfactual": back(counterfactual),
        }
    )


@checks_alpha
def pretrend_test(
    data: pd.DataFrame,
    outcome: str,
    time: str,
    unit: str,
    start: str,
    *,
    log: bool = True,
    errors: str = "ar1_noise",
    se_type: str = "cr2",
    alpha: float = 0.05,
) -> Result:
    """Did treated units already drift away from the others before they started?

    On the time before each treated unit's start (never-treated units: up to
    the last start), fits ``y_it = a_i + d_t + pretrend * treated_i * t +
    e_it``: ``pretrend`` is the difference in slope per time unit between
    treated and other units, which parallel trends say is zero. Errors and
    SEs as :func:`staggered_its`.

    Parameters
    ----------
    data, outcome, time, unit, start, log, errors, alpha
        As :func:`staggered_its`.

    Returns
    -------
    Result
        Row ``pretrend``: ``estimate`` (per time unit, log scale with
        ``log``), ``se``, ``ci_low``, ``ci_high``, ``t``, ``p``, ``df``.
        Stats as :func:`staggered_its` plus ``n_pre`` (time points per unit, at most).

    References
    ----------
    Roth (2022), AER: Insights 4(3): a pre-trend test is a warning light, not a
    proof of parallel trends; a small p flags a design problem.

    Examples
    --------
    >>> rng = np.random.default_rng(3)
    >>> p = pd.DataFrame({"team": np.repeat(["a", "b"], 36), "m": np.tile(np.arange(1, 37), 2)})
    >>> p["start"] = p["team"].map({"a": 25, "b": None})
    >>> p["eur"] = np.exp(8 + 0.03 * p["m"] * (p["team"] == "a") + rng.normal(0, 0.05, len(p)))
    >>> print(pretrend_test(p, "eur", "m", "team", "start")["pretrend"]["p"] < 0.05)
    True
    """
    frame = _panel(data, outcome, time, unit, start, log)
    last = frame["s"].max()
    before = np.where(frame["s"].notna(), frame["t"] < frame["s"], frame["t"] < last)
    frame = frame[before].reset_index(drop=True)
    treated = frame["s"].notna().to_numpy()
    if not treated.any() or treated.all():
        raise EstimationError("a pre-trend test needs treated and other units before the starts")
    slope = treated * (frame["t"].to_numpy() - frame["t"].mean())
    if len(np.unique(slope[treated])) < 3:
        raise EstimationError("the treated units have fewer than three time points before their start")
    res, _ = _panel_result(
        frame,
        np.column_stack([slope, _fixed_effects(frame)]),
        ["pretrend"],
        (errors, _se_type(se_type), alpha),
        "Pre-trend test (treated x time before the starts)",
    )
    res.stats["n_pre"] = int(frame.groupby("u")["t"].nunique().max())
    return res


@checks_alpha
def gls(
    data: pd.DataFrame,
    outcome: str,
    covariates: list[str],
    *,
    unit: str,
    time: str,
    errors: str = "ar1",
    alpha: float = 0.05,
) -> Result:
    """Linear regression with errors correlated over time within units, by REML (as R ``nlme::gls``).

    Parameters
    ----------
    data : DataFrame
        One row per unit and time.
    outcome : str
        Numeric outcome.
    covariates : list of str
        Numeric regressors; an intercept is added.
    unit : str
        Groups whose errors are independent of each other (teams, series).
    time : str
        Integer time within a unit: lags are differences of it (a gap is a
        longer lag).
    errors : {"ar1", "ar1_noise", "arma11", "iid"}
        ``corAR1``, ``corExp(nugget = TRUE)`` (AR(1) plus noise),
        ``corARMA(p = 1, q = 1)`` or none.
    alpha : float
        1 - confidence level.

    Returns
    -------
    Result
        Rows ``intercept`` and each covariate: ``estimate``, ``se``,
        ``ci_low``, ``ci_high``, ``t``, ``p`` (t on n - k df, as
        ``summary.gls``). Stats ``n``, ``df_resid``, ``sigma``,
        ``loglik_reml`` and the correlation parameters (``cor_phi``, ...).

    References
    ----------
    R ``nlme::gls(y ~ x, correlation = corAR1(form = ~ time | unit))`` (REML);
    Pinheiro & Bates (2000), Mixed-Effects Models in S and S-PLUS, ch. 5.

    Examples
    --------
    >>> rng = np.random.default_rng(4)
    >>> d = pd.DataFrame({"g": np.repeat([1, 2], 40), "t": np.tile(np.arange(40), 2)})
    >>> d["x"] = np.sin(d["t"] / 5)
    >>> d["y"] = 1 + 2 * d["x"] + rng.normal(0, 0.3, 80)
    >>> print(round(gls(d, "y", ["x"], unit="g", time="t")["x"]["estimate"], 1))
    2.0
    """
    require_columns(data, outcome, unit, time, *covariates)
    frame = data[[outcome, unit, time, *covariates]].dropna()
    if len(frame) < len(data):
        raise InputError(f"{len(data) - len(frame)} row(s) with missing values: drop or fill them first")
    t = pd.to_numeric(frame[time], errors="coerce")
    if t.isna().any() or (t != np.round(t)).any():
        raise InputError(f"{time!r} must be whole numbers (lags are their differences)")
    frame = frame.assign(_u=pd.factorize(frame[unit], sort=True)[0], _t=t).sort_values(["_u", "_t"], kind="stable")
    x = np.column_stack([np.ones(len(frame)), frame[covariates].to_numpy(dtype=float)])
    fit = _gls.fit(
        x, frame[outcome].to_numpy(dtype=float), frame["_u"].to_numpy(), frame["_t"].to_numpy(), errors=errors
    )
    names = ["intercept", *covariates]
    table = wald_table(names, fit.beta, np.sqrt(np.diag(fit.vcov)), alpha=alpha, df=fit.df_resid)
    stats = {
        "n": len(frame),
        "df_resid": fit.df_resid,
        "sigma": float(np.sqrt(fit.sigma2)),
        "loglik_reml": fit.loglik_reml,
        **{f"cor_{k}": v for k, v in fit.params.items()},
    }
    return Result(table, stats, f"GLS by REML with {_ERRORS_SAID[errors]} within {unit!r}, t on n - k df")
