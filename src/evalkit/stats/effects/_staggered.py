"""Staggered adoption: Callaway & Sant'Anna (2021) group-time ATTs and aggregations.

Decision (library evaluation): written here from the paper and R ``did``'s
documented conventions rather than adopting a PyPI package.

* ``csdid`` 0.4.3 reproduces R ``did`` on ``mpdta`` (point estimates and
  analytic SEs), but declares ``twine`` (and so keyring, cryptography) and
  ``plotnine`` as run-time dependencies and floods pandas 2.3 with
  FutureWarnings from its plotting code on import: not a clean install.
* ``differences`` 0.3.0 also reproduces R ``did`` on ``mpdta``, but pulls in
  ``polars`` (a 54 MB binary) and ``formulaic`` for what is, without
  covariates, a difference of mean changes plus an influence function.

Without covariates the "dr", "ipw" and "reg" estimators of R ``did`` coincide:
ATT(g,t) is the mean change of cohort g minus the mean change of the controls,
and its influence function is exact, so the estimator below is short and
checked against R ``did``'s published ``mpdta`` output in the tests.

Conventions (as R ``did::att_gt`` / ``aggte``):

* ``first_treated`` is the first treated period; 0 or missing (NaN/None)
  means never treated (R uses 0). Cohorts first treated after the last
  observed period count as never treated; cohorts treated in the first period
  have no pre-period and are dropped with a warning.
* base period "varying": pre-periods compare t with t-1, post-periods t with
  g-1; no anticipation.
* ``control="notyet"``: never-treated units plus units first treated after t
  (R's ``control_group="notyettreated"``). Without never-treated units, the
  periods from the last cohort's start on have no controls and are dropped
  with a warning, and that cohort serves as the never-treated one before, as R does.
* unbalanced panels: units not observed (with an outcome) in every period are
  dropped with a warning, as R's ``allow_unbalanced_panel=FALSE``.
* SEs from the influence function, clustered by unit (R ``bstrap=FALSE``);
  with ``bootstrap=B`` the Mammen multiplier bootstrap as R ``mboot``
  (IQR-based SE, simultaneous band over the rows of the table).
* aggregation weights are cohort shares, with the weight-estimation term of
  R's ``aggte`` in the influence function.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats as _st

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

__all__ = ["staggered_did"]

_CONTROLS = {"never": "never-treated", "notyet": "not-yet-treated"}
_AGGREGATES = (None, "simple", "event", "group")


@dataclass
class _Panel:
    """Balanced wide panel: outcomes (units x periods) and each unit's cohort (0 = never)."""

    y: np.ndarray
    cohort: np.ndarray
    periods: np.ndarray
    warnings: list[str] = field(default_factory=list)


