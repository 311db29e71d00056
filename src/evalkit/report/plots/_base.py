"""What every evalkit figure shares: the style, the palette and small drawing helpers (private).

Kept apart from :mod:`evalkit.plots` so that the figure families
(``_plots_survival``, ``_plots_effects``, ``_plots_workforce``) can use them
without importing the public module that re-exports the families.
"""

from __future__ import annotations

import base64
import io
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, Mapping

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.category import StrCategoryFormatter
from matplotlib.ticker import FixedFormatter, FixedLocator, FuncFormatter

from evalkit.core.result import InputError, Result

if TYPE_CHECKING:
    from matplotlib.typing import LegendLocType

__all__ = [
    "PALETTE",
    "ARM_COLOURS",
    "NumberFormat",
    "OVERLAP_KEY",
    "group_colour",
    "style",
    "save_png",
    "to_base64_png",
    "overlapping_tick_labels",
]

NumberFormat = Callable[[float], str]

PALETTE: list[tuple[float, float, float]] = sns.color_palette("colorblind")
"""Colour-blind-safe colours, in the order figures use them."""
#: the arms keep their colours in every figure, whatever order the rows come in
ARM_COLOURS = {"pilot": 0, "comparison": 1}


def group_colour(value: object, position: int) -> tuple[float, float, float]:
    """A group's colour: the arm's own for "pilot" and "comparison", else by position."""
    return PALETTE[ARM_COLOURS.get(str(value), position) % len(PALETTE)]


@contextmanager
def style() -> Iterator[None]:
    """Draw the figures created inside the ``with`` block in evalkit's style.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> with style():
    ...     fig, ax = plt.subplots()
    >>> ax.xaxis.label.get_fontsize() >= 12
    True
    """
    rc = {
        **sns.axes_style("whitegrid"),
        **sns.plotting_context("notebook", font_scale=1.1),
        "axes.prop_cycle": plt.cycler(color=PALETTE),
        "grid.color": "#e6e6e6",
        "grid.linewidth": 0.8,
        "axes.edgecolor": "#999999",
        "axes.titleweight": "bold",
        "figure.dpi": 100,
        "savefig.dpi": 150,
        "savefig.bbox": "tight",
        # titles sit just above their axes (no ticks on top): a fixed y spares matplotlib
        # measuring every axes of the row at each draw to place them (a fifth of a report's
        # figure time)
        "axes.titley": 1.0,
        "legend.frameon": False,
    }
    with plt.rc_context(rc):
        try:
            yield
        finally:
            # The inline backend turns interactive mode on when the first figure is
            # made; restoring it with the other rcParams would hide every later figure.
            interactive = plt.isinteractive()
    plt.interactive(interactive)


# ---------------------------------------------------------------- export
def _figure(fig_or_ax: Figure | Axes) -> Figure:
    fig = fig_or_ax.get_figure() if isinstance(fig_or_ax, Axes) else fig_or_ax
    if not isinstance(fig, Figure):
        raise InputError("expected a matplotlib Figure or Axes")
    return fig


#: PNG text key under which a figure records how many pairs of its tick labels still overlap (audited)
OVERLAP_KEY = "evalkit overlapping tick labels"


def _drawn_labels(axis, renderer) -> list:
    """The rendered extents of the major tick labels an axis draws (inside its view, not empty)."""
    locs = axis.get_majorticklocs()
    lo, hi = sorted(axis.get_view_interval())
    slack = (hi - lo) * 1e-9
    return [
        t.label1
        for loc, t in zip(locs, axis.get_major_ticks(len(locs)))
        if lo - slack <= loc <= hi + slack and t.label1.get_visible() and t.label1.get_text()
    ]


def _clashes(labels: list, renderer) -> int:
    """Pairs of labels whose boxes overlap or come within a pixel of each other."""
    boxes = [label.get_window_extent(renderer).expanded(1.0, 1.0).padded(0.5) for label in labels]
    return sum(
        bool(min(a.x1, b.x1) > max(a.x0, b.x0) and min(a.y1, b.y1) > max(a.y0, b.y0))
        for i, a in enumerate(boxes)
        for b in boxes[i + 1 :]
    )


