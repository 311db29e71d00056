"""Fine-Gray proportional subdistribution hazards, as R cmprsk ``crr`` (private).

Written from Fine & Gray (1999) and the structure of cmprsk's estimator,
because no Python library offers it (lifelines has none). Subjects who ended
by another cause stay in the risk set of the cause of interest after their
end, weighted by G(t-)/G(T-), G the Kaplan-Meier curve of the censoring
(left limits, as ``crr`` evaluates it). All events at a time share one risk
set (Breslow). The variance is Fine & Gray's sandwich: the information on
both sides, the middle built from each subject's score residual (eta) plus
the effect of estimating G (psi, through the censoring martingales), as
``crr``'s ``var``. Every risk-set sum is a cumulative sum over time, so a fit
costs O(n p^2) per iteration.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from evalkit.core.result import EstimationError

__all__ = ["FineGrayFit", "fit"]

GTOL = 1e-6  # crr's gtol
MAX_ITER = 10  # crr's maxiter


@dataclass
class FineGrayFit:
    beta: np.ndarray
    vcov: np.ndarray  # the sandwich (crr's var)
    loglik: float  # pseudo log-likelihood at beta
    loglik0: float  # at beta = 0
    converged: bool


@dataclass
class _Data:
    time: np.ndarray  # sorted ascending
    z: np.ndarray
    fail: np.ndarray  # cause of interest
    other: np.ndarray  # another cause
    cens: np.ndarray
    g: np.ndarray  # censoring Kaplan-Meier just before each row's time
    ft: np.ndarray  # distinct failure times of the cause (ascending)
    d: np.ndarray  # failures at each
    g_ft: np.ndarray  # G just before each failure time
    first_at: np.ndarray  # per failure time: first row with time >= it
    after: np.ndarray  # per row: index into ft of the first failure time > the row's time


def _censoring_km_before(time: np.ndarray, cens: np.ndarray) -> np.ndarray:
    """G(t-) per row: the censoring Kaplan-Meier over the times strictly before the row's."""
    ut, inv = np.unique(time, return_inverse=True)
    c = np.bincount(inv, weights=cens, minlength=ut.size)
    at_risk = time.size - np.concatenate([[0], np.cumsum(np.bincount(inv, minlength=ut.size))[:-1]])
    surv = np.cumprod(1 - c / at_risk)
    before = np.concatenate([[1.0], surv[:-1]])
    return before[inv]


def _prepare(time, status, z, cause, censored) -> _Data:
    order = np.argsort(time, kind="stable")
    time, status, z = time[order], status[order], z[order]
    fail, cens = status == cause, status == censored
    other = ~fail & ~cens
    g = _censoring_km_before(time, cens.astype(float))
    ft, d = np.unique(time[fail], return_counts=True)
    first_at = np.searchsorted(time, ft, side="left")
    return _Data(
        time,
        z,
        fail,
        other,
        cens,
        g,
        ft,
        d.astype(float),
        g[first_at],
        first_at,
        np.searchsorted(ft, time, side="right"),
    )


def _risk_sums(data: _Data, beta: np.ndarray):
    """S0, S1, S2 at each failure time: those still in follow-up, plus the other-cause ends weighted."""
    w = np.exp(data.z @ beta)
    zz = data.z[:, :, None] * data.z[:, None, :]

    def from_row(v):  # sums over rows at or after each failure time's first row
        tail = np.cumsum(v[::-1], axis=0)[::-1]
        return tail[data.first_at]

    def before_row(v):  # sums over rows strictly before each failure time's first row
        head = np.concatenate([np.zeros((1,) + v.shape[1:]), np.cumsum(v, axis=0)])
        return head[data.first_at]

    wo = np.where(data.other, w / data.g, 0.0)
    gf = data.g_ft
    s0 = from_row(w) + gf * before_row(wo)
    s1 = from_row(w[:, None] * data.z) + gf[:, None] * before_row(wo[:, None] * data.z)
    s2 = from_row(w[:, None, None] * zz) + gf[:, None, None] * before_row(wo[:, None, None] * zz)
    return w, s0, s1, s2


def _objective(data: _Data, beta: np.ndarray):
    """Pseudo log-likelihood, score and information (Breslow ties)."""
    w, s0, s1, s2 = _risk_sums(data, beta)
    zf = data.z[data.fail]
    zbar = s1 / s0[:, None]
    ll = float((zf @ beta).sum() - (data.d * np.log(s0)).sum())
    score = zf.sum(axis=0) - (data.d[:, None] * zbar).sum(axis=0)
    info = (data.d[:, None, None] * (s2 / s0[:, None, None] - zbar[:, :, None] * zbar[:, None, :])).sum(axis=0)
    return ll, score, info