@checks_alpha
def staggered_did(
    data: pd.DataFrame,
    outcome: str,
    unit: str,
    time: str,
    first_treated: str,
    *,
    control: str = "never",
    aggregate: str | None = "simple",
    alpha: float = 0.05,
    bootstrap: int = 0,
    seed: int | None = None,
) -> Result:
    """Group-time ATTs for staggered adoption and their aggregations.

    Callaway & Sant'Anna (2021) under unconditional parallel trends, balanced
    panel, base period "varying", as R ``did::att_gt`` followed by ``aggte``.

    Parameters
    ----------
    data : pandas.DataFrame
        Long panel, one row per unit and period.
    outcome, unit, time : str
        Columns of the outcome, the unit id (the cluster) and the numeric period.
    first_treated : str
        Column of the period in which the unit is first treated; 0 or missing
        for never-treated units (constant within a unit).
    control : {"never", "notyet"}
        Comparison units: never treated, or never treated plus not yet treated
        at the period compared.
    aggregate : {"simple", "event", "group", None}
        "simple": one weighted average of the post-treatment ATT(g,t) (weights
        proportional to cohort size); "event": by event time e = t - g (with
        the average over e >= 0 as overall); "group": by cohort (with the
        cohort-size weighted average as overall); None: every ATT(g,t).
    alpha : float
        1 - confidence level.
    bootstrap : int
        0 for analytic influence-function SEs (R ``bstrap=FALSE``); otherwise
        the number of multiplier-bootstrap draws (R ``bstrap=TRUE``), which
        also gives a simultaneous band ``cb_low``/``cb_high`` over the rows.
    seed : int, optional
        Seed of the multiplier bootstrap.

    Returns
    -------
    Result
        ``table``: columns ``estimate``, ``se``, ``ci_low``, ``ci_high``, ``z``,
        ``p`` (and ``cb_low``, ``cb_high`` with the bootstrap), plus ``group``
        and ``time`` (aggregate None), ``event_time`` ("event") or ``group``
        ("group"); rows ``ATT(g,t)``, ``e=<e>``, ``g=<g>`` or ``ATT``.
        ``stats``: ``n`` (rows used), ``n_units``, ``n_groups``, ``n_periods``,
        ``alpha``, ``overall_att`` and ``overall_se`` (aggregations), ``crit_value``
        (bootstrap).

    References
    ----------
    Callaway, B. & Sant'Anna, P. H. C. (2021). Difference-in-differences with
    multiple time periods. Journal of Econometrics 225(2), 200-230.
    R: ``did::att_gt(yname, tname, idname, gname, data, control_group=
    "nevertreated"|"notyettreated", bstrap=FALSE)`` and
    ``did::aggte(type="simple"|"dynamic"|"group")``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(1)
    >>> units = pd.DataFrame({"id": range(300), "g": np.repeat([0, 3, 4], 100)})
    >>> df = units.merge(pd.DataFrame({"t": [1, 2, 3, 4]}), how="cross")
    >>> df["y"] = df["t"] + 2.0 * ((df["g"] > 0) & (df["t"] >= df["g"])) + rng.normal(0, 0.1, len(df))
    >>> res = staggered_did(df, "y", "id", "t", "g")
    >>> round(res.stats["overall_att"], 1)
    2.0
    """
    control, aggregate = choice(control, _CONTROLS, "control"), choice(aggregate, _AGGREGATES, "aggregate")
    check_alpha(alpha)
    bootstrap = int(bootstrap)
    if bootstrap < 0:
        raise InputError("bootstrap must be 0 (analytic SEs) or a positive number of draws")
    panel = _prepare(data, outcome, unit, time, first_treated, control)
    cells, infl = _group_time(panel, control)
    pg = np.array([np.mean(panel.cohort == g) for g in cells["group"]])
    if aggregate is None:
        names = [f"ATT({g:g},{t:g})" for g, t in zip(cells["group"], cells["time"])]
        est, infl_out, extra, overall = cells["estimate"].to_numpy(), infl, cells[["group", "time"]], None
    else:
        names, est, infl_out, extra, overall = _AGGREGATORS[aggregate](cells, infl, pg, panel.cohort)
    rng = np.random.default_rng(seed)
    se, crit = _inference(infl_out, bootstrap, rng, alpha)
    table = wald_table(names, est, se, alpha=alpha)
    if crit is not None:
        table["cb_low"], table["cb_high"] = est - crit * se, est + crit * se
    for col in extra.columns:
        values = extra[col].to_numpy()
        # periods are read as floats; show whole-number periods as integers
        table[col] = values.astype(int) if np.all(np.mod(values, 1) == 0) else values
    n_units = panel.y.shape[0]
    stats = {
        "n": int(panel.y.size),
        "n_units": int(n_units),
        "n_groups": int(len(np.unique(cells["group"]))),
        "n_periods": int(len(panel.periods)),
        "alpha": float(alpha),
    }
    if np.any(se == 0):
        panel.warnings.append(
            "zero standard error (every unit's change is the same in some comparison): "
            "z, p and intervals are not informative"
        )
    if overall is not None:
        o_est, o_infl = overall
        # same seed: the overall estimate gets the same multiplier draws as the table
        o_se, _ = _inference(o_infl[:, None], bootstrap, np.random.default_rng(seed), alpha)
        stats["overall_att"], stats["overall_se"] = float(o_est), float(o_se[0])
    if crit is not None:
        stats["crit_value"], stats["bootstrap"] = float(crit), bootstrap
    return Result(table=table, stats=stats, method=_method(control, aggregate, bootstrap), warnings=panel.warnings)


def _method(control: str, aggregate: str | None, bootstrap: int) -> str:
    inference = (
        f"multiplier bootstrap SE ({bootstrap} Mammen draws) with simultaneous band"
        if bootstrap
        else "analytic influence-function SE"
    )
    agg = {
        None: "group-time ATT(g,t)",
        "simple": "simple aggregate",
        "event": "event-study aggregate",
        "group": "cohort aggregate",
    }[aggregate]
    return (
        f"Callaway-Sant'Anna DiD, {agg}, unconditional parallel trends, {_CONTROLS[control]} "
        f"controls, varying base period, {inference} clustered by unit (as R did)"
    )


