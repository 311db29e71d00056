"""Validate a dataset against the data contract, losing no row.

Every row read ends up either valid (in :attr:`Dataset.tables`) or quarantined
with its original row number and every rule it broke; per table
``rows_in = valid + quarantined``. Steps per table, in the order of
:data:`~evalkit.schemas.TABLES` (parents before children):

1. identity-code guard on every text cell (the code is never shown anywhere);
2. cell-by-cell coercion to the contract's types (``type`` failures);
3. the table's pandera model, lazily (every failure collected);
4. cross-table rules against the *valid* rows of the tables before it, so
   removal cascades: a case whose team was quarantined is itself invalid.

Row numbers are 1-based data row numbers (the header is not counted): row 1
is the first line under the header in CSV, spreadsheet row 2 in Excel.
"""

from __future__ import annotations

import html
import json
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional

import numpy as np
import pandas as pd
import pandera.pandas as pa

from evalkit.core import idcode
from evalkit.data import schemas
from evalkit.data.rules import Distinct, Fail, coerce, cross_table, distinct
from evalkit.data.io import DatasetError, atomic_write, complete_tables, read_dataset

__all__ = ["validate", "write_quarantine", "Dataset", "ValidationReport", "Failure", "DatasetError", "MASK"]

#: what a quarantine file shows in place of an identity code
MASK = idcode.MASK
_SHOW_ROWS = 5
#: the column a row-wise (whole-frame) check is reported under
_FRAME_RULE_COLUMN = {
    "model_start_iff_pilot": "model_start",
    "closed_before_opened": "closed",
    "end_reason_iff_closed": "end_reason",
    "end_before_start": "end",
}


@dataclass
class Failure:
    """One rule broken in one column of one table, by the rows ``rows`` (1-based)."""

    table: str
    column: str
    rule: str
    rows: np.ndarray
    hint: str = ""  # what to declare in dataset.yaml when the cells look like an undeclared format

    @property
    def count(self) -> int:
        return int(len(self.rows))

    def to_dict(self) -> dict[str, Any]:
        out = {
            "table": self.table,
            "column": self.column,
            "rule": self.rule,
            "count": self.count,
            "rows": [int(r) for r in self.rows],
        }
        return {**out, "hint": self.hint} if self.hint else out


@dataclass
class ValidationReport:
    """Counts per table and every failure; ``exit_code`` 0 (valid) or 1 (invalid rows)."""

    counts: dict[str, dict[str, int]]
    failures: list[Failure] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return 1 if self.failures else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.meta.get("name"),
            "extracted_on": _iso(self.meta.get("extracted_on")),
            "schema_version": schemas.SCHEMA_VERSION,
            "exit_code": self.exit_code,
            "tables": self.counts,
            "failures": [f.to_dict() for f in self.failures],
        }

    def to_json(self, path: Optional[str | Path] = None) -> str:
        """The report as JSON (written to ``path`` too when given)."""
        text = json.dumps(self.to_dict(), indent=2, ensure_ascii=False)
        if path is not None:
            atomic_write(Path(path), text)
        return text

    def summary(self) -> pd.DataFrame:
        """Failures grouped by table, column and rule: count and first row numbers."""
        return pd.DataFrame(
            [(f.table, f.column, f.rule, f.count, _first_rows(f.rows)) for f in self.failures],
            columns=["table", "column", "rule", "count", "rows"],
        )

    def __repr__(self) -> str:
        status = "valid" if not self.failures else f"{len(self.failures)} failure group(s)"
        return (
            f"ValidationReport({status}; "
            + ", ".join(f"{t}: {c['valid']}/{c['rows_in']}" for t, c in self.counts.items())
            + ")"
        )

    def _repr_html_(self) -> str:
        counts = pd.DataFrame(self.counts).T[["rows_in", "valid", "quarantined"]]
        body = counts.to_html(classes="evalkit-counts")
        if self.failures:
            body += self.summary().to_html(index=False, classes="evalkit-failures")
        head = "valid" if not self.failures else "invalid rows quarantined"
        return f"<div><strong>Validation: {html.escape(head)}</strong>{body}</div>"


