"""GLM machinery shared by :mod:`evalkit.rates` and :mod:`evalkit.trends` (private).

One place decides how evalkit fits count and Gaussian models, so that a rate
ratio from ``rates`` and a level change from ``trends`` follow the same
conventions:

- Fitting is R's ``glm.fit`` IRLS, written out here (a few lines of numpy)
  rather than statsmodels' ``GLM.fit``: statsmodels converges further than R
  does, and R's SEs, computed from the weights of its last iteration, then
  differ in the 5th significant digit (ships, type C: R 0.32904,
  statsmodels 0.329047). statsmodels supplies the robust covariances.
- **poisson**: model-based SEs, z-tests, as R
  ``summary(glm(..., family = poisson))``.
- **quasipoisson**: the Poisson estimates; SEs multiplied by the square root
  of the Pearson dispersion ``sum(pearson_resid^2) / df_resid``; t-tests and
  t intervals on ``df_resid``, as R ``summary.glm`` does for quasi families.
  (R's ``confint.default`` and ``Epi::ci.exp`` would give z intervals.)
- **negbin**: NB2 by maximum likelihood, fitted as MASS::glm.nb does it:
  alternate an IRLS fit of beta at fixed theta with a Newton solve of the
  theta score at fixed means. Coefficient SEs are the GLM SEs at the fitted
  theta (theta treated as known), *not* the joint-Hessian SEs of
  statsmodels' discrete ``NegativeBinomial``; ``theta_se`` is glm.nb's
  ``SE.theta`` (observed information of theta at fixed means). Written here
  because statsmodels has no glm.nb equivalent.
- **gaussian**: least squares; t-tests on ``df_resid``.
- Aliased (linearly dependent) columns are dropped in column order, as R's
  ``glm`` reports them ``NA`` "because of singularities".
- ``cluster``: cluster-robust sandwich with the small-sample factor
  G/(G-1) * (N-1)/(N-K) (Stata ``vce(cluster)``, R ``sandwich::vcovCL``
  type "HC1"); normal reference distribution.
- ``hac``: Newey-West (Bartlett kernel) with a fixed lag and no small-sample
  adjustment; see :func:`evalkit.trends.its` for the lag rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import special

from evalkit.core.result import EstimationError, InputError, choice, wald_table

__all__ = ["FAMILIES", "COUNT_FAMILIES", "GlmFit", "check_family", "check_counts", "exposure_offset", "fit"]

COUNT_FAMILIES = ("poisson", "quasipoisson", "negbin")
FAMILIES = COUNT_FAMILIES + ("gaussian",)
_THETA_LIMIT = 1e6  # beyond this NB2 is numerically Poisson: theta has diverged


@dataclass
class GlmFit:
    """A fitted model reduced to what evalkit reports."""

    table: pd.DataFrame
    stats: dict
    warnings: list[str] = field(default_factory=list)
    convention: str = ""


def check_family(family: str, allowed: tuple[str, ...] = FAMILIES) -> str:
    """The allowed spelling of ``family`` (any case), or :class:`InputError`."""
    return choice(family, allowed, "family")


def check_counts(y: np.ndarray, name: str) -> None:
    """Counts must be finite, non-negative and not all zero."""
    if not np.all(np.isfinite(y)):
        raise InputError(f"{name} has missing or infinite values")
    if np.any(y < 0):
        raise InputError(f"{name} has negative values; a count model needs counts >= 0")
    if not np.any(y > 0):
        raise EstimationError(f"{name} is zero in every row: no events, so no rate can be estimated")


def exposure_offset(data: pd.DataFrame, exposure: str, events: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Log-exposure offset and the rows to keep.

    Rows with zero exposure and zero events carry no information and are
    dropped with a warning; zero exposure with events, negative or missing
    exposure are errors (the data are wrong, not merely uninformative).
    """
    e = pd.to_numeric(data[exposure], errors="coerce").to_numpy(dtype=float)
    if not np.all(np.isfinite(e)):
        raise InputError(f"exposure column {exposure!r} has missing or non-numeric values")
    if np.any(e < 0):
        raise InputError(f"exposure column {exposure!r} has negative values")
    zero = e == 0
    if np.any(zero & (events > 0)):
        raise InputError(f"{int(np.sum(zero & (events > 0)))} row(s) have events but zero {exposure!r}")
    keep = ~zero
    notes = []
    if zero.any():
        notes.append(f"{int(zero.sum())} row(s) with zero {exposure} and no events excluded")
    return keep, np.log(np.where(keep, e, 1.0)), notes


