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
    return {"time": ut[jump], "n_risk": r[jump], "cif": cif[jump],
            "var": np.maximum(var[jump], 0.0), "max_time": float(time.max())}


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


def gray_score(time: np.ndarray, status: np.ndarray, codes: np.ndarray, k: int,
               cause: int, rho: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Score (groups 0..k-2) and its variance for Gray's test of ``cause``.

    Loops over distinct times: the variance needs, at each time, the
    covariance weights accumulated so far (Gray 1988, section 2).
    """
    ut, inv = np.unique(time, return_inverse=True)
    m = ut.size
    d1 = np.zeros((m, k))
    d2 = np.zeros((m, k))
    at = np.zeros((m, k))
    np.add.at(d1, (inv, codes), status == cause)
    np.add.at(d2, (inv, codes), (status != 0) & (status != cause))
    np.add.at(at, (inv, codes), 1.0)
    rs = at.sum(axis=0)
    skmm, f1m, fm = np.ones(k), np.zeros(k), 0.0
    c, v2 = np.zeros((k, k)), np.zeros((k, k))
    v3, score, v = np.zeros(k), np.zeros(k), np.zeros((k, k))
    for j in range(m):
        n1, n2 = d1[j].sum(), d2[j].sum()
        if n1 + n2 > 0:
            act = rs > 0
            safe = np.where(act, rs, 1.0)
            skm = np.where(act, skmm * (rs - d1[j] - d2[j]) / safe, skmm)
            f1 = np.where(act, f1m + skmm * d1[j] / safe, f1m)
            h = np.where(act, rs / skmm, 0.0)  # R_r / S_r(t-) in Gray's notation
            tr = h.sum()
            tq = (h * (1 - f1m)).sum()
            f = fm + n1 / tr
            fb = (1 - fm) ** rho
            a = fb * (np.diag(h) - np.outer(h, h) / tr)
            if fm < 1:
                c += a * n1 / (tr * (1 - fm))
            score += np.where(act, fb * (d1[j] - n1 * h * (1 - f1m) / tq), 0.0)
            if n1 > 0:
                kk = np.flatnonzero(act)
                t4 = np.where(skm[kk] > 0, 1 - (1 - f) / np.where(skm[kk] > 0, skm[kk], 1.0), 1.0)
                t5 = 1.0 if n1 <= 1 else 1 - (n1 - 1) / (tr * skmm[kk] - 1)
                t3 = t5 * skmm[kk] * n1 / (tr * rs[kk])
                t1 = a[:, kk] - t4 * c[:, kk]
                v3[kk] += t4**2 * t3
                v2[:, kk] += t1 * t4 * t3
                v += (t1 * t3) @ t1.T
            if n2 > 0:
                kk = np.flatnonzero((skm > 0) & (d2[j] > 0))
                t4 = (1 - f) / skm[kk]
                t3 = _tie_factor(d2[j][kk], rs[kk]) * skmm[kk] ** 2 * d2[j][kk] / rs[kk] ** 2
                t1 = t4 * c[:, kk]
                v3[kk] += t4**2 * t3
                v2[:, kk] -= t1 * t4 * t3
                v += (t1 * t3) @ t1.T
            fm, f1m, skmm = f, f1, skm
        rs = rs - at[j]
    v += (c * v3) @ c.T + c @ v2.T + v2 @ c.T
    return score[:-1], v[:-1, :-1]
