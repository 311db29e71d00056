"""Design checks: what a cluster (team) comparison can detect, and what a site can estimate.

``mde`` and ``power`` follow Bloom (1995, 2005) for a two-arm comparison of J
clusters per arm of m persons each, with intraclass correlation rho:

    DE  = 1 + (m - 1) rho                      (design effect)
    df  = 2 J - 2                              (cluster degrees of freedom)
    MDE = (t[1 - alpha/2, df] + t[power, df]) * sqrt(DE * (1/(J m) + 1/(J m)))

in standard-deviation units. With rho = 0 and m = 1 this is the two-sample
t-test's minimum detectable effect with n = J per group. The t-quantile sum
is an approximation of the exact noncentral-t power used by R
``power.t.test``: at the MDE the exact power is slightly above or below the
target: for n = 64 per group and 80% power the MDE is 0.49912 against the
exact 0.49907, and the exact power at the MDE is 0.8001; with very few
clusters the gap widens (see the tests). ``power`` gives the exact noncentral-t power for a given effect.

``estimable`` checks, before a model is fitted, whether a site's data carry
enough cases, events, clusters and periods for an analysis; the thresholds are
the module constants below, each with its source. The checks are plain counts:
no library does this, so it is written here.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import pandas as pd
from scipy import stats as st

from evalkit.core.result import EstimationError, InputError, Result, check_alpha, checks_alpha, choice, require_columns

__all__ = ["mde", "power", "estimable", "require_estimable", "ANALYSES"]

#: Cox regression: events per covariate (Peduzzi et al. 1995, J Clin Epidemiol 48:1503).
EVENTS_PER_COVARIATE = 10
#: Ratio models and Cox need at least this many events in every arm (else the ratio is 0 or infinite).
MIN_EVENTS_PER_ARM = 1
#: Cluster-robust SEs need at least two clusters per arm (one gives no between-cluster variance).
MIN_CLUSTERS_PER_ARM = 2
#: Under about this many clusters in all, cluster-robust SEs are biased downwards (Cameron & Miller 2015).
FEW_CLUSTERS = 30
#: Interrupted time series: points before and after (Cochrane EPOC criterion) ...
ITS_MIN_POINTS = 3
#: ... and the number per segment wanted to model seasonality (Wagner et al. 2002; Penfold & Zhang 2013).
ITS_GOOD_POINTS = 8
#: Difference-in-differences: observations in each arm x period cell (a variance needs two).
MIN_PER_CELL = 2
#: Mixed ANOVA: complete subjects per between-group level.
MIN_SUBJECTS_PER_GROUP = 2


def _check_design(clusters_per_arm: int, cluster_size: float, icc: float, alpha: float) -> None:
    if clusters_per_arm < 2:
        raise InputError(
            "clusters_per_arm must be at least 2: with one team per arm there are "
            "no degrees of freedom for the between-team variance"
        )
    if cluster_size < 1:
        raise InputError(f"cluster_size must be >= 1, not {cluster_size}")
    if not 0 <= icc <= 1:
        raise InputError(f"icc must lie in [0, 1], not {icc}")
    check_alpha(alpha)


def _se_unit(clusters_per_arm: int, cluster_size: float, icc: float) -> tuple[float, float]:
    """Design effect and the SE of the standardised difference in means."""
    de = 1 + (cluster_size - 1) * icc
    n_arm = clusters_per_arm * cluster_size
    return de, math.sqrt(de * (1 / n_arm + 1 / n_arm))


@checks_alpha
def mde(*, clusters_per_arm: int, cluster_size: float, icc: float, alpha: float = 0.05, power: float = 0.8) -> Result:
    """Minimum detectable standardised effect of a two-arm comparison of clusters (teams).

    Parameters
    ----------
    clusters_per_arm : int
        Teams (clusters) in each arm, J >= 2.
    cluster_size : float
        Persons (cases) per team, m (an average is fine).
    icc : float
        Intraclass correlation of the outcome within teams.
    alpha : float
        Two-sided significance level.
    power : float
        Target power.

    Returns
    -------
    Result
        Row ``mde``: ``estimate`` (the MDE in SD units; no SE or CI: it is a
        design quantity). Stats: ``design_effect``, ``df`` (2J - 2),
        ``multiplier`` (t[1-alpha/2, df] + t[power, df]), ``n`` (2Jm persons),
        ``clusters`` (2J), ``n_effective`` (2Jm / DE), ``alpha``, ``power``.

    References
    ----------
    Bloom HS (1995). Minimum detectable effects. Eval Rev 19:547-556. Bloom HS
    (2005). Randomizing groups to evaluate place-based programs. R: no single
    function; for icc = 0, m = 1 compare ``power.t.test(n = J, delta = MDE)``.

    Examples
    --------
    Finnish controlled study shape (Aaltio 2023): 9 teams per arm, 112 cases,
    about 6.2 cases per team; with an ICC of 0.05 only effects of about 0.63 SD
    are detectable with 80% power.

    >>> res = mde(clusters_per_arm=9, cluster_size=112 / 18, icc=0.05)
    >>> print(f"{res['mde']['estimate']:.3f} on {res.stats['df']} df")
    0.633 on 16 df
    """
    _check_design(clusters_per_arm, cluster_size, icc, alpha)
    if not 0 < power < 1:
        raise InputError(f"power must lie between 0 and 1, not {power}")
    de, se = _se_unit(clusters_per_arm, cluster_size, icc)
    df = 2 * clusters_per_arm - 2
    multiplier = st.t.ppf(1 - alpha / 2, df) + st.t.ppf(power, df)
    table = pd.DataFrame({"estimate": [multiplier * se]}, index=pd.Index(["mde"], name="term"))
    n = 2 * clusters_per_arm * cluster_size
    stats = {
        "n": n,
        "clusters": 2 * clusters_per_arm,
        "design_effect": de,
        "df": df,
        "multiplier": float(multiplier),
        "n_effective": n / de,
        "alpha": alpha,
        "power": power,
    }
    warnings = []
    if 2 * clusters_per_arm < FEW_CLUSTERS:
        warnings.append(
            f"{2 * clusters_per_arm} teams in all: the ICC is poorly known with so few "
            "clusters; try a range of ICC values"
        )
    return Result(
        table, stats, "Minimum detectable effect (Bloom), design effect 1+(m-1)ICC, t quantiles on 2J-2 df", warnings
    )


@checks_alpha
def power(*, effect: float, clusters_per_arm: int, cluster_size: float, icc: float, alpha: float = 0.05) -> Result:
    """Exact power of the two-sided cluster-level t-test for a standardised effect.

    Parameters
    ----------
    effect : float
        True difference in means, in SD units.
    clusters_per_arm, cluster_size, icc, alpha
        As :func:`mde`.

    Returns
    -------
    Result
        Row ``power``: ``estimate`` (probability of rejecting). Stats:
        ``design_effect``, ``df``, ``ncp`` (noncentrality effect / SE).

    References
    ----------
    Noncentral t power as R ``power.t.test(n, delta, sd = 1, type = "two.sample",
    strict = TRUE)``; with icc > 0 the SE is inflated by the design effect.

    Examples
    --------
    >>> res = power(effect=0.5, clusters_per_arm=64, cluster_size=1, icc=0)
    >>> print(f"{res['power']['estimate']:.4f}")
    0.8015
    """
    _check_design(clusters_per_arm, cluster_size, icc, alpha)
    de, se = _se_unit(clusters_per_arm, cluster_size, icc)
    df = 2 * clusters_per_arm - 2
    ncp = effect / se
    crit = st.t.ppf(1 - alpha / 2, df)
    far = st.nct.cdf(-crit, df, abs(ncp))
    # scipy's nct returns NaN where this far tail underflows (e.g. ncp 10 on 16 df); it is ~0 there
    prob = st.nct.sf(crit, df, abs(ncp)) + (far if np.isfinite(far) else 0.0)
    table = pd.DataFrame({"estimate": [float(prob)]}, index=pd.Index(["power"], name="term"))
    stats = {"n": 2 * clusters_per_arm * cluster_size, "design_effect": de, "df": df, "ncp": ncp, "alpha": alpha}
    return Result(table, stats, "Exact noncentral-t power, two-sided, design effect 1+(m-1)ICC")


# --------------------------------------------------------------------------- estimable


def _row(check: str, value: Any, required: Any, ok: bool, reason: str, advisory: bool = False) -> dict:
    return {
        "check": check,
        "value": value,
        "required": required,
        "ok": bool(ok),
        "advisory": advisory,
        "reason": reason,
    }


def _cases(d: pd.DataFrame, c: dict) -> list[dict]:
    n = len(d)
    return [_row("cases", n, 2, n >= 2, f"{n} cases" + ("" if n >= 2 else "; at least 2 are needed"))]


def _groups(d: pd.DataFrame, c: dict) -> list[dict]:
    levels = d[c["group"]].dropna().unique()
    ok = len(levels) >= 2
    return [
        _row(
            "groups",
            len(levels),
            2,
            ok,
            f"{len(levels)} group(s) in {c['group']}" + ("" if ok else "; a comparison needs two"),
        )
    ]


def _events_per_arm(d: pd.DataFrame, c: dict) -> list[dict]:
    counts = d.groupby(c["group"])[c["event"]].apply(lambda s: float((s > 0).sum() if s.max() <= 1 else s.sum()))
    low = counts[counts < MIN_EVENTS_PER_ARM]
    reason = (
        "events in every group: " + ", ".join(f"{g}: {v:g}" for g, v in counts.items())
        if low.empty
        else "no events in group(s) " + ", ".join(map(str, low.index)) + ": the ratio is 0 or infinite"
    )
    return [_row("events per arm", float(counts.min()), MIN_EVENTS_PER_ARM, low.empty, reason)]


def _events_total(d: pd.DataFrame, c: dict, n_covariates: int) -> list[dict]:
    events = int((d[c["event"]] > 0).sum())
    need = EVENTS_PER_COVARIATE * max(n_covariates, 1)
    reason = (
        f"{events} events for {n_covariates} covariate(s); {need} wanted "
        f"({EVENTS_PER_COVARIATE} per covariate, Peduzzi 1995)"
    )
    return [_row("events per covariate", events, need, events >= need, reason)]


def _any_event(d: pd.DataFrame, c: dict) -> list[dict]:
    events = int((d[c["event"]] > 0).sum())
    return [
        _row(
            "events",
            events,
            1,
            events >= 1,
            f"{events} events"
            + ("" if events else ": with every case censored the survival curve stays at 1 and no median exists"),
        )
    ]


def _clusters(d: pd.DataFrame, c: dict) -> list[dict]:
    if "cluster" not in c:
        return []
    rows = []
    total = d[c["cluster"]].nunique()
    if "group" in c:
        per_arm = d.groupby(c["group"])[c["cluster"]].nunique()
        ok = per_arm.min() >= MIN_CLUSTERS_PER_ARM
        rows.append(
            _row(
                "clusters per arm",
                int(per_arm.min()),
                MIN_CLUSTERS_PER_ARM,
                ok,
                "clusters per group: "
                + ", ".join(f"{g}: {v}" for g, v in per_arm.items())
                + ("" if ok else "; cluster-robust SEs need two or more per arm"),
            )
        )
    rows.append(
        _row(
            "clusters in all",
            total,
            FEW_CLUSTERS,
            total >= FEW_CLUSTERS,
            f"{total} clusters"
            + (
                ""
                if total >= FEW_CLUSTERS
                else f"; under {FEW_CLUSTERS} cluster-robust SEs are too small: read p-values with care"
            ),
            advisory=True,
        )
    )
    return rows


def _did_cells(d: pd.DataFrame, c: dict) -> list[dict]:
    cells = d.groupby([c["group"], c["time"]]).size()
    full = pd.MultiIndex.from_product([d[c["group"]].dropna().unique(), d[c["time"]].dropna().unique()])
    cells = cells.reindex(full, fill_value=0)
    ok = len(cells) >= 4 and cells.min() >= MIN_PER_CELL
    return [
        _row(
            "group x period cells",
            int(cells.min()),
            MIN_PER_CELL,
            ok,
            "observations per group x period: "
            + ", ".join(f"{g}/{t}: {v}" for (g, t), v in cells.items())
            + ("" if ok else f"; every cell of 2 groups x 2 periods needs {MIN_PER_CELL}"),
        )
    ]


def _panel(d: pd.DataFrame, c: dict) -> list[dict]:
    units, periods = d[c["unit"]].nunique(), d[c["time"]].nunique()
    switch = d.groupby(c["unit"])[c["group"]].nunique()
    treated_obs = d[c["group"]].astype(bool)
    varies = bool(treated_obs.any() and (~treated_obs).any())
    return [
        _row("units", units, 2, units >= 2, f"{units} units"),
        _row("periods", periods, 2, periods >= 2, f"{periods} periods"),
        _row(
            "treatment variation",
            int((switch > 1).sum()),
            1,
            varies and (switch > 1).any(),
            f"{int((switch > 1).sum())} unit(s) change treatment status"
            + (
                ""
                if (switch > 1).any() and varies
                else "; with no unit switching, unit fixed effects absorb the treatment"
            ),
        ),
    ]


def _staggered(d: pd.DataFrame, c: dict) -> list[dict]:
    first = d.groupby(c["unit"])[c["first_treated"]].first()
    never = int((first.isna() | (first == 0) | np.isinf(first.fillna(0))).sum())
    treated = first[~(first.isna() | (first == 0) | np.isinf(first.fillna(0)))]
    start = d[c["time"]].min()
    with_pre = int((treated > start).sum())
    return [
        _row(
            "control units",
            never,
            1,
            never >= 1,
            f"{never} never-treated unit(s)" + ("" if never else "; use control='notyet' or add comparison units"),
        ),
        _row(
            "treated cohorts with a pre-period",
            with_pre,
            1,
            with_pre >= 1,
            f"{with_pre} treated unit(s) first treated after the first period {start}",
        ),
    ]


def _rates(d: pd.DataFrame, c: dict) -> list[dict]:
    expo = d[c["exposure"]]
    bad = int((~(expo > 0)).sum())
    return [
        _row(
            "exposure > 0",
            bad,
            0,
            bad == 0,
            f"{bad} row(s) with zero, negative or missing exposure"
            + ("" if bad == 0 else ": a rate needs person-time > 0"),
        )
    ]


def _its(d: pd.DataFrame, c: dict, start: Any) -> list[dict]:
    if start is None:
        raise InputError("analysis='its' needs start= (the first period of the intervention)")
    times = pd.Series(d[c["time"]].dropna().unique())
    before, after = int((times < start).sum()), int((times >= start).sum())
    least = min(before, after)
    return [
        _row(
            "points before/after",
            least,
            ITS_MIN_POINTS,
            least >= ITS_MIN_POINTS,
            f"{before} points before and {after} from the start (EPOC: at least {ITS_MIN_POINTS} each)",
        ),
        _row(
            "points per segment for seasonality",
            least,
            ITS_GOOD_POINTS,
            least >= ITS_GOOD_POINTS,
            f"{least} points in the shorter segment; {ITS_GOOD_POINTS}+ are wanted to model seasonality",
            advisory=True,
        ),
    ]


def _anova(d: pd.DataFrame, c: dict) -> list[dict]:
    levels = d[c["time"]].nunique()
    complete = d.groupby(c["unit"])[c["time"]].nunique() == levels
    subj_group = d.groupby(c["unit"])[c["group"]].first()[complete]
    per_group = subj_group.value_counts()
    least = int(per_group.min()) if len(per_group) else 0
    ok = len(per_group) >= 2 and least >= MIN_SUBJECTS_PER_GROUP
    return [
        _row(
            "complete subjects per group",
            least,
            MIN_SUBJECTS_PER_GROUP,
            ok,
            f"subjects measured at all {levels} times, by group: "
            + ", ".join(f"{g}: {v}" for g, v in per_group.items()),
        )
    ]


#: analysis -> (column roles required, checks). Checks take (data, columns).
ANALYSES: dict[str, tuple[tuple[str, ...], tuple[Callable, ...]]] = {
    "km": (("event",), (_cases, _any_event)),
    "cox": (("event", "group"), (_cases, _groups, _events_per_arm)),
    "rates": (("event", "exposure", "group"), (_groups, _rates, _events_per_arm, _clusters)),
    "did": (("group", "time"), (_did_cells, _clusters)),
    "twfe": (("unit", "time", "group"), (_panel, _clusters)),
    "staggered": (("unit", "time", "first_treated"), (_staggered,)),
    "its": (("time",), ()),
    "anova": (("unit", "time", "group"), (_anova,)),
}
_ROLES = {"event", "group", "cluster", "time", "unit", "exposure", "first_treated"}


def estimable(data: pd.DataFrame, analysis: str, *, n_covariates: int = 1, start: Any = None, **columns: str) -> Result:
    """Say, before fitting, whether the data carry enough for an analysis, and why not.

    Parameters
    ----------
    data : pandas.DataFrame
        The site's data for this analysis (one row per case, or per unit-period).
    analysis : {"km", "cox", "rates", "did", "twfe", "staggered", "its", "anova"}
        Which model is planned.
    n_covariates : int
        For "cox": covariates in the model (events per covariate rule).
    start : scalar
        For "its": the first period of the intervention (compared with ``time``).
    **columns : str
        Column names by role: ``event`` (0/1, or a count for "rates"),
        ``group`` (arm / treated indicator / between factor), ``cluster``
        (team), ``time`` (period), ``unit`` (unit or subject id), ``exposure``
        (person-time), ``first_treated`` (first treated period; 0/NaN/inf = never).

    Returns
    -------
    Result
        One row per check: ``check``, ``value``, ``required``, ``ok``,
        ``advisory`` (True: a warning, not a bar) and ``reason`` (a sentence).
        Stats: ``ok`` (all non-advisory checks pass), ``analysis``, ``n``.
        Failed advisory checks are repeated in ``warnings``.

    References
    ----------
    Peduzzi P et al. (1995) J Clin Epidemiol 48:1503-1510 (events per
    variable). Cochrane EPOC (2017) ITS criterion (3 points before and after).
    Cameron AC, Miller DL (2015) J Hum Resour 50:317-372 (few clusters).

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"arm": [0, 0, 0, 1, 1, 1], "died": [1, 0, 0, 0, 0, 0]})
    >>> res = estimable(d, "cox", event="died", group="arm")
    >>> res.stats["ok"]
    False
    >>> res.table.loc["events per arm", "reason"]
    'no events in group(s) 1: the ratio is 0 or infinite'
    """
    analysis = choice(analysis, ANALYSES, "analysis")
    unknown = set(columns) - _ROLES
    if unknown:
        raise InputError(f"unknown column role(s): {', '.join(sorted(unknown))}")
    needed, checks = ANALYSES[analysis]
    missing = [r for r in needed if r not in columns]
    if missing:
        raise InputError(f"analysis={analysis!r} needs column name(s) for: {', '.join(missing)}")
    require_columns(data, *columns.values())
    rows: list[dict] = []
    for check in checks:
        rows += check(data, columns)
    if analysis == "cox":
        rows += _events_total(data, columns, n_covariates)
        rows += _clusters(data, columns)
    if analysis == "its":
        rows += _its(data, columns, start)
    table = pd.DataFrame(rows).set_index("check")
    hard = table[~table["advisory"]]
    ok = bool(hard["ok"].all())
    warnings = list(table.loc[table["advisory"] & ~table["ok"], "reason"])
    return Result(
        table,
        {"ok": ok, "analysis": analysis, "n": len(data)},
        f"Estimability checks for {analysis} (thresholds: evalkit.design constants)",
        warnings,
    )


def require_estimable(data: pd.DataFrame, analysis: str, **kwargs: Any) -> Result:
    """Run :func:`estimable` and raise :class:`EstimationError` with the reasons if it fails.

    Parameters
    ----------
    data, analysis, **kwargs
        As :func:`estimable`.

    Returns
    -------
    Result
        The :func:`estimable` result when every required check passes.

    References
    ----------
    See :func:`estimable`.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"month": range(1, 7), "y": [3, 4, 2, 5, 4, 3]})
    >>> try:
    ...     require_estimable(d, "its", time="month", start=5)
    ... except EstimationError as err:
    ...     print(err)
    its not estimable: 4 points before and 2 from the start (EPOC: at least 3 each)
    """
    res = estimable(data, analysis, **kwargs)
    if not res.stats["ok"]:
        failed = res.table[~res.table["ok"] & ~res.table["advisory"]]["reason"]
        raise EstimationError(f"{analysis} not estimable: " + "; ".join(failed))
    return res