def _drop_aliased(X: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Drop columns that are linear combinations of earlier ones (R's NA coefficients)."""
    kept: list[str] = []
    aliased: list[str] = []
    values = X.to_numpy(dtype=float)
    for j, name in enumerate(X.columns):
        col = values[:, j]
        norm = np.linalg.norm(col)
        if kept:
            basis = values[:, [X.columns.get_loc(k) for k in kept]]
            coef, *_ = np.linalg.lstsq(basis, col, rcond=None)
            resid = np.linalg.norm(col - basis @ coef)
        else:
            resid = norm
        if norm == 0 or resid <= 1e-7 * norm:
            aliased.append(str(name))
        else:
            kept.append(name)
    return X[kept], aliased


def _nb_loglik(y: np.ndarray, mu: np.ndarray, theta: float) -> float:
    return float(
        np.sum(
            special.gammaln(theta + y)
            - special.gammaln(theta)
            - special.gammaln(y + 1)
            + theta * np.log(theta)
            + special.xlogy(y, mu)
            - (theta + y) * np.log(theta + mu)
        )
    )


def _theta_ml(y: np.ndarray, mu: np.ndarray, theta: float | None = None) -> tuple[float, float]:
    """ML theta at fixed means by Newton steps on the score (MASS::theta.ml)."""
    t = len(y) / np.sum((y / mu - 1) ** 2) if theta is None else theta
    for _ in range(100):
        t = abs(t)
        score = np.sum(
            special.digamma(t + y) - special.digamma(t) + np.log(t) + 1 - np.log(t + mu) - (y + t) / (mu + t)
        )
        info = np.sum(
            -special.polygamma(1, t + y) + special.polygamma(1, t) - 1 / t + 2 / (mu + t) - (y + t) / (mu + t) ** 2
        )
        step = score / info
        t += step
        if t > _THETA_LIMIT:
            raise EstimationError(
                "negative binomial theta diverges (no overdispersion in these data); use family='poisson'"
            )
        if abs(step) < 1e-10 * max(1.0, t):
            break
    info = np.sum(
        -special.polygamma(1, t + y) + special.polygamma(1, t) - 1 / t + 2 / (mu + t) - (y + t) / (mu + t) ** 2
    )
    return float(t), float(np.sqrt(1 / info))


def _sm_family(family: str, theta: float | None) -> sm.families.Family:
    if family == "negbin":
        assert theta is not None  # fitted along with the coefficients
        return sm.families.NegativeBinomial(link=sm.families.links.Log(), alpha=1 / theta)
    return sm.families.Gaussian() if family == "gaussian" else sm.families.Poisson()


def _deviance(y, mu, family, theta):
    if family == "gaussian":
        return float(np.sum((y - mu) ** 2))
    if family == "negbin":
        return float(
            2 * np.sum(special.xlogy(y, np.maximum(1, y) / mu) - (y + theta) * np.log((y + theta) / (mu + theta)))
        )
    return float(2 * np.sum(special.xlogy(y, y / mu) - (y - mu)))


def _irls(y, X, offset, family, theta=None, eta=None):
    """R's glm.fit IRLS for the log link (identity for gaussian).

    Same start (mu = y + 0.1 for Poisson, y + (y == 0)/6 for NB), same stop
    rule (|dev - dev_old| / (|dev| + 0.1) < 1e-8) and SEs from the weights of
    the last iteration, so R's printed SEs are reproduced digit for digit
    (a fully converged fit differs from them in the 5th significant digit).
    """
    if family == "gaussian":
        q, r = np.linalg.qr(X)
        beta = np.linalg.solve(r, q.T @ (y - offset))
        r_inv = np.linalg.inv(r)
        return beta, r_inv @ r_inv.T, X @ beta + offset
    if eta is None:
        eta = np.log(y + 0.1 if family != "negbin" else y + (y == 0) / 6)
    mu = np.exp(eta)
    dev_old = _deviance(y, mu, family, theta)
    for _ in range(100):
        w = mu if family != "negbin" else mu / (1 + mu / theta)
        sw = np.sqrt(w)
        q, r = np.linalg.qr(X * sw[:, None])
        beta = np.linalg.solve(r, q.T @ ((eta - offset + (y - mu) / mu) * sw))
        eta = X @ beta + offset
        mu = np.exp(eta)
        dev = _deviance(y, mu, family, theta)
        if not np.isfinite(dev):
            raise EstimationError("the model diverged (non-finite deviance); check for empty cells")
        if abs(dev - dev_old) / (abs(dev) + 0.1) < 1e-8:
            r_inv = np.linalg.inv(r)
            return beta, r_inv @ r_inv.T, mu
        dev_old = dev
    raise EstimationError("the GLM did not converge in 100 IRLS iterations")


def _fit_negbin(y, X, offset):
    """Alternate IRLS for beta and Newton for theta until both settle (MASS::glm.nb)."""
    beta, _, mu = _irls(y, X, offset, "poisson")
    theta, _ = _theta_ml(y, mu)
    loglik = -np.inf
    for _ in range(100):
        beta, cov, mu = _irls(y, X, offset, "negbin", theta, eta=np.log(mu))
        new_theta, theta_se = _theta_ml(y, mu, theta)
        new_loglik = _nb_loglik(y, mu, new_theta)
        done = abs(new_loglik - loglik) < 1e-10 * abs(new_loglik) and abs(new_theta - theta) < 1e-9 * theta
        theta, loglik = new_theta, new_loglik
        if done:
            break
    beta, cov, mu = _irls(y, X, offset, "negbin", theta, eta=np.log(mu))
    return beta, cov, mu, theta, theta_se


def _loglik(y, mu, family, theta, n):
    if family == "negbin":
        return _nb_loglik(y, mu, theta)
    if family == "gaussian":
        return float(-n / 2 * (np.log(2 * np.pi * np.sum((y - mu) ** 2) / n) + 1))
    return float(np.sum(special.xlogy(y, mu) - mu - special.gammaln(y + 1)))


def fit(
    y: np.ndarray,
    X: pd.DataFrame,
    *,
    family: str,
    offset: np.ndarray | None = None,
    cluster: np.ndarray | None = None,
    hac: tuple | None = None,
    alpha: float = 0.05,
    small_sample: str | None = None,
) -> GlmFit:
    """Fit one GLM: Wald table (log-link families add ratio columns), stats, warnings.

    ``hac`` is ``(lags, groups)`` for Newey-West SEs (``groups`` None for one
    series, else the series ids, rows sorted by series then time). With
    ``cluster`` and ``small_sample`` "CR2" or "CR3", that variance with
    Satterthwaite df per coefficient (column ``df``), as clubSandwich for ``glm``.
    """
    X, aliased = _drop_aliased(X)
    notes = [f"not estimable (aliased, dropped as R reports NA): {', '.join(aliased)}"] if aliased else []
    n, k = X.shape
    if n < k or (n == k and family in ("quasipoisson", "gaussian")):
        raise EstimationError(f"{n} usable rows for {k} coefficients: too few to estimate the model")
    offset = np.zeros(n) if offset is None else np.asarray(offset, dtype=float)
    y, Xv = np.asarray(y, dtype=float), X.to_numpy(dtype=float)
    kind = "poisson" if family == "quasipoisson" else family
    theta = theta_se = None
    if family == "negbin":
        beta, cov, mu, theta, theta_se = _fit_negbin(y, Xv, offset)
    else:
        beta, cov, mu = _irls(y, Xv, offset, kind)
    stats = _fit_stats(y, mu, offset, kind, theta, k)
    if family in ("quasipoisson", "gaussian"):
        stats["dispersion"] = stats["pearson_dispersion"]
        if not stats["dispersion"] > 1e-12 * max(1.0, float(np.mean(y**2))):
            raise EstimationError("the outcome is fitted exactly (no residual variation): SEs undefined")
    if family == "negbin":
        stats.update(theta=theta, theta_se=theta_se)
    if family == "quasipoisson":  # R: AIC is NA for quasi families
        del stats["aic"]
    cov, df, convention = _covariance(cov * stats["dispersion"], family, stats["df_resid"])
    if cluster is not None and small_sample:
        cov, df, convention = _small_sample_covariance(y, Xv, mu, (kind, theta), cluster, small_sample, stats)
        notes += _few_clusters(stats, cr2=True)
    elif cluster is not None or hac is not None:
        model = sm.GLM(y, Xv, family=_sm_family(kind, theta), offset=offset)
        cov, df, convention = _robust_covariance(model, beta, cluster, hac, stats)
        notes += _few_clusters(stats)
    with np.errstate(over="ignore"):  # a diverging estimate (flagged below) may give ratio CI inf
        table = wald_table(list(X.columns), beta, np.sqrt(np.diag(cov)), df=df, ratio=family != "gaussian", alpha=alpha)
    return GlmFit(table=table, stats=stats, warnings=notes + _divergence_notes(table), convention=convention)


def _fit_stats(y, mu, offset, kind, theta, k) -> dict:
    n = len(y)
    var = {"gaussian": np.ones(n), "negbin": mu + mu**2 / (theta or 1.0), "poisson": mu}[kind]
    null_mu = _irls(y, np.ones((n, 1)), offset, kind, theta)[2]
    loglik = _loglik(y, mu, kind, theta, n)
    stats = {
        "n": int(n),
        "df_resid": int(n - k),
        "deviance": _deviance(y, mu, kind, theta),
        "null_deviance": _deviance(y, null_mu, kind, theta),
        "dispersion": 1.0,
        "loglik": loglik,
        "aic": -2 * loglik + 2 * (k + (kind in ("negbin", "gaussian"))),
    }
    if n > k:  # a saturated model has no residual df to estimate a dispersion from
        stats["pearson_dispersion"] = float(np.sum((y - mu) ** 2 / var) / (n - k))
    return stats


def _few_clusters(stats: dict, cr2: bool = False) -> list[str]:
    g = stats.get("n_clusters")
    if g is None or g >= 20:
        return []
    if cr2:
        return (
            [
                f"only {g} clusters: the CR2 SE with Satterthwaite df allows for that, but with very few "
                "clusters the interval is wide"
            ]
            if g < 10
            else []
        )
    return [f"only {g} clusters: cluster-robust SEs are unreliable with fewer than about 20 (expect CIs too narrow)"]


def _small_sample_covariance(y, X, mu, family, cluster, small_sample, stats):
    """CR2 or CR3 with the GLM working model (clubSandwich ``glm`` method); per-coefficient Satterthwaite df."""
    from evalkit.stats._crve import cr2

    kind, theta = family
    if kind == "gaussian":
        res = cr2(X, y - mu, cluster, kind=small_sample)
    else:
        variance = mu if kind == "poisson" else mu + mu**2 / theta
        # log link: d mu / d eta = mu; W = 1 / V(mu); the working model Theta = V(mu)
        res = cr2(X * mu[:, None], y - mu, cluster, weights=1 / variance, target=variance, kind=small_sample)
    stats["n_clusters"] = res.n_clusters
    return (
        res.vcov,
        res.df,
        f"{small_sample} cluster-robust SE ({res.n_clusters} clusters), Satterthwaite t as clubSandwich",
    )


def _divergence_notes(table: pd.DataFrame) -> list[str]:
    """R silently prints e.g. -22 (SE 4e4) for a level without events; say so instead."""
    bad = table.index[(table["estimate"].abs() > 10) & (table["se"] > 100)]
    if len(bad) == 0:
        return []
    return [
        f"estimate(s) for {', '.join(map(str, bad))} diverge (a level or cell has no events): "
        "they and their CIs are not meaningful"
    ]


def _covariance(cov, family, df_resid):
    """Model-based covariance, test df (None = z) and a phrase naming the convention."""
    if family == "quasipoisson":
        return cov, df_resid, "SE x sqrt(Pearson dispersion), t on residual df"
    if family == "gaussian":
        return cov, df_resid, "model-based SE, t on residual df"
    return cov, None, "model-based SE, Wald z"


def _robust_covariance(model, beta, cluster, hac, stats):
    """Cluster-robust or Newey-West covariance from statsmodels, at our estimates."""
    if cluster is not None:
        n_groups = len(np.unique(cluster))
        if n_groups < 2:
            raise EstimationError("cluster-robust SEs need at least 2 clusters; found 1")
        stats["n_clusters"] = n_groups
        robust = model.fit(
            start_params=beta, cov_type="cluster", cov_kwds={"groups": pd.factorize(cluster)[0], "use_correction": True}
        )
        return (robust.cov_params(), None, f"cluster-robust SE ({n_groups} clusters, factor G/(G-1)*(N-1)/(N-K)), z")
    lags, groups = hac
    kwds = {"maxlags": lags, "use_correction": False}
    if groups is not None:
        kwds["groups"] = pd.factorize(groups)[0]
    robust = model.fit(start_params=beta, cov_type="HAC" if groups is None else "hac-panel", cov_kwds=kwds)
    stats["hac_lags"] = lags
    return (
        robust.cov_params(),
        stats["df_resid"],
        f"Newey-West SE (Bartlett, {lags} lags, no prewhitening, no df adjustment), t on residual df",
    )
