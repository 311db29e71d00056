"""Time columns as an index: integers as they are, months (YYYY-MM, Periods, datetimes) counted from the first."""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from evalkit.core.result import InputError

__all__ = ["time_index", "month_index"]


def time_index(values: pd.Series, start) -> tuple[np.ndarray, float]:
    """Numeric time and start; monthly times become months 1, 2, ... from the first."""
    if values.isna().any():
        raise InputError("the time column has missing values")
    if ptypes.is_numeric_dtype(values) and not ptypes.is_bool_dtype(values):
        if not isinstance(start, (int, float, np.integer, np.floating)):
            raise InputError(f"time is numeric, so start must be a number, not {start!r}")
        return values.to_numpy(dtype=float), float(start)
    try:
        months = month_index(values.dt.to_period("M") if ptypes.is_datetime64_any_dtype(values) else values)
        first = month_index(pd.Series([start]))[0]
    except (ValueError, TypeError) as err:
        raise InputError(f"time must be an integer index or monthly (YYYY-MM); {err}") from err
    origin = months.min() - 1
    return months - origin, float(first - origin)


def month_index(values: pd.Series) -> np.ndarray:
    if ptypes.is_datetime64_any_dtype(values) or isinstance(values.iloc[0], pd.Timestamp):
        values = pd.to_datetime(values).dt.to_period("M")
    p = pd.PeriodIndex(values.astype(str), freq="M")
    return np.asarray(p.year * 12 + p.month, dtype=float)