def _prepare(data, outcome, unit, time, first_treated, control) -> _Panel:
    require_columns(data, outcome, unit, time, first_treated)
    df = data[[unit, time, outcome, first_treated]]
    if df.empty:
        raise InputError("data has no rows")
    for col in (time, outcome):
        if not pd.api.types.is_numeric_dtype(df[col]):
            raise InputError(f"column {col!r} must be numeric")
    if df[time].isna().any() or df[unit].isna().any():
        raise InputError(f"columns {unit!r} and {time!r} must not have missing values")
    if df.duplicated([unit, time]).any():
        raise InputError(f"several rows share a {unit!r} and {time!r}: one row per unit and period expected")
    g = pd.to_numeric(df[first_treated], errors="coerce")
    if (g.isna() & df[first_treated].notna()).any():
        raise InputError(f"{first_treated!r} must hold periods (numbers), 0 or missing for never treated")
    g = g.fillna(0)
    if (g < 0).any() or (g.groupby(df[unit]).nunique() > 1).any():
        raise InputError(f"{first_treated!r} must be a non-negative period, constant within each unit")
    warnings: list[str] = []
    wide = df.pivot(index=unit, columns=time, values=outcome).sort_index(axis=1)
    cohort = g.groupby(df[unit]).first().reindex(wide.index).to_numpy(float)
    complete = wide.notna().all(axis=1).to_numpy()
    if not complete.all():
        warnings.append(
            f"unbalanced panel: dropped {int((~complete).sum())} unit(s) not observed "
            "in every period (as R did with allow_unbalanced_panel=FALSE)"
        )
    y, cohort = wide.to_numpy(float)[complete], cohort[complete]
    periods = wide.columns.to_numpy(float)
    late = cohort > periods[-1]
    if late.any():
        warnings.append(f"{int(late.sum())} unit(s) first treated after the last period count as never treated")
        cohort = np.where(late, 0.0, cohort)
    early = (cohort > 0) & (cohort <= periods[0])
    if early.any():
        warnings.append(
            f"dropped {int(early.sum())} unit(s) already treated in the first period "
            "(no pre-treatment period), as R did"
        )
        y, cohort = y[~early], cohort[~early]
    if not (cohort == 0).any() and (cohort > 0).any():
        if control == "never":
            raise EstimationError(
                "no never-treated units: use control='notyet' to compare each cohort with units not yet treated"
            )
        last = cohort.max()
        warnings.append(
            f"no never-treated units: periods from {last:g} on have no comparison "
            f"units and are dropped; cohort {last:g} serves as never treated before (as R did)"
        )
        y, periods = y[:, periods < last], periods[periods < last]
        cohort = np.where(cohort == last, 0.0, cohort)
    if not (cohort > 0).any():
        raise EstimationError("no treated cohort with a pre-treatment period and comparison units remains")
    if len(periods) < 2:
        raise EstimationError("at least two periods are needed")
    return _Panel(y=y, cohort=cohort, periods=periods, warnings=warnings)


def _group_time(panel: _Panel, control: str) -> tuple[pd.DataFrame, np.ndarray]:
    """ATT(g,t) for every cohort and period after the first, and the units' influence functions."""
    n = panel.y.shape[0]
    rows, infl = [], []
    for g in np.unique(panel.cohort[panel.cohort > 0]):
        treated = panel.cohort == g
        base_post = np.flatnonzero(panel.periods < g)[-1]
        for k in range(1, len(panel.periods)):
            t = panel.periods[k]
            base = k - 1 if t < g else base_post
            ctrl = panel.cohort == 0
            if control == "notyet":
                ctrl = ctrl | ((panel.cohort > t) & ~treated)
            dy = panel.y[:, k] - panel.y[:, base]
            m_t, m_c = dy[treated].mean(), dy[ctrl].mean()
            phi = np.zeros(n)
            phi[treated] = n / treated.sum() * (dy[treated] - m_t)
            phi[ctrl] = -n / ctrl.sum() * (dy[ctrl] - m_c)
            rows.append((g, t, m_t - m_c))
            infl.append(phi)
    cells = pd.DataFrame(rows, columns=["group", "time", "estimate"])
    return cells, np.column_stack(infl)


