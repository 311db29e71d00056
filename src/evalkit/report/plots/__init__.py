"""evalkit's figures: one shared style, then one function per kind of figure.

Every figure in a report is drawn here so that they all look alike: a
colour-blind-safe palette (seaborn's "colorblind"), font
sizes readable in an HTML report, a light grid. The style is applied through
:func:`style`, a context manager, so that importing evalkit never changes a
user's own matplotlib settings.

Each figure function takes a Result or a tidy DataFrame and keyword options,
draws on ``ax`` (a new figure if None) and returns the Axes. English texts are
defaults: the report passes translations as ``labels`` (keys per figure, and
data values such as ``"pilot"``) and a ``number_format`` callable (float ->
str, e.g. a decimal comma for fi and sv). No figure writes identifiers from
the data; survival curves follow the disclosure rule of
:mod:`evalkit.report.plots._survival`. :func:`save_png` and :func:`to_base64_png`
export a figure without metadata and close it.

Figure families live in private modules (``_plots_survival``, ``_plots_effects``,
``_plots_workforce``) and share ``_plots_base``, where the style and palette
are defined so that the families need not import this module.
"""

from __future__ import annotations

from typing import Mapping

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.ticker import MultipleLocator

from evalkit.report.plots._base import PALETTE, overlapping_tick_labels, save_png, style, to_base64_png
from evalkit.report.plots._effects import forest, its_plot, rates_by_arm
from evalkit.report.plots._survival import cif_curves, km_curves
from evalkit.report.plots._workforce import LEGAL_CAPS, RECOMMENDED_CASELOAD, bar_share, caseload
from evalkit.core.result import InputError, Result

__all__ = [
    "PALETTE",
    "style",
    "overlapping_tick_labels",
    "event_study",
    "km_curves",
    "cif_curves",
    "forest",
    "its_plot",
    "rates_by_arm",
    "caseload",
    "bar_share",
    "LEGAL_CAPS",
    "RECOMMENDED_CASELOAD",
    "save_png",
    "to_base64_png",
]


_EVENT_LABELS = {
    "title": "Event study",
    "xlabel": "Periods since start of treatment",
    "ylabel": "Effect (ATT)",
    "pre": "Before",
    "post": "After",
    "ci": "confidence interval",
    "band": "simultaneous confidence band",
}


def event_study(result: Result, ax: Axes | None = None, labels: Mapping[str, str] | None = None) -> Axes:
    """Event-study figure: ATT by event time with confidence intervals.

    Points before the start of treatment (event time < 0, placebo checks of
    parallel trends) and after it are drawn in different colours, with a zero
    line and a dashed line between the two periods. The simultaneous band
    (``cb_low``/``cb_high``, from the multiplier bootstrap) is drawn when the
    result has one, else the pointwise interval (``ci_low``/``ci_high``).

    Parameters
    ----------
    result : Result
        From ``staggered_did(..., aggregate="event")``: a table with
        ``event_time``, ``estimate`` and interval columns.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is created if None.
    labels : mapping, optional
        Text to replace the English defaults (keys ``title``, ``xlabel``,
        ``ylabel``, ``pre``, ``post``, and ``ci``/``band`` naming the interval
        in the legend title), for reports in Finnish or Swedish.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on (``ax.figure`` is the figure, e.g. to save).

    References
    ----------
    As R ``did::ggdid`` on an ``aggte(type = "dynamic")`` result.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np, pandas as pd
    >>> from evalkit.stats.effects import staggered_did
    >>> rng = np.random.default_rng(0)
    >>> units = pd.DataFrame({"id": range(90), "g": np.repeat([0, 3, 4], 30)})
    >>> df = units.merge(pd.DataFrame({"t": [1, 2, 3, 4, 5]}), how="cross")
    >>> df["y"] = (df["g"] > 0) * (df["t"] >= df["g"]) + rng.normal(0, 0.2, len(df))
    >>> ax = event_study(staggered_did(df, "y", "id", "t", "g", aggregate="event"))
    >>> len(ax.lines) > 0
    True
    """
    table = result.table
    missing = [c for c in ("event_time", "estimate", "ci_low", "ci_high") if c not in table.columns]
    if missing:
        raise InputError(
            "event_study needs a result of staggered_did(..., aggregate='event'); "
            f"missing column(s): {', '.join(missing)}"
        )
    if table.empty:
        raise InputError("the event-study result has no rows to plot")
    text = {**_EVENT_LABELS, **(labels or {})}
    band = "cb_low" in table.columns
    low, high = ("cb_low", "cb_high") if band else ("ci_low", "ci_high")
    level = 100 * (1 - result.stats.get("alpha", 0.05))
    e = table["event_time"].to_numpy(float)
    est = table["estimate"].to_numpy(float)
    with style():
        if ax is None:
            _, ax = plt.subplots(figsize=(7, 4.2), layout="constrained")
        ax.axhline(0, color="#444444", linewidth=1)
        if (e < 0).any() and (e >= 0).any():
            ax.axvline(-0.5, color="#777777", linestyle="--", linewidth=1)
        for part, colour, name in ((e < 0, PALETTE[0], "pre"), (e >= 0, PALETTE[1], "post")):
            if part.any():
                err = np.vstack(
                    [est[part] - table[low].to_numpy(float)[part], table[high].to_numpy(float)[part] - est[part]]
                )
                ax.errorbar(
                    e[part],
                    est[part],
                    yerr=err,
                    fmt="o",
                    color=colour,
                    capsize=4,
                    markersize=6,
                    linewidth=1.5,
                    label=text[name],
                )
        ax.xaxis.set_major_locator(MultipleLocator(1))
        ax.set(title=text["title"], xlabel=text["xlabel"], ylabel=text["ylabel"])
        ax.legend(
            loc="best", title=f"{level:g}% {text['band' if band else 'ci']}", title_fontsize="small", fontsize="small"
        )
    return ax
