"""Row-level coercion and the cross-table rules of the data contract (private).

Both return failures as ``(column, rule, row_numbers)``; row numbers are the
tables' index (1-based data row numbers). Everything is vectorised: the
national benchmark has millions of contact rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Optional

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from evalkit.data.schemas import DATE_COLUMNS, MINUTES_A_DAY, columns, number_columns, string_columns

__all__ = ["coerce", "cross_table", "lookup", "Fail", "Distinct", "distinct"]

Fail = tuple[str, str, np.ndarray]


@dataclass(frozen=True)
class Distinct:
    """A text column as codes into its distinct values (``pd.factorize``; -1 = null).

    Register extracts repeat themselves: millions of contact rows hold a few
    thousand dates, four kinds and a few hundred thousand case ids. Parsing,
    the identity-code scan, pandera's value checks and the key lookups all
    work on the distinct values and are mapped back to rows through the codes.
    """

    codes: np.ndarray
    uniques: np.ndarray

    def rows(self, per_value: np.ndarray) -> np.ndarray:
        """Per row, the value of ``per_value`` (one per distinct value); False for nulls."""
        per_value = np.asarray(per_value, dtype=bool)
        return np.concatenate([per_value, [False]])[self.codes]

    def first_rows(self) -> np.ndarray:
        """Position of the first row holding each distinct value."""
        first = np.empty(len(self.uniques), dtype=np.intp)
        known = np.flatnonzero(self.codes >= 0)
        first[self.codes[known[::-1]]] = known[::-1]
        return first


def distinct(raw: pd.DataFrame) -> dict[str, Distinct]:
    """Codes and distinct values of every text column of ``raw``."""
    out = {}
    for col in raw.columns:
        s = raw[col]
        if s.dtype == object or pd.api.types.is_string_dtype(s.dtype):
            codes, uniques = pd.factorize(s, use_na_sentinel=True)
            out[str(col)] = Distinct(codes, np.asarray(uniques, dtype=object))
    return out


def _rows(df: pd.DataFrame, mask) -> np.ndarray:
    return df.index.to_numpy()[np.asarray(mask, dtype=bool)]


def _to_float(s: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        return s.astype("float64")
    try:
        # Arrow's parser is ~10x faster than pandas' on text; it refuses the
        # whole column at the first bad cell, and then pandas finds the cells
        arr = pa.array(s.to_numpy(dtype=object), type=pa.string(), from_pandas=True)
        return pd.Series(pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False), index=s.index)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pd.to_numeric(s, errors="coerce").astype("float64")


def coerce(
    raw: pd.DataFrame, table: str, dist: Optional[Mapping[str, Distinct]] = None
) -> tuple[pd.DataFrame, list[Fail]]:
    """Give the contract's columns their types cell by cell; unparseable cells become
    nulls and ``type`` failures (pandera's whole-column coercion would stop at the
    first bad cell and leave the column untyped for every other check).

    With ``dist`` (:func:`distinct` of ``raw``) each text column's distinct
    values are parsed once and the results taken to the rows."""
    dist = dist or {}
    df = raw.copy(deep=False)
    fails: list[Fail] = []
    for col in string_columns(table):
        df[col] = _as_text(raw[col], dist.get(col))
    for col, kind in number_columns(table).items():
        num, bad = _parse(raw[col], dist.get(col), _numbers)
        if kind == "int":
            # beyond 2**53 a float no longer holds an exact integer
            odd = num.notna() & ((num % 1 != 0) | (num.abs() > 2**53))
            bad |= odd.to_numpy()
            num = num.mask(odd)
        df[col] = num.astype("Int64") if kind == "int" else num
        if bad.any():
            fails.append((col, "type", _rows(raw, bad)))
    for col in DATE_COLUMNS[table]:
        day, bad = _parse(raw[col], dist.get(col), _dates)
        df[col] = day
        if bad.any():
            fails.append((col, "type", _rows(raw, bad)))
    return df, fails


def _as_text(s: pd.Series, d: Optional[Distinct]) -> pd.Series:
    """Text cells as Python str, one null marker (None) whatever the file format gave."""
    values = d.uniques if d is not None else s.dropna()
    if not (s.dtype == object and pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty")):
        s = s.astype(object).where(s.isna(), s.astype(str))
    has_null = bool((d.codes < 0).any()) if d is not None else s.hasnans
    return s.where(s.notna(), None) if has_null else s


def _numbers(s: pd.Series) -> tuple[pd.Series, np.ndarray]:
    num = _to_float(s)
    bad = (~np.isfinite(num) & num.notna() | (s.notna() & num.isna())).to_numpy()
    return num.mask(bad), bad


def _dates(s: pd.Series) -> tuple[pd.Series, np.ndarray]:
    if pd.api.types.is_datetime64_any_dtype(s):
        day = s.dt.tz_localize(None) if getattr(s.dt, "tz", None) is not None else s
    else:
        day = pd.to_datetime(s, errors="coerce", format="ISO8601")
    day = day.astype("datetime64[ns]")
    return day, (s.notna() & day.isna()).to_numpy()


def _parse(s: pd.Series, d: Optional[Distinct], parser) -> tuple[pd.Series, np.ndarray]:
    """``parser`` on the column, or on its distinct values taken back to the rows."""
    if d is None:
        return parser(s)
    values, bad = parser(pd.Series(d.uniques, dtype=object))
    # a null row takes the extra last slot: a null of the parsed type
    filled = pd.concat([values, values.iloc[:0].reindex([len(values)])], ignore_index=True).to_numpy()
    return pd.Series(filled[d.codes], index=s.index), d.rows(bad)  # code -1 takes the last slot


def _text(s: pd.Series) -> pa.Array:
    return pa.array(s.to_numpy(dtype=object), type=pa.string(), from_pandas=True)


def lookup(values: pd.Series, keys: pd.Series) -> np.ndarray:
    """Position of each value among ``keys`` (unique), -1 if absent or null."""
    try:
        # Arrow hashes text in C++: several times faster than pandas on object columns
        found = pc.index_in(_text(values), value_set=_text(keys))
        return found.fill_null(-1).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pd.Index(keys).get_indexer(values)


def _positions(df: pd.DataFrame, col: str, keys: pd.Series, dist: Mapping[str, Distinct]) -> np.ndarray:
    """lookup() of ``df[col]``, through its distinct values when known."""
    d = dist.get(col)
    if d is None or len(d.codes) != len(df):
        return lookup(df[col], keys)
    found = lookup(pd.Series(d.uniques, dtype=object), keys)
    return np.concatenate([found, [-1]])[d.codes]  # code -1 (null) takes the last slot


def _present(df: pd.DataFrame, col: str, dist: Mapping[str, Distinct]) -> np.ndarray:
    """Non-null cells of ``df[col]``, from its codes when known."""
    d = dist.get(col)
    return d.codes >= 0 if d is not None and len(d.codes) == len(df) else df[col].notna().to_numpy()


def _unknown(
    df: pd.DataFrame, col: str, parent: pd.DataFrame, key: str, rule: str, dist: Mapping[str, Distinct]
) -> list[Fail]:
    bad = (_positions(df, col, parent[key].drop_duplicates(), dist) < 0) & _present(df, col, dist)
    return [(col, rule, _rows(df, bad))] if bad.any() else []


def _case_rules(df: pd.DataFrame, cases: pd.DataFrame, dist: Mapping[str, Distinct]) -> list[Fail]:
    """unknown_case, and the date outside its (valid) case; one hash lookup for both."""
    pos = _positions(df, "case_id", cases["case_id"], dist)
    out = []
    unknown = (pos < 0) & _present(df, "case_id", dist)
    if unknown.any():
        out.append(("case_id", "unknown_case", _rows(df, unknown)))
    known = (pos >= 0) & df["date"].notna().to_numpy()
    if not known.any():
        return out
    pos = np.where(known, pos, 0)
    opened = cases["opened"].to_numpy()[pos]
    closed = cases["closed"].to_numpy()[pos]
    date = df["date"].to_numpy()
    before = known & (date < opened)
    after = known & ~np.isnat(closed) & (date > closed)
    if before.any():
        out.append(("date", "before_case_opened", _rows(df, before)))
    if after.any():
        out.append(("date", "after_case_closed", _rows(df, after)))
    return out


def _in_employment(df: pd.DataFrame, staff: pd.DataFrame) -> list[Fail]:
    spells = staff[["worker_id", "start", "end"]].rename(columns={"start": "s0", "end": "s1"})
    spells["s1"] = spells["s1"].fillna(pd.Timestamp.max)
    cand = df[["worker_id", "start", "end"]].assign(row=df.index.to_numpy())
    cand = cand[cand["worker_id"].isin(spells["worker_id"]) & cand["start"].notna() & cand["end"].notna()]
    merged = cand.merge(spells, on="worker_id", how="inner")
    inside = merged.loc[(merged["start"] >= merged["s0"]) & (merged["end"] <= merged["s1"]), "row"]
    bad = cand["row"][~cand["row"].isin(inside)].to_numpy()
    return [("start", "outside_employment", np.sort(bad))] if len(bad) else []


def _services(df: pd.DataFrame, valid: Mapping[str, pd.DataFrame], dist: Mapping[str, Distinct]) -> list[Fail]:
    teams = valid["teams"]
    out = _unknown(df, "site_id", valid["sites"], "site_id", "unknown_site", dist)
    out += _unknown(df, "team_id", teams, "team_id", "unknown_team", dist)
    team_site = df["team_id"].map(teams.set_index("team_id")["site_id"])
    wrong = team_site.notna() & df["site_id"].notna() & (team_site != df["site_id"])
    if wrong.any():
        out.append(("team_id", "team_not_in_site", _rows(df, wrong)))
    return out


def _day_total(df: pd.DataFrame, dist: Mapping[str, Distinct]) -> list[Fail]:
    """over_24_hours: a case's contacts of one day (or one contact) longer than the day itself."""
    minutes = np.nan_to_num(df["minutes"].to_numpy(dtype=float, na_value=np.nan), nan=0.0)
    bad = minutes > MINUTES_A_DAY
    codes = dist["case_id"].codes if "case_id" in dist else pd.factorize(df["case_id"])[0]
    day = df["date"].to_numpy(dtype="datetime64[D]").view("int64")
    ok = (codes >= 0) & (day != np.iinfo(np.int64).min)
    if ok.any():
        # a day's total is at most its weekday's total for the case (dense: one bincount), so only
        # cases over 24 hours on some weekday are grouped by day (a few rows even on national data)
        bucket = codes[ok].astype(np.int64) * 7 + day[ok] % 7
        weekday_total = np.bincount(bucket, weights=minutes[ok])[bucket]
        suspect = np.flatnonzero(ok)[weekday_total > MINUTES_A_DAY]
        if len(suspect):
            total = pd.Series(minutes[suspect]).groupby([codes[suspect], day[suspect]]).transform("sum")
            bad[suspect[total.to_numpy() > MINUTES_A_DAY]] = True
    return [("minutes", "over_24_hours", _rows(df, bad))] if bad.any() else []


