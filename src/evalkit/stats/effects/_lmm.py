"""Random-intercept linear mixed model by REML, profiled to one parameter (private).

The unbalanced-survey fallback of :func:`evalkit.effects.mixed_anova` needs
only ``y = X b + u[subject] + e``. With one variance ratio
``g = var(u) / var(e)`` every subject's covariance is ``s2 (I + g 11')``,
whose inverse and determinant are closed-form, so the REML criterion is a
function of ``g`` alone (``b`` and ``s2`` profiled out) and a bounded
one-dimensional search finds it. statsmodels' ``MixedLM`` solves the
general problem (any random-effects design) with gradient optimisers and
takes ~150 ms a site for this one; this takes a few milliseconds, and
``tests/test_effects.py`` checks it against ``MixedLM`` (coefficients,
their covariance, the REML log-likelihood).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize

__all__ = ["RandomIntercept", "fit_random_intercept"]


@dataclass(frozen=True)
class RandomIntercept:
    """A REML fit: fixed effects, their covariance, variance components."""

    beta: np.ndarray
    cov: np.ndarray
    sigma2: float  # residual variance
    tau2: float  # random-intercept variance
    llf: float  # REML log-likelihood (as statsmodels MixedLM reports it)
    boundary: bool  # tau2 estimated at zero


def _profile(g, x, y, groups, n_i):
    """REML criterion (-2 log L up to a constant) at ratio g, with the profiled b and s2."""
    shrink = g / (1 + n_i * g)  # per subject: V^-1 = I - shrink 11' (times 1/s2)
    sx = np.zeros((len(n_i), x.shape[1]))
    np.add.at(sx, groups, x)
    sy = np.bincount(groups, weights=y, minlength=len(n_i))
    xtx = x.T @ x - (sx * shrink[:, None]).T @ sx
    xty = x.T @ y - (sx * shrink[:, None]).T @ sy
    beta = np.linalg.solve(xtx, xty)
    r = y - x @ beta
    sr = np.bincount(groups, weights=r, minlength=len(n_i))
    q = r @ r - (shrink * sr**2).sum()
    dof = len(y) - x.shape[1]
    s2 = q / dof
    crit = dof * np.log(s2) + np.log1p(n_i * g).sum() + np.linalg.slogdet(xtx)[1]
    return crit, beta, s2, xtx


def fit_random_intercept(x: np.ndarray, y: np.ndarray, subject: np.ndarray) -> RandomIntercept:
    """REML fit of ``y ~ x + (1 | subject)`` (as R ``lmer(..., REML = TRUE)``).

    Parameters
    ----------
    x : 2-D array
        Fixed-effects design, intercept included, full column rank.
    y : array
    subject : array
        Subject of each row.

    Returns
    -------
    RandomIntercept
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    _, groups = np.unique(subject, return_inverse=True)
    n_i = np.bincount(groups).astype(float)

    def crit(log_g):
        return _profile(np.exp(log_g), x, y, groups, n_i)[0]

    # g = exp(-30) is zero for every practical purpose: the boundary fit
    best = optimize.minimize_scalar(crit, bounds=(-30.0, 12.0), method="bounded", options={"xatol": 1e-10})
    log_g = best.x if best.fun < crit(-30.0) else -30.0
    value, beta, s2, xtx = _profile(np.exp(log_g), x, y, groups, n_i)
    dof = len(y) - x.shape[1]
    llf = -0.5 * (value + dof * (1 + np.log(2 * np.pi)))
    return RandomIntercept(
        beta, s2 * np.linalg.inv(xtx), float(s2), float(np.exp(log_g) * s2), float(llf), bool(log_g <= -29.0)
    )
