"""Pilot-vs-comparison effects: difference-in-differences, two-way fixed effects,
mixed ANOVA and two-group comparisons.

Conventions (R or Stata where Python and R differ):

- ``did`` OLS SEs: ``"iid"`` as R ``lm``; ``"hc1"`` as ``sandwich::vcovHC(type =
  "HC1")`` / Stata ``robust``; ``"cluster"`` CRV1 with G/(G-1) * (N-1)/(N-K)
  and t on G-1 df, as Stata ``vce(cluster)`` and ``fixest`` (statsmodels
  ``cov_type="cluster"`` computes exactly this).
- ``twfe``: within-unit demeaning plus period dummies; CRV1 with the ``fixest``
  default ``ssc(adj = TRUE, fixef.K = "nested", cluster.adj = TRUE)``: fixed
  effects nested in the cluster are not counted in K (if all are nested, one
  is counted for the intercept); t on G-1 df (``t.df = "min"``).  Written by
  hand because statsmodels has no absorbed fixed effects.
- ``se_type="cr2"``: the CR2 (Bell-McCaffrey) sandwich with a Satterthwaite t
  per coefficient (a ``df`` column), as R clubSandwich ``coef_test(fit, vcov =
  "CR2", test = "Satterthwaite")``; with absorbed unit effects nested in the
  clusters it equals the dummy-variable fit, as clubSandwich for ``plm``
  (``evalkit.stats._crve``). The choice with few clusters: CRV1 with t on G - 1 df
  is too narrow there.
- ``se_type="wild"``: wild cluster restricted bootstrap-t, written here rather
  than taken from the PyPI package ``wildboottest`` (``evalkit.stats._wild`` says why).
- ``mixed_anova``: pingouin (checked against JASP and R ``afex``); with missing
  waves a random-intercept linear mixed model by REML instead (``evalkit.stats._lmm``,
  checked against statsmodels MixedLM; profiled REML is ~20x faster here).
- ``compare_groups``: Welch t as R ``t.test``; Hedges' g and its variance as
  R ``metafor::escalc(measure = "SMD")`` with a normal CI; Mann-Whitney as R
  ``wilcox.test`` (exact when both groups < 50 and no ties).
"""

from __future__ import annotations

import re
from typing import Any, Sequence

import numpy as np
import pandas as pd
import patsy
import pingouin as pg
import statsmodels.formula.api as smf
from scipy import linalg, special
from scipy import stats as st

from evalkit.core.result import (
    EstimationError,
    InputError,
    Result,
    binary_codes,
    checks_alpha,
    choice,
    renamed,
    require_columns,
    wald_table,
)
from evalkit.stats import _crve, _lmm
from evalkit.stats._ols import ols
from evalkit.stats._staggered import staggered_did
from evalkit.stats._wild import WildResult, cluster_codes, cluster_notes, crv1_vcov, wild_test

__all__ = ["did", "did_table", "twfe", "staggered_did", "mixed_anova", "compare_groups", "ols"]

_SE_TYPES = ("iid", "hc1", "cluster", "cr2", "wild")


def _clean(data: pd.DataFrame, columns: Sequence[str | None], numeric: Sequence[str] = ()) -> pd.DataFrame:
    """Complete rows of the named columns; ``numeric`` ones must hold numbers."""
    cols = list(dict.fromkeys(c for c in columns if c is not None))
    require_columns(data, *cols)
    for col in numeric:
        if not pd.api.types.is_numeric_dtype(data[col]):
            raise InputError(f"'{col}' must be numeric, not {data[col].dtype}")
    out = data[cols].dropna()
    if out.empty:
        raise InputError("no complete rows in the data for the requested columns")
    return out


def _binary_frame(data, outcome, treated, post, unit) -> pd.DataFrame:
    df = _clean(data, [outcome, treated, post, unit], numeric=[outcome])
    df[treated] = binary_codes(df[treated], treated, ("comparison", "pilot"))
    df[post] = binary_codes(df[post], post, ("before", "after"))
    return df