def _same(df: pd.DataFrame, a: np.ndarray, b: np.ndarray) -> bool:
    return df.iloc[a].reset_index(drop=True).equals(df.iloc[b].reset_index(drop=True))


def repeated_block(df: pd.DataFrame, dist: Optional[Mapping[str, Distinct]] = None) -> list[Fail]:
    """repeated_rows: the table from some row on repeats it from the top (a file appended to itself).

    Single repeated rows are left alone (two identical phone calls on one day
    happen); only a whole block that copies the table's beginning is flagged,
    the copy, not the original. Rows equal to the first are candidates; a
    sample of rows rules most out before the whole table is compared.
    """
    n = len(df)
    if n < 2 or df.shape[1] == 0:
        return []
    head = str(df.columns[0])
    if dist and head in dist:  # the column's codes: comparing integers, not text
        codes = dist[head].codes
        candidates = np.flatnonzero(codes[1:] == codes[0]) + 1
    else:
        first = df.iloc[:, 0].to_numpy()
        candidates = np.flatnonzero(pd.Series(first[1:]).eq(first[0]).to_numpy()) + 1
    sample = np.unique(np.linspace(0, n - 1, 64).astype(int))
    for k in candidates[:5]:
        probe = sample[sample < n - k]
        if (
            _same(df, np.array([0]), np.array([k]))
            and _same(df, probe, probe + k)
            and _same(df, np.arange(n - k), np.arange(k, n))
        ):
            return [("(whole row)", "repeated_rows", df.index.to_numpy()[k:])]
    return []


