"""The common result type of every evalkit estimator, and its errors.

Every estimator in layer 2 (``effects``, ``survival``, ``rates``, ``trends``,
``meta``, ``design``) returns a :class:`Result`: a tidy table, a dict of
model-level figures, and one line naming the method and its conventions.
"""

from __future__ import annotations

import functools
import html
import inspect
import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Collection, Iterable, Sequence

import numpy as np
import pandas as pd
from scipy import stats as _st

__all__ = [
    "Result",
    "EvalkitError",
    "EstimationError",
    "InputError",
    "wald_table",
    "require_columns",
    "binary_codes",
    "check_alpha",
    "checks_alpha",
    "choice",
    "renamed",
]


class EvalkitError(Exception):
    """Base class of evalkit's own, readable errors."""


class InputError(EvalkitError, ValueError):
    """The caller's data or arguments cannot be used as given (says why)."""


class EstimationError(EvalkitError, ValueError):
    """The model cannot be estimated on these data (e.g. no events, one cluster)."""


@dataclass
class Result:
    """What an estimator returns.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per estimated quantity, indexed by a readable name; columns at
        least ``estimate``, ``se``, ``ci_low``, ``ci_high``, ``p`` where defined.
    stats : dict
        Model-level figures (``n`` and estimator-specific ones).
    method : str
        One line naming the method and the conventions used.
    warnings : list of str
        Flags a reader must see (few clusters, fallback model, ...).
    frames : dict of str to pandas.DataFrame
        Row-level output a model has besides its table, e.g. ``fitted``
        (observed, fitted and counterfactual values of a time series model),
        so that no caller rebuilds a model from its private parts. Not part
        of :meth:`to_dict` (it can be as long as the data).
    """

    table: pd.DataFrame
    stats: dict[str, Any] = field(default_factory=dict)
    method: str = ""
    warnings: list[str] = field(default_factory=list)
    frames: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)

    def __getitem__(self, key: str) -> pd.Series:
        """``res["did"]`` is the row named ``did`` of the table."""
        return self.table.loc[key]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (NaN becomes None; numpy scalars become Python)."""
        table = self.table.reset_index()
        records = [{str(k): _plain(v) for k, v in row.items()} for row in table.to_dict("records")]
        return {
            "method": self.method,
            "stats": {str(k): _plain(v) for k, v in self.stats.items()},
            "table": records,
            "warnings": list(self.warnings),
        }

    def __repr__(self) -> str:
        return self._text(*_shown_rows(len(self.table)))

    def summary(self) -> str:
        """The whole result as text (every row, whatever pandas' display options), as statsmodels' and
        lifelines' summaries: method, table, model-level statistics, warnings."""
        return self._text(None, None)

    def _text(self, max_rows: int | None, min_rows: int | None) -> str:
        with pd.option_context("display.width", 120, "display.max_columns", 20):
            body = self.table.to_string(float_format=lambda v: f"{v:.5g}", max_rows=max_rows, min_rows=min_rows)
        stats = ", ".join(f"{k}={_fmt(v)}" for k, v in self.stats.items() if _is_scalar(v))
        lines = [self.method, body]
        if stats:
            lines.append(stats)
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        max_rows, min_rows = _shown_rows(len(self.table))
        # as a DataFrame in a notebook: a long table (a Kaplan-Meier curve) shows its head and tail only
        shown = (
            self.table
            if min_rows is None
            else pd.concat(  # to_html knows no min_rows: head and tail
                [self.table.head(min_rows // 2), self.table.tail(min_rows - min_rows // 2)]
            )
        )
        table = shown.to_html(float_format=lambda v: f"{v:.4g}", border=0, classes="evalkit-table")
        if min_rows is not None:
            table += (
                f"<p class='evalkit-rows'>{len(self.table)} rows, the first and last {min_rows // 2} "
                "shown; <code>.table</code> or <code>.summary()</code> for all</p>"
            )
        stats = "".join(
            f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_fmt(v))}</td></tr>"
            for k, v in self.stats.items()
            if _is_scalar(v)
        )
        warns = "".join(f"<li>{html.escape(w)}</li>" for w in self.warnings)
        return (
            f"<div class='evalkit-result'><p><b>{html.escape(self.method)}</b></p>{table}"
            + (f"<table class='evalkit-stats'>{stats}</table>" if stats else "")
            + (f"<ul class='evalkit-warnings' style='color:#a33'>{warns}</ul>" if warns else "")
            + "</div>"
        )


def _is_scalar(v: Any) -> bool:
    return isinstance(v, (int, float, str, bool, np.integer, np.floating, np.bool_)) or v is None


def _fmt(v: Any) -> str:
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.5g}"
    return str(v)


