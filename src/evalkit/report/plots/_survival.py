"""Survival figures with disclosure control: Kaplan-Meier and cumulative incidence (private).

Disclosure rule (issue 5): a curve must not reveal individual events where
fewer than ``threshold`` people are at risk. Each group's curve is therefore
drawn only from time 0 up to the last time at which its risk set is at least
``threshold``; the steps after it (each caused by one of a handful of people)
are not drawn, and the legend title says so. Counts in the risk table from 1
to ``threshold - 1`` are shown as ``"<threshold"``, as
:func:`evalkit.disclosure.small_mark` does for tables.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from evalkit.core.disclosure import DEFAULT_THRESHOLD, small_mark
from evalkit.core.result import InputError, Result
from evalkit.report.plots._base import (
    NumberFormat,
    as_table,
    category,
    few_groups,
    format_ticks,
    group_colour,
    legend,
    need,
    new_axes,
    style,
    texts,
)

__all__ = ["km_curves", "cif_curves"]

_KM_COLUMNS = {"time", "n_risk", "n_event", "n_censor", "survival", "se", "ci_low", "ci_high"}
_CIF_COLUMNS = {"time", "n_risk", "cif", "se", "ci_low", "ci_high"}
_LINESTYLES = ("-", "--", ":", "-.")

_KM_LABELS = {
    "title": "Survival curves",
    "xlabel": "Time",
    "ylabel": "Proportion without the event",
    "risk_table": "Number at risk",
    "note": "Curves end when fewer than {threshold} are at risk",
    "hidden": "not shown: fewer than {threshold} at risk",
    "all": "All",
}
_CIF_LABELS = {**_KM_LABELS, "title": "Cumulative incidence", "ylabel": "Cumulative incidence"}


def _group_column(table: pd.DataFrame, known: set[str], group: str | None) -> str | None:
    """The column naming the groups: given, or the one column an estimator added."""
    if group is not None:
        need(table, "group", group)
        return group
    extra = [c for c in table.columns if c not in known]
    if len(extra) > 1:
        raise InputError(f"cannot tell which column names the groups ({', '.join(map(str, extra))}); pass group=")
    return extra[0] if extra else None


def _groups(table: pd.DataFrame, group: str | None) -> list[tuple[object, pd.DataFrame]]:
    if group is None:
        return [("all", table.sort_values("time"))]
    few_groups(table[group], "survival curves")
    return [(g, sub.sort_values("time")) for g, sub in table.groupby(group, sort=False)]


def _shown(sub: pd.DataFrame, n_risk: np.ndarray, threshold: int) -> pd.DataFrame:
    """The rows drawn: from the start until the risk set first falls below the threshold."""
    ok = n_risk >= threshold
    return sub.iloc[: len(ok) if ok.all() else int(np.argmin(ok))]


def _at_risk(sub: pd.DataFrame, times: np.ndarray) -> np.ndarray:
    """Number at risk at ``times``, read from a table with n_risk at every distinct time.

    n_risk at a row is the number with time >= that row's time, so the count at
    t is that of the first row at or after t (0 after the last row).
    """
    t = sub["time"].to_numpy(float)
    n = sub["n_risk"].to_numpy()
    idx = np.searchsorted(t, times, side="left")
    return np.where(idx < len(t), n[np.minimum(idx, len(t) - 1)], 0).astype(int)


def _count_text(n: int, threshold: int) -> str:
    return small_mark(threshold) if 0 < n < threshold else str(int(n))


def _fill(template: str, threshold: int) -> str:
    return template.replace("{threshold}", str(threshold))


def _hidden(ax: Axes, name: str, colour, text: Mapping[str, str], threshold: int, **line) -> None:
    """A legend entry, and no curve, for a group never at risk in large enough numbers."""
    ax.plot([], [], color=colour, label=f"{name} ({_fill(text['hidden'], threshold)})", **line)


def _curve(ax: Axes, shown: pd.DataFrame, column: str, start: float, colour, band: float = 0.18, **line) -> float:
    """One step curve from time 0 with its CI band (opacity ``band``); returns its last time drawn."""
    x = np.r_[0.0, shown["time"].to_numpy(float)]
    y = np.r_[start, shown[column].to_numpy(float)]
    ax.step(x, y, where="post", color=colour, linewidth=2, **line)
    low = np.r_[start, shown["ci_low"].to_numpy(float)]
    high = np.r_[start, shown["ci_high"].to_numpy(float)]
    ax.fill_between(x, low, high, step="post", color=colour, alpha=band, linewidth=0)
    return float(x[-1])


def _risk_table(
    ax: Axes, rows: Sequence[tuple[str, object, np.ndarray]], times: np.ndarray, title: str, threshold: int
) -> None:
    """Counts at risk written under the x axis, one row per group, aligned with the times."""
    below: dict[str, Any] = dict(
        xycoords=("data", "axes fraction"),
        textcoords="offset points",
        va="top",
        fontsize="small",
        annotation_clip=False,
    )
    ax.annotate(
        title,
        xy=(0, 0),
        xycoords="axes fraction",
        xytext=(0, -52),
        textcoords="offset points",
        va="top",
        ha="left",
        fontsize="small",
        fontweight="bold",
    )
    for i, (name, colour, counts) in enumerate(rows):
        offset = -70 - 16 * i
        ax.annotate(
            name,
            xy=(0, 0),
            xycoords="axes fraction",
            xytext=(-24, offset),
            textcoords="offset points",
            va="top",
            ha="right",
            fontsize="small",
            color=colour,
        )
        for t, n in zip(times, counts):
            ax.annotate(_count_text(n, threshold), xy=(t, 0), xytext=(0, offset), ha="center", color=colour, **below)


def km_curves(
    km_result: Result | pd.DataFrame,
    *,
    group: str | None = None,
    threshold: int = DEFAULT_THRESHOLD,
    risk_times: Sequence[float] | None = None,
    ax: Axes | None = None,
    labels: Mapping[str, str] | None = None,
    number_format: NumberFormat | None = None,
) -> Axes:
    """Kaplan-Meier curves by group with CI bands, cut where the risk set gets small.

    Parameters
    ----------
    km_result : Result or DataFrame
        From :func:`evalkit.survival.km`: columns ``time``, ``n_risk``,
        ``survival``, ``ci_low``, ``ci_high`` and the group column.
    group : str, optional
        The group column; by default the one column that is not a KM column
        (none: one curve).
    threshold : int
        Disclosure threshold: a curve is drawn only while at least this many
        are at risk; risk-table counts from 1 to threshold - 1 show as "<5".
    risk_times : sequence of float, optional
        Times at which to write the numbers at risk under the plot.
    ax : Axes, optional
        Axes to draw on; a new figure if None.
    labels : mapping, optional
        Replace the English texts: ``title``, ``xlabel``, ``ylabel``,
        ``risk_table``, ``note`` and ``hidden`` (``{threshold}`` is filled in),
        ``all``; and any group value (e.g. ``"pilot": "Pilottitiimi"``).
    number_format : callable, optional
        float -> str for the tick labels (e.g. a decimal comma).

    Returns
    -------
    matplotlib.axes.Axes

    References
    ----------
    As R ``plot(survfit(...), conf.int = TRUE)`` with a ``survminer``-style
    risk table; the cut at small risk sets is evalkit's disclosure rule.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from evalkit.survival import km
    >>> df = pd.DataFrame({"days": range(1, 21), "closed": 1, "arm": ["pilot", "comparison"] * 10})
    >>> ax = km_curves(km(df, "days", "closed", group="arm"), risk_times=[0, 10])
    >>> [float(line.get_xdata().max()) for line in ax.lines]
    [12.0, 11.0]
    """
    table = as_table(km_result, "km_curves")
    need(table, "km_curves", "time", "n_risk", "survival", "ci_low", "ci_high")
    group = _group_column(table, _KM_COLUMNS, group)
    text = texts(_KM_LABELS, labels)
    times = None if risk_times is None else np.sort(np.asarray(risk_times, dtype=float))
    with style():
        ax = new_axes(ax, (7.5, 5.2) if times is not None else (7.5, 4.5))
        rows, right = [], 0.0 if times is None else float(times.max())
        for i, (g, sub) in enumerate(_groups(table, group)):
            colour, name = group_colour(g, i), category(g, text)
            shown = _shown(sub, sub["n_risk"].to_numpy(), threshold)
            if shown.empty:
                _hidden(ax, name, colour, text, threshold)
            else:
                right = max(right, _curve(ax, shown, "survival", 1.0, colour, label=name))
            if times is not None:
                rows.append((name, colour, _at_risk(sub, times)))
        if times is not None:
            _risk_table(ax, rows, times, text["risk_table"], threshold)
        ax.set(title=text["title"], xlabel=text["xlabel"], ylabel=text["ylabel"], ylim=(0, 1.03))
        ax.set_xlim(0, right * 1.03 if right > 0 else None)
        format_ticks(ax.yaxis, number_format)
        format_ticks(ax.xaxis, number_format)
        # a light box keeps the legend readable where it lies over a CI band
        legend(
            ax, title=_fill(text["note"], threshold), frameon=True, facecolor="white", edgecolor="none", framealpha=0.85
        )
    return ax


def _cause_tables(cif_result) -> list[tuple[object, pd.DataFrame]]:
    if isinstance(cif_result, Mapping):
        if not cif_result:
            raise InputError("cif_curves: no causes given")
        return [(cause, as_table(r, "cif_curves")) for cause, r in cif_result.items()]
    return [(None, as_table(cif_result, "cif_curves"))]


def _cif_risk(sub: pd.DataFrame, g: object, risk: pd.DataFrame | None, group: str | None) -> np.ndarray:
    """n at risk at each CIF row: its own column, else read from ``risk``."""
    if "n_risk" in sub.columns and sub["n_risk"].notna().all():
        return sub["n_risk"].to_numpy()
    if risk is None:
        raise InputError(
            "cif_curves: the CIF table has no n_risk (cif(..., times=...) leaves it out), "
            "so the disclosure rule cannot be applied; pass risk=km(...) on the same data"
        )
    rows = risk if group is None else risk[risk[group] == g]
    if rows.empty:
        raise InputError(f"cif_curves: the risk table has no rows for group {g!r}")
    return _at_risk(rows.sort_values("time"), sub["time"].to_numpy(float))


def cif_curves(
    cif_result: Result | pd.DataFrame | Mapping[str, Result | pd.DataFrame],
    *,
    group: str | None = None,
    threshold: int = DEFAULT_THRESHOLD,
    risk: Result | pd.DataFrame | None = None,
    ax: Axes | None = None,
    labels: Mapping[str, str] | None = None,
    number_format: NumberFormat | None = None,
) -> Axes:
    """Cumulative incidence curves by group (and cause), cut where the risk set gets small.

    Parameters
    ----------
    cif_result : Result, DataFrame or mapping
        From :func:`evalkit.survival.cif` (columns ``time``, ``cif``,
        ``ci_low``, ``ci_high``, the group column and, at its default times,
        ``n_risk``); for several causes a mapping ``{cause name: result}``:
        colour shows the group, line style the cause.
    group : str, optional
        The group column (default: the one non-CIF column).
    threshold : int
        Disclosure threshold: a curve is drawn only while at least this many
        are at risk.
    risk : Result or DataFrame, optional
        Needed when the CIF table has no ``n_risk`` (``cif(..., times=...)``):
        a table with the group column, ``time`` and ``n_risk`` at every
        distinct time, i.e. :func:`evalkit.survival.km` on the same data
        (any event column: the risk set does not depend on it).
    ax, labels, number_format
        As :func:`km_curves` (``labels`` also translates cause names).

    Returns
    -------
    matplotlib.axes.Axes

    References
    ----------
    As R ``cmprsk::plot.cuminc``; the cut at small risk sets is evalkit's disclosure rule.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from evalkit.survival import cif
    >>> df = pd.DataFrame({"days": range(1, 13), "end": [1, 2, 1, 0] * 3})
    >>> ax = cif_curves({"closed": cif(df, "days", "end", cause=1)})
    >>> float(ax.lines[0].get_xdata().max())
    7.0
    """
    causes = _cause_tables(cif_result)
    risk_table = None if risk is None else as_table(risk, "cif_curves risk")
    if risk_table is not None:
        need(risk_table, "cif_curves risk", "time", "n_risk")
    text = texts(_CIF_LABELS, labels)
    with style():
        ax = new_axes(ax, (8.5, 4.5))
        right = 0.0
        for j, (cause, table) in enumerate(causes):
            need(table, "cif_curves", "time", "cif", "ci_low", "ci_high")
            col = _group_column(table, _CIF_COLUMNS, group)
            for i, (g, sub) in enumerate(_groups(table.dropna(subset=["cif"]), col)):
                colour = group_colour(g, i)
                parts = [g] * (col is not None) + [cause] * (cause is not None)
                name = " – ".join(category(v, text) for v in parts) or text["all"]
                shown = _shown(sub, _cif_risk(sub, g, risk_table, col), threshold)
                style_ = {"linestyle": _LINESTYLES[j % len(_LINESTYLES)]}
                if shown.empty:
                    _hidden(ax, name, colour, text, threshold, **style_)
                else:
                    right = max(right, _curve(ax, shown, "cif", 0.0, colour, 0.18 / len(causes), label=name, **style_))
        ax.set(title=text["title"], xlabel=text["xlabel"], ylabel=text["ylabel"])
        ax.set_ylim(0, None)
        ax.set_xlim(0, right * 1.03 if right > 0 else None)
        format_ticks(ax.yaxis, number_format)
        format_ticks(ax.xaxis, number_format)
        legend(ax, title=_fill(text["note"], threshold), loc="upper left", bbox_to_anchor=(1.01, 1))
    return ax