_Rule = Callable[[pd.DataFrame, Mapping[str, pd.DataFrame], Mapping[str, Distinct]], list[Fail]]
_RULES: dict[str, _Rule] = {
    "teams": lambda df, v, d: _unknown(df, "site_id", v["sites"], "site_id", "unknown_site", d),
    "cases": lambda df, v, d: _unknown(df, "team_id", v["teams"], "team_id", "unknown_team", d),
    "placements": lambda df, v, d: _case_rules(df, v["cases"], d),
    "contacts": lambda df, v, d: _case_rules(df, v["cases"], d) + _day_total(df, d),
    "services": _services,
    "staff": lambda df, v, d: _unknown(df, "team_id", v["teams"], "team_id", "unknown_team", d),
    "absences": lambda df, v, d: (
        _unknown(df, "worker_id", v["staff"], "worker_id", "unknown_worker", d) + _in_employment(df, v["staff"])
    ),
    "surveys": lambda df, v, d: _unknown(df, "team_id", v["teams"], "team_id", "unknown_team", d),
    "time_use": lambda df, v, d: _unknown(df, "worker_id", v["staff"], "worker_id", "unknown_worker", d),
}


def cross_table(
    table: str, df: pd.DataFrame, valid: Mapping[str, pd.DataFrame], dist: Optional[Mapping[str, Distinct]] = None
) -> list[Fail]:
    """Rules linking ``table`` to the VALID rows of the tables before it in
    :data:`~evalkit.schemas.TABLES`, so removal cascades (a case of a quarantined
    team is itself invalid). ``dist``: :func:`distinct` of the table's raw
    rows (same rows, same order), to look keys up once per distinct value."""
    rule = _RULES.get(table)
    own = [c for c in columns(table) if c in df]
    return (rule(df, valid, dist or {}) if rule else []) + repeated_block(df[own], dist)
