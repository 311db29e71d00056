"""Competing-risks arithmetic matching R cmprsk (private).

``aalen_johansen`` gives the cumulative incidence of one cause and its
variance as cmprsk's ``cuminc`` (Fortran ``cinc``); ``gray_score`` gives the
score vector and its variance for Gray's (1988) K-sample test as cmprsk's
``crstm`` (one stratum, weight (1 - F(t-))**rho). Both are written from the
formulas, vectorised over time for the estimate; ties are handled as
cmprsk does (all events at a time share one risk set; censorings at an event
time stay in that risk set), with no random jitter.
"""

from __future__ import annotations

import numpy as np
from scipy import stats as _st

__all__ = ["aalen_johansen", "at_times", "log_log_band", "gray_score"]


def _tie_factor(d: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Finite-sample factor 1 - (d - 1)/(r - 1) cmprsk applies to tied events."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(d > 1, 1.0 - (d - 1.0) / (r - 1.0), 1.0)


def aalen_johansen(time: np.ndarray, status: np.ndarray, cause: int) -> dict:
    """CIF of ``cause`` at its distinct event times, with Aalen's variance.

    ``status``: 0 = censored, other values = causes. Returns a dict with
    ``time``, ``n_risk``, ``cif``, ``var`` at the cause's event times and
    ``max_time`` (last follow-up, beyond which cmprsk reports nothing).
    """
    ut, inv = np.unique(time, return_inverse=True)
    d1 = np.bincount(inv, weights=(status == cause), minlength=ut.size)
    d2 = np.bincount(inv, weights=(status != 0) & (status != cause), minlength=ut.size)
    n_at = np.bincount(inv, minlength=ut.size).astype(float)
    r = time.size - np.concatenate([[0.0], np.cumsum(n_at)[:-1]])
    ev = (d1 + d2) > 0
    ut, d1, d2, r = ut[ev], d1[ev], d2[ev], r[ev]
    s_new = np.cumprod((r - d1 - d2) / r)
    s_old = np.concatenate([[1.0], s_new[:-1]])
    cif = np.cumsum(s_old * d1 / r)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv_s = np.where(s_new > 0, 1.0 / s_new, 0.0)
    # Each event type adds w * (a, b) terms; the variance at t is
    # v1 + F^2 v3 - 2 F v2 with the accumulated sums (cmprsk's recursion).
    w1 = s_old**2 * _tie_factor(d1, r) * d1 / r**2
    w2 = np.where(s_new > 0, s_old**2 * _tie_factor(d2, r) * d2 / r**2, 0.0)
    a1, a2 = 1.0 + inv_s * cif, cif * inv_s
    v1 = np.cumsum(w1 * a1**2 + w2 * a2**2)
    v2 = np.cumsum(w1 * a1 * inv_s + w2 * a2 * inv_s)
    v3 = np.cumsum((w1 + w2) * inv_s**2)
    var = v1 + cif**2 * v3 - 2 * cif * v2
    jump = d1 > 0
    return {
        "time": ut[jump],
        "n_risk": r[jump],
        "cif": cif[jump],
        "var": np.maximum(var[jump], 0.0),
        "max_time": float(time.max()),
    }


def at_times(curve: dict, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """CIF and variance at ``times`` as cmprsk's ``timepoints``.

    The value at the last jump at or before t (0 before the first); NaN for
    t beyond the last follow-up time of the group.
    """
    idx = np.searchsorted(curve["time"], times, side="right") - 1
    cif = np.concatenate([[0.0], curve["cif"]])  # index 0: before the first jump
    var = np.concatenate([[0.0], curve["var"]])
    f, v = cif[idx + 1], var[idx + 1]
    beyond = times > curve["max_time"]
    return np.where(beyond, np.nan, f), np.where(beyond, np.nan, v)


def log_log_band(f: np.ndarray, var: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """CI of a CIF on the log(-log) scale: F ** exp(+-z se / (F log F)).

    Where F is 0 (before the first event) or 1 the transform is undefined
    and the interval is the point F itself.
    """
    z = _st.norm.ppf(1 - alpha / 2)
    inner = (f > 0) & (f < 1)
    fs = np.where(inner, f, 0.5)
    k = z * np.sqrt(np.where(inner, var, 0.0)) / (fs * np.log(fs))
    return np.where(inner, fs ** np.exp(-k), f), np.where(inner, fs ** np.exp(k), f)


def _shift(a: np.ndarray, first) -> np.ndarray:
    """Values at the previous event time (``first`` before the first one)."""
    return np.concatenate([np.full((1, *a.shape[1:]), first, dtype=float), a[:-1]])


def gray_score(
    time: np.ndarray, status: np.ndarray, codes: np.ndarray, k: int, cause: int, rho: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Score (groups 0..k-2) and its variance for Gray's test of ``cause``.

    cmprsk's ``crstm`` walks the distinct times once, carrying each group's
    survival and cumulative incidence and the covariance weights ``c``
    accumulated so far. Every carried quantity is a cumulative product or
    sum over event times, so here they are taken as arrays over all event
    times at once (rows j, groups g) and the variance terms summed with
    einsum; ``tests/test_survival.py`` checks this against the
    time-by-time walk.
    """
    ut, inv = np.unique(time, return_inverse=True)
    m = ut.size
    d1, d2, at = (np.zeros((m, k)) for _ in range(3))
    np.add.at(d1, (inv, codes), status == cause)
    np.add.at(d2, (inv, codes), (status != 0) & (status != cause))
    np.add.at(at, (inv, codes), 1.0)
    rs = at.sum(axis=0) - _shift(np.cumsum(at, axis=0), 0.0)  # at risk per group at each time
    ev = (d1 + d2).sum(axis=1) > 0
    d1, d2, rs = d1[ev], d2[ev], rs[ev]
    n1 = d1.sum(axis=1)
    act = rs > 0
    safe_rs = np.where(act, rs, 1.0)
    skm = np.cumprod(np.where(act, (rs - d1 - d2) / safe_rs, 1.0), axis=0)
    skmm = _shift(skm, 1.0)
    f1m = _shift(np.cumsum(np.where(act, skmm * d1 / safe_rs, 0.0), axis=0), 0.0)
    h = np.where(act, rs / np.where(act, skmm, 1.0), 0.0)  # R_r / S_r(t-) in Gray's notation
    tr, tq = h.sum(axis=1), (h * (1 - f1m)).sum(axis=1)
    f = np.cumsum(n1 / tr)
    fm = _shift(f, 0.0)
    fb = (1 - fm) ** rho
    a = fb[:, None, None] * (h[:, :, None] * np.eye(k) - h[:, :, None] * h[:, None, :] / tr[:, None, None])
    with np.errstate(divide="ignore", invalid="ignore"):
        grow = np.where(fm < 1, n1 / (tr * (1 - fm)), 0.0)
    c = np.cumsum(a * grow[:, None, None], axis=0)  # c after its update at each time
    score = np.where(act, fb[:, None] * (d1 - (n1 / tq)[:, None] * h * (1 - f1m)), 0.0).sum(axis=0)
    pos = skm > 0
    safe_skm = np.where(pos, skm, 1.0)
    # events of the cause: groups at risk
    t4 = np.where(pos, 1 - (1 - f)[:, None] / safe_skm, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        t5 = np.where(n1[:, None] > 1, 1 - (n1[:, None] - 1) / (tr[:, None] * skmm - 1), 1.0)
    t3 = np.where(act & (n1[:, None] > 0), t5 * skmm * n1[:, None] / (tr[:, None] * safe_rs), 0.0)
    t1 = a - c * t4[:, None, :]
    v = np.einsum("jag,jg,jbg->ab", t1, t3, t1)
    v3 = (t4**2 * t3).sum(axis=0)
    v2 = np.einsum("jag,jg->ag", t1, t4 * t3)
    # competing events: groups with such an event and someone left
    u4 = np.where(pos, (1 - f)[:, None] / safe_skm, 0.0)
    u3 = np.where(pos & (d2 > 0), _tie_factor(d2, rs) * skmm**2 * d2 / safe_rs**2, 0.0)
    u1 = c * u4[:, None, :]
    v += np.einsum("jag,jg,jbg->ab", u1, u3, u1)
    v3 += (u4**2 * u3).sum(axis=0)
    v2 -= np.einsum("jag,jg->ag", u1, u4 * u3)
    c_end = c[-1]
    v += (c_end * v3) @ c_end.T + c_end @ v2.T + v2 @ c_end.T
    return score[:-1], v[:-1, :-1]