@dataclass
class Dataset:
    """Valid rows per table (index = original row number), the manifest and the report."""

    tables: dict[str, pd.DataFrame]
    meta: dict[str, Any]
    report: ValidationReport
    quarantine: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)

    def __getitem__(self, table: str) -> pd.DataFrame:
        return self.tables[table]

    def __repr__(self) -> str:
        return f"Dataset({self.meta.get('name')!r}, {self.report!r})"

    def _repr_html_(self) -> str:
        name = html.escape(str(self.meta.get("name", "")))
        day = html.escape(str(_iso(self.meta.get("extracted_on"))))
        return f"<div><h4>Dataset {name} (extracted {day})</h4>{self.report._repr_html_()}</div>"


def validate(data: str | Path | Mapping[str, pd.DataFrame], meta: Optional[Mapping[str, Any]] = None) -> Dataset:
    """Validate a dataset folder (or tables in memory) against the data contract.

    Parameters
    ----------
    data : str, Path or dict of DataFrames
        A dataset folder, or tables by name (row numbers = position + 1).
    meta : dict, optional
        The manifest for tables in memory; needs ``extracted_on``.

    Returns
    -------
    Dataset
        ``.tables``: valid rows, typed (index = original row number);
        ``.quarantine``: invalid rows as read, with ``row_number`` and
        ``broken_rules``, identity codes masked; ``.report``: a
        :class:`ValidationReport` with per-table ``rows_in``, ``valid``,
        ``quarantined`` and the failures (table, column, rule, rows, count).

    Raises
    ------
    DatasetError
        The dataset cannot be read at all (exit code 2).

    References
    ----------
    pandera lazy validation (``DataFrameSchema.validate(lazy=True)``); the
    rules are those of DATA.md, documented in ``data/README.md``.

    Examples
    --------
    >>> teams = pd.DataFrame({"team_id": ["T1", "T2"], "site_id": ["S1", "S9"],
    ...                       "arm": ["pilot", "comparison"], "model_start": ["2020-01-01", None]})
    >>> sites = pd.DataFrame({"site_id": ["S1"], "municipality": ["Kuopio"],
    ...                       "region": ["Pohjois-Savo"], "population": [120000]})
    >>> cases = pd.DataFrame({c: [] for c in schemas.columns("cases")})
    >>> ds = validate({"sites": sites, "teams": teams, "cases": cases}, {"extracted_on": "2024-12-31"})
    >>> ds.report.counts["teams"], ds.report.failures[0].rule
    ({'rows_in': 2, 'valid': 1, 'quarantined': 1}, 'unknown_site')
    """
    if isinstance(data, (str, Path)):
        tables, meta = read_dataset(data)
    else:
        tables, meta = _in_memory(data, meta)
    extracted_on = pd.Timestamp(meta["extracted_on"])
    valid: dict[str, pd.DataFrame] = {}
    quarantine: dict[str, pd.DataFrame] = {}
    failures: list[Failure] = []
    counts: dict[str, dict[str, int]] = {}
    for name in [*schemas.TABLES, *(t for t in tables if t not in schemas.TABLES)]:
        raw = tables[name]
        fails, masks = _check_table(name, raw, valid, extracted_on)
        failures += [
            Failure(name, col, rule, np.unique(rows), _hint(name, col, rule, raw, np.unique(rows)))
            for col, rule, rows in fails
        ]
        bad = np.unique(np.concatenate([r for _, _, r in fails])) if fails else np.array([], dtype=int)
        typed = valid.pop(name)
        valid[name] = typed.drop(index=bad) if len(bad) else typed  # drop() copies even when nothing goes
        quarantine[name] = _quarantine_rows(raw, bad, fails, masks)
        counts[name] = {"rows_in": len(raw), "valid": len(valid[name]), "quarantined": len(bad)}
    report = ValidationReport(counts, failures, dict(meta))
    return Dataset(valid, dict(meta), report, quarantine)