def overlapping_tick_labels(fig: Figure) -> int:
    """Pairs of drawn tick labels that overlap, over every axis of the figure (0 for a readable figure).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> fig, ax = plt.subplots(figsize=(2, 2))
    >>> _ = ax.set_xticks(range(30))
    >>> overlapping_tick_labels(fig) > 0
    True
    >>> plt.close(fig)
    """
    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]  # Agg canvases have it; the base stub not
    return int(
        sum(_clashes(_drawn_labels(axis, renderer), renderer) for ax in fig.axes for axis in (ax.xaxis, ax.yaxis))
    )


#: formatters of axes whose ticks are names (seaborn's categories, set_xticklabels), not numbers or dates
_NAMES = (FixedFormatter, StrCategoryFormatter)


def _declutter(fig: Figure) -> int:
    """Make crowded tick labels readable (categories turn upright, numbers and dates keep every other label).

    Returns the pairs that still overlap, which the PNG records for the output audit.
    """
    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]  # Agg canvases have it; the base stub not
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            for attempt in range(5):
                labels = _drawn_labels(axis, renderer)
                if not _clashes(labels, renderer):
                    break
                if attempt == 0 and axis is ax.xaxis and isinstance(axis.get_major_formatter(), _NAMES):
                    for label in labels:  # category names: upright, read bottom to top
                        label.set_rotation(90)
                else:
                    for label in labels[1::2]:
                        label.set_visible(False)
                fig.draw_without_rendering()
    return overlapping_tick_labels(fig)


def _write_png(fig: Figure, target) -> None:
    # No "Software" chunk: the PNG then carries nothing about the machine or
    # the matplotlib build; figures are closed so batch rendering does not leak.
    try:
        with style():
            overlaps = _declutter(fig)
            fig.savefig(target, format="png", metadata={"Software": None, OVERLAP_KEY: str(overlaps)})
    finally:
        plt.close(fig)


def save_png(fig_or_ax: Figure | Axes, path: str | Path) -> Path:
    """Write a figure as PNG (150 dpi, tight box, no metadata) and close it.

    Parameters
    ----------
    fig_or_ax : Figure or Axes
        The figure, or any axes on it (what the figure functions return).
    path : str or Path
        File to write.

    Returns
    -------
    Path
        The file written.

    Examples
    --------
    >>> import matplotlib, tempfile, os
    >>> matplotlib.use("Agg")
    >>> fig, ax = plt.subplots()
    >>> out = save_png(ax, os.path.join(tempfile.mkdtemp(), "f.png"))
    >>> out.read_bytes()[:4] == b"\\x89PNG", plt.fignum_exists(fig.number)
    (True, False)
    """
    path = Path(path)
    _write_png(_figure(fig_or_ax), path)
    return path


def to_base64_png(fig_or_ax: Figure | Axes) -> str:
    """The figure as a base64 PNG for ``<img src="data:image/png;base64,...">``; closes it.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> fig, ax = plt.subplots()
    >>> to_base64_png(fig)[:8]
    'iVBORw0K'
    """
    buffer = io.BytesIO()
    _write_png(_figure(fig_or_ax), buffer)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


# ---------------------------------------------------------------- helpers for the families
#: How the arms of the data contract (DATA.md ``teams.arm``) are shown by default.
ARM_LABELS = {"pilot": "Pilot teams", "comparison": "Comparison teams"}


def texts(defaults: Mapping[str, str], labels: Mapping[str, str] | None) -> dict[str, str]:
    """English defaults (and arm names) overridden by the caller's translations."""
    return {**ARM_LABELS, **defaults, **(labels or {})}


def category(value: object, text: Mapping[str, str]) -> str:
    """A data value (arm, period, wave) as shown: translated when ``text`` has it."""
    return text.get(str(value), str(value))


#: More groups than this in one figure is unreadable, and more likely an identifier
#: column (case, child, worker) passed by mistake: refused rather than drawn.
MAX_GROUPS = 8


