"""Workforce figures: caseload against the recommended and legal levels, time-use shares (private).

The legal caps are those of HE 170/2021 (amending the Child Welfare Act): at
most 35 children per social worker in 2022-23 and 30 from 2024; about 20 is
the level the systemic practice model recommends (see DOMAIN.md).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

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
    need,
    new_axes,
    style,
    texts,
)

__all__ = ["LEGAL_CAPS", "RECOMMENDED_CASELOAD", "caseload", "bar_share"]

RECOMMENDED_CASELOAD = 20
"""Children per social worker the systemic practice model recommends."""

LEGAL_CAPS: tuple[tuple[str, str | None, float], ...] = (("2022-01-01", "2023-12-31", 35), ("2024-01-01", None, 30))
"""(first day, last day or None, cap): children per social worker, HE 170/2021."""

_CASELOAD_LABELS = {
    "title": "Children per social worker",
    "xlabel": "",
    "ylabel": "Children per social worker",
    "target": "Recommended level ({value})",
    "cap": "Legal maximum (HE 170/2021)",
}


def _one_row_each(data: pd.DataFrame, keys: list[str], what: str) -> None:
    if data.duplicated(keys).any():
        raise InputError(f"{what}: expected one row per {' x '.join(keys)}; aggregate the data first")


def _cap_segments(caps, low: pd.Timestamp, high: pd.Timestamp) -> list[tuple]:
    """The parts of the cap periods that lie within the plotted time range."""
    out = []
    for first, last, cap in caps:
        a = max(pd.Timestamp(first), low)
        b = high if last is None else min(pd.Timestamp(last), high)
        if a < b:
            out.append((a, b, float(cap)))
    return out


def caseload(
    data: pd.DataFrame,
    time: str,
    value: str,
    group: str,
    *,
    target: float | None = RECOMMENDED_CASELOAD,
    caps: Sequence = LEGAL_CAPS,
    ax: Axes | None = None,
    labels: Mapping[str, str] | None = None,
    number_format: NumberFormat | None = None,
) -> Axes:
    """Caseload over time by arm, with the recommended level and the legal caps.

    The recommended level is a horizontal dashed line; each legal cap is a
    segment over its period, drawn only where it overlaps the months in the
    data (a figure of 2021 data shows no cap).

    Parameters
    ----------
    data : DataFrame
        One row per time and group (e.g. month x arm).
    time : str
        Months (``YYYY-MM``, Period) or dates; needed as dates when ``caps`` is given.
    value : str
        Children per social worker.
    group : str
        The arm column (pilot / comparison).
    target : float or None
        Recommended caseload (20); None draws no line.
    caps : sequence of (first, last, cap)
        Legal maxima by period (dates as text or Timestamps, ``last`` None =
        open-ended); empty for none. Default :data:`LEGAL_CAPS`.
    ax, labels, number_format
        As the other figures; ``labels`` keys ``title``, ``xlabel``,
        ``ylabel``, ``target`` (``{value}`` is filled in), ``cap`` and group values.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> d = pd.DataFrame({"month": ["2023-11", "2023-12", "2024-01", "2024-02"] * 2,
    ...                   "children": [31, 30, 28, 27, 36, 35, 34, 34],
    ...                   "arm": ["pilot"] * 4 + ["comparison"] * 4})
    >>> ax = caseload(d, "month", "children", "arm")
    >>> sorted(float(line.get_ydata()[0]) for line in ax.lines if len(set(line.get_ydata())) == 1)
    [20.0, 30.0, 35.0]
    """
    need(data, "caseload", time, value, group)
    _one_row_each(data, [time, group], "caseload")
    x = as_x(data[time], "caseload")
    dated = pd.api.types.is_datetime64_any_dtype(x)
    if caps and not dated:
        raise InputError("caseload: the legal caps are dated, so time must be months or dates (or pass caps=())")
    text = texts(_CASELOAD_LABELS, labels)
    fmt = number_format or fixed_format(0)
    y = pd.to_numeric(data[value], errors="coerce")
    with style():
        ax = new_axes(ax)
        for j, g in enumerate(few_groups(data[group], "caseload")):
            rows = (data[group] == g).to_numpy()
            order = np.argsort(x[rows].to_numpy(), kind="stable")
            ax.plot(
                x[rows].iloc[order],
                y[rows].iloc[order],
                "o-",
                markersize=4,
                linewidth=2,
                color=group_colour(g, j),
                label=category(g, text),
            )
        top = [float(y.max())] if y.notna().any() else []  # values hidden by disclosure are NaN
        if target is not None:
            ax.plot(
                [x.min(), x.max()],
                [target, target],
                "--",
                color=PALETTE[2],
                linewidth=1.8,
                label=text["target"].replace("{value}", fmt(target)),
            )
            top.append(float(target))
        segments = _cap_segments(caps, x.min(), x.max()) if caps else []
        for k, (a, b, cap) in enumerate(segments):
            ax.plot([a, b], [cap, cap], "-", color=PALETTE[3], linewidth=2.5, label=text["cap"] if k == 0 else None)
            ax.annotate(
                fmt(cap),
                xy=(a, cap),
                xytext=(3, 4),
                textcoords="offset points",
                va="bottom",
                fontsize="small",
                color=PALETTE[3],
                fontweight="bold",
                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.85},
            )
            top.append(cap)
        ax.set_ylim(0, max(top, default=1.0) * 1.15)
        ax.set(title=text["title"], xlabel=text["xlabel"], ylabel=text["ylabel"])
        date_axis(ax, x)
        format_ticks(ax.yaxis, number_format)
        legend_below(ax)
    return ax


_SHARE_LABELS = {
    "title": "Face-to-face work with families",
    "xlabel": "",
    "ylabel": "Share of working time (%)",
    "wave": "Wave",
}


def bar_share(
    table: Result | pd.DataFrame,
    *,
    wave: str = "wave",
    arm: str = "arm",
    share: str = "share",
    ax: Axes | None = None,
    labels: Mapping[str, str] | None = None,
    number_format: NumberFormat | None = None,
) -> Axes:
    """Grouped bars of a share of working time (e.g. face to face) by wave and arm, in percent.

    Parameters
    ----------
    table : Result or DataFrame
        One row per wave and arm; ``share`` is a proportion from 0 to 1.
    wave, arm, share : str
        Column names.
    ax, labels, number_format
        As the other figures; ``labels`` keys ``title``, ``xlabel``,
        ``ylabel``, ``wave`` (tick text "Wave 1") and arm or wave values.
        ``number_format`` writes the percentage on each bar (default no decimals).

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> t = pd.DataFrame({"wave": [1, 1, 2, 2], "arm": ["pilot", "comparison"] * 2,
    ...                   "share": [0.18, 0.17, 0.27, 0.16]})
    >>> ax = bar_share(t)
    >>> [float(p.get_height()) for p in ax.containers[0]]
    [18.0, 27.0]
    """
    t = as_table(table, "bar_share")
    need(t, "bar_share", wave, arm, share)
    _one_row_each(t, [wave, arm], "bar_share")
    values = pd.to_numeric(t[share], errors="coerce")
    if values.isna().any() or ((values < 0) | (values > 1)).any():
        raise InputError(f"bar_share: {share!r} must be proportions from 0 to 1 (not percentages)")
    text = texts(_SHARE_LABELS, labels)
    fmt = number_format or fixed_format(0)
    waves = sorted(pd.unique(t[wave]))
    arms = few_groups(t[arm], "bar_share")
    width = 0.8 / len(arms)
    pct = t.assign(_pct=100 * values).set_index([wave, arm])["_pct"]
    with style():
        ax = new_axes(ax, (6.5, 4.5))
        for j, a in enumerate(arms):
            heights = [pct.get((w, a), np.nan) for w in waves]
            bars = ax.bar(
                np.arange(len(waves)) + width * (j - (len(arms) - 1) / 2),
                heights,
                width * 0.95,
                color=group_colour(a, j),
                label=category(a, text),
            )
            ax.bar_label(bars, labels=["" if np.isnan(h) else fmt(h) for h in heights], padding=3, fontsize="small")
        ax.set_xticks(
            range(len(waves)), [category(w, text) if str(w) in text else f"{text['wave']} {w}" for w in waves]
        )
        ax.set_ylim(0, min(100.0, max(float(pct.max()) * 1.3, 5.0)))
        ax.grid(axis="x", visible=False)
        ax.set(title=text["title"], xlabel=text["xlabel"], ylabel=text["ylabel"])
        format_ticks(ax.yaxis, number_format)
        legend(ax, loc="upper left")
    return ax
