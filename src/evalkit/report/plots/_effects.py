"""Effect figures: forest plot across sites, interrupted time series, rates by arm (private).

These figures draw what the estimators computed and fit nothing themselves
(layer 3 composes layer 2): :func:`its_plot` takes the fitted and
counterfactual values from the caller.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.patches import Polygon
from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator, NullFormatter

from evalkit.core.result import InputError, Result
from evalkit.report.plots._base import (
    PALETTE,
    NumberFormat,
    as_table,
    as_x,
    category,
    date_axis,
    few_groups,
    fixed_format,
    format_ticks,
    group_colour,
    legend,
    legend_below,
    midpoint,
    need,
    new_axes,
    style,
    texts,
    to_array,
)

__all__ = ["forest", "its_plot", "rates_by_arm"]

_FOREST_LABELS = {
    "title": "Effect by site",
    "xlabel_ratio": "Ratio (log scale)",
    "xlabel": "Effect",
    "pooled": "All sites (random effects)",
    "prediction": "Prediction interval",
    "estimate": "Estimate (95% CI)",
    "ci_sep": "\u2013",
}
#: Ticks for a log ratio axis, nicest first: readable values, never 10^k notation.
_RATIO_TICKS = (1, 10, 0.1, 100, 0.01, 2, 0.5, 5, 0.2, 20, 0.05, 50, 0.02, 4, 0.25, 1.5, 0.75)
#: Labelled ticks a ratio axis may carry at most (spaced evenly enough on the log scale not to touch)
_MAX_TICKS = 7


def ratio_ticks(low: float, high: float) -> list[float]:
    """At least three readable ticks for a log ratio axis spanning ``low``..``high`` whose labels never touch.

    Wide ranges take the nicest values of :data:`_RATIO_TICKS`, no two closer
    than a sixth of the range in log units; narrow ranges (fewer than three
    such values inside) take evenly spaced values (log and linear scales
    nearly agree there), extended past the data where needed.

    Examples
    --------
    >>> ratio_ticks(0.01, 100)
    [0.01, 0.1, 1, 10, 100]
    >>> ratio_ticks(0.98, 1.03)
    [0.98, 1.0, 1.02]
    """
    low, high = min(low, high), max(low, high)
    inside = [t for t in _RATIO_TICKS if low <= t <= high]
    if len(inside) >= 3:
        gap = (np.log10(max(inside)) - np.log10(min(inside))) / (_MAX_TICKS - 1)
        kept: list[float] = []
        for t in inside:  # nicest first: each kept unless it crowds one already kept
            if all(abs(np.log10(t) - np.log10(k)) >= gap * 0.999 for k in kept):
                kept.append(t)
        return sorted(kept)
    for nbins in (4, 5, 6, 3):
        ticks = [float(t) for t in MaxNLocator(nbins=nbins, steps=[1, 2, 2.5, 5, 10]).tick_values(low, high) if t > 0]
        within = [t for t in ticks if low <= t <= high]
        if len(within) >= 3:
            return [round(t, 10) for t in within]
    return [round(t, 10) for t in ticks[:_MAX_TICKS]]


def _ratio_axis(ax: Axes, low: float, high: float, number_format: NumberFormat | None) -> None:
    ax.set_xscale("log")
    # the view: the data with a margin of a tenth of its log range (at least 1%), ticks spread over it
    pad = max(0.1 * np.log(high / low), 0.01)
    left, right = low * np.exp(-pad), high * np.exp(pad)
    ticks = ratio_ticks(left, right)
    ax.set_xlim(min(left, ticks[0] / 1.02), max(right, ticks[-1] * 1.02))  # every chosen tick in view
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(FixedLocator([]))
    ax.xaxis.set_minor_formatter(NullFormatter())
    digits = next(d for d in range(6) if all(abs(round(t, d) - t) < 1e-9 for t in ticks))
    comma = "," in (number_format or fixed_format(1))(0.5)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:.{digits}f}".replace(".", "," if comma else ".")))


def forest(
    forest_table: Result | pd.DataFrame,
    *,
    ratio: bool = True,
    ax: Axes | None = None,
    labels: Mapping[str, str] | None = None,
    number_format: NumberFormat | None = None,
) -> Axes:
    """Forest plot: each site's effect and CI, the pooled diamond and the prediction interval.

    Squares have an area proportional to the site's weight in the pooled
    estimate. Each row's estimate and CI are written at the right.

    Parameters
    ----------
    forest_table : Result or DataFrame
        From :func:`evalkit.meta.forest_data`: indexed by study, columns
        ``estimate``, ``ci_low``, ``ci_high``, ``weight``, ``kind``
        ("study", "pooled", "prediction").
    ratio : bool
        Estimates are logs (log rate or risk ratios): draw ``exp`` of them on
        a log axis with the reference line at 1; else a linear axis with the
        reference at 0.
    ax : Axes, optional
    labels : mapping, optional
        ``title``, ``xlabel`` / ``xlabel_ratio``, ``pooled``, ``prediction``,
        ``estimate`` (column heading), ``ci_sep`` (between CI limits); and
        site names.
    number_format : callable, optional
        float -> str for the written estimates and the ticks (default two decimals).

    Returns
    -------
    matplotlib.axes.Axes

    References
    ----------
    As R ``metafor::forest.rma(res, addpred = TRUE, atransf = exp)``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from evalkit.meta import forest_data
    >>> d = pd.DataFrame({"site": ["A", "B", "C"], "yi": [-0.1, -0.3, 0.05], "vi": [0.04, 0.02, 0.01]})
    >>> ax = forest(forest_data(d, yi="yi", vi="vi", label="site"))
    >>> len(ax.collections[1].get_offsets()), ax.get_xscale()  # squares, one per site
    (3, 'log')
    """
    table = as_table(forest_table, "forest")
    need(table, "forest", "estimate", "ci_low", "ci_high", "weight", "kind")
    studies = table[table["kind"] == "study"]
    if studies.empty:
        raise InputError("forest: the table has no rows of kind 'study'")
    text = texts(_FOREST_LABELS, labels)
    fmt = number_format or fixed_format(2)
    f: Callable[[Any], Any] = np.exp if ratio else (lambda v: np.asarray(v, dtype=float))  # scalars and arrays
    k = len(studies)
    rows = [(category(name, text), r, float(i)) for i, (name, r) in enumerate(studies.iterrows())]
    extra = [
        (text[kind], table[table["kind"] == kind].iloc[0], k + 0.5 + j)
        for j, kind in enumerate(("pooled", "prediction"))
        if (table["kind"] == kind).any()
    ]
    extra = [(n, r, y) for n, r, y in extra if np.isfinite(r[["ci_low", "ci_high"]].astype(float)).all()]
    with style():
        ax = new_axes(ax, (8.5, 1.6 + 0.42 * (k + len(extra))))
        est, lo, hi = (f(studies[c].to_numpy(float)) for c in ("estimate", "ci_low", "ci_high"))
        y = np.arange(k, dtype=float)
        ax.hlines(y, lo, hi, color="#333333", linewidth=1.4)
        w = studies["weight"].to_numpy(float)
        ax.scatter(est, y, s=30 + 220 * w / w.max(), marker="s", color=PALETTE[0], zorder=3)
        for name, r, yy in extra:
            e, a, b = f(float(r["estimate"])), f(float(r["ci_low"])), f(float(r["ci_high"]))
            if r["kind"] == "pooled":
                ax.add_patch(
                    Polygon([(a, yy), (e, yy - 0.32), (b, yy), (e, yy + 0.32)], closed=True, color=PALETTE[3], zorder=3)
                )
            else:
                ax.plot([a, b], [yy, yy], color=PALETTE[3], linewidth=2.5, marker="|", markersize=12)
        rows += extra
        ax.axvline(1.0 if ratio else 0.0, color="#555555", linewidth=1)
        for name, r, yy in rows:
            e, a, b = f(float(r["estimate"])), f(float(r["ci_low"])), f(float(r["ci_high"]))
            shown = (
                f"{fmt(a)}{text['ci_sep']}{fmt(b)}"
                if r["kind"] == "prediction"
                else f"{fmt(e)} ({fmt(a)}{text['ci_sep']}{fmt(b)})"
            )
            ax.annotate(
                shown,
                xy=(1.02, yy),
                xycoords=("axes fraction", "data"),
                va="center",
                fontsize="small",
                annotation_clip=False,
            )
        ax.annotate(
            text["estimate"],
            xy=(1.02, -0.7),
            xycoords=("axes fraction", "data"),
            va="bottom",
            fontsize="small",
            fontweight="bold",
            annotation_clip=False,
        )
        ax.set_yticks([yy for _, _, yy in rows], [n for n, _, _ in rows])
        ax.set_ylim(rows[-1][2] + 0.8, -0.8)
        ax.grid(axis="y", visible=False)
        ax.set(title=text["title"], xlabel=text["xlabel_ratio" if ratio else "xlabel"])
        if ratio:
            limits = [f(float(v)) for _, r, _ in rows for v in (r["ci_low"], r["ci_high"])]
            _ratio_axis(ax, min(limits + [1.0]), max(limits + [1.0]), number_format)
        else:
            format_ticks(ax.xaxis, number_format)
    return ax


_ITS_LABELS = {
    "title": "Interrupted time series",
    "xlabel": "Month",
    "ylabel": "Outcome",
    "observed": "Observed",
    "fitted": "Fitted trend",
    "counterfactual": "Expected without the change (earlier trend continued)",
    "start": "Start",
}


def _start_x(start, x: pd.Series):
    """The start in the units of the plotted x values."""
    value = as_x(pd.Series([start]), "its_plot start")
    if pd.api.types.is_datetime64_any_dtype(x) != pd.api.types.is_datetime64_any_dtype(value):
        raise InputError("its_plot: start must be given in the same form as the time column")
    return value.iloc[0]


def _aligned(values, data: pd.DataFrame, what: str) -> np.ndarray:
    """Caller-computed values in the row order of data (a Series is aligned by index)."""
    if isinstance(values, pd.Series):
        values = values.reindex(data.index)
    return to_array(values, len(data), what)


def its_plot(
    data: pd.DataFrame,
    time: str,
    outcome: str,
    *,
    start,
    fitted=None,
    counterfactual=None,
    ax: Axes | None = None,
    labels: Mapping[str, str] | None = None,
    number_format: NumberFormat | None = None,
) -> Axes:
    """Interrupted time series: observed points, fitted trend, counterfactual after the start.

    The figure fits nothing: ``fitted`` and ``counterfactual`` are computed
    by the caller (e.g. from :func:`evalkit.trends.its`'s coefficients, the
    counterfactual being the model with the level and slope changes set to 0).
    The fitted line is drawn in two pieces, before and from the start, so the
    level change is not bridged; the counterfactual is dashed, from the start on.

    Parameters
    ----------
    data : DataFrame
        One row per time point.
    time : str
        Integer index, months (``YYYY-MM``, Period) or dates.
    outcome : str
        The observed series (e.g. euros per month).
    start : int, str, Period or Timestamp
        First time point of the intervention, in the form of ``time``.
    fitted, counterfactual : array-like or Series, optional
        One value per row of ``data`` (a Series is aligned on ``data.index``).
    ax, labels, number_format
        As the other figures; ``labels`` keys ``title``, ``xlabel``,
        ``ylabel``, ``observed``, ``fitted``, ``counterfactual``, ``start``.

    Returns
    -------
    matplotlib.axes.Axes

    References
    ----------
    Lopez Bernal, Cummins & Gasparrini (2017), Int J Epidemiol 46:348-355, Fig. 2.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> df = pd.DataFrame({"month": range(1, 25), "cost": np.r_[np.arange(12.0), np.arange(12.0) - 3]})
    >>> ax = its_plot(df, "month", "cost", start=13, counterfactual=np.arange(24.0))
    >>> len(ax.lines[0].get_xdata()), float(min(ax.lines[1].get_xdata()))
    (24, 13.0)
    """
    need(data, "its_plot", time, outcome)
    x = as_x(data[time], "its_plot").reset_index(drop=True)
    first = _start_x(start, x)
    order = np.argsort(x.to_numpy(), kind="stable")
    x = x.iloc[order].reset_index(drop=True)
    y = pd.to_numeric(data[outcome], errors="coerce").to_numpy(float)[order]
    post = (x >= first).to_numpy()
    if post.all() or not post.any():
        raise InputError("its_plot: the series needs time points both before and from the start")
    text = texts(_ITS_LABELS, labels)
    with style():
        ax = new_axes(ax)
        ax.plot(x, y, "o", color="#555555", markersize=5, label=text["observed"])
        if fitted is not None:
            fit = _aligned(fitted, data, "fitted")[order]
            for part, name in ((~post, text["fitted"]), (post, None)):
                ax.plot(x[part], fit[part], "-", color=PALETTE[0], linewidth=2.2, label=name)
        if counterfactual is not None:
            cf = _aligned(counterfactual, data, "counterfactual")[order]
            ax.plot(x[post], cf[post], "--", color=PALETTE[1], linewidth=2, label=text["counterfactual"])
        ax.axvline(
            midpoint(x[~post].iloc[-1], x[post].iloc[0]),
            color="#777777",
            linestyle=":",
            linewidth=1.5,
            label=text["start"],
        )
        ax.set(title=text["title"], xlabel=text["xlabel"], ylabel=text["ylabel"])
        date_axis(ax, x)
        format_ticks(ax.yaxis, number_format)
        legend_below(ax)
    return ax


_RATE_LABELS = {
    "title": "Sick leave by arm, before and after the start",
    "xlabel": "",
    "ylabel": "Sick-leave days per person-year",
    "before": "Before",
    "after": "After",
    "ci": "95% confidence interval",
}


def _period_order(values: pd.Series, periods: Sequence | None) -> list:
    if periods is not None:
        return list(periods)
    if isinstance(values.dtype, pd.CategoricalDtype):
        return [c for c in values.cat.categories if c in set(values)]
    seen = list(pd.unique(values))
    if set(map(str, seen)) == {"before", "after"}:  # compare_rates sorts "after" first
        return sorted(seen, key=lambda v: str(v) == "after")
    return seen


def rates_by_arm(
    table: Result | pd.DataFrame,
    *,
    arm: str = "arm",
    period: str = "period",
    periods: Sequence | None = None,
    ax: Axes | None = None,
    labels: Mapping[str, str] | None = None,
    number_format: NumberFormat | None = None,
) -> Axes:
    """Rates (e.g. sick-leave days per person-year) by arm and period, with CI error bars.

    Parameters
    ----------
    table : Result or DataFrame
        Columns (or index levels) ``arm`` and ``period``, the rate as ``rate``
        or ``estimate``, and ``ci_low``, ``ci_high``: e.g.
        ``compare_rates(d, "days", "fte_years", "arm", by="period")``.
    arm, period : str
        The arm and period columns.
    periods : sequence, optional
        Order of the periods on the x axis (default: as in the table, with
        "before" ahead of "after").
    ax, labels, number_format
        As the other figures; ``labels`` keys ``title``, ``xlabel``,
        ``ylabel``, ``ci`` and arm/period values (``pilot``, ``before``, ...).

    Returns
    -------
    matplotlib.axes.Axes

    References
    ----------
    Rates and exact CIs as R ``poisson.test``, drawn as ``ggplot2::geom_pointrange``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> t = pd.DataFrame({"arm": ["pilot", "pilot", "comparison", "comparison"],
    ...                   "period": ["before", "after"] * 2, "rate": [15.7, 7.0, 14.0, 13.5],
    ...                   "ci_low": [14.0, 6.0, 12.5, 12.0], "ci_high": [17.5, 8.1, 15.6, 15.1]})
    >>> ax = rates_by_arm(t)
    >>> [float(v) for v in ax.containers[0].lines[0].get_ydata()]  # pilot: before, after
    [15.7, 7.0]
    """
    t = as_table(table, "rates_by_arm")
    named = [n for n in t.index.names if n is not None and n not in t.columns]
    t = t.reset_index(level=named) if named else t
    value = "rate" if "rate" in t.columns else "estimate"
    need(t, "rates_by_arm", arm, period, value, "ci_low", "ci_high")
    order = _period_order(t[period], periods)
    text = texts(_RATE_LABELS, labels)
    fmt = number_format or fixed_format(1)
    arms = few_groups(t[arm], "rates_by_arm")
    with style():
        ax = new_axes(ax, (6.5, 4.5))
        for j, a in enumerate(arms):
            sub = t[t[arm] == a].set_index(period).reindex(order).dropna(subset=[value])
            xs = np.array([order.index(p) for p in sub.index], dtype=float) + 0.12 * (j - (len(arms) - 1) / 2)
            est = sub[value].to_numpy(float)
            err = np.vstack([est - sub["ci_low"].to_numpy(float), sub["ci_high"].to_numpy(float) - est])
            colour = group_colour(a, j)
            ax.plot(xs, est, "-", color=colour, linewidth=1, alpha=0.5)
            ax.errorbar(
                xs,
                est,
                yerr=err,
                fmt="o",
                color=colour,
                capsize=4,
                markersize=7,
                linewidth=1.5,
                label=category(a, text),
            )
            left = j < (len(arms) - 1) / 2  # write each value on the outer side of its arm
            for xv, v in zip(xs, est):
                ax.annotate(
                    fmt(v),
                    xy=(xv, v),
                    xytext=(-8 if left else 8, 0),
                    textcoords="offset points",
                    ha="right" if left else "left",
                    va="center",
                    fontsize="small",
                    color=colour,
                )
        ax.set_xticks(range(len(order)), [category(p, text) for p in order])
        ax.set_xlim(-0.5, len(order) - 0.5)
        ax.set_ylim(0, float(pd.to_numeric(t["ci_high"]).max()) * 1.12)
        ax.set(title=text["title"], xlabel=text["xlabel"], ylabel=text["ylabel"])
        format_ticks(ax.yaxis, number_format)
        legend(ax, title=text["ci"])
    return ax
