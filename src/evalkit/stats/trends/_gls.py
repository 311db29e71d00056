"""Generalised least squares with serially correlated errors within groups, by REML (private).

The model of R ``nlme::gls(y ~ x, correlation = corARMA(form = ~ t | g, p =
1, q = 1), method = "REML")`` (or ``corAR1``): errors independent between
groups (teams), and within a group correlated by lag |t - s|:

- ``"iid"``: no correlation (ordinary least squares);
- ``"ar1"``: corr = phi^lag;
- ``"arma11"``: the ARMA(1, 1) autocorrelation, lag 1:
  (1 + phi theta)(phi + theta) / (1 + 2 phi theta + theta^2), lag k:
  phi^(k - 1) times that. It holds a persistent disturbance plus
  month-to-month noise (an AR(1) seen through noise is ARMA(1, 1)), which
  AR(1) alone mistakes for a weaker persistence and then under-states SEs.

The correlation parameters maximise the restricted likelihood with sigma^2
profiled out (Nelder-Mead on tanh-transformed parameters, so |phi|, |theta|
< 1, from two starts); the coefficients are then GLS, their SEs sigma^2
(X' R^-1 X)^-1 and t-tests on n - k df, as ``summary.gls``. REML rather than
ML because the fixed effects of a panel take many degrees of freedom, and ML
would shrink sigma^2 by (n - k) / n. Lags are the differences of the time
values, so a gap in a series is a longer lag, not an adjacent month.

Written here because statsmodels' ``GLSAR`` is one series, AR only, and
iterates OLS residuals (no REML); its ``MixedLM`` has no residual correlation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy import linalg, optimize

from evalkit.core.result import EstimationError, InputError, choice

__all__ = ["GlsFit", "fit", "whiten", "ERRORS"]

ERRORS = ("iid", "ar1", "arma11", "ar1_noise")


@dataclass(frozen=True)
class GlsFit:
    beta: np.ndarray
    vcov: np.ndarray
    sigma2: float
    params: dict  # the correlation parameters (phi, theta or share)
    df_resid: int
    loglik_reml: float
    resid: np.ndarray  # y - X beta (not whitened)


def lag1(phi: float, theta: float) -> float:
    """Lag-1 autocorrelation of ARMA(1, 1)."""
    return (1 + phi * theta) * (phi + theta) / (1 + 2 * phi * theta + theta**2)


def _power(phi: float, k: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(k > 0, np.power(phi, np.maximum(k, 0)), 1.0)


def _logistic(z: float) -> float:
    return float(1 / (1 + np.exp(-z)))


# kind -> (starting points on the unconstrained scale, parameters from them, correlation at lags >= 1)
#: each kind: starting values of the optimiser, unpack (z -> params), correlation (lags, params -> R)
_KINDS: dict[
    str,
    tuple[list[tuple[float, ...]], Callable[[np.ndarray], dict[str, float]], Callable[[np.ndarray, dict], np.ndarray]],
] = {
    "ar1": ([(0.0,), (1.0,)], lambda z: {"phi": float(np.tanh(z[0]))}, lambda lags, p: _power(p["phi"], lags)),
    "arma11": (
        [(0.0, 0.0), (0.7, -0.3)],
        lambda z: {"phi": float(np.tanh(z[0])), "theta": float(np.tanh(z[1]))},
        lambda lags, p: lag1(p["phi"], p["theta"]) * _power(p["phi"], lags - 1),
    ),
    "ar1_noise": (
        [(0.0, -2.0), (2.0, 0.0)],
        lambda z: {"phi": _logistic(z[0]), "share": _logistic(z[1])},
        lambda lags, p: p["share"] * _power(p["phi"], lags),
    ),
}


def _correlation(lags: np.ndarray, kind: str, params: dict) -> np.ndarray:
    if kind == "iid":
        return np.eye(len(lags))
    return np.where(lags == 0, 1.0, _KINDS[kind][2](lags, params))


class _Groups:
    """Row blocks of each group and their lag matrices (shared by groups with the same times)."""

    def __init__(self, group: np.ndarray, time: np.ndarray):
        order = np.lexsort((time, group))
        if not np.array_equal(order, np.arange(len(group))):
            raise InputError("rows must be sorted by group, then time")
        bounds = np.flatnonzero(np.r_[True, group[1:] != group[:-1], True])
        self.blocks = [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]
        self.keys: list[tuple[float, ...]] = []
        self.lags: dict[tuple[float, ...], np.ndarray] = {}
        for block in self.blocks:
            t = time[block]
            if len(np.unique(t)) < len(t):
                raise InputError("a time repeats within a group")
            key = tuple(t - t[0])
            self.keys.append(key)
            if key not in self.lags:
                self.lags[key] = np.abs(np.subtract.outer(t, t)).astype(float)

        # groups with the same times share one Cholesky factor and one triangular solve
        self.by_key = {key: [b for b, k in zip(self.blocks, self.keys) if k == key] for key in self.lags}

    def whiten(self, a: np.ndarray, kind: str, params: dict) -> tuple[np.ndarray, float]:
        """L^-1 a block by block (R = L L'), and log |R|."""
        out = np.empty_like(a)
        logdet = 0.0
        width = a.shape[1]
        for key, blocks in self.by_key.items():
            chol = linalg.cholesky(_correlation(self.lags[key], kind, params), lower=True)
            solved = linalg.solve_triangular(chol, np.hstack([a[b] for b in blocks]), lower=True, check_finite=False)
            for i, b in enumerate(blocks):
                out[b] = solved[:, i * width : (i + 1) * width]
            logdet += 2 * np.log(np.diag(chol)).sum() * len(blocks)
        return out, logdet


def _profile(x: np.ndarray, y: np.ndarray, groups: _Groups, kind: str, params: dict):
    """REML log-likelihood (sigma^2 profiled) and the GLS pieces at the correlation parameters."""
    n, k = x.shape
    try:
        white, logdet = groups.whiten(np.column_stack([y, x]), kind, params)
    except linalg.LinAlgError:
        return -np.inf, None
    yw, xw = white[:, 0], white[:, 1:]
    gram = xw.T @ xw
    try:
        r = linalg.cholesky(gram, lower=False, check_finite=False)  # gram = r' r
    except linalg.LinAlgError:
        r = None
    diag = np.abs(np.diag(r)) if r is not None else np.zeros(k)
    if diag.min() <= diag.max() * 1e-7:
        raise EstimationError("the regressors are collinear: the change cannot be separated from the fixed effects")
    beta = linalg.cho_solve((r, False), xw.T @ yw, check_finite=False)
    rss = float(np.sum((yw - xw @ beta) ** 2))
    df = n - k
    sigma2 = rss / df
    loglik = -0.5 * (df * (np.log(2 * np.pi * sigma2) + 1) + logdet + 2 * np.log(diag).sum())
    return loglik, (beta, r, sigma2)


def fit(x: np.ndarray, y: np.ndarray, group: np.ndarray, time: np.ndarray, *, errors: str = "arma11") -> GlsFit:
    """GLS by REML with ``errors`` (one of :data:`ERRORS`) within ``group`` over ``time``.

    Rows must be sorted by group, then time.
    """
    errors = choice(errors, ERRORS, "errors")
    n, k = x.shape
    if n - k < 3:
        raise EstimationError(f"{n} rows for {k} coefficients: too few to estimate the model")
    groups = _Groups(np.asarray(group), np.asarray(time, dtype=float))
    params: dict = {}
    if errors != "iid":
        starts, unpack, _ = _KINDS[errors]

        def objective(z: np.ndarray) -> float:
            return -_profile(x, y, groups, errors, unpack(np.atleast_1d(z)))[0]

        if len(starts[0]) == 1:  # one parameter: Brent's method to full precision
            best = optimize.minimize_scalar(objective, bounds=(-8.0, 8.0), method="bounded", options={"xatol": 1e-10})
            params = unpack(np.atleast_1d(best.x))
        else:
            best = None
            for start in starts:
                res = optimize.minimize(
                    objective,
                    np.array(start),
                    method="L-BFGS-B",
                    bounds=[(-8.0, 8.0)] * len(start),
                    options={"ftol": 1e-13, "gtol": 1e-8},
                )
                if best is None or res.fun < best.fun:
                    best = res
            params = unpack(best.x)
    loglik, (beta, r, sigma2) = _profile(x, y, groups, errors, params)
    r_inv = linalg.solve_triangular(r, np.eye(k))
    return GlsFit(beta, sigma2 * r_inv @ r_inv.T, sigma2, params, n - k, loglik, y - x @ beta)


def whiten(a: np.ndarray, group: np.ndarray, time: np.ndarray, kind: str, params: dict) -> np.ndarray:
    """``a`` (rows sorted by group, then time) premultiplied by L^-1 of each group's correlation, R = L L'.

    OLS on whitened data is the GLS fit; its residuals are uncorrelated under
    the working model, which is what a cluster-robust variance then needs.
    """
    a = np.asarray(a, dtype=float)
    flat = a.ndim == 1
    out, _ = _Groups(np.asarray(group), np.asarray(time)).whiten(a[:, None] if flat else a, kind, params)
    return out[:, 0] if flat else out