_DECIMAL_COMMA = re.compile(r"\s*[\u2212-]?[\d \u00a0\u202f]*\d,\d+\s*")
_DOTTED_DAY = re.compile(r"\s*\d{1,2}\.\d{1,2}\.\d{4}\s*")


def _hint(table: str, column: str, rule: str, raw: pd.DataFrame, rows: np.ndarray) -> str:
    """For type failures that look like a Finnish export's formats: what to declare (never the values)."""
    if rule != "type" or column not in raw.columns or table not in schemas.TABLES or not len(rows):
        return ""
    sample = raw.loc[rows[:50], column].dropna().astype(str)
    where = f"for {table} under tables: in dataset.yaml (data/README.md)"
    if column in schemas.number_columns(table):
        hit = sample.map(lambda v: bool(_DECIMAL_COMMA.fullmatch(v)))
        if hit.mean() > 0.5:
            return f'{column} has decimal commas (e.g. row {hit.idxmax()}): declare decimal: "," {where}'
    if column in schemas.DATE_COLUMNS[table]:
        hit = sample.map(lambda v: bool(_DOTTED_DAY.fullmatch(v)))
        if hit.mean() > 0.5:
            return (
                f"{column}: dates look like dd.mm.yyyy (e.g. row {hit.idxmax()}): declare "
                f'date_format: "%d.%m.%Y" {where}'
            )
    return ""


def _in_memory(data: Mapping[str, pd.DataFrame], meta: Optional[Mapping[str, Any]]):
    if not meta or meta.get("extracted_on") is None:
        raise DatasetError("meta needs extracted_on (the date open cases are censored at)")
    try:
        meta = {**meta, "extracted_on": pd.Timestamp(str(meta["extracted_on"]))}
    except ValueError:
        raise DatasetError("meta: extracted_on is not a date (use YYYY-MM-DD)") from None
    tables = {}
    for name, df in data.items():
        # shallow copy: the caller's frame keeps its index, the data is shared
        tables[name] = df.set_axis(pd.RangeIndex(1, len(df) + 1, name="row"), axis=0, copy=False)
    return complete_tables(tables, {}, "the tables given"), meta


def _check_table(
    name: str, raw: pd.DataFrame, valid: dict[str, pd.DataFrame], extracted_on: pd.Timestamp
) -> tuple[list[Fail], dict[str, pd.Series]]:
    """Failures of one table; leaves its typed frame in ``valid[name]`` (all rows)."""
    if name not in schemas.TABLES:
        masks = idcode.scan_frame(raw)
        valid[name] = raw
        return _code_fails(raw, masks), masks
    dist = distinct(raw)
    typed, type_fails = coerce(raw, name, dist)
    # a code never parses as a number or a date: in those columns only cells
    # that failed coercion need scanning (saves most of the scan on big tables)
    text, contract = set(schemas.string_columns(name)), set(schemas.columns(name))
    parsed = {c for c in typed.columns if c not in text and c in contract}
    masks = {}
    for col in raw.columns:
        if col in parsed:
            continue
        hit = (
            dist[col].rows(idcode.distinct_codes(dist[col].uniques))
            if col in dist
            else idcode.contains_code(raw[col]).to_numpy()
        )
        if hit.any():
            masks[str(col)] = pd.Series(hit, index=raw.index)
    for col, _, rows in type_fails:
        hit = idcode.contains_code(raw.loc[rows, col])
        if hit.any():
            masks[col] = hit.reindex(raw.index, fill_value=False)
    fails: list[Fail] = _code_fails(raw, masks) + type_fails
    cases = _pandera_cases(name, typed, dist, extracted_on)
    if cases is not None:
        fails += _pandera_failures(name, cases, type_fails)
    fails += cross_table(name, typed, valid, dist)
    valid[name] = typed
    return fails, masks