def _plain(v: Any) -> Any:
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating, float)):
        v = float(v)
        return None if math.isnan(v) or math.isinf(v) else v
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, (pd.Timestamp,)):
        return v.isoformat()
    if v is pd.NaT or (v is not None and not isinstance(v, (str, bytes, list, dict, tuple)) and pd.isna(v)):
        return None
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    return v


def wald_table(
    names: Sequence[str],
    estimate: Iterable[float],
    se: Iterable[float],
    *,
    alpha: float = 0.05,
    df: float | Sequence[float] | np.ndarray | None = None,
    ratio: bool = False,
) -> pd.DataFrame:
    """Tidy Wald table: estimate, se, statistic, p, CI (z, or t on ``df``).

    ``df`` may be one number or one per row (Satterthwaite df); per-row df
    are kept in a ``df`` column. With ``ratio=True`` adds ``ratio``,
    ``ratio_ci_low``, ``ratio_ci_high`` (exponentiated estimate and CI), as
    the ratio models need.
    """
    est = np.asarray(list(estimate), dtype=float)
    se_ = np.asarray(list(se), dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = est / se_
    if df is None:
        q = _st.norm.ppf(1 - alpha / 2)
        p = 2 * _st.norm.sf(np.abs(stat))
        stat_name = "z"
    else:
        q = _st.t.ppf(1 - alpha / 2, df)
        p = 2 * _st.t.sf(np.abs(stat), df)
        stat_name = "t"
    out = pd.DataFrame(
        {
            "estimate": est,
            "se": se_,
            "ci_low": est - q * se_,
            "ci_high": est + q * se_,
            stat_name: stat,
            "p": p,
        },
        index=pd.Index(list(names), name="term"),
    )
    if df is not None and np.ndim(df) > 0:
        out["df"] = np.asarray(df, dtype=float)
    if ratio:
        out["ratio"] = np.exp(out["estimate"])
        out["ratio_ci_low"] = np.exp(out["ci_low"])
        out["ratio_ci_high"] = np.exp(out["ci_high"])
    return out


def _shown_rows(n: int) -> tuple[int | None, int | None]:
    """pandas' display.max_rows / min_rows for a table of ``n`` rows (None, None: every row)."""
    max_rows = pd.get_option("display.max_rows")
    if max_rows is None or n <= max_rows:
        return None, None
    return max_rows, pd.get_option("display.min_rows") or max_rows


def require_columns(data: pd.DataFrame, *columns: str | None) -> None:
    """Raise :class:`InputError` naming any column that ``data`` lacks."""
    if not isinstance(data, pd.DataFrame):
        raise InputError(f"data must be a pandas DataFrame, not {type(data).__name__}")
    missing = [c for c in columns if c is not None and c not in data.columns]
    if missing:
        raise InputError(f"column(s) not in data: {', '.join(map(str, missing))}")


def binary_codes(values: pd.Series, name: str, labels: tuple[str, str] = ("0", "1")) -> np.ndarray:
    """A 0/1 column as integers, the one rule of every estimator: booleans or the numbers 0 and 1, both present.

    Anything else (text, 2, a missing value) raises :class:`InputError` naming what was found, so a
    pilot column coded "pilot"/"comparison" is never read as a number.

    Examples
    --------
    >>> binary_codes(pd.Series([True, False, True]), "pilot").tolist()
    [1, 0, 1]
    >>> binary_codes(pd.Series([1, 1]), "pilot", ("comparison", "pilot"))
    Traceback (most recent call last):
    ...
    evalkit.core.result.InputError: no rows with pilot == 0 (comparison): the comparison needs both
    """
    if values.dtype == bool:
        values = values.astype(int)
    found = set(pd.unique(values))
    if not found <= {0, 1}:
        shown = ", ".join(map(str, sorted(found, key=str)[:5]))
        raise InputError(f"'{name}' must be coded 0/1 ({labels[0]} = 0, {labels[1]} = 1); found {shown}")
    for code, label in enumerate(labels):
        if code not in found:
            raise InputError(f"no rows with {name} == {code} ({label}): the comparison needs both")
    return values.to_numpy(dtype=int)


def check_alpha(alpha: Any) -> float:
    """``alpha`` as a float, or :class:`InputError` in the one wording every estimator uses.

    Examples
    --------
    >>> check_alpha(0.1)
    0.1
    >>> check_alpha(1.5)
    Traceback (most recent call last):
    ...
    evalkit.core.result.InputError: alpha must be a number between 0 and 1 (0.05 gives 95% intervals), not 1.5
    """
    ok = isinstance(alpha, (int, float, np.integer, np.floating)) and not isinstance(alpha, bool)
    if not ok or not 0 < float(alpha) < 1:  # NaN fails the comparison too
        raise InputError(f"alpha must be a number between 0 and 1 (0.05 gives 95% intervals), not {alpha!r}")
    return float(alpha)


def choice(value: object, allowed: Collection[str | None], name: str) -> Any:
    """The allowed spelling of an option value, matched without regard to case; else :class:`InputError`.

    Every option of every estimator (``se_type``, ``method``, ``conf_type``, ...) goes through it, so
    ``"CR2"``, ``"cr2"`` and ``" Cr2 "`` are one value everywhere, and a wrong one is named in one wording.

    Examples
    --------
    >>> choice("CR2", ("iid", "cluster", "cr2"), "se_type")
    'cr2'
    >>> choice("hc3", ("iid", "cluster", "cr2"), "se_type")
    Traceback (most recent call last):
    ...
    evalkit.core.result.InputError: se_type must be one of 'iid', 'cluster', 'cr2', not 'hc3'
    """
    for option in allowed:
        if option is None and value is None:
            return None
        if option is not None and isinstance(value, str) and value.strip().lower() == option.lower():
            return option
    shown = ", ".join("None" if o is None else repr(o) for o in allowed)
    raise InputError(f"{name} must be one of {shown}, not {value!r}")


def checks_alpha(func: Callable) -> Callable:
    """Decorate an estimator: its ``alpha`` argument is checked by :func:`check_alpha` before it runs.

    Every public estimator with an ``alpha`` carries it (``tests/test_result.py``
    checks), so a level such as 1.5 never gives an interval whose lower limit lies
    above the estimate.
    """
    signature = inspect.signature(func)
    default = signature.parameters["alpha"].default

    @functools.wraps(func)
    def checked(*args: Any, **kwargs: Any) -> Any:
        alpha = (
            kwargs["alpha"]
            if "alpha" in kwargs
            else signature.bind_partial(*args, **kwargs).arguments.get("alpha", default)
        )
        check_alpha(alpha)
        return func(*args, **kwargs)

    checked.checks_alpha = True  # type: ignore[attr-defined]
    return checked


def renamed(**old_to_new: str) -> Callable:
    """Keep an argument's old keyword name working, with a ``DeprecationWarning`` naming the new one.

    The estimators share one vocabulary (``docs/API.md``: ``outcome``, ``treatment``, ``group``,
    ``unit``, ``time``, ``post``, ...); notebooks written against the old names keep running, as
    pandas and pyfixest do when they rename.

    Examples
    --------
    >>> import warnings
    >>> @renamed(dv="outcome")
    ... def mean(data, outcome):
    ...     return sum(data[outcome]) / len(data[outcome])
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     print(mean({"y": [1, 3]}, dv="y"), caught[0].category.__name__)
    2.0 DeprecationWarning
    """

    def decorate(func: Callable) -> Callable:
        @functools.wraps(func)
        def call(*args: Any, **kwargs: Any) -> Any:
            for old, new in old_to_new.items():
                if old in kwargs:
                    if new in kwargs:
                        raise InputError(f"give {new}= only: {old}= is its old name")
                    warnings.warn(
                        f"{func.__name__}({old}=...) is now {func.__name__}({new}=...); the old name will be removed",
                        DeprecationWarning,
                        stacklevel=2,
                    )
                    kwargs[new] = kwargs.pop(old)
            return func(*args, **kwargs)

        call.renamed = dict(old_to_new)  # type: ignore[attr-defined]
        return call

    return decorate
