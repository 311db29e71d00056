"""Linear regression from a formula with classical, HC1, CR1 or CR2 standard errors (``evalkit.effects.ols``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import patsy

from evalkit.core.result import (
    EstimationError,
    InputError,
    Result,
    check_alpha,
    checks_alpha,
    choice,
    require_columns,
    wald_table,
)
from evalkit.stats import _crve
from evalkit.stats.effects._wild import cluster_codes, crv1_vcov

__all__ = ["ols"]

_SE_TYPES = ("iid", "hc1", "cluster", "cr2", "cr3")


@checks_alpha
def ols(
    data: pd.DataFrame, formula: str, *, cluster: str | None = None, se_type: str | None = None, alpha: float = 0.05
) -> Result:
    """Ordinary least squares of a patsy formula, with the SEs an evaluation with few clusters needs.

    Parameters
    ----------
    data : DataFrame
    formula : str
        ``"y ~ x + C(group)"`` (patsy; treatment contrasts as R's ``lm``).
    cluster : str, optional
        Column of clusters (e.g. team).
    se_type : {"iid", "hc1", "cluster", "cr2", "cr3"}, optional
        Default ``"cluster"`` with ``cluster``, else ``"iid"``. ``"iid"``: as R
        ``lm``; ``"hc1"``: as Stata ``robust``; ``"cluster"``: CR1 with
        G/(G-1)*(N-1)/(N-K), t on G - 1 df (Stata ``vce(cluster)``);
        ``"cr2"``: CR2 (Bell-McCaffrey) with a Satterthwaite t per term, as R
        clubSandwich, the choice with few clusters; ``"cr3"``: the jackknife
        (leave one cluster out) form, as clubSandwich ``type = "CR3"``.
    alpha : float
        1 - confidence level.

    Returns
    -------
    Result
        One row per term (patsy's names; ``Intercept``): ``estimate``,
        ``se``, ``ci_low``, ``ci_high``, ``t``, ``p`` and, with ``"cr2"``,
        ``df``. Stats: ``n``, ``df_resid``, ``r2`` and ``n_clusters``.

    References
    ----------
    R ``lm``; ``sandwich::vcovCL(type = "HC1")``; ``clubSandwich::coef_test(fit,
    vcov = "CR2", cluster = , test = "Satterthwaite")`` (Pustejovsky & Tipton
    2018, JBES 36:672-683).

    Examples
    --------
    >>> d = pd.DataFrame({"y": [1.0, 2.1, 2.9, 4.2, 5.1, 5.8], "x": [1, 2, 3, 4, 5, 6],
    ...                   "team": ["a", "a", "b", "b", "c", "c"]})
    >>> res = ols(d, "y ~ x", cluster="team", se_type="cr2")
    >>> print(round(res["x"]["estimate"], 3), round(res["x"]["df"], 2))
    0.98 1.24
    """
    se_type = choice(se_type or ("cluster" if cluster else "iid"), _SE_TYPES, "se_type")
    if (cluster is None) != (se_type in ("iid", "hc1")):
        raise InputError(f"se_type={se_type!r} " + ("needs cluster=" if cluster is None else "ignores cluster="))
    check_alpha(alpha)
    require_columns(data, cluster)
    if cluster is not None:
        data = data[data[cluster].notna()]
    try:
        y, x = patsy.dmatrices(formula, data, return_type="dataframe", NA_action="drop")
    except patsy.PatsyError as err:
        raise InputError(f"cannot build the model from formula {formula!r}: {err}") from err
    names, rows = list(x.columns), y.index
    x, y = x.to_numpy(dtype=float), y.iloc[:, 0].to_numpy(dtype=float)
    n, k = x.shape
    if np.linalg.matrix_rank(x) < k:
        raise EstimationError("the regressors are collinear (a term duplicates others)")
    if n <= k:
        raise EstimationError(f"{n} rows for {k} coefficients: too few to estimate the model")
    beta = np.linalg.lstsq(x, y, rcond=None)[0]
    resid = y - x @ beta
    bread = np.linalg.inv(x.T @ x)
    stats = {"n": n, "df_resid": n - k, "r2": float(1 - resid @ resid / np.sum((y - y.mean()) ** 2))}
    df = n - k
    if se_type == "iid":
        vcov, said = bread * (resid @ resid) / (n - k), "iid SE as R lm"
    elif se_type == "hc1":
        vcov = n / (n - k) * bread @ (x.T * resid**2) @ x @ bread
        said = "HC1 SE as Stata robust"
    else:
        codes, n_clusters = cluster_codes(data.loc[rows, cluster].to_numpy())
        stats["n_clusters"] = n_clusters
        if se_type == "cluster":
            vcov, df = crv1_vcov(x, resid, codes, n_clusters, k), n_clusters - 1
            said = f"CR1 SE by '{cluster}' (G/(G-1)*(N-1)/(N-K)), t on G-1 df"
        else:
            robust = _crve.cr2(x, resid, codes, kind=se_type.upper())
            vcov, df = robust.vcov, robust.df
            said = f"{se_type.upper()} SE by '{cluster}' with Satterthwaite t per term (as clubSandwich)"
    table = wald_table(names, beta, np.sqrt(np.diag(vcov)), alpha=alpha, df=df)
    return Result(table=table, stats=stats, method=f"OLS as R lm, {said}")
