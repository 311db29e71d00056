"""Disclosure control for published tables: small counts are not shown.

Finnish official statistics do not publish counts from 1 to 4 about people.
:func:`suppress_counts` replaces such cells (primary suppression) by ``"<5"``
and then hides further cells (secondary suppression, shown as ``".."``) so that
no suppressed value can be recovered from the row or column totals: every row
and column that has a suppressed cell has at least two, or none.

Secondary cells are chosen greedily, smallest count first (least information
lost), which is the usual hand rule of statistical offices; it guarantees the
"never exactly one suppressed cell in a line" property, not an optimal pattern.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "DEFAULT_THRESHOLD",
    "SECONDARY_MARK",
    "COUNT_NAMES",
    "Suppressed",
    "suppress_counts",
    "small_mark",
    "publishable",
    "small_count",
]

DEFAULT_THRESHOLD = 5
SECONDARY_MARK = ".."
#: names of Result columns and statistics that count people, cases, days or events
COUNT_NAMES = frozenset(
    {
        "n",
        "events",
        "n_risk",
        "n_event",
        "n_censor",
        "competing",
        "censored",
        "n_cases",
        "n_subjects",
        "n_clusters",
        "n_units",
        "n_obs",
        "count",
        "days",
        "open_cases",
    }
)


def small_mark(threshold: int = DEFAULT_THRESHOLD) -> str:
    """The text shown for a primary-suppressed small count, e.g. ``"<5"``."""
    return f"<{threshold}"


@dataclass(frozen=True)
class Suppressed:
    """A count table made safe to publish.

    Attributes
    ----------
    display : DataFrame
        Strings: counts, ``"<5"`` for small cells, ``".."`` for secondary cells;
        with ``margins=True`` a total row and column, suppressed by the same rules.
    primary, secondary : DataFrame of bool
        Which cells were suppressed, and why (same shape as ``display``).
    """

    display: pd.DataFrame
    primary: pd.DataFrame
    secondary: pd.DataFrame

    @property
    def n_primary(self) -> int:
        return int(self.primary.to_numpy().sum())

    @property
    def n_secondary(self) -> int:
        return int(self.secondary.to_numpy().sum())


def suppress_counts(
    counts: pd.DataFrame,
    *,
    threshold: int = DEFAULT_THRESHOLD,
    margins: bool = True,
    total_label: str = "Total",
) -> Suppressed:
    """Suppress counts from 1 to ``threshold - 1``, with secondary suppression.

    Parameters
    ----------
    counts : DataFrame
        Non-negative integer counts (rows x columns), without totals.
    threshold : int
        Counts ``1 <= c < threshold`` are hidden. Zero is shown: an empty cell
        reveals no person.
    margins : bool
        Show the row and column totals in ``display``. The body is protected
        as if totals were published either way.
    total_label : str
        Label of the total row and column (translated by the caller).

    Returns
    -------
    Suppressed
        ``display`` (strings), ``primary`` and ``secondary`` masks.

    References
    ----------
    Hundepool et al. (2012) *Statistical Disclosure Control*, Wiley, ch. 4
    (threshold rule, secondary suppression in linked tables).

    Examples
    --------
    >>> t = pd.DataFrame({"pilot": [3, 40], "comparison": [12, 51]}, index=["urgent", "care_order"])
    >>> s = suppress_counts(t)
    >>> print(s.display.loc["urgent", "pilot"], s.n_primary, s.n_secondary)
    <5 1 3
    """
    body = counts.to_numpy()
    if body.size and (np.any(pd.isna(body)) or np.any(body < 0)):
        raise ValueError("counts must be non-negative numbers with no missing cells")
    # Each row (column) with its total is one linear relation; totals are cells
    # of the augmented table, so one rule protects body and margins.  Without
    # margins the body is protected as if the totals were published, since they
    # usually are somewhere else in the report.
    values = np.vstack([body.astype(float), body.sum(axis=0)])
    values = np.hstack([values, values.sum(axis=1, keepdims=True)])
    can_hide = np.ones_like(values, dtype=bool)
    primary = (values >= 1) & (values < threshold)
    hidden = primary.copy()
    _protect(values, hidden, can_hide)
    secondary = hidden & ~primary
    display = _display(values, primary, secondary, threshold)
    keep = (slice(None), slice(None)) if margins else (slice(0, -1), slice(0, -1))
    index = [*counts.index, total_label][keep[0]]
    columns = [*counts.columns, total_label][keep[1]]
    as_frame = lambda m: pd.DataFrame(m[keep], index=index, columns=columns)  # noqa: E731
    return Suppressed(as_frame(display), as_frame(primary), as_frame(secondary))


def _protect(values: np.ndarray, hidden: np.ndarray, can_hide: np.ndarray) -> None:
    """Add secondary cells until no hidden cell is determined by the relations."""
    for _ in range(values.size):
        while _fix_lines(values, hidden, can_hide) | _fix_lines(values.T, hidden.T, can_hide.T):
            pass
        exposed = [cell for cell in zip(*np.nonzero(hidden)) if _determined(hidden, cell)]
        if not exposed:
            return
        i, _ = exposed[0]
        # a cell not on a cycle of hidden cells is exposed: widen its row
        row_free = can_hide[i] & ~hidden[i]
        if not row_free.any():
            return
        hidden[i, _smallest(values[i], row_free)] = True


def _fix_lines(values: np.ndarray, hidden: np.ndarray, can_hide: np.ndarray) -> bool:
    """Hide one more cell in each row that has exactly one hidden cell; True if any changed.

    Works on rows; call with transposed views for columns (views share memory).
    """
    changed = False
    for i in np.flatnonzero(hidden.sum(axis=1) == 1):
        free = can_hide[i] & ~hidden[i]
        if free.any():
            hidden[i, _smallest(values[i], free)] = True
            changed = True
    return changed


def _smallest(line: np.ndarray, free: np.ndarray) -> int:
    """Index of the smallest non-zero free cell (a zero only if nothing else is free)."""
    nonzero = free & (line > 0)
    pool = nonzero if nonzero.any() else free
    return int(np.argmin(np.where(pool, line, np.inf)))


def _determined(hidden: np.ndarray, cell: tuple[int, int]) -> bool:
    """Whether the row and column relations pin down the hidden ``cell`` exactly."""
    cells = list(zip(*np.nonzero(hidden)))
    pos = {c: k for k, c in enumerate(cells)}
    n_rows, n_cols = hidden.shape
    relations = []
    for axis, count in ((0, n_rows), (1, n_cols)):
        for line in range(count):
            coef = np.zeros(len(cells))
            for c, k in pos.items():
                if c[axis] == line:
                    is_total = c[1 - axis] == (n_cols if axis == 0 else n_rows) - 1
                    coef[k] = -1.0 if is_total else 1.0
            if coef.any():
                relations.append(coef)
    a = np.array(relations)
    unit = np.zeros(len(cells))
    unit[pos[cell]] = 1.0
    return np.linalg.matrix_rank(a) == np.linalg.matrix_rank(np.vstack([a, unit]))


def _display(values, primary, secondary, threshold) -> np.ndarray:
    shown = np.array([f"{int(v)}" for v in values.ravel()], dtype=object).reshape(values.shape)
    shown[primary] = small_mark(threshold)
    shown[secondary] = SECONDARY_MARK
    return shown


def small_count(value: object, threshold: int = DEFAULT_THRESHOLD) -> bool:
    """Whether ``value`` is a count that may not be published (``1 <= value < threshold``)."""
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return 1 <= v < threshold


def publishable(result: dict, threshold: int = DEFAULT_THRESHOLD) -> dict | None:
    """A Result's JSON form (``Result.to_dict()``) made safe for a published folder, or None.

    Curves (tables with ``time`` and ``n_risk``) are never published as tables:
    the differences of consecutive risk sets are small counts; the report's
    figures show them cut where fewer than ``threshold`` are at risk. A table
    with a small count in any :data:`COUNT_NAMES` column is withheld whole (one
    hidden row could be recovered from the totals). Count statistics under
    the threshold become None.

    Examples
    --------
    >>> doc = {"method": "m", "stats": {"n": 3}, "table": [{"arm": "a", "events": 12}], "warnings": []}
    >>> publishable(doc)["stats"]
    {'n': None}
    >>> publishable({**doc, "table": [{"arm": "a", "events": 2}]}) is None
    True
    """
    rows = result.get("table", [])
    columns = set(rows[0]) if rows else set()
    if {"time", "n_risk"} <= columns:
        return None
    if any(small_count(row.get(c), threshold) for row in rows for c in columns & COUNT_NAMES):
        return None
    stats = {
        k: (None if k in COUNT_NAMES and small_count(v, threshold) else v) for k, v in result.get("stats", {}).items()
    }
    return {**result, "stats": stats}
