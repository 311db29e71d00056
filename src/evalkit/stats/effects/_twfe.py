"""Two-way fixed effects with absorbed unit and period effects (as R fixest feols)."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from scipy import linalg

from evalkit.core.result import (
    EstimationError,
    InputError,
    Result,
    checks_alpha,
    choice,
    wald_table,
)
from evalkit.stats import _crve
from evalkit.stats.effects._common import complete_rows, cr2_notes, require_variation, with_wild_bootstrap
from evalkit.stats.effects._wild import cluster_codes, cluster_notes, crv1_vcov, wild_test

__all__ = ["twfe"]


@checks_alpha
def twfe(
    data: pd.DataFrame,
    outcome: str,
    treatment: str,
    unit: str,
    time: str,
    *,
    covariates: Sequence[str] = (),
    cluster: str | None = None,
    se_type: str = "cluster",
    alpha: float = 0.05,
    seed: int | None = None,
    boot_weights: str | None = None,
) -> Result:
    """Two-way fixed effects regression ``outcome ~ treatment | unit + time``.

    Parameters
    ----------
    data : DataFrame
        Long format; several rows per unit and period are allowed (e.g.
        workers within team-periods with ``unit`` = team).
    outcome, treatment : str
        Outcome and treatment (0/1 or a dose) columns.
    unit, time : str
        Unit and period columns (both absorbed as fixed effects).
    covariates : sequence of str
        Numeric control variables (``y ~ d + covariates | unit + time``);
        only the treatment's row is reported.
    cluster : str, optional
        Cluster column; default ``unit``.
    se_type : {"cluster", "cr2", "wild"}
        CRV1 with the fixest small-sample factor; CR2 with Satterthwaite df
        (column ``df``; equal to the dummy-variable fit, as clubSandwich for
        ``plm``/``fixest``); or p and CI from the wild cluster restricted
        bootstrap (needs units nested in clusters).
    alpha : float
        1 - confidence level.
    seed : int, optional
        Seed of the bootstrap draws.
    boot_weights : {"webb", "rademacher"}, optional
        As :func:`did`.

    Returns
    -------
    Result
        One row named after ``treatment``: ``estimate``, ``se``, ``ci_low``,
        ``ci_high``, ``t``, ``p`` (t on G-1 df).  Stats: ``n``, ``n_units``,
        ``n_periods``, ``n_clusters``, ``dof_k`` (the K of (N-1)/(N-K)).

    References
    ----------
    R: ``fixest::feols(y ~ d | unit + time, cluster = ~unit)`` with the default
    ``ssc()``; equals Stata ``xtreg y d i.time, fe vce(cluster unit)``; for
    ``"cr2"``, ``clubSandwich::coef_test(plm(y ~ d, effect = "twoways"), vcov
    = "CR2", test = "Satterthwaite")``.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> panel = pd.DataFrame({"unit": np.repeat(np.arange(20), 4), "time": np.tile(np.arange(4), 20)})
    >>> panel["d"] = ((panel["unit"] < 10) & (panel["time"] >= 2)).astype(int)
    >>> panel["y"] = panel["unit"] * 0.3 + panel["time"] + 2 * panel["d"] + rng.normal(0, 0.1, 80)
    >>> round(float(twfe(panel, "y", "d", "unit", "time")["d"]["estimate"]), 1)
    2.0
    """
    se_type = choice(se_type, ("cluster", "cr2", "wild"), "se_type")
    cluster = cluster or unit
    if isinstance(covariates, str):
        covariates = [covariates]
    covariates = list(covariates)
    df = complete_rows(
        data, [outcome, treatment, *covariates, unit, time, cluster], numeric=[outcome, treatment, *covariates]
    )
    y = df[outcome].to_numpy(dtype=float)
    require_variation(y, outcome)
    require_variation(df[treatment].to_numpy(dtype=float), treatment)
    u_codes, n_units = pd.factorize(df[unit], sort=True)[0], df[unit].nunique()
    t_codes, levels = pd.factorize(df[time], sort=True)
    if len(levels) < 2:
        raise InputError(f"'{time}' has a single period: two-way fixed effects need at least two")
    dummies = np.eye(len(levels))[t_codes][:, 1:]
    z = np.column_stack([df[treatment].to_numpy(dtype=float), y, df[covariates].to_numpy(dtype=float), dummies])
    z = z - pd.DataFrame(z).groupby(u_codes).transform("mean").to_numpy()
    x = np.column_stack([z[:, 0], z[:, 2 : 2 + len(covariates)], _independent_columns(z[:, 2 + len(covariates) :])])
    y_w = z[:, 1]
    if np.linalg.matrix_rank(x) < x.shape[1]:
        raise EstimationError(
            f"'{treatment}' is collinear with the unit and period effects "
            "(e.g. every unit is treated from the same period on)"
        )
    beta = np.linalg.lstsq(x, y_w, rcond=None)[0]
    codes, n_clusters = cluster_codes(df[cluster])
    nested = [(df.groupby(col)[cluster].nunique() == 1).all() for col in (unit, time)]
    if se_type == "cr2":
        return _twfe_cr2(df, (treatment, unit, cluster), (x, beta, y_w - x @ beta, u_codes), nested[0], alpha)
    sizes = [n_units, len(levels)]
    k_dof = 1 + (1 if all(nested) else sum(sizes) - 1 - sum(s - 1 for s, n in zip(sizes, nested) if n))
    vcov = crv1_vcov(x, y_w - x @ beta, codes, n_clusters, k_dof)
    table = wald_table([treatment], [beta[0]], [np.sqrt(vcov[0, 0])], alpha=alpha, df=n_clusters - 1)
    suffix, notes = cluster_notes(codes, n_clusters, df[treatment].to_numpy(dtype=float))
    method = (
        f"Two-way FE (unit + period), CRV1 SE by '{cluster}' as fixest ssc(): "
        f"(N-1)/(N-K) with nested FE not in K, G/(G-1), t on G-1 df{suffix}"
    )
    stats = {
        "n": len(df),
        "n_units": int(n_units),
        "n_periods": len(levels),
        "n_clusters": n_clusters,
        "dof_k": int(k_dof),
    }
    res = Result(table=table, stats=stats, method=method, warnings=notes)
    if se_type == "wild":
        # Demeaning by unit commutes with cluster-constant weights only if units nest in clusters.
        if not nested[0]:
            raise InputError(f"the wild bootstrap needs each '{unit}' inside one '{cluster}'")
        res = with_wild_bootstrap(
            res, wild_test(x, y_w, codes, n_clusters, 0, weights=boot_weights, alpha=alpha, seed=seed), seed
        )
    return res


def _twfe_cr2(df: pd.DataFrame, names: tuple[str, str, str], fit: tuple, nested: bool, alpha: float) -> Result:
    """CR2 of the two-way FE coefficient: absorbed units if they nest in the clusters, else unit dummies."""
    treatment, unit, cluster = names
    x, beta, resid, u_codes = fit
    clusters = df[cluster].to_numpy()
    if nested:
        robust = _crve.cr2(x, resid, clusters, coefs=[0], absorbed=u_codes)
    else:
        # the unit effects' hat spans clusters: the full design with every unit's dummy (same fit, same beta)
        robust = _crve.cr2(np.column_stack([x, np.eye(u_codes.max() + 1)[u_codes]]), resid, clusters, coefs=[0])
    table = wald_table([treatment], [beta[0]], [np.sqrt(robust.vcov[0, 0])], alpha=alpha, df=[robust.df[0]])
    stats = {"n": len(df), "n_units": int(u_codes.max() + 1), "n_clusters": robust.n_clusters}
    method = (
        f"Two-way FE (unit + period), CR2 SE by '{cluster}' with Satterthwaite t (as clubSandwich"
        f"{'; unit effects absorbed, nested in the clusters' if nested else '; unit dummies in the hat'})"
    )
    return Result(table=table, stats=stats, method=method, warnings=cr2_notes(robust.df[0]))


def _independent_columns(x: np.ndarray) -> np.ndarray:
    """Drop period dummies made redundant by irregular panels (as fixest's references)."""
    _, r, piv = linalg.qr(x, mode="economic", pivoting=True)
    diag = np.abs(np.diag(r))
    return x[:, np.sort(piv[diag > diag[0] * 1e-10])]