def _varies(values: np.ndarray, col: str) -> None:
    if np.ptp(values) == 0:
        raise EstimationError(f"'{col}' is constant: there is no variation to estimate an effect from")


def _summary(values: np.ndarray) -> tuple[float, float, int]:
    n = len(values)
    if n < 2:
        raise EstimationError(f"a cell has {n} observation(s): a mean and its SE need at least 2")
    return float(np.mean(values)), float(np.std(values, ddof=1) / np.sqrt(n)), n


def _welch_df(se_a: float, n_a: int, se_b: float, n_b: int) -> float:
    return (se_a**2 + se_b**2) ** 2 / (se_a**4 / (n_a - 1) + se_b**4 / (n_b - 1))


def _change_scores(df: pd.DataFrame, outcome: str, unit: str, post: str, treated: str) -> pd.DataFrame:
    """One row per unit seen in both periods: its change and its group."""
    if df.duplicated([unit, post]).any():
        raise InputError(f"some '{unit}' appear more than once in the same period")
    if (df.groupby(unit)[treated].nunique() > 1).any():
        raise InputError(f"'{treated}' changes within some '{unit}': it must be fixed per unit")
    wide = df.pivot(index=unit, columns=post, values=outcome).dropna()
    if wide.empty:
        raise EstimationError(f"no '{unit}' is observed in both periods")
    group = df.drop_duplicates(unit).set_index(unit)[treated]
    return pd.DataFrame({"change": wide[1] - wide[0], "treated": group.loc[wide.index]})