def _newton(data: _Data, p: int) -> tuple[np.ndarray, float, bool]:
    """crr's iteration: Newton steps from 0 with Armijo backtracking, its stopping rule."""
    beta = np.zeros(p)
    for it in range(MAX_ITER + 1):
        ll, score, info = _objective(data, beta)
        if np.max(np.abs(score) * np.maximum(np.abs(beta), 1)) < max(abs(ll), 1) * GTOL:
            return beta, ll, True
        if it == MAX_ITER:
            return beta, ll, False
        try:
            step = np.linalg.solve(info, score)
        except np.linalg.LinAlgError:
            raise EstimationError(
                "the Fine-Gray model cannot be estimated: a covariate is constant or collinear among those at risk"
            ) from None
        for _ in range(21):  # crr minimises -ll: accept a step that lowers it enough, else halve it
            new_ll = _objective(data, beta + step)[0]
            if np.isfinite(new_ll) and -new_ll <= -ll + 1e-4 * float(step @ -score):
                break
            step = step / 2
        else:
            return beta, ll, False
        beta = beta + step
    return beta, ll, False  # pragma: no cover - the loop returns


def _sandwich_middle(data: _Data, beta: np.ndarray) -> np.ndarray:
    """Sum over subjects of (eta_i + psi_i)(eta_i + psi_i)'."""
    w, s0, s1, _ = _risk_sums(data, beta)
    zbar = s1 / s0[:, None]
    n, p = data.z.shape
    d, gf = data.d, data.g_ft
    # eta: the subject's own failure, minus its share of each failure's risk set
    ow = np.searchsorted(data.ft, data.time, side="left")  # per row: its own failure time's index if it failed
    eta = np.zeros((n, p))
    eta[data.fail] = data.z[data.fail] - zbar[ow[data.fail]]
    a1 = np.cumsum(d / s0)
    b1 = np.cumsum(d[:, None] * zbar / s0[:, None], axis=0)
    upto = data.after - 1  # failure times at or before the row's time
    has = upto >= 0
    eta[has] -= w[has, None] * (data.z[has] * a1[upto[has], None] - b1[upto[has]])
    a2 = np.concatenate([np.cumsum((d * gf / s0)[::-1])[::-1], [0.0]])
    b2 = np.concatenate(
        [np.cumsum((d[:, None] * gf[:, None] * zbar / s0[:, None])[::-1], axis=0)[::-1], np.zeros((1, p))]
    )
    o = data.other
    eta[o] -= (w[o] / data.g[o])[:, None] * (data.z[o] * a2[data.after[o], None] - b2[data.after[o]])
    # psi: the censoring martingales, weighted by q(u)/pi(u)
    ut, first = np.unique(data.time, return_index=True)
    at_risk = n - first  # pi(u): rows with time >= u
    wo = np.where(o, w / data.g, 0.0)
    a_o = np.concatenate([[0.0], np.cumsum(wo)])[first]  # other-cause ends strictly before u
    b_o = np.concatenate([np.zeros((1, p)), np.cumsum(wo[:, None] * data.z, axis=0)])[first]
    from_u = np.searchsorted(data.ft, ut, side="left")  # failure times >= u
    c = np.concatenate([np.cumsum((d * gf / s0)[::-1])[::-1], [0.0]])[from_u]
    e = np.concatenate(
        [np.cumsum((d[:, None] * gf[:, None] * zbar / s0[:, None])[::-1], axis=0)[::-1], np.zeros((1, p))]
    )[from_u]
    q = b_o * c[:, None] - a_o[:, None] * e
    n_cens = np.bincount(np.searchsorted(ut, data.time[data.cens]), minlength=ut.size)
    compensator = np.cumsum((n_cens / at_risk**2)[:, None] * q, axis=0)
    k = np.searchsorted(ut, data.time)
    psi = -compensator[k]
    psi[data.cens] += q[k[data.cens]] / at_risk[k[data.cens], None]
    total = eta + psi
    return total.T @ total


def fit(time, status, z, cause=1, censored=0) -> FineGrayFit:
    """Fit the Fine-Gray model for ``cause`` (``status``: ``censored`` or a cause code per row)."""
    data = _prepare(np.asarray(time, dtype=float), np.asarray(status), np.asarray(z, dtype=float), cause, censored)
    if data.ft.size == 0:
        raise EstimationError(f"no ends by cause {cause}: the Fine-Gray model cannot be estimated")
    p = data.z.shape[1]
    beta, ll, converged = _newton(data, p)
    _, _, info = _objective(data, beta)
    try:
        inv = np.linalg.inv(info)
    except np.linalg.LinAlgError:
        raise EstimationError("the Fine-Gray model cannot be estimated: singular information") from None
    vcov = inv @ _sandwich_middle(data, beta) @ inv.T
    return FineGrayFit(beta, vcov, ll, _objective(data, np.zeros(p))[0], converged)
