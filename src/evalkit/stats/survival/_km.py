"""Kaplan-Meier, log-rank and Cox-residual arithmetic as R survival (private).

Written by hand rather than through lifelines because R's conventions differ
from lifelines' in three places a report reader would notice: the default
confidence band ("log", not lifelines' log(-log)), the standard error printed
(of S, not of log S) and the median's confidence limits (the first times the
band falls to 0.5 or below, with R's averaging over a flat at exactly 0.5).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats as _st

__all__ = ["CONF_TYPES", "km_curve", "band", "r_quantile", "logrank_arrays"]

CONF_TYPES = ("log", "log-log", "plain")

# survival's quantile.survfit treats a curve within sqrt(machine eps) of the
# requested probability as lying exactly on it.
_FLAT_TOL = np.sqrt(np.finfo(float).eps)


def km_curve(time: np.ndarray, event: np.ndarray) -> pd.DataFrame:
    """One Kaplan-Meier curve at every distinct time (events and censorings).

    Returns columns ``time``, ``n_risk``, ``n_event``, ``n_censor``,
    ``survival``, ``se_log`` (Greenwood SE of log S; infinite once S is 0).
    """
    ut, inv = np.unique(time, return_inverse=True)
    n_event = np.bincount(inv, weights=event, minlength=ut.size)
    n_at = np.bincount(inv, minlength=ut.size).astype(float)
    n_risk = time.size - np.concatenate([[0.0], np.cumsum(n_at)[:-1]])
    surv = np.cumprod(1.0 - n_event / n_risk)
    with np.errstate(divide="ignore", invalid="ignore"):
        inc = np.where(n_event > 0, n_event / (n_risk * (n_risk - n_event)), 0.0)
    return pd.DataFrame(
        {
            "time": ut,
            "n_risk": n_risk.astype(int),
            "n_event": n_event.astype(int),
            "n_censor": (n_at - n_event).astype(int),
            "survival": surv,
            "se_log": np.sqrt(np.cumsum(inc)),
        }
    )


def band(surv: np.ndarray, se_log: np.ndarray, conf_type: str, alpha: float):
    """Pointwise CI of S as R ``survfit``: returns (se of S, lower, upper).

    Where S is 1 with zero variance (before the first event) the band is the
    point [1, 1]; where S is 0 the SE and the "log"/"log-log" limits are
    undefined and returned as NaN (the caller flags them).
    """
    z = _st.norm.ppf(1 - alpha / 2)
    s = np.asarray(surv, dtype=float)
    sl = np.asarray(se_log, dtype=float)
    zero = s <= 0
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.where(zero, np.nan, s * sl)
        if conf_type == "plain":
            lo, hi = np.clip(s - z * se, 0, 1), np.clip(s + z * se, 0, 1)
            lo, hi = np.where(zero, 0.0, lo), np.where(zero, 0.0, hi)
        elif conf_type == "log":
            lo, hi = s * np.exp(-z * sl), np.minimum(s * np.exp(z * sl), 1.0)
            lo, hi = np.where(zero, np.nan, lo), np.where(zero, np.nan, hi)
        else:  # log-log: CI on log(-log S), as survfit(conf.type = "log-log")
            eta = np.log(-np.log(s))
            half = z * sl / np.abs(np.log(s))
            lo, hi = np.exp(-np.exp(eta + half)), np.exp(-np.exp(eta - half))
            lo, hi = np.where(zero, np.nan, lo), np.where(zero, np.nan, hi)
    one = (s >= 1) & (sl == 0)
    return np.where(one, 0.0, se), np.where(one, 1.0, lo), np.where(one, 1.0, hi)


def r_quantile(time: np.ndarray, curve: np.ndarray, p: float = 0.5) -> float:
    """First time ``curve`` falls to ``p`` or below, as survival's quantile.survfit.

    The curve starts at 1 at time 0. Repeated values (censorings) are dropped;
    if the curve sits exactly at ``p`` over an interval, the answer is the
    midpoint of that interval (its right end being the last time given when
    the curve never drops again). NaN when the curve never reaches ``p``.
    """
    x = np.concatenate([[0.0], np.asarray(time, dtype=float)])
    y = np.concatenate([[1.0], np.asarray(curve, dtype=float)])
    last = x[-1]
    keep = ~np.isnan(y)
    x, y = x[keep], y[keep]
    first = np.concatenate([[True], y[1:] != y[:-1]])
    x, y = x[first], y[first]
    on = np.flatnonzero(np.abs(y - p) <= _FLAT_TOL)
    if on.size:
        j = on[0]
        return float((x[j] + (x[j + 1] if j + 1 < x.size else last)) / 2)
    below = np.flatnonzero(y < p)
    return float(x[below[0]]) if below.size else float("nan")


def logrank_arrays(time: np.ndarray, event: np.ndarray, codes: np.ndarray, k: int):
    """Observed, expected and the variance matrix of O - E, as R ``survdiff`` (rho = 0).

    ``codes`` are group indices 0..k-1. Hypergeometric variance at each
    distinct event time, summed.
    """
    ut, inv = np.unique(time, return_inverse=True)
    m = ut.size
    d = np.zeros((m, k))
    at = np.zeros((m, k))
    np.add.at(d, (inv, codes), event)
    np.add.at(at, (inv, codes), 1.0)
    n = at[::-1].cumsum(axis=0)[::-1]  # at risk: time >= t, per group
    dt, nt = d.sum(axis=1), n.sum(axis=1)
    ev = dt > 0
    n, dt, nt = n[ev], dt[ev], nt[ev]
    expected = (n * (dt / nt)[:, None]).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(nt > 1, dt * (nt - dt) / (nt**2 * (nt - 1)), 0.0)
    var = np.einsum("t,ti,tj->ij", -w, n, n) + np.diag((w * nt) @ n)
    return d.sum(axis=0), expected, var
