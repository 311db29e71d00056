"""Detect Finnish personal identity codes (henkilötunnus) in table columns.

A code is ``DDMMYY`` + century sign + a three-digit individual number + a check
character: ``CHECK_CHARS[int(DDMMYY + NNN) % 31]``. A cell "holds" a code when a
substring, not preceded by another digit (letters may touch it, as in
``hetu311219F986C``), passes the check character and names a real calendar
date (so dates, pseudonyms and counts do not match).

Written by hand: no maintained PyPI package offers a vectorised check, and the
rule is a few lines. Scanning works on the distinct values of a column (via
``pandas.factorize``), so a column with millions of repeated ids costs one
hash pass plus a regex over the distinct values only.
"""

from __future__ import annotations

import re
from typing import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "distinct_codes",
    "CHECK_CHARS",
    "CENTURY",
    "contains_code",
    "is_code",
    "scan_frame",
    "generate_codes",
    "mask_codes",
    "MASK",
]

#: what a code is replaced with in any message or name shown
MASK = "<identity code removed>"

CHECK_CHARS = "0123456789ABCDEFHJKLMNPRSTUVWXY"
#: century sign -> the century of the birth year (signs Y X W V U and B-F since 2023)
CENTURY = {"+": 1800, **dict.fromkeys("-YXWVU", 1900), **dict.fromkeys("ABCDEF", 2000)}

# written in lower case too ("131052a308t"): still a person's code
_SIGNS = re.escape("".join(CENTURY) + "".join(CENTURY).lower().replace("-", "").replace("+", ""))
# not inside a longer run of digits; letters may touch it ("hetu311219F986C" holds a code)
_CODE = re.compile(rf"(?<![0-9])(\d{{2}})(\d{{2}})(\d{{2}})([{_SIGNS}])(\d{{3}})([0-9A-Za-z])")
_PREFILTER = re.compile(rf"\d{{6}}[{_SIGNS}]\d{{3}}[0-9A-Za-z]")


def _valid_parts(parts: pd.DataFrame) -> np.ndarray:
    """Check character and calendar date of extracted code parts (one row each)."""
    dd, mm, yy, nnn = (pd.to_numeric(parts[i]) for i in (0, 1, 2, 4))
    serial = (dd * 10000 + mm * 100 + yy) * 1000 + nnn
    expected = np.array(list(CHECK_CHARS))[(serial % 31).to_numpy()]
    check_ok = parts[5].str.upper().to_numpy() == expected
    year = parts[3].str.upper().map(CENTURY) + yy
    day = pd.to_datetime(year * 10000 + mm * 100 + dd, format="%Y%m%d", errors="coerce")
    return check_ok & day.notna().to_numpy()


def _prefilter(values: pd.Series) -> np.ndarray:
    """Cells with a code-shaped substring; only these reach the full check."""
    try:
        # Arrow's vectorised RE2 is far faster than Python's re over many cells
        arr = pa.array(values.to_numpy(dtype=object), type=pa.string(), from_pandas=True)
        return pc.match_substring_regex(arr, _PREFILTER.pattern).fill_null(False).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # non-text values among the text
        return np.array([isinstance(v, str) and _PREFILTER.search(v) is not None for v in values], dtype=bool)


def _strings_holding_code(cells: Iterable[str]) -> np.ndarray:
    values = pd.Series(cells if isinstance(cells, np.ndarray) else list(cells), dtype=object)
    out = np.zeros(len(values), dtype=bool)
    candidates = _prefilter(values)
    if not candidates.any():
        return out
    found = values[candidates].str.extractall(_CODE)
    if found.empty:
        return out
    ok = pd.Series(_valid_parts(found.reset_index(drop=True)))
    hit_rows = found.index.get_level_values(0)[ok.to_numpy()]
    out[np.asarray(hit_rows, dtype=int)] = True
    return out


