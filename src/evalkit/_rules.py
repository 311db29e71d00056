"""Row-level coercion and the cross-table rules of the data contract (private).

Both return failures as ``(column, rule, row_numbers)``; row numbers are the
tables' index (1-based data row numbers). Everything is vectorised: the
national benchmark has millions of contact rows.
"""
from __future__ import annotations

from typing import Callable, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .schemas import DATE_COLUMNS, number_columns, string_columns

__all__ = ["coerce", "cross_table", "lookup", "Fail"]

Fail = tuple[str, str, np.ndarray]


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


def coerce(raw: pd.DataFrame, table: str) -> tuple[pd.DataFrame, list[Fail]]:
    """Give the contract's columns their types cell by cell; unparseable cells become
    nulls and ``type`` failures (pandera's whole-column coercion would stop at the
    first bad cell and leave the column untyped for every other check)."""
    df = raw.copy(deep=False)
    fails: list[Fail] = []
    for col in string_columns(table):
        s = raw[col]
        if not (s.dtype == object and pd.api.types.infer_dtype(s, skipna=True) in ("string", "empty")):
            s = s.astype(object).where(s.isna(), s.astype(str))
        # one null marker (None) whatever the file format gave (NaN from Excel)
        df[col] = s.where(s.notna(), None) if s.hasnans else s
    for col, kind in number_columns(table).items():
        s = raw[col]
        num = _to_float(s)
        bad = ~np.isfinite(num) & num.notna() | (s.notna() & num.isna())
        num = num.mask(bad)
        if kind == "int":
            # beyond 2**53 a float no longer holds an exact integer
            odd = num.notna() & ((num % 1 != 0) | (num.abs() > 2**53))
            bad |= odd
            num = num.mask(odd)
        df[col] = num.astype("Int64") if kind == "int" else num
        if bad.any():
            fails.append((col, "type", _rows(raw, bad)))
    for col in DATE_COLUMNS[table]:
        s = raw[col]
        if pd.api.types.is_datetime64_any_dtype(s):
            day = s.dt.tz_localize(None) if getattr(s.dt, "tz", None) is not None else s
        else:
            day = pd.to_datetime(s, errors="coerce", format="ISO8601")
        df[col] = day.astype("datetime64[ns]")
        bad = s.notna() & df[col].isna()
        if bad.any():
            fails.append((col, "type", _rows(raw, bad)))
    return df, fails


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


def _unknown(df: pd.DataFrame, col: str, parent: pd.DataFrame, key: str, rule: str) -> list[Fail]:
    s = df[col]
    bad = (lookup(s, parent[key].drop_duplicates()) < 0) & s.notna().to_numpy()
    return [(col, rule, _rows(df, bad))] if bad.any() else []


def _case_rules(df: pd.DataFrame, cases: pd.DataFrame) -> list[Fail]:
    """unknown_case, and the date outside its (valid) case; one hash lookup for both."""
    pos = lookup(df["case_id"], cases["case_id"])
    out = []
    unknown = (pos < 0) & df["case_id"].notna().to_numpy()
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


def _services(df: pd.DataFrame, valid: Mapping[str, pd.DataFrame]) -> list[Fail]:
    teams = valid["teams"]
    out = _unknown(df, "site_id", valid["sites"], "site_id", "unknown_site")
    out += _unknown(df, "team_id", teams, "team_id", "unknown_team")
    team_site = df["team_id"].map(teams.set_index("team_id")["site_id"])
    wrong = team_site.notna() & df["site_id"].notna() & (team_site != df["site_id"])
    if wrong.any():
        out.append(("team_id", "team_not_in_site", _rows(df, wrong)))
    return out


_RULES: dict[str, Callable[[pd.DataFrame, Mapping[str, pd.DataFrame]], list[Fail]]] = {
    "teams": lambda df, v: _unknown(df, "site_id", v["sites"], "site_id", "unknown_site"),
    "cases": lambda df, v: _unknown(df, "team_id", v["teams"], "team_id", "unknown_team"),
    "placements": lambda df, v: _case_rules(df, v["cases"]),
    "contacts": lambda df, v: _case_rules(df, v["cases"]),
    "services": _services,
    "staff": lambda df, v: _unknown(df, "team_id", v["teams"], "team_id", "unknown_team"),
    "absences": lambda df, v: _unknown(df, "worker_id", v["staff"], "worker_id", "unknown_worker")
    + _in_employment(df, v["staff"]),
    "surveys": lambda df, v: _unknown(df, "team_id", v["teams"], "team_id", "unknown_team"),
    "time_use": lambda df, v: _unknown(df, "worker_id", v["staff"], "worker_id", "unknown_worker"),
}


def cross_table(table: str, df: pd.DataFrame, valid: Mapping[str, pd.DataFrame]) -> list[Fail]:
    """Rules linking ``table`` to the VALID rows of the tables before it in
    :data:`~evalkit.schemas.TABLES`, so removal cascades (a case of a quarantined
    team is itself invalid)."""
    rule = _RULES.get(table)
    return rule(df, valid) if rule else []

