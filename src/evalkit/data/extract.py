"""Real extracts as they come: the declarative mapping under ``tables:`` in ``dataset.yaml``.

A client information system or a payroll system exports Excel workbooks or
semicolon-separated CSV in Windows-1252, with decimal commas, dates as
31.12.2021 and Finnish headers and values. Instead of rewriting those files
(raw data is never edited), the user declares beside them how to read each::

    extracted_on: 2021-12-31
    tables:
      cases:
        file: asiakkuudet.csv          # or: file: lastensuojelu.xlsx + sheet: Asiakkuudet
        encoding: cp1252               # default utf-8 (a BOM is accepted)
        delimiter: ";"                 # default: detected from the header
        decimal: ","                   # default "."
        date_format: "%d.%m.%Y"        # default ISO 8601
        columns: {Asiakkuus: case_id, Lapsi: child_id, Tiimi: team_id, Alkupvm: opened, Loppupvm: closed}
        values:
          end_reason: {sijoitus: placement, "ei tarvetta": no_need, muutto: moved}

:func:`read_mapped` reads such a file as text (no type guessing), renames the
headers, replaces the declared values, turns decimal commas and declared date
formats into the contract's forms, and numbers the rows as the file does
(blank lines counted), so that every message points at the row in the raw
file. Cells it cannot convert are left as they are: validation then reports
them, with their row numbers, like any other bad value. Tables without an
entry are read as before (``<table>.csv|parquet|xlsx``).
"""

from __future__ import annotations

import codecs
import csv
import io
from pathlib import Path
from typing import Any, Literal, Mapping, Optional

import pandas as pd
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from evalkit.data.schemas import DATE_COLUMNS, TABLES, columns, number_columns

__all__ = ["TableMap", "table_maps", "read_mapped", "read_as_given", "looks_like_cp1252", "draft_manifest"]


class TableMap(BaseModel):
    """How to read one table's raw file (one entry under ``tables:`` in ``dataset.yaml``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    file: str
    sheet: Optional[str] = None
    encoding: str = "utf-8"
    delimiter: Optional[str] = None
    decimal: Literal[".", ","] = "."
    date_format: Optional[str] = None
    columns: dict[str, str] = {}
    values: dict[str, dict[str, str]] = {}

    @field_validator("file")
    @classmethod
    def _plain_name(cls, v: str) -> str:
        if not v or Path(v).name != v or v in (".", ".."):
            raise ValueError("give the file's name in the dataset folder, without a path")
        return v

    @field_validator("encoding")
    @classmethod
    def _known_codec(cls, v: str) -> str:
        try:
            codecs.lookup(v)
        except LookupError:
            raise ValueError(f"unknown encoding {v!r} (e.g. utf-8, cp1252, latin-1)") from None
        return v

    @field_validator("delimiter")
    @classmethod
    def _one_character(cls, v: Optional[str]) -> Optional[str]:
        if v is not None and len(v) != 1:
            raise ValueError("one character, e.g. ';' or ',' (a tab as \"\\t\")")
        return v


def table_maps(meta: Mapping[str, Any]) -> dict[str, TableMap]:
    """The checked ``tables:`` entries of a manifest; a problem raises ``ValueError`` naming the key.

    Examples
    --------
    >>> m = table_maps({"tables": {"cases": {"file": "a.csv", "columns": {"Alkupvm": "opened"}}}})
    >>> m["cases"].columns
    {'Alkupvm': 'opened'}
    >>> table_maps({"tables": {"cases": {"file": "a.csv", "columns": {"Alkupvm": "start"}}}})
    Traceback (most recent call last):
    ...
    ValueError: tables.cases.columns: 'start' is not a column of cases (use: case_id, child_id, ...)
    """
    raw = meta.get("tables") or {}
    if not isinstance(raw, dict):
        raise ValueError("tables: expected a table name and its file settings under it")
    out = {}
    for name, entry in raw.items():
        if name not in TABLES:
            raise ValueError(f"tables.{name}: no such table (use: {', '.join(TABLES)})")
        if not isinstance(entry, dict):
            raise ValueError(f"tables.{name}: expected file: and its settings")
        _text_keys(entry.get("columns") or {}, f"tables.{name}.columns")
        for col, mapping in (entry.get("values") or {}).items():
            _text_keys(mapping if isinstance(mapping, dict) else {}, f"tables.{name}.values.{col}")
        try:
            tmap = TableMap(**entry)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            raise ValueError(f"tables.{name}.{where}: {err['msg'].removeprefix('Value error, ')}") from None
        known = columns(name)
        for target in [*tmap.columns.values(), *tmap.values]:
            if target not in known:
                raise ValueError(
                    f"tables.{name}.{'columns' if target in tmap.columns.values() else 'values'}: "
                    f"{target!r} is not a column of {name} (use: {', '.join(known[:2])}, ...)"
                )
        out[name] = tmap
    return out


def _text_keys(mapping: Mapping[Any, Any], where: str) -> None:
    odd = [k for k in mapping if isinstance(k, bool) or k is None]
    if odd:  # YAML reads yes, no, on, off as true/false: the user meant the word
        raise ValueError(f'{where}: {odd[0]!r} is not text; quote it ("yes", "no", "on", "off")')


def looks_like_cp1252(data: bytes) -> bool:
    """Bytes that are not UTF-8 but read as Windows-1252 text (Finnish letters where UTF-8 fails).

    Examples
    --------
    >>> looks_like_cp1252("Jyväskylä".encode("cp1252")), looks_like_cp1252("Jyväskylä".encode("utf-8"))
    (True, False)
    """
    try:
        data.decode("utf-8")
        return False
    except UnicodeDecodeError:
        pass
    try:
        data.decode("cp1252")
        return True
    except UnicodeDecodeError:
        return False


def read_mapped(folder: Path, table: str, tmap: TableMap) -> pd.DataFrame:
    """One table read from its raw file by its mapping: contract headers, values and forms, all as text.

    The index is the data row number as the file counts it (the header is row
    0, blank lines count). Raises ``ValueError`` with what to change in
    ``dataset.yaml`` when the file cannot be read as declared.
    """
    path = folder / tmap.file
    if not path.is_file():
        raise ValueError(f"tables.{table}.file: {tmap.file} is not in the dataset folder")
    raw = read_as_given(folder, tmap)
    missing = [h for h in tmap.columns if h not in raw.columns]
    if missing:
        raise ValueError(
            f"tables.{table}.columns: {tmap.file} has no column {missing[0]!r} "
            f"(its headers: {', '.join(raw.columns[:8])}{', ...' if raw.shape[1] > 8 else ''})"
        )
    df = raw.rename(columns=tmap.columns)
    # where the rows came from (small: pandas copies attrs along): quarantine files re-read the cells as given
    df.attrs["mapped_from"] = (str(folder), tmap.model_dump_json())
    for col, mapping in tmap.values.items():
        if col in df:
            df[col] = df[col].map(lambda v, m=mapping: m.get(v.strip(), v) if isinstance(v, str) else v)
    if tmap.decimal == ",":
        for col in number_columns(table):
            if col in df:
                df[col] = df[col].map(_decimal_point)
    if tmap.date_format:
        for col in DATE_COLUMNS[table]:
            if col in df:
                df[col] = _iso_days(df[col], tmap.date_format)
    return df


def read_as_given(folder: Path, tmap: TableMap) -> pd.DataFrame:
    """The raw file's cells as text under its own (stripped) headers, rows numbered as the file counts them."""
    path = folder / tmap.file
    raw = _read_excel(path, tmap) if path.suffix.lower() in (".xlsx", ".xlsm") else _read_csv(path, tmap)
    raw.columns = [str(c).strip() for c in raw.columns]
    return raw