def contains_code(series: pd.Series) -> pd.Series:
    """Boolean mask: which cells of ``series`` hold a valid identity code.

    Only string-like cells are examined; numbers, dates and nulls give False.

    Parameters
    ----------
    series : pandas.Series
        Any column.

    Returns
    -------
    pandas.Series of bool, aligned with ``series``.

    References
    ----------
    Digital and Population Data Services Agency (DVV): the personal identity
    code and its check character (Valtioneuvoston asetus 128/2010).

    Examples
    --------
    >>> s = pd.Series(["C001", "131052-308T", "note: 131052-308T", "131052-308A"])
    >>> int(contains_code(s).sum())
    2
    """
    mask = np.zeros(len(series), dtype=bool)
    if isinstance(series.dtype, pd.CategoricalDtype):  # Parquet dictionary columns arrive as categories
        series = series.astype(object)
    if len(series) and (series.dtype == object or pd.api.types.is_string_dtype(series.dtype)):
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
        # binary cells (Parquet BYTE_ARRAY without a string type) are text too
        uniques = np.array(
            [u.decode("utf-8", "replace") if isinstance(u, (bytes, bytearray)) else u for u in uniques], dtype=object
        )
        hits = distinct_codes(uniques)
        if hits.any():
            known = codes >= 0
            mask[known] = hits[codes[known]]
    return pd.Series(mask, index=series.index)


def distinct_codes(values: np.ndarray) -> np.ndarray:
    """Boolean per value of ``values`` (distinct, non-null cells): holds a valid identity code.

    For callers that have already factorised a column (validation does, once
    per column): each distinct value is examined once.

    Examples
    --------
    >>> distinct_codes(np.array(["C001", "131052-308T", 5], dtype=object)).tolist()
    [False, True, False]
    """
    # non-text values (numbers in an object column) fail the regex as NaN
    return _strings_holding_code(np.asarray(values, dtype=object))


def is_code(value: str) -> bool:
    """True if the string ``value`` is (or contains) a valid identity code.

    Examples
    --------
    >>> is_code("131052-308T"), is_code("131052-308U")
    (True, False)
    """
    return bool(_strings_holding_code([value])[0])


def mask_codes(text: str) -> str:
    """``text`` with every valid identity code replaced by :data:`MASK`.

    Examples
    --------
    >>> mask_codes("folder hetu131052-308T/cases.csv, not 131052-308A")
    'folder hetu<identity code removed>/cases.csv, not 131052-308A'
    """

    def swap(m: re.Match) -> str:
        return MASK if is_code(m.group(0)) else m.group(0)

    return _CODE.sub(swap, text) if _PREFILTER.search(text) else text


def scan_frame(df: pd.DataFrame) -> dict[str, pd.Series]:
    """Per column, the mask of cells holding an identity code (only columns with hits).

    Examples
    --------
    >>> df = pd.DataFrame({"child_id": ["K1", "131052-308T"], "n": [1, 2]})
    >>> {col: int(m.sum()) for col, m in scan_frame(df).items()}
    {'child_id': 1}
    """
    found = {}
    for col in df.columns:
        mask = contains_code(df[col])
        if mask.any():
            found[str(col)] = mask
    return found


def generate_codes(n: int, *, seed: int = 0) -> list[str]:
    """``n`` valid, random identity codes (birth dates 1900-2023), for tests.

    Examples
    --------
    >>> codes = generate_codes(100, seed=1)
    >>> sum(is_code(c) for c in codes)
    100
    """
    rng = np.random.default_rng(seed)
    days = pd.Timestamp("1900-01-01") + pd.to_timedelta(rng.integers(0, 45290, n), unit="D")
    serials = rng.integers(2, 900, n)
    out = []
    for day, nnn in zip(days, serials):
        signs = [s for s, c in CENTURY.items() if c == day.year // 100 * 100]
        sign = signs[rng.integers(len(signs))]
        stem = f"{day:%d%m%y}"
        out.append(f"{stem}{sign}{nnn:03d}{CHECK_CHARS[int(stem + f'{nnn:03d}') % 31]}")
    return out