@renamed(treated="treatment")
@checks_alpha
def did(
    data: pd.DataFrame,
    outcome: str,
    treatment: str,
    post: str,
    *,
    unit: str | None = None,
    balanced: bool = False,
    covariates: Sequence[str] = (),
    cluster: str | None = None,
    se_type: str | None = None,
    alpha: float = 0.05,
    seed: int | None = None,
    boot_weights: str | None = None,
) -> Result:
    """Difference-in-differences of a pilot (treated) and a comparison group.

    Parameters
    ----------
    data : DataFrame
        Long format: one row per unit and period.
    outcome, treatment, post : str
        Outcome column; 0/1 columns for the pilot group and the after period.
    unit : str, optional
        Unit id (needed for ``balanced=True``; the default cluster otherwise).
    balanced : bool
        If True, use units seen in both periods: estimate = mean change
        (treated) - mean change (control), SE = sqrt(var_t/n_t + var_c/n_c),
        CI and p on Welch's df (Card & Krueger 1994, Table 3; identical to
        R ``t.test(change ~ treated)``).  Otherwise OLS
        ``outcome ~ treated * post + covariates``.
    covariates : sequence of str
        Extra regressors (OLS only).
    cluster : str, optional
        Cluster column (teams).  Giving one makes ``se_type`` default to
        ``"cluster"``.
    se_type : {"iid", "hc1", "cluster", "cr2", "wild"}, optional
        Default ``"cluster"`` if ``cluster`` is given, else ``"iid"``.
        ``"cluster"``: CRV1, G/(G-1)*(N-1)/(N-K), t on G-1 df.  ``"cr2"``:
        CR2 with Satterthwaite df (column ``df``).  ``"wild"``: the CRV1 SE,
        with p and CI from the wild cluster restricted bootstrap (Webb
        weights if G < 12, else Rademacher, enumerated when 2^G <= 9999).
    alpha : float
        1 - confidence level.
    seed : int, optional
        Seed of the bootstrap draws (``se_type="wild"``).
    boot_weights : {"webb", "rademacher"}, optional
        Wild bootstrap weights; default Webb below 12 clusters, else Rademacher.

    Returns
    -------
    Result
        Row ``did``: ``estimate``, ``se``, ``ci_low``, ``ci_high``, ``t``, ``p``
        (and ``df`` with ``"cr2"``). Stats: ``n``, ``n_units`` (when known),
        ``r2`` (OLS), ``n_clusters``.

    References
    ----------
    Card & Krueger (1994), AER 84(4), Table 3.  R: ``lm(y ~ treated * post)``
    with ``sandwich::vcovCL(type = "HC1")``; Stata ``reg ..., vce(cluster)``;
    ``clubSandwich::coef_test(fit, vcov = "CR2", cluster = , test =
    "Satterthwaite")`` for ``"cr2"``; ``fwildclusterboot::boottest`` / Stata
    ``boottest`` for ``"wild"``.

    Examples
    --------
    >>> df = pd.DataFrame({"y": [1.0, 2.0, 1.5, 4.0, 1.2, 2.1, 1.4, 4.3],
    ...                    "tr": [0, 0, 1, 1, 0, 0, 1, 1], "post": [0, 1] * 4})
    >>> round(float(did(df, "y", "tr", "post")["did"]["estimate"]), 2)
    1.7
    """
    treated = treatment  # the body's name for the 0/1 pilot column
    if balanced:
        if unit is None:
            raise InputError("balanced=True needs unit= (the id linking the two periods)")
        if covariates or cluster is not None or se_type is not None:
            raise InputError(
                "balanced=True compares change scores with unpooled SEs; "
                "covariates, cluster and se_type apply to the OLS version only"
            )
        return _did_balanced(data, outcome, treated, post, unit, alpha)
    if isinstance(covariates, str):
        covariates = [covariates]
    se_type = choice(se_type or ("cluster" if cluster else "iid"), _SE_TYPES, "se_type")
    if cluster is not None and se_type in ("iid", "hc1"):
        raise InputError(f"cluster= is ignored by se_type={se_type!r}: use 'cluster' or 'wild', or drop cluster=")
    if se_type in ("cluster", "cr2", "wild"):
        cluster = cluster or unit
        if cluster is None:
            raise InputError(f"se_type={se_type!r} needs cluster= (or unit=) to cluster on")
    df = _clean(data, [outcome, treated, post, *covariates, unit, cluster], numeric=[outcome])
    frame = df[list(covariates)].copy()
    frame["_y"] = df[outcome].to_numpy(dtype=float)
    frame["_tr"] = binary_codes(df[treated], treated, ("comparison", "pilot"))
    frame["_po"] = binary_codes(df[post], post, ("before", "after"))
    _varies(frame["_y"].to_numpy(), outcome)
    cells = frame.groupby(["_tr", "_po"]).size()
    if len(cells) < 4:
        raise InputError("every treated x post cell needs rows (pilot and comparison, before and after)")
    rhs = "".join(f" + Q({c!r})" for c in covariates)
    model = smf.ols("_y ~ _tr * _po" + rhs, data=frame)
    if np.linalg.matrix_rank(model.exog) < model.exog.shape[1]:
        raise EstimationError(
            "the regressors are collinear (a covariate duplicates treated, post or another covariate)"
        )
    j = model.exog_names.index("_tr:_po")
    method = f"DiD by OLS (outcome ~ treated * post{' + covariates' if covariates else ''})"
    stats: dict[str, Any] = {"n": len(frame)}
    if unit is not None:
        stats["n_units"] = int(df[unit].nunique())
    notes: list[str] = []
    if se_type in ("iid", "hc1"):
        fit = model.fit(cov_type="nonrobust" if se_type == "iid" else "HC1")
        df_t = fit.df_resid
        method += ", iid SE as R lm" if se_type == "iid" else ", HC1 SE as Stata robust"
    elif se_type == "cr2":
        fit = model.fit()
        robust = _crve.cr2(model.exog, fit.resid.to_numpy(), df[cluster].to_numpy(), coefs=[j])
        table = wald_table(["did"], [fit.params.iloc[j]], [np.sqrt(robust.vcov[j, j])], alpha=alpha, df=[robust.df[j]])
        stats.update(n_clusters=robust.n_clusters, r2=float(fit.rsquared))
        method += f", CR2 SE by '{cluster}' with Satterthwaite t (as clubSandwich)"
        return Result(table=table, stats=stats, method=method, warnings=_cr2_notes(robust.df[j]))
    else:
        codes, n_clusters = cluster_codes(df[cluster])
        fit = model.fit(cov_type="cluster", cov_kwds={"groups": codes}, use_t=True)
        df_t = n_clusters - 1
        suffix, notes = cluster_notes(codes, n_clusters, frame["_tr"].to_numpy())
        method += f", CRV1 SE by '{cluster}' (G/(G-1)*(N-1)/(N-K), t on G-1 df){suffix}"
        stats["n_clusters"] = n_clusters
    table = wald_table(["did"], [fit.params.iloc[j]], [fit.bse.iloc[j]], alpha=alpha, df=df_t)
    stats["r2"] = float(fit.rsquared)
    res = Result(table=table, stats=stats, method=method, warnings=notes)
    if se_type == "wild":
        res = _with_wild(
            res,
            wild_test(model.exog, model.endog, codes, n_clusters, j, weights=boot_weights, alpha=alpha, seed=seed),
            seed,
        )
    return res


