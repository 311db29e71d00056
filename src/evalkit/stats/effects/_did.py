"""Difference-in-differences on two periods: regression (did) and the 2x2 table of cell means (did_table)."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf

from evalkit.core.result import (
    EstimationError,
    InputError,
    Result,
    binary_codes,
    checks_alpha,
    choice,
    renamed,
    wald_table,
)
from evalkit.stats import _crve
from evalkit.stats.effects._common import complete_rows, cr2_notes, mean_se, require_variation, with_wild_bootstrap
from evalkit.stats.effects._wild import cluster_codes, cluster_notes, wild_test

__all__ = ["did", "did_table"]


_SE_TYPES = ("iid", "hc1", "cluster", "cr2", "wild")


def _binary_frame(data, outcome, treated, post, unit) -> pd.DataFrame:
    df = complete_rows(data, [outcome, treated, post, unit], numeric=[outcome])
    df[treated] = binary_codes(df[treated], treated, ("comparison", "pilot"))
    df[post] = binary_codes(df[post], post, ("before", "after"))
    return df


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
    df = complete_rows(data, [outcome, treated, post, *covariates, unit, cluster], numeric=[outcome])
    frame = df[list(covariates)].copy()
    frame["_y"] = df[outcome].to_numpy(dtype=float)
    frame["_tr"] = binary_codes(df[treated], treated, ("comparison", "pilot"))
    frame["_po"] = binary_codes(df[post], post, ("before", "after"))
    require_variation(frame["_y"].to_numpy(), outcome)
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
        return Result(table=table, stats=stats, method=method, warnings=cr2_notes(robust.df[j]))
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
        res = with_wild_bootstrap(
            res,
            wild_test(model.exog, model.endog, codes, n_clusters, j, weights=boot_weights, alpha=alpha, seed=seed),
            seed,
        )
    return res


def _did_balanced(data, outcome, treated, post, unit, alpha) -> Result:
    df = _binary_frame(data, outcome, treated, post, unit)
    ch = _change_scores(df, outcome, unit, post, treated)
    (m_t, se_t, n_t), (m_c, se_c, n_c) = (mean_se(ch.loc[ch["treated"] == g, "change"].to_numpy()) for g in (1, 0))
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
            m, se, n = mean_se(sub.loc[sub[treated] == g_code, outcome].to_numpy(dtype=float))
            cells[period, group] = (m, se, n, n - 1)
    if unit is not None:
        ch = _change_scores(df, outcome, unit, post, treated)
        for g_code, group in enumerate(("control", "treated")):
            m, se, n = mean_se(ch.loc[ch["treated"] == g_code, "change"].to_numpy())
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
