"""CR2 (Bell-McCaffrey) cluster-robust variance with Satterthwaite degrees of freedom (private).

As R clubSandwich ``vcovCR(fit, cluster, type = "CR2")`` with
``coef_test(..., test = "Satterthwaite")`` (Pustejovsky & Tipton 2018,
JBES 36:672-683; Bell & McCaffrey 2002): for a fit with bread
M = (X' W X)^-1, residuals e and a diagonal working variance Theta
(identity for OLS; the GLM variance function, with W its inverse, for a
GLM, as clubSandwich's ``glm`` method):

- B_j = [(I - H) Theta (I - H)']_jj, H = X M X' W, for each cluster j;
- A_j = Theta_j^(1/2) (Theta_j^(1/2) B_j Theta_j^(1/2))^(+1/2) Theta_j^(1/2), the
  symmetric inverse square root taken over eigenvalues above 1e-12 times the
  largest (clubSandwich drops those under an absolute 1e-12, which differs
  only when Theta is badly scaled);
- V = M (sum_j X_j' W_j A_j e_j e_j' A_j W_j X_j) M, no further factor;
- for coefficient c, with g_j = A_j W_j X_j M c, the Satterthwaite df
  (tr S)^2 / ||S||_F^2 of S_jl = g_j' [(I - H) Theta (I - H)']_jl g_l, the
  covariance of the clusters' contributions under the working model.

S is a diagonal plus a matrix of rank at most 2k, so its trace and
Frobenius norm are found from k x k products: nothing of size n x n or
G x G is formed, and a site with thousands of clusters costs little.

Written here because no maintained Python package has CR2 with
Satterthwaite df (statsmodels has CR1 only); checked against clubSandwich's
published outputs in ``tests/test_effects.py`` and ``tests/test_rates.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from evalkit.core.result import EstimationError

__all__ = ["Cr2", "cr2"]

_EIGEN_TOL = 1e-12


@dataclass(frozen=True)
class Cr2:
    vcov: np.ndarray
    df: np.ndarray  # Satterthwaite df of each coefficient asked for (NaN for the others)
    n_clusters: int


def _inv_sqrt(a: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh(a)
    keep = values > _EIGEN_TOL * max(values.max(), 0.0)
    inv = np.zeros_like(values)
    inv[keep] = 1 / np.sqrt(values[keep])
    return (vectors * inv) @ vectors.T


def cr2(
    x: np.ndarray,
    resid: np.ndarray,
    cluster: np.ndarray,
    *,
    weights: np.ndarray | None = None,
    target: np.ndarray | None = None,
    coefs: list[int] | None = None,
    absorbed: np.ndarray | None = None,
    kind: str = "CR2",
) -> Cr2:
    """CR2 (or ``kind="CR3"``) covariance of the coefficients of ``x`` and Satterthwaite df of ``coefs``.

    ``coefs`` defaults to all. CR3 is the jackknife form, A_j = (I - H_jj)^-1
    with H_jj = X_j M X_j' W_j: each cluster's term is the one-step change
    of the coefficients when the cluster is left out (exact for OLS), as
    clubSandwich ``type = "CR3"``; larger than CR2 where a few clusters
    weigh much (MacKinnon, Nielsen & Webb 2023, J Econometrics 232:272-299).

    ``weights`` (W) and ``target`` (Theta) are diagonals; both default to 1.
    ``absorbed`` gives the groups of fixed effects partialled out of ``x``
    and ``resid`` (OLS only): they must nest in the clusters, and their
    projection is part of the hat matrix, so that the result equals that of
    the full dummy design (as clubSandwich for ``plm`` and ``fixest``).
    """
    x = np.asarray(x, dtype=float)
    n, k = x.shape
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    theta = np.ones(n) if target is None else np.asarray(target, dtype=float)
    codes, uniques = pd.factorize(np.asarray(cluster), sort=True)
    n_clusters = len(uniques)
    if n_clusters < 2:
        raise EstimationError("CR2 needs at least two clusters")
    fe = None
    if absorbed is not None:
        if weights is not None or target is not None:
            raise EstimationError("absorbed fixed effects are supported for unweighted OLS only")
        fe = pd.factorize(np.asarray(absorbed))[0]
        if (pd.Series(codes).groupby(fe).nunique() > 1).any():
            raise EstimationError("the absorbed fixed effects must nest in the clusters")
    xw = x * w[:, None]
    m = np.linalg.inv(x.T @ xw)
    omega = xw.T @ (theta[:, None] * xw)  # X' W Theta W X
    m_omega_m = m @ omega @ m
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(n_clusters + 1))
    e_blocks, rows = [], []
    meat_scores = np.zeros((n_clusters, k))
    for j in range(n_clusters):
        idx = order[bounds[j] : bounds[j + 1]]
        xj, xwj, thj = x[idx], xw[idx], theta[idx]
        p = xj @ m @ xj.T
        tw = thj * w[idx]
        # [(I - H) Theta (I - H)']_jj = Theta_j - Theta_j W_j P - P W_j Theta_j + X_j M Omega M X_j'
        bj = np.diag(thj) - tw[:, None] * p - p * tw[None, :] + xj @ m_omega_m @ xj.T
        if fe is not None:
            bj -= _group_means(fe[idx])
        if kind == "CR3":
            # F_j = A_j' W_j X_j M with A_j = (I - P_j W_j)^-1
            ej = np.linalg.solve(np.eye(len(idx)) - w[idx][:, None] * p, xwj @ m)
        else:
            root = np.sqrt(thj)
            aj = root[:, None] * _inv_sqrt(root[:, None] * bj * root[None, :]) * root[None, :]
            ej = aj @ xwj @ m  # n_j x k: column c is g_j for coefficient c
        e_blocks.append(ej)
        rows.append(idx)
        meat_scores[j] = ej.T @ resid[idx]
    vcov = meat_scores.T @ meat_scores
    df = np.full(k, np.nan)
    for c in range(k) if coefs is None else coefs:
        df[c] = _satterthwaite(c, (e_blocks, rows), (x, xw, theta, fe), m, m_omega_m)
    return Cr2(vcov, df, n_clusters)


def _group_means(groups: np.ndarray) -> np.ndarray:
    """The projection onto group dummies: 1/n_g where two rows share a group, else 0."""
    same = groups[:, None] == groups[None, :]
    return same / same.sum(axis=1, keepdims=True)


def _satterthwaite(c, blocks, design, m, m_omega_m) -> float:
    """(tr S)^2 / ||S||^2 for S = D + Z' Q Z (D diagonal, Z = [a_j; b_j] 2k x G)."""
    e_blocks, rows = blocks
    x, xw, theta, fe = design
    k = x.shape[1]
    diag = np.empty(len(rows))
    z = np.empty((2 * k, len(rows)))
    for j, (ej, idx) in enumerate(zip(e_blocks, rows)):
        g = ej[:, c]
        diag[j] = g @ (theta[idx] * g)
        if fe is not None:  # the absorbed effects' hat sits inside the cluster: (I - P_D) on the diagonal
            diag[j] -= g @ _group_means(fe[idx]) @ g
        z[:k, j] = xw[idx].T @ (theta[idx] * g)  # a_j = X_j' W_j Theta_j g_j
        z[k:, j] = x[idx].T @ g  # b_j = X_j' g_j
    q = np.block([[np.zeros((k, k)), -m], [-m, m_omega_m]])
    low = np.einsum("ij,ik,kj->j", z, q, z)  # z_j' Q z_j
    kz = z @ z.T
    qk = q @ kz
    trace = diag.sum() + low.sum()
    frob = (diag**2).sum() + 2 * (diag * low).sum() + np.trace(qk @ qk)
    return float(trace**2 / frob)
