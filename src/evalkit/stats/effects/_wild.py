"""Cluster-robust inference for linear models: CRV1 sandwich and wild cluster bootstrap.

The wild cluster bootstrap is the restricted ("WCR", null imposed) bootstrap-t
of Cameron, Gelbach & Miller (2008) in the form of Roodman, MacKinnon, Nielsen
& Webb (2019, "Fast and wild", Stata ``boottest``): for one coefficient the
bootstrap numerators and CRV1 denominators are linear in the hypothesised
value ``r``, so each p-value p(r) costs O(G x B) once the G x B building blocks
are formed, and the confidence interval is found by inverting the test
(bisection on p(r) = alpha), as ``boottest`` does.  Rademacher sign vectors
are enumerated exhaustively when 2^G does not exceed the number of draws (the
p-value is then exact and needs no seed); otherwise weights are drawn with
``numpy.random.default_rng(seed)``.  Webb's six-point weights are used by
default with fewer than 12 clusters, where Rademacher weights admit too few
distinct bootstrap samples (Webb 2014; Roodman et al. 2019).  The p-value is
the share of draws with |t*| >= |t|, except the draws with the same weight
in every cluster: those reproduce the sample, and boottest (``getp``) and
fwildclusterboot (``get_bootstrap_pvalue``), counting |t*| > |t|, leave
them out too. Other ties (a coefficient identified by a few clusters ties
on whole blocks of draws) count, as in a randomisation test; a relative
tolerance of 1e-9 keeps rounding from deciding a tie.

Why not the PyPI package ``wildboottest`` (0.3.2, last release 2024-09)?
It installs with numpy 2.4 / pandas 2.3 but pulls in numba and llvmlite
(a large compiled dependency) for a few matrix products, and it returns
p-values only, with no confidence interval by test inversion.  Its
p-values serve as an external check (tests/test_effects.py), and boottest's
published enumerated example (Roodman et al. 2019) checks the interval.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from evalkit.core.result import EstimationError, InputError, choice

__all__ = ["WildResult", "crv1_vcov", "cluster_codes", "cluster_notes", "wild_test"]

_WEBB = np.sqrt(np.array([1.5, 1.0, 0.5, 0.5, 1.0, 1.5])) * np.array([-1, -1, -1, 1, 1, 1])


@dataclass(frozen=True)
class WildResult:
    """Outcome of a wild cluster bootstrap test of one coefficient."""

    p: float
    ci_low: float
    ci_high: float
    reps: int
    weights: str
    enumerated: bool


def cluster_codes(values: pd.Series | np.ndarray) -> tuple[np.ndarray, int]:
    """Integer cluster codes 0..G-1 and G; one cluster is not enough."""
    codes, uniques = pd.factorize(np.asarray(values), sort=True)
    n_clusters = len(uniques)
    if n_clusters < 2:
        raise EstimationError(
            "only one cluster: cluster-robust standard errors and the wild cluster "
            "bootstrap need at least two (and in practice many more) clusters"
        )
    return codes, n_clusters


def cluster_notes(codes: np.ndarray, n_clusters: int, treated: np.ndarray) -> tuple[str, list[str]]:
    """Method suffix and warnings for few clusters (Cameron & Miller 2015) and few
    treated or untreated clusters (MacKinnon & Webb 2017)."""
    notes = []
    n_treated = len(np.unique(codes[treated != 0]))
    n_untreated = len(np.unique(codes[treated == 0]))
    if min(n_treated, n_untreated) < 3:
        notes.append(
            f"{n_treated} clusters with treated and {n_untreated} with untreated observations: "
            "with so few on one side neither sandwich SEs nor the wild bootstrap are reliable "
            "(MacKinnon & Webb 2017)"
        )
    if n_clusters >= 30:
        return "", notes
    if n_clusters < 10:
        notes.insert(
            0,
            f"only {n_clusters} clusters: cluster-robust (sandwich) standard errors are "
            "unreliable with fewer than 10 clusters; use the wild cluster bootstrap "
            "(se_type='wild') and read results with great caution",
        )
        return f"; very few clusters (G={n_clusters}), wild bootstrap recommended", notes
    notes.insert(
        0,
        f"only {n_clusters} clusters: cluster-robust standard errors tend to be too small "
        "with fewer than about 30 clusters; consider the wild cluster bootstrap (se_type='wild')",
    )
    return f"; few clusters (G={n_clusters})", notes


def _group_sums(values: np.ndarray, codes: np.ndarray, n_clusters: int) -> np.ndarray:
    out = np.zeros((n_clusters,) + values.shape[1:])
    np.add.at(out, codes, values)
    return out


def crv1_vcov(x: np.ndarray, resid: np.ndarray, codes: np.ndarray, n_clusters: int, k_dof: int) -> np.ndarray:
    """CRV1 covariance with the factor G/(G-1) * (N-1)/(N-K) (Stata, fixest)."""
    n = x.shape[0]
    bread = np.linalg.inv(x.T @ x)
    scores = _group_sums(x * resid[:, None], codes, n_clusters)
    factor = n_clusters / (n_clusters - 1) * (n - 1) / (n - k_dof)
    return factor * bread @ (scores.T @ scores) @ bread


def _weights(kind: str, n_clusters: int, reps: int, seed: int | None) -> tuple[np.ndarray, bool]:
    if kind == "rademacher" and 2**n_clusters <= reps:
        signs = np.array(list(itertools.product((-1.0, 1.0), repeat=n_clusters)))
        return signs.T, True
    rng = np.random.default_rng(seed)
    if kind == "rademacher":
        return rng.choice(np.array([-1.0, 1.0]), size=(n_clusters, reps)), False
    return rng.choice(_WEBB, size=(n_clusters, reps)), False


def wild_test(
    x: np.ndarray,
    y: np.ndarray,
    codes: np.ndarray,
    n_clusters: int,
    j: int,
    *,
    weights: str | None = None,
    reps: int = 9999,
    seed: int | None = None,
    alpha: float = 0.05,
) -> WildResult:
    """WCR bootstrap-t p-value of H0: beta_j = 0 and CI by test inversion.

    ``x`` must already include every regressor (fixed effects partialled out
    only if they are nested in the clusters, so that the partialling commutes
    with the cluster-constant weights).
    """
    if weights is None:
        weights = "webb" if n_clusters < 12 else "rademacher"
    weights = choice(weights, ("rademacher", "webb"), "weights")
    if reps < 99:
        raise InputError("reps must be at least 99 bootstrap draws")
    xtx_inv = np.linalg.inv(x.T @ x)
    w = x @ xtx_inv[:, j]  # beta_j = w'y
    beta_j = w @ y
    resid = y - x @ (xtx_inv @ (x.T @ y))
    se_raw = np.sqrt(np.sum(_group_sums(w * resid, codes, n_clusters) ** 2))
    if not se_raw > 0:
        raise EstimationError("the cluster-robust standard error is zero: the model fits exactly")
    # Restricted residuals u(r) = a - r c, with a, c residuals of y and x_j on the other columns.
    others = np.delete(x, j, axis=1)
    a = y - others @ np.linalg.lstsq(others, y, rcond=None)[0]
    c = x[:, j] - others @ np.linalg.lstsq(others, x[:, j], rcond=None)[0]
    wx = _group_sums(w[:, None] * x, codes, n_clusters) @ xtx_inv  # G x k
    blocks = []
    for u in (a, c):
        u_g = _group_sums(w * u, codes, n_clusters)
        s_g = _group_sums(x * u[:, None], codes, n_clusters)  # G x k scores
        blocks.append((u_g, np.diag(u_g) - wx @ s_g.T))
    v, enumerated = _weights(weights, n_clusters, reps, seed)
    reproduces = np.ptp(v, axis=0) == 0
    num_a, num_c = blocks[0][0] @ v, blocks[1][0] @ v
    den_a, den_c = blocks[0][1] @ v, blocks[1][1] @ v

    def pvalue(r: float) -> float:
        t_obs = abs(beta_j - r) / se_raw
        den = np.sqrt(np.sum((den_a - r * den_c) ** 2, axis=0))
        num = np.abs(num_a - r * num_c)
        with np.errstate(divide="ignore", invalid="ignore"):
            t_boot = np.where(den > 0, num / den, np.where(num > 0, np.inf, 0.0))
        # A draw whose weights are the same in every cluster reproduces the sample (|t*| = |t|
        # exactly): like boottest and fwildclusterboot it does not count. Other ties are
        # samples as extreme as the data (a coefficient identified by a few clusters ties on
        # whole blocks of draws) and do count; the tolerance keeps rounding from deciding.
        tol = t_obs * 1e-9 + 1e-12
        beyond = t_boot > t_obs + tol
        tied = (np.abs(t_boot - t_obs) <= tol) & ~reproduces
        return float(np.mean(beyond | tied))

    def bound(side: int) -> float:
        inner, step = beta_j, 4.0 * se_raw
        outer = beta_j + side * step
        # Beyond ~1e5 standard errors rounding breaks the structural ties; a set of
        # non-rejected values that wide is reported as unbounded.
        for _ in range(15):
            if pvalue(outer) <= alpha:
                break
            inner, step = outer, 2 * step
            outer = beta_j + side * step
        else:
            return side * np.inf
        for _ in range(60):
            mid = (inner + outer) / 2
            if pvalue(mid) > alpha:
                inner = mid
            else:
                outer = mid
        return (inner + outer) / 2

    return WildResult(
        p=pvalue(0.0), ci_low=bound(-1), ci_high=bound(1), reps=v.shape[1], weights=weights, enumerated=enumerated
    )
