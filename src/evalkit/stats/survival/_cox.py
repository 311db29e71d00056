"""Cox regression and its proportional-hazards check (R coxph, cox.zph)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats as _st

from evalkit.core.columns import with_aliases
from evalkit.core.result import (
    EstimationError,
    InputError,
    Result,
    checks_alpha,
    choice,
    wald_table,
)
from evalkit.stats.survival import _coxph
from evalkit.stats.survival._frames import covariate_columns, design_matrix, prepare

__all__ = ["cox", "cox_zph"]


def _cox_frame(data, duration, event, covariates, extra):
    """Checked frame and formula RHS for lifelines (list of columns or a formula)."""
    cols, rhs = covariate_columns(data, covariates)
    df, warns = prepare(data, duration, event, *cols, *extra)
    if df["_e"].sum() == 0:
        raise EstimationError("no events: a Cox model cannot be estimated")
    return df, rhs, warns


def _fit_cox(df, rhs, strata):
    """lifelines fit on the checked frame (for :func:`cox_zph`); its convergence warnings become notes."""
    from lifelines import CoxPHFitter  # lazy: lifelines is slow to import
    from lifelines.exceptions import ConvergenceError

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            cph = CoxPHFitter().fit(df, "_t", "_e", formula=rhs, strata=[strata] if strata else None)
        except (ConvergenceError, np.linalg.LinAlgError) as exc:
            raise EstimationError(f"the Cox model did not converge: {str(exc).splitlines()[0]}") from exc
    notes = [
        str(w.message).splitlines()[0]
        for w in caught
        if "Convergence" in type(w.message).__name__ or "converge" in str(w.message).lower()
    ]
    return cph, notes


_COX_METHOD = "Cox PH, Efron ties (R coxph convergence), Wald CI"


_TIES = ("efron", "breslow")


def _entry_times(df, entry):
    """Checked entry times of counting-process rows (entry < duration), or None."""
    if entry is None:
        return None
    start = pd.to_numeric(df[entry], errors="coerce").astype(float).to_numpy()
    if not np.isfinite(start).all():
        raise InputError(f"entry column {entry!r} must be finite numbers")
    if (start >= df["_t"].to_numpy()).any():
        n_bad = int((start >= df["_t"].to_numpy()).sum())
        raise InputError(f"{n_bad} row(s) do not end after they enter: each row needs {entry!r} < duration")
    return start


def _cox_fit(data, duration, event, covariates, strata, cluster, entry=None, ties="efron"):
    """Checked frame, fit and the fit's model-level stats: what :func:`cox` and the site plan use."""
    df, rhs, warns = _cox_frame(data, duration, event, covariates, (strata, cluster, entry))
    x, names = design_matrix(df, rhs, covariates)
    start = _entry_times(df, entry)
    fit = _coxph.fit(
        df["_t"].to_numpy(), df["_e"].to_numpy(), x, df[strata].to_numpy() if strata else None, entry=start, ties=ties
    )
    lr = 2 * (fit.loglik - fit.loglik0)
    # Harrell's C compares durations from a common origin; with delayed entry it is not defined
    concordance = np.nan if start is not None else _coxph.concordance(df["_t"], df["_e"], x @ fit.beta)
    stats = {
        "loglik": fit.loglik,
        "lr_chi2": lr,
        "lr_df": len(names),
        "lr_p": float(_st.chi2.sf(lr, len(names))),
        "concordance": concordance,
        "events": int(df["_e"].sum()),
        "n": len(df),
    }
    if fit.infinite:
        stats["may_be_infinite"] = [names[i] for i in fit.infinite]
    return df, names, fit, stats, warns


def _clustered(df, fit, cluster):
    """R's grouped-dfbeta sandwich: (vcov, n_clusters, method suffix, warnings)."""
    n_cl = int(df[cluster].nunique())
    if n_cl < 2:
        raise EstimationError(f"robust SEs need at least two clusters in {cluster!r}; found {n_cl}")
    warns = [f"only {n_cl} clusters: the sandwich SE is unreliable with few clusters"] if n_cl < 20 else []
    return (
        fit.cluster_vcov(df[cluster].to_numpy()),
        n_cl,
        f", robust SE clustered by {cluster} (R coxph cluster=, no small-sample factor)",
        warns,
    )


#: the columns' names before one Result layout (still read, with a DeprecationWarning)
_COX_OLD_NAMES = {"coef": "estimate", "hr": "ratio", "hr_ci_low": "ratio_ci_low", "hr_ci_high": "ratio_ci_high"}


def _cox_result(names, fit, vcov, stats, method, warns, alpha):
    """The Result of a fit with the variance ``vcov``; the fit's own notes follow ``warns``."""
    table = wald_table(names, fit.beta, np.sqrt(np.diag(vcov)), alpha=alpha, ratio=True)
    return Result(with_aliases(table, _COX_OLD_NAMES, "cox"), dict(stats), method, [*warns, *fit.notes])