def _cr2_notes(df: float) -> list[str]:
    """Say so when the Satterthwaite df show that a handful of clusters carry the estimate."""
    if df < 4:
        return [f"Satterthwaite df {df:.1f}: a few clusters carry the estimate, so the CR2 interval is wide"]
    return []


def _with_wild(res: Result, boot: WildResult, seed: int | None) -> Result:
    """``res`` with p and CI of its single row taken from the wild bootstrap."""
    res.table.loc[:, ["p", "ci_low", "ci_high"]] = [[boot.p, boot.ci_low, boot.ci_high]]
    n_clusters = res.stats["n_clusters"]
    draws = "all sign vectors enumerated" if boot.enumerated else f"{boot.reps} draws, seed {seed}"
    res.stats.update(boot_reps=boot.reps, boot_weights=boot.weights)
    res.warnings = [w for w in res.warnings if "(se_type='wild')" not in w]
    if n_clusters < 10:
        res.warnings.append(f"only {n_clusters} clusters: even the wild cluster bootstrap is fragile here")
    if not np.isfinite([boot.ci_low, boot.ci_high]).all():
        res.warnings.append("the bootstrap confidence interval is unbounded: too few clusters to bound the effect")
    res.method = res.method.split("; ")[0] + (
        f"; p and CI: wild cluster restricted bootstrap-t, {boot.weights} weights, {draws}, "
        "CI by test inversion (as boottest)"
    )
    return res


def _did_balanced(data, outcome, treated, post, unit, alpha) -> Result:
    df = _binary_frame(data, outcome, treated, post, unit)
    ch = _change_scores(df, outcome, unit, post, treated)
    (m_t, se_t, n_t), (m_c, se_c, n_c) = (_summary(ch.loc[ch["treated"] == g, "change"].to_numpy()) for g in (1, 0))
    se = np.hypot(se_t, se_c)
    if se == 0:
        raise EstimationError(f"'{outcome}' changes by the same amount in every unit: no variance")
    welch = _welch_df(se_t, n_t, se_c, n_c)
    table = wald_table(["did"], [m_t - m_c], [se], alpha=alpha, df=welch)
    stats = {
        "n": 2 * len(ch),
        "n_units": len(ch),
        "n_treated": n_t,
        "n_control": n_c,
        "mean_change_treated": m_t,
        "mean_change_control": m_c,
        "df": welch,
    }
    return Result(
        table=table,
        stats=stats,
        method="DiD of balanced-panel change scores (Card & Krueger 1994), "
        "unpooled SE, Welch t as R t.test(change ~ treated)",
    )


