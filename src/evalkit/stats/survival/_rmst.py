"""Restricted mean survival time as R survRM2 ``rmst2`` (private to :mod:`evalkit.survival`).

Written by hand because lifelines' ``restricted_mean_survival_time`` gives
the right area but a variance that is not survRM2's (lifelines issue 1682),
and no other maintained Python library has the two-group contrasts.

Conventions (survRM2 1.0-4, ``rmst1``/``rmst2``):

- RMST(tau) is the area under the Kaplan-Meier curve from 0 to tau;
- its variance is sum over event times t_j <= tau of A_j^2 d_j / (n_j (n_j - d_j)),
  A_j the area under the curve from t_j to tau (a term with n_j = d_j is 0);
- intervals are Wald z; the difference has SE sqrt(v1 + v0); the ratio is
  tested and bounded on the log scale by the delta method;
- tau may not exceed the time up to which every group's curve is defined:
  the largest time of each group whose curve ends censored (a curve that
  ends with an event stays at 0); if all end with an event, the largest
  time of all. Without tau, that limit is used.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats as st

from evalkit.core.result import InputError
from evalkit.stats.survival._km import km_curve

__all__ = ["rmst_one", "tau_limit", "contrasts", "check_tau"]


def rmst_one(time: np.ndarray, event: np.ndarray, tau: float) -> tuple[float, float]:
    """RMST and its variance for one group."""
    curve = km_curve(time, event)
    inside = curve[curve["time"] <= tau]
    edges = np.r_[0.0, inside["time"].to_numpy(), tau]
    level = np.r_[1.0, inside["survival"].to_numpy()]
    areas = np.diff(edges) * level  # piece k: [edge k, edge k+1) at the curve's level there
    rmst = float(areas.sum())
    # area from each time t_j to tau: the pieces after it
    after = np.cumsum(areas[::-1])[::-1][1:]
    n, d = inside["n_risk"].to_numpy(dtype=float), inside["n_event"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        weight = np.where(n - d > 0, d / (n * (n - d)), 0.0)
    return rmst, float(np.sum(after**2 * weight))


def tau_limit(groups: list[tuple[np.ndarray, np.ndarray]]) -> float:
    """The largest tau at which every group's Kaplan-Meier curve is defined (survRM2's rule)."""
    censored_ends, ends = [], []
    for time, event in groups:
        last = time.max()
        ends.append(last)
        if event[time == last].min() == 0:  # an event tied with a censoring at the end counts as censored
            censored_ends.append(last)
    return float(min(censored_ends)) if censored_ends else float(max(ends))


def contrasts(est: dict, var: dict, other, reference, alpha: float) -> pd.DataFrame:
    """Rows ``difference`` (other minus reference) and ``ratio`` (other over reference, log-scale CI)."""
    z = st.norm.ppf(1 - alpha / 2)
    diff = est[other] - est[reference]
    se = np.sqrt(var[other] + var[reference])
    log_ratio = np.log(est[other]) - np.log(est[reference])
    se_log = np.sqrt(var[other] / est[other] ** 2 + var[reference] / est[reference] ** 2)
    return pd.DataFrame(
        {
            "estimate": [diff, np.exp(log_ratio)],
            "se": [se, np.exp(log_ratio) * se_log],
            "ci_low": [diff - z * se, np.exp(log_ratio - z * se_log)],
            "ci_high": [diff + z * se, np.exp(log_ratio + z * se_log)],
            "p": [2 * st.norm.sf(abs(diff) / se), 2 * st.norm.sf(abs(log_ratio) / se_log)],
        },
        index=pd.Index(["difference", "ratio"]),
    )


def check_tau(tau: float | None, limit: float) -> float:
    if tau is None:
        return limit
    if not (isinstance(tau, (int, float, np.integer, np.floating)) and np.isfinite(tau) and tau > 0):
        raise InputError(f"tau must be a positive number, not {tau!r}")
    if tau > limit:
        raise InputError(
            f"tau = {tau:g} is beyond the data: the truncation time needs to be shorter than or equal "
            f"to {limit:g}, the last time at which every group's survival curve is defined"
        )
    return float(tau)