def few_groups(values, what: str) -> list:
    """The distinct groups in order of appearance, refusing identifier-like columns."""
    groups = list(pd.unique(pd.Series(values)))
    if len(groups) > MAX_GROUPS:
        raise InputError(
            f"{what}: {len(groups)} groups to draw; at most {MAX_GROUPS} fit in one figure "
            "(is this an identifier column? identifiers must never be drawn)"
        )
    return groups


def as_table(obj: Result | pd.DataFrame, what: str) -> pd.DataFrame:
    """The tidy table of a Result, or the DataFrame itself."""
    if isinstance(obj, Result):
        return obj.table
    if isinstance(obj, pd.DataFrame):
        return obj
    raise InputError(f"{what} needs a Result or a pandas DataFrame, not {type(obj).__name__}")


def need(table: pd.DataFrame, what: str, *columns: str) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise InputError(
            f"{what}: missing column(s) {', '.join(map(repr, missing))}; found {', '.join(map(str, table.columns))}"
        )
    if table.empty:
        raise InputError(f"{what}: the table has no rows to plot")


def new_axes(ax: Axes | None, size: tuple[float, float] = (7.5, 4.5)) -> Axes:
    if ax is not None:
        return ax
    _, ax = plt.subplots(figsize=size, layout="constrained")
    return ax


def fixed_format(digits: int) -> NumberFormat:
    """The English default for numbers written into a figure."""
    return lambda x: f"{x:,.{digits}f}"


def english_tick(x: float) -> str:
    """Default tick text: thousands separated, no float noise (``125,000``, ``0.3``)."""
    return f"{x:,.10g}"


def format_ticks(axis, number_format: NumberFormat | None) -> None:
    """Tick labels through the report's number format (decimal comma in fi/sv)."""
    fmt = number_format or english_tick
    axis.set_major_formatter(FuncFormatter(lambda v, _pos: fmt(v)))


def legend_below(ax: Axes, **kw) -> None:
    """Legend under the x axis, for figures whose data fill every corner."""
    legend(ax, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncols=2, **kw)


def as_x(values: pd.Series, what: str) -> pd.Series:
    """Times as plottable x values: numbers stay numbers; months and dates become Timestamps."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return values.astype(float)
    if isinstance(values.dtype, pd.PeriodDtype):
        return values.dt.to_timestamp()
    try:
        return pd.to_datetime(values.astype(str) if values.dtype == object else values)
    except (ValueError, TypeError):
        raise InputError(f"{what}: times must be numbers, months (YYYY-MM) or dates") from None


def date_axis(ax: Axes, x: pd.Series) -> None:
    """Language-neutral date ticks (years, or mm/yyyy for short spans): no month names."""
    if not pd.api.types.is_datetime64_any_dtype(x):
        return
    lo, hi = x.min(), x.max()
    months = (hi.year - lo.year) * 12 + hi.month - lo.month
    # fixed tick dates, worked out once here: matplotlib's rrule-based date locators
    # recompute them at every draw, several times per figure
    # a year either side: ticks outside the view (axis margins) are simply not drawn
    starts = pd.date_range(
        lo.to_period("Y").to_timestamp() - pd.DateOffset(years=1), hi + pd.DateOffset(years=1), freq="MS"
    )
    if months >= 30:
        major, minor = starts[starts.month == 1], starts[starts.month.isin((4, 7, 10))]
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y"))
    else:
        step = 1 if months <= 8 else 3
        major, minor = starts[(starts.month - 1) % step == 0], starts[:0]
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%m/%Y"))
    ax.xaxis.set_major_locator(FixedLocator(mdates.date2num(major)))
    ax.xaxis.set_minor_locator(FixedLocator(mdates.date2num(minor)))
    ax.tick_params(axis="x", which="minor", length=3)


def legend(ax: Axes, loc: LegendLocType = "best", **kw) -> None:
    handles, _ = ax.get_legend_handles_labels()
    if handles:
        ax.legend(loc=loc, fontsize="small", title_fontsize="small", **kw)


def midpoint(a, b):
    """The middle of two x values (numbers or Timestamps)."""
    return a + (b - a) / 2


def to_array(values, n: int, what: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.shape != (n,):
        raise InputError(f"{what} must have one value per row of data ({n}), not shape {arr.shape}")
    return arr