@renamed(treated="treatment")
@checks_alpha
def did_table(
    data: pd.DataFrame, outcome: str, treatment: str, post: str, *, unit: str | None = None, alpha: float = 0.05
) -> Result:
    """Group-by-period means with SEs, in the layout of Card & Krueger's Table 3.

    Parameters
    ----------
    data : DataFrame
        Long format, one row per unit and period.
    outcome, treatment, post : str
        Outcome column; 0/1 columns for the pilot group and the after period.
    unit : str, optional
        Unit id.  With it the ``change`` rows use units seen in both periods
        (balanced change scores); without it they are differences of the
        period means with independent-samples SEs.
    alpha : float
        1 - confidence level.

    Returns
    -------
    Result
        Rows ``<period>:<group>`` for period in ``before``, ``after``,
        ``change`` and group in ``control``, ``treated``, ``difference``
        (treated - control).  Columns ``period``, ``group``, ``estimate``,
        ``se`` (SD/sqrt(n); differences: root sum of squared SEs), ``ci_low``,
        ``ci_high``, ``t``, ``p``, ``n``, ``df`` (t on n-1 df for a mean,
        Welch df for a difference).  The before and after rows use every unit
        with a non-missing outcome in that period.

    References
    ----------
    Card & Krueger (1994), AER 84(4), Table 3 (rows 1, 2 and 4).

    Examples
    --------
    >>> df = pd.DataFrame({"id": [1, 1, 2, 2, 3, 3, 4, 4],
    ...                    "y": [1.0, 2.0, 1.4, 2.2, 1.5, 4.0, 1.2, 4.1],
    ...                    "tr": [0, 0, 0, 0, 1, 1, 1, 1], "post": [0, 1] * 4})
    >>> round(float(did_table(df, "y", "tr", "post", unit="id")["change:difference"]["estimate"]), 2)
    1.9
    """
    treated = treatment
    df = _binary_frame(data, outcome, treated, post, unit)
    cells: dict[tuple[str, str], tuple[float, float, int, float]] = {}  # mean, SE, n, df
    for p_code, period in enumerate(("before", "after")):
        sub = df[df[post] == p_code]
        for g_code, group in enumerate(("control", "treated")):
            m, se, n = _summary(sub.loc[sub[treated] == g_code, outcome].to_numpy(dtype=float))
            cells[period, group] = (m, se, n, n - 1)
    if unit is not None:
        ch = _change_scores(df, outcome, unit, post, treated)
        for g_code, group in enumerate(("control", "treated")):
            m, se, n = _summary(ch.loc[ch["treated"] == g_code, "change"].to_numpy())
            cells["change", group] = (m, se, n, n - 1)
    else:
        for group in ("control", "treated"):
            (m0, se0, n0, _), (m1, se1, n1, _) = cells["before", group], cells["after", group]
            cells["change", group] = (m1 - m0, np.hypot(se0, se1), n0 + n1, _welch_df(se0, n0, se1, n1))
    for period in ("before", "after", "change"):
        (mc, sec, nc, dfc), (mt, set_, nt, dft) = cells[period, "control"], cells[period, "treated"]
        df_diff = (sec**2 + set_**2) ** 2 / (sec**4 / dfc + set_**4 / dft)
        cells[period, "difference"] = (mt - mc, np.hypot(sec, set_), nc + nt, df_diff)
    rows = []
    for (period, group), (m, se, n, dof) in cells.items():
        row = wald_table([f"{period}:{group}"], [m], [se], alpha=alpha, df=dof)
        rows.append(row.assign(period=period, group=group, n=n, df=dof))
    table = pd.concat(rows)[["period", "group", "estimate", "se", "ci_low", "ci_high", "t", "p", "n", "df"]]
    change = "balanced change scores" if unit is not None else "differences of period means"
    return Result(
        table=table,
        stats={"n": len(df)},
        method=f"Group x period means, SE = SD/sqrt(n); change rows: {change} (Card & Krueger 1994 Table 3)",
    )


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
    df = _clean(data, [outcome, treatment, *covariates, unit, time, cluster], numeric=[outcome, treatment, *covariates])
    y = df[outcome].to_numpy(dtype=float)
    _varies(y, outcome)
    _varies(df[treatment].to_numpy(dtype=float), treatment)
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
        res = _with_wild(
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
    return Result(table=table, stats=stats, method=method, warnings=_cr2_notes(robust.df[0]))


def _independent_columns(x: np.ndarray) -> np.ndarray:
    """Drop period dummies made redundant by irregular panels (as fixest's references)."""
    _, r, piv = linalg.qr(x, mode="economic", pivoting=True)
    diag = np.abs(np.diag(r))
    return x[:, np.sort(piv[diag > diag[0] * 1e-10])]


@renamed(dv="outcome", within="time", between="group", subject="unit")
def mixed_anova(
    data: pd.DataFrame, outcome: str, time: str, group: str, unit: str, *, correction: bool = True
) -> Result:
    """Mixed (split-plot) ANOVA: one between-subject and one within-subject factor.

    Parameters
    ----------
    data : DataFrame
        Long format, one row per subject and level of ``within``.
    outcome, time, group, unit : str
        Outcome, within factor (e.g. survey wave), between factor (e.g. pilot
        vs comparison) and subject id (formerly ``dv``, ``within``,
        ``between``, ``subject``: those names still work, with a warning).
    correction : bool
        Add the Greenhouse-Geisser corrected p-value ``p_gg``.

    Returns
    -------
    Result
        Rows named ``between``, ``within`` and ``Interaction``; columns ``F``,
        ``df1``, ``df2``, ``p``, ``np2`` (partial eta squared) and ``p_gg``
        (the between row needs no sphericity correction: its p).  Stats:
        ``n``, ``n_subjects``, ``eps_gg``, ``w_spher``, ``p_spher``.  If some
        subject misses a wave, a linear mixed model is fitted instead (random
        intercept per subject, REML) and the rows carry Type III Wald tests:
        ``chi2``, ``df1``, ``p`` and ``F`` = chi2/df1; this is in ``warnings``.

    References
    ----------
    pingouin ``mixed_anova`` (agrees with JASP and R ``afex::aov_ez``); the
    fallback as R ``car::Anova(lmer(dv ~ between * within + (1 | subject)),
    type = 3)`` with sum-to-zero contrasts.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"id": np.repeat(np.arange(20), 2), "wave": np.tile([1, 2], 20),
    ...                    "arm": np.repeat(["comparison", "pilot"], 20)})
    >>> df["score"] = rng.normal(3, 1, 40) + 0.8 * ((df["arm"] == "pilot") & (df["wave"] == 2))
    >>> int(mixed_anova(df, "score", "wave", "arm", "id")["Interaction"]["df2"])
    18
    """
    dv, within, between, subject = outcome, time, group, unit  # the body's (pingouin's) names
    require_columns(data, dv, within, between, subject)
    if not pd.api.types.is_numeric_dtype(data[dv]):
        raise InputError(f"'{dv}' must be numeric, not {data[dv].dtype}")
    df = data[[dv, within, between, subject]].dropna(subset=[within, between, subject])
    if df.duplicated([subject, within]).any():
        raise InputError(f"some '{subject}' have several rows for one level of '{within}'")
    if (df.groupby(subject)[between].nunique() > 1).any():
        raise InputError(f"'{between}' changes within some '{subject}': it must be fixed per subject")
    for col in (within, between):
        if df[col].nunique() < 2:
            raise InputError(f"'{col}' has fewer than two levels: nothing to compare")
    complete = df.dropna(subset=[dv])
    _varies(complete[dv].to_numpy(dtype=float), dv)
    per_subject = complete.groupby(subject)[within].nunique()
    if len(complete) == len(df) and (per_subject == df[within].nunique()).all():
        return _anova_pingouin(complete, dv, within, between, subject, correction)
    return _anova_mixedlm(complete, dv, within, between, subject)


def _anova_pingouin(df, dv, within, between, subject, correction) -> Result:
    aov = pg.mixed_anova(data=df, dv=dv, within=within, between=between, subject=subject, correction=True)
    table = pd.DataFrame(
        {
            "F": aov["F"].to_numpy(),
            "df1": aov["DF1"].to_numpy(),
            "df2": aov["DF2"].to_numpy(),
            "p": aov["p_unc"].to_numpy(),
            "np2": aov["np2"].to_numpy(),
        },
        index=pd.Index([between, within, "Interaction"], name="term"),
    )
    stats: dict[str, Any] = {"n": len(df), "n_subjects": int(df[subject].nunique())}
    method = "Mixed ANOVA (pingouin; as R afex), type III sums of squares"
    if correction:
        # With two within levels sphericity holds trivially and pingouin omits the column.
        corrected = aov["p_GG_corr"] if "p_GG_corr" in aov else aov["p_unc"]
        table["p_gg"] = [aov["p_unc"].iloc[0], *corrected.iloc[1:]]
        stats["eps_gg"] = float(aov["eps"].iloc[1])
        if "W_spher" in aov:
            stats.update(w_spher=float(aov["W_spher"].iloc[1]), p_spher=float(aov["p_spher"].iloc[1]))
        method += ", Greenhouse-Geisser corrected p for within terms"
    return Result(table=table, stats=stats, method=method)


def _anova_mixedlm(df, dv, within, between, subject) -> Result:
    frame = pd.DataFrame(
        {
            "y": df[dv].to_numpy(dtype=float),
            "b": df[between].astype(str).to_numpy(),
            "w": df[within].astype(str).to_numpy(),
            "s": df[subject].to_numpy(),
        }
    )
    counts = frame.drop_duplicates("s")["b"].value_counts()
    if (counts < 2).any():
        raise EstimationError(f"each level of '{between}' needs at least two subjects with data")
    design = patsy.dmatrix("C(b, Sum) * C(w, Sum)", frame)
    fit = _lmm.fit_random_intercept(np.asarray(design), frame["y"].to_numpy(), frame["s"].to_numpy())
    rows = {}
    names = {"C(b, Sum)": between, "C(w, Sum)": within, "C(b, Sum):C(w, Sum)": "Interaction"}
    terms = np.array([re.sub(r"\[[^\]]*\]", "", name) for name in design.design_info.column_names])
    for term, label in names.items():
        sl = np.flatnonzero(terms == term)
        b = fit.beta[sl]
        chi2 = float(b @ np.linalg.solve(fit.cov[np.ix_(sl, sl)], b))
        rows[label] = {"chi2": chi2, "df1": len(b), "p": st.chi2.sf(chi2, len(b)), "F": chi2 / len(b)}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "term"
    notes = [
        f"some subjects miss a level of '{within}': fitted a linear mixed model instead of the "
        "ANOVA (random intercept per subject); rows give Wald chi2 tests, F = chi2/df1 is "
        "asymptotic, and df2 and np2 are not defined"
    ]
    if fit.boundary:
        notes.append("the subject variance is estimated at zero (boundary): the model is an ordinary regression")
    return Result(
        table=table,
        stats={
            "n": len(frame),
            "n_subjects": int(frame["s"].nunique()),
            "loglik_reml": fit.llf,
            "var_subject": fit.tau2,
            "var_residual": fit.sigma2,
        },
        method="Linear mixed model (REML, random intercept per subject, as lme4 lmer), "
        "type III Wald chi2 tests with sum-to-zero contrasts (unbalanced waves)",
        warnings=notes,
    )


@checks_alpha
def compare_groups(data: pd.DataFrame, outcome: str, group: str, *, alpha: float = 0.05) -> Result:
    """Compare an outcome between two groups: Welch t, Hedges' g, Mann-Whitney.

    Parameters
    ----------
    data : DataFrame
        One row per unit.
    outcome, group : str
        Outcome column and a column with exactly two groups.  Differences
        are second minus first in sorted order (1 - 0; "pilot" - "comparison").
    alpha : float
        1 - confidence level.

    Returns
    -------
    Result
        Rows ``difference`` (Welch: mean difference, SE, CI on Welch df, p)
        and ``hedges_g`` (g, SE = sqrt(vi), normal CI and Wald p); columns
        ``estimate``, ``se``, ``ci_low``, ``ci_high``, ``p``.  Stats: ``n``,
        per-group ``n_``, ``mean_``, ``sd_``; ``t``, ``df``; Mann-Whitney
        ``mw_u`` (R's W for the second group), ``mw_p`` and ``cles`` =
        U/(n1*n2), the probability that the second group's value is larger.

    References
    ----------
    R: ``t.test(y ~ g)``; ``metafor::escalc(measure = "SMD")`` (exact small-
    sample factor J, vi = 1/n1 + 1/n2 + g^2/(2(n1+n2))); ``wilcox.test(y ~ g)``.

    Examples
    --------
    >>> df = pd.DataFrame({"y": [3.1, 2.8, 3.5, 3.0, 4.2, 3.9, 4.4, 4.0],
    ...                    "arm": ["comparison"] * 4 + ["pilot"] * 4})
    >>> round(float(compare_groups(df, "y", "arm")["difference"]["estimate"]), 3)
    1.025
    """
    df = _clean(data, [outcome, group], numeric=[outcome])
    levels = sorted(pd.unique(df[group]), key=str)
    if len(levels) != 2:
        raise InputError(f"'{group}' must have exactly two groups with data; found {len(levels)}")
    a, b = (df.loc[df[group] == lev, outcome].to_numpy(dtype=float) for lev in levels)
    (m_a, se_a, n_a), (m_b, se_b, n_b) = _summary(a), _summary(b)
    _varies(np.concatenate([a, b]), outcome)
    welch = st.ttest_ind(b, a, equal_var=False)
    se = np.hypot(se_a, se_b)
    dof = float(welch.df)
    diff = wald_table(["difference"], [m_b - m_a], [se], alpha=alpha, df=dof)
    sd_pooled = np.sqrt(((n_a - 1) * np.var(a, ddof=1) + (n_b - 1) * np.var(b, ddof=1)) / (n_a + n_b - 2))
    m = n_a + n_b - 2
    j_factor = np.exp(special.gammaln(m / 2) - np.log(np.sqrt(m / 2)) - special.gammaln((m - 1) / 2))
    g = j_factor * (m_b - m_a) / sd_pooled
    vi = 1 / n_a + 1 / n_b + g**2 / (2 * (n_a + n_b))
    hedges = wald_table(["hedges_g"], [g], [np.sqrt(vi)], alpha=alpha)
    table = pd.concat([diff, hedges])[["estimate", "se", "ci_low", "ci_high", "p"]]
    exact = n_a < 50 and n_b < 50 and len(np.unique(np.concatenate([a, b]))) == n_a + n_b
    mw = st.mannwhitneyu(b, a, alternative="two-sided", method="exact" if exact else "asymptotic")
    la, lb = map(str, levels)
    stats = {
        "n": n_a + n_b,
        f"n_{la}": n_a,
        f"n_{lb}": n_b,
        f"mean_{la}": m_a,
        f"mean_{lb}": m_b,
        f"sd_{la}": float(np.std(a, ddof=1)),
        f"sd_{lb}": float(np.std(b, ddof=1)),
        "contrast": f"{lb} - {la}",
        "t": float(welch.statistic),
        "df": dof,
        "mw_u": float(mw.statistic),
        "mw_p": float(mw.pvalue),
        "cles": float(mw.statistic) / (n_a * n_b),
    }
    return Result(
        table=table,
        stats=stats,
        method=f"Welch t ({lb} - {la}); Hedges' g as metafor escalc SMD, normal CI; "
        f"Mann-Whitney U ({'exact' if exact else 'normal approx., continuity corrected'})"
        " as R wilcox.test",
    )
