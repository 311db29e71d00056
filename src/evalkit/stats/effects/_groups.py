"""Survey waves and two-group comparisons: mixed ANOVA (pingouin, or REML with missing waves), Welch t and Hedges' g."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd
import patsy
import pingouin as pg
from scipy import special
from scipy import stats as st

from evalkit.core.result import (
    EstimationError,
    InputError,
    Result,
    checks_alpha,
    renamed,
    require_columns,
    wald_table,
)
from evalkit.stats.effects import _lmm
from evalkit.stats.effects._common import complete_rows, mean_se, require_variation

__all__ = ["mixed_anova", "compare_groups"]


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
    require_variation(complete[dv].to_numpy(dtype=float), dv)
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
    df = complete_rows(data, [outcome, group], numeric=[outcome])
    levels = sorted(pd.unique(df[group]), key=str)
    if len(levels) != 2:
        raise InputError(f"'{group}' must have exactly two groups with data; found {len(levels)}")
    a, b = (df.loc[df[group] == lev, outcome].to_numpy(dtype=float) for lev in levels)
    (m_a, se_a, n_a), (m_b, se_b, n_b) = mean_se(a), mean_se(b)
    require_variation(np.concatenate([a, b]), outcome)
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