def _weight_infl(cohort: np.ndarray, groups: np.ndarray, pg: np.ndarray) -> np.ndarray:
    """Influence of estimating the cohort-share weights (R did's ``wif``): units x cells."""
    dev = (cohort[:, None] == groups[None, :]).astype(float) - pg[None, :]
    total = pg.sum()
    return dev / total - np.outer(dev.sum(axis=1), pg / total**2)


def _weighted(att, infl, pg, cohort, groups, idx):
    """Cohort-share weighted mean of cells ``idx`` and its influence function (with weight term)."""
    w = pg[idx] / pg[idx].sum()
    est = float(w @ att[idx])
    phi = infl[:, idx] @ w + _weight_infl(cohort, groups[idx], pg[idx]) @ att[idx]
    return est, phi


def _agg_simple(cells, infl, pg, cohort):
    att, groups = cells["estimate"].to_numpy(), cells["group"].to_numpy()
    post = np.flatnonzero(cells["time"].to_numpy() >= groups)
    est, phi = _weighted(att, infl, pg, cohort, groups, post)
    return ["ATT"], np.array([est]), phi[:, None], pd.DataFrame(index=[0]), (est, phi)


def _agg_event(cells, infl, pg, cohort):
    att, groups = cells["estimate"].to_numpy(), cells["group"].to_numpy()
    e = (cells["time"] - cells["group"]).to_numpy()
    events = np.unique(e)
    parts = [_weighted(att, infl, pg, cohort, groups, np.flatnonzero(e == k)) for k in events]
    est = np.array([p[0] for p in parts])
    phis = np.column_stack([p[1] for p in parts])
    post = events >= 0
    overall = (float(est[post].mean()), phis[:, post].mean(axis=1))
    names = [f"e={k:g}" for k in events]
    return names, est, phis, pd.DataFrame({"event_time": events.astype(int)}), overall


def _agg_group(cells, infl, pg, cohort):
    att, groups = cells["estimate"].to_numpy(), cells["group"].to_numpy()
    post = cells["time"].to_numpy() >= groups
    glist = np.unique(groups)
    est = np.array([att[post & (groups == g)].mean() for g in glist])
    phis = np.column_stack([infl[:, post & (groups == g)].mean(axis=1) for g in glist])
    pgg = np.array([np.mean(cohort == g) for g in glist])
    w = pgg / pgg.sum()
    overall = (float(w @ est), phis @ w + _weight_infl(cohort, glist, pgg) @ est)
    names = [f"g={g:g}" for g in glist]
    return names, est, phis, pd.DataFrame({"group": glist}), overall


_AGGREGATORS = {"simple": _agg_simple, "event": _agg_event, "group": _agg_group}


def _inference(infl: np.ndarray, bootstrap: int, rng: np.random.Generator, alpha: float):
    """SEs of the columns of a units x k influence matrix, and the simultaneous critical value.

    Analytic: sqrt(mean(phi^2) / n), as R did's ``getSE`` without bootstrap.
    Bootstrap: Mammen multiplier draws of sqrt(n) * mean(v * phi); SE from the
    interquartile range and the critical value from the (1 - alpha) quantile of
    the largest studentised draw, as R did's ``mboot``.
    """
    n = infl.shape[0]
    if not bootstrap:
        return np.sqrt((infl**2).mean(axis=0) / n), None
    kappa = (np.sqrt(5) + 1) / 2
    v = rng.choice([1 - kappa, kappa], size=(bootstrap, n), p=[kappa / np.sqrt(5), 1 - kappa / np.sqrt(5)])
    draws = v @ infl / np.sqrt(n)
    q75, q25 = (np.quantile(draws, q, axis=0, method="inverted_cdf") for q in (0.75, 0.25))
    sigma = (q75 - q25) / (_st.norm.ppf(0.75) - _st.norm.ppf(0.25))
    if np.any(sigma <= 0):
        raise EstimationError("bootstrap SE is zero for some estimate: too few units for the bootstrap")
    crit = float(np.quantile(np.abs(draws / sigma).max(axis=1), 1 - alpha, method="inverted_cdf"))
    return sigma / np.sqrt(n), crit