def _read_csv(path: Path, tmap: TableMap) -> pd.DataFrame:
    data = path.read_bytes()
    encoding = "utf-8-sig" if codecs.lookup(tmap.encoding).name == "utf-8" else tmap.encoding
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        hint = " (it looks like Windows-1252: add encoding: cp1252)" if looks_like_cp1252(data) else ""
        raise ValueError(f"{path.name} is not {tmap.encoding} text at line {line}{hint}") from None
    first = text.split("\n", 1)[0]
    delimiter = tmap.delimiter or max((";", ",", "\t"), key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise ValueError(f"{path.name} is empty (a CSV needs a header row)") from None
    rows, numbers = [], []
    for record in reader:
        if not record or (not record[0].strip() and not "".join(record).strip()):
            continue  # a blank line (or only separators): skipped, but counted by reader.line_num
        if len(record) != len(header):
            raise ValueError(
                f"{path.name} row {reader.line_num - 1} has {len(record)} fields and the header "
                f"{len(header)}; check delimiter: (now {delimiter!r}) and quoting"
            )
        rows.append(record)
        numbers.append(reader.line_num - 1)
    df = pd.DataFrame(rows, columns=header, dtype=object).replace("", None)
    df.index = pd.Index(numbers, name="row", dtype="int64")
    return df


def _read_excel(path: Path, tmap: TableMap) -> pd.DataFrame:
    book = pd.ExcelFile(path)
    sheet = tmap.sheet if tmap.sheet is not None else book.sheet_names[0]
    if sheet not in book.sheet_names:
        raise ValueError(f"{path.name} has no sheet {sheet!r} (its sheets: {', '.join(book.sheet_names)})")
    df = pd.read_excel(book, sheet_name=sheet, dtype=str)
    df.index = pd.Index(range(1, len(df) + 1), name="row", dtype="int64")
    return df.dropna(how="all")


def _decimal_point(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    plain = value.replace("\u00a0", "").replace("\u202f", "").replace(" ", "").replace("\u2212", "-")
    return plain.replace(",", ".") if "." not in plain else value


def _iso_days(values: pd.Series, fmt: str) -> pd.Series:
    """Each value in ``fmt`` as YYYY-MM-DD; what does not parse stays as given (validation reports it).

    Parsed once per distinct value: a register repeats the same days over and over."""
    codes, distinct = pd.factorize(values)
    day = pd.to_datetime(pd.Series(distinct, dtype=object), format=fmt, errors="coerce")
    iso = pd.Series(distinct, dtype=object).where(day.isna(), day.dt.strftime("%Y-%m-%d")).to_numpy()
    out = values.copy()
    found = codes >= 0
    out[found] = iso[codes[found]]
    return out


def draft_manifest(folder: str | Path) -> str:
    """A draft ``dataset.yaml`` for a folder of raw exports, ``TODO`` where undecided (``evalkit inspect``).

    Encoding, delimiter, decimal commas and dd.mm.yyyy dates are detected; each
    file or sheet gets the table its headers match best and each header its
    contract column (Finnish, Swedish and English names); category values
    outside the allowed ones are listed with a proposal or ``TODO``.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = (d / "tiimit.csv").write_text("Tiimi;Kohde;Ryhmä;Mallin aloitus\\nT1;S1;pilotti;1.1.2018\\n")
    >>> "arm:" in draft_manifest(d) and '"pilotti": pilot' in draft_manifest(d)
    True
    """
    from evalkit.data._inspect import draft_manifest as draft

    return draft(folder)