@checks_alpha
def cox(
    data, duration, event, covariates, *, ties="efron", strata=None, cluster=None, entry=None, alpha=0.05
) -> Result:
    """Cox proportional-hazards regression, as R ``coxph``.

    Parameters
    ----------
    data : pandas.DataFrame
    duration, event : str
        Time and event (1/0) columns.
    covariates : list of str or str
        Columns, or a formula right-hand side (e.g. ``"pilot + C(legal_basis)"``).
    ties : {"efron", "breslow"}
        How tied event times are handled: Efron's approximation (R's default)
        or Breslow's (R ``ties = "breslow"``; SAS PHREG's and Stata
        ``stcox``'s default). They differ only where events share a time.
    strata : str, optional
        Column whose values get separate baseline hazards (R ``strata()``).
    cluster : str, optional
        Column of clusters (e.g. team): robust sandwich SEs as R
        ``coxph(..., cluster = )``: grouped dfbeta residuals, no small-sample
        factor.
    entry : str, optional
        Entry-time column for counting-process data, as R ``Surv(entry,
        duration, event)``: a row is at risk at times t with entry < t <=
        duration. One subject may have several rows (time-varying
        covariates, delayed entry); give ``cluster`` = the subject id for
        SEs that allow for that.
    alpha : float

    Returns
    -------
    Result
        ``table`` indexed by term, as every ratio model: ``estimate`` (the
        log hazard ratio, R's ``coef``), ``se``, ``ci_low``, ``ci_high``,
        ``z``, ``p``, ``ratio`` (the hazard ratio), ``ratio_ci_low``,
        ``ratio_ci_high``. The old names ``coef``, ``hr``, ``hr_ci_low`` and
        ``hr_ci_high`` still read these columns, with a
        ``DeprecationWarning``. ``stats``:
        ``loglik``, ``lr_chi2``, ``lr_df``, ``lr_p`` (likelihood-ratio test
        against the null model), ``concordance`` (NaN with ``entry``),
        ``events``, ``n``, and ``n_clusters`` with ``cluster``.

    References
    ----------
    R ``survival::coxph(Surv(time, status) ~ x, ties = "efron" | "breslow")`` and, with
    ``entry``, ``coxph(Surv(start, stop, event) ~ x)``; the check of
    proportional hazards is :func:`cox_zph`.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> x = np.repeat([0, 1], 100)
    >>> df = pd.DataFrame({"t": rng.exponential(1 / np.exp(0.7 * x)), "e": 1, "pilot": x})
    >>> round(float(cox(df, "t", "e", ["pilot"]).table.loc["pilot", "ratio"]), 2)
    1.93
    """
    ties = choice(ties, _TIES, "ties")
    df, names, fit, stats, warns = _cox_fit(data, duration, event, covariates, strata, cluster, entry, ties)
    vcov, method = fit.vcov, _COX_METHOD.replace("Efron", ties.capitalize())
    if entry is not None:
        method += ", counting-process rows (entry, stop]"
    if cluster is not None:
        vcov, n_cl, suffix, notes = _clustered(df, fit, cluster)
        stats, method, warns = {**stats, "n_clusters": n_cl}, method + suffix, warns + notes
    if strata:
        method += f", stratified by {strata}"
    return _cox_result(names, fit, vcov, stats, method, warns, alpha)


def cox_zph(data, duration, event, covariates, *, strata=None, transform="km") -> Result:
    """Test of proportional hazards from scaled Schoenfeld residuals.

    The Grambsch & Therneau (1994) per-term test computed by lifelines'
    ``proportional_hazard_test``: association of each term's scaled
    Schoenfeld residuals with g(time), the test of R ``cox.zph`` before
    survival 3.0. R survival >= 3.0 uses a score test instead, so its
    p-values differ somewhat (no R output was available to check either;
    the tests here check that a known departure is detected). No global
    test is reported.

    Parameters
    ----------
    data : pandas.DataFrame
    duration, event : str
    covariates : list of str or str
        As :func:`cox`.
    strata : str, optional
    transform : {"km", "rank", "identity", "log"}
        g(time); "km" (1 - KM of the pooled data) is R's default.

    Returns
    -------
    Result
        ``table`` indexed by term: ``chi2``, ``df`` (1), ``p``. ``stats``:
        ``n``, ``events``, ``min_p``.

    References
    ----------
    R ``survival::cox.zph(fit, transform = "km")``; Grambsch P, Therneau T
    (1994), Biometrika 81:515-526.

    Examples
    --------
    >>> rng = np.random.default_rng(2)
    >>> x = np.repeat([0, 1], 150)
    >>> df = pd.DataFrame({"t": rng.exponential(1 / np.exp(0.5 * x)), "e": 1, "pilot": x})
    >>> bool(cox_zph(df, "t", "e", ["pilot"]).table.loc["pilot", "p"] > 0.05)
    True
    """
    from lifelines.statistics import proportional_hazard_test

    transform = choice(transform, ("km", "rank", "identity", "log"), "transform")
    df, rhs, warns = _cox_frame(data, duration, event, covariates, (strata,))
    cph, notes = _fit_cox(df, rhs, strata)
    res = proportional_hazard_test(cph, df, time_transform=transform).summary
    table = pd.DataFrame({"chi2": res["test_statistic"], "df": 1, "p": res["p"]})
    table = table.reindex(cph.params_.index).rename_axis("term")
    stats = {"n": len(df), "events": int(df["_e"].sum()), "min_p": float(table["p"].min())}
    return Result(
        table,
        stats,
        f"Scaled Schoenfeld residual PH test (Grambsch-Therneau, lifelines), {transform} time transform, per term",
        warns + notes,
    )