def _pandera_cases(
    name: str, typed: pd.DataFrame, dist: Mapping[str, Distinct], extracted_on: pd.Timestamp
) -> Optional[pd.DataFrame]:
    """pandera's failure cases for ``typed`` (index = row number), or None.

    A column's own checks (type, nulls, allowed values, ranges, formats)
    depend on the cell alone, so they run on the column's distinct values,
    and every row holding a failing value fails; keys that must be unique
    and the checks across columns of a row run on the whole frame.
    """
    schema = schemas.build(name, extracted_on, precoerced=True)
    per_value = [c for c, col in schema.columns.items() if not col.unique and c in typed.columns]
    parts = [_column_cases(schema.columns[c], typed[c], dist.get(c)) for c in per_value]
    whole = schema.remove_columns(per_value)
    if whole.columns or whole.checks or whole.unique:
        parts.append(_lazy_cases(whole, typed))
    found = [p for p in parts if p is not None]
    # as object: all-null columns (a failure_case of None) keep their place in the union
    return pd.concat([p.astype(object) for p in found], ignore_index=True) if found else None


def _lazy_cases(schema: pa.DataFrameSchema, frame: pd.DataFrame) -> Optional[pd.DataFrame]:
    try:
        with warnings.catch_warnings():
            # pandera's own pandas deprecation notices: nothing a user can act on
            warnings.simplefilter("ignore", FutureWarning)
            schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        return exc.failure_cases
    return None


def _column_cases(column: pa.Column, values: pd.Series, d: Optional[Distinct]) -> Optional[pd.DataFrame]:
    """One column's failure cases, checked once per distinct value and taken to the rows."""
    if d is None or len(d.codes) != len(values):
        d = Distinct(*pd.factorize(values, use_na_sentinel=True))
    first = values.iloc[d.first_rows()]
    has_null = bool((d.codes < 0).any())
    if has_null:  # one null row stands for all null cells
        first = pd.concat([first, values.iloc[:0].reindex([None])])
    cases = _lazy_cases(pa.DataFrameSchema({values.name: column}), first.reset_index(drop=True).to_frame())
    if cases is None:
        return None
    # each failure case (one per failing value and check) becomes one per row holding the value
    slot = np.where(d.codes < 0, len(d.uniques), d.codes)
    order = np.argsort(slot, kind="stable")
    pos = pd.to_numeric(cases["index"]).to_numpy(dtype=np.intp)
    starts = np.searchsorted(slot[order], pos, "left")
    counts = np.searchsorted(slot[order], pos, "right") - starts
    within = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    rows = values.index.to_numpy()[order[np.repeat(starts, counts) + within]]
    return cases.iloc[np.repeat(np.arange(len(cases)), counts)].assign(index=rows).reset_index(drop=True)


def _code_fails(raw: pd.DataFrame, masks: Mapping[str, pd.Series]) -> list[Fail]:
    return [(col, "identity_code", raw.index.to_numpy()[m.to_numpy()]) for col, m in masks.items()]


def _rule_name(check: str) -> str:
    if check == "not_nullable":
        return "missing"
    if check.startswith("isin"):
        return "allowed_values"
    if check.startswith(("greater_than", "less_than", "in_range")):
        return "range"
    if check.startswith("str_matches"):
        return "format"
    if "unique" in check:
        return "duplicate"
    return check


def _pandera_failures(name: str, cases: pd.DataFrame, type_fails: list[Fail]) -> list[Fail]:
    if cases["index"].isna().any():
        where = cases.loc[cases["index"].isna(), ["column", "check"]].astype(str).agg(" ".join, axis=1)
        raise DatasetError(f"table {name}: column-level failure ({'; '.join(sorted(set(where)))})")
    cases = cases.assign(rule=cases["check"].astype(str).map(_rule_name))
    frame = cases["schema_context"] == "DataFrameSchema"
    # a row-wise check is reported once per column of the frame: keep one per row
    whole = cases[frame]
    # a multi-column key (surveys) is reported under all its columns, in order
    joined = whole.groupby("rule")["column"].transform(lambda c: "+".join(dict.fromkeys(c.astype(str))))
    whole = whole.assign(column=whole["rule"].map(_FRAME_RULE_COLUMN).fillna(joined))
    whole = whole.drop_duplicates(["rule", "index"])
    cases = pd.concat([cases[~frame], whole])
    typed_bad = {col: set(rows.tolist()) for col, _, rows in type_fails}
    out = []
    for (col, rule), grp in cases.groupby(["column", "rule"], sort=True):
        rows = pd.to_numeric(grp["index"]).to_numpy(dtype=int)
        if rule == "missing" and col in typed_bad:
            # an unparseable cell is already reported as "type"
            rows = rows[~np.isin(rows, list(typed_bad[col]))]
        if len(rows):
            out.append((str(col), rule, rows))
    return out


def _quarantine_rows(
    raw: pd.DataFrame, bad: np.ndarray, fails: list[Fail], masks: Mapping[str, pd.Series]
) -> pd.DataFrame:
    out = raw.loc[bad].astype(object)
    for col, mask in masks.items():
        hit = mask.loc[bad].to_numpy()
        out.loc[hit, col] = MASK
    if fails:
        labels = pd.concat([pd.Series(f"{col}:{rule}", index=rows) for col, rule, rows in fails])
        rules = labels.groupby(level=0).agg("; ".join)
    else:
        rules = pd.Series(dtype=object)
    out.insert(0, "broken_rules", rules.reindex(out.index).to_numpy())
    out.insert(0, "row_number", out.index.to_numpy())
    origin = raw.attrs.get("mapped_from")
    if origin and len(out):
        # a mapped table: the row as the raw file has it too, so that it can be found at the source
        from evalkit.data.extract import TableMap, read_as_given

        source = read_as_given(Path(origin[0]), TableMap.model_validate_json(origin[1]))
        given = (
            source.reindex(out.index).astype(object).map(lambda v: idcode.mask_codes(v) if isinstance(v, str) else v)
        )
        given.columns = [f"as given: {c}" for c in given.columns]
        out = pd.concat([out, given], axis=1)
    return out.reset_index(drop=True)


def _first_rows(rows: np.ndarray) -> str:
    shown = ", ".join(str(int(r)) for r in rows[:_SHOW_ROWS])
    return shown + (", ..." if len(rows) > _SHOW_ROWS else "")


def _iso(day: Any) -> Optional[str]:
    return None if day is None or pd.isna(day) else f"{pd.Timestamp(day):%Y-%m-%d}"


#: a formula start at the beginning of a cell, or after a separator a spreadsheet may split the cell at
#: (Excel with Finnish settings splits "x;=cmd|' /C calc'!A0" at the semicolon into a live formula)
_FORMULA = re.compile(r"(^|[;,\t\r\n|])(\s*)([=+\-@\t\r])")


def _defuse(text: str) -> str:
    return _FORMULA.sub(lambda m: f"{m.group(1)}{m.group(2)}'{m.group(3)}", text)


def _defuse_formulas(rows: pd.DataFrame) -> pd.DataFrame:
    """Put ``'`` before every formula start of text cells and headers (CSV injection, OWASP).

    Quarantine files are opened in Excel by the people fixing the extract; a
    hostile cell such as ``=cmd|' /C calc'!A0`` must arrive as text, also when
    it follows a separator inside a cell or stands in a header.

    Examples
    --------
    >>> _defuse_formulas(pd.DataFrame({"=h": ["x;=cmd|' /C calc'!A0", "ok"]})).to_dict("list")
    {"'=h": ["x;'=cmd|' /C calc'!A0", 'ok']}
    """
    out = rows.copy()
    out.columns = [_defuse(str(c)) for c in out.columns]
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(lambda v: _defuse(v) if isinstance(v, str) else v)
    return out


def write_quarantine(ds: Dataset, folder: Path, excel: bool = False) -> None:
    """One CSV per table with quarantined rows, each written whole or not at all; ``excel``: for
    Excel with Finnish settings (semicolons, a BOM so that ä and ö show)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in ds.quarantine.items():
        if len(rows):
            text = _defuse_formulas(rows).to_csv(index=False, date_format="%Y-%m-%d", sep=";" if excel else ",")
            atomic_write(folder / f"{name}.csv", ("\ufeff" if excel else "") + text)
