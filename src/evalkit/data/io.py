"""Reading and writing dataset folders (``dataset.yaml`` + one file per table).

A dataset folder holds ``dataset.yaml`` and ``<table>.csv``, ``.parquet`` or
``.xlsx`` per table (see ``data/README.md``).

Readers return tables as found: CSV and Excel cells stay text, so that a bad
value becomes one invalid row when :mod:`evalkit.validation` coerces it,
never a crash of the whole read. CSV goes through ``pyarrow.csv`` (several
times faster than pandas' parser on national extracts). Anything that stops a
folder from being read at all raises :class:`DatasetError` (exit 2).
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import re
import threading
from pathlib import Path
from typing import Any, Iterator, Mapping

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import yaml

from evalkit.data.config import DuplicateKeyError, safe_load_unique
from evalkit.data.extract import TableMap, looks_like_cp1252, read_mapped, table_maps
from evalkit.core.idcode import contains_code, mask_codes
from evalkit.core.result import EvalkitError
from evalkit.data.schemas import REQUIRED_TABLES, TABLES, columns

__all__ = [
    "atomic_write",
    "write_dataset",
    "read_dataset",
    "read_manifest",
    "read_table",
    "complete_tables",
    "DatasetError",
    "FORMATS",
]

FORMATS = ("csv", "parquet", "xlsx")


def write_dataset(
    tables: Mapping[str, pd.DataFrame],
    meta: Mapping[str, Any],
    out: str | Path,
    *,
    fmt: str = "csv",
) -> Path:
    """Write ``tables`` and the ``dataset.yaml`` manifest ``meta`` into folder ``out``.

    Dates are written as ISO ``YYYY-MM-DD`` text in CSV and Excel, as dates in
    Parquet. Returns the folder.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.*"):
        # a table left from an earlier write in another format would be ambiguous
        if old.stem in tables and old.suffix.lstrip(".") in FORMATS:
            old.unlink()
    for name, df in tables.items():
        path = out / f"{name}.{fmt}"
        if fmt == "csv":
            df.to_csv(path, index=False, date_format="%Y-%m-%d")
        elif fmt == "parquet":
            df.to_parquet(path, index=False)
        else:
            _iso_dates(df).to_excel(path, index=False, sheet_name=name[:31])
    with open(out / "dataset.yaml", "w", encoding="utf-8") as fh:
        yaml.safe_dump(dict(meta), fh, sort_keys=False, allow_unicode=True)
    return out


def atomic_write(path: Path, content: str | bytes) -> None:
    """Write ``content`` to ``path`` through a temporary file in the same folder and a rename.

    A full disk or Ctrl-C then leaves the old file or none, never one cut mid-row.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        if isinstance(content, bytes):
            tmp.write_bytes(content)
        else:
            tmp.write_text(content, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _iso_dates(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for col in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[col]):
            out[col] = out[col].dt.strftime("%Y-%m-%d")
    return out


class DatasetError(EvalkitError):
    """The dataset folder cannot be read at all (exit code 2); says which file and why."""


def read_manifest(folder: str | Path) -> dict[str, Any]:
    """``dataset.yaml`` as a dict, with ``extracted_on`` as a ``pandas.Timestamp``.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = (d / "dataset.yaml").write_text("name: x\\nextracted_on: 2024-12-31\\n")
    >>> read_manifest(d)["extracted_on"].year
    2024
    """
    path = Path(folder) / "dataset.yaml"
    if not path.is_file():
        raise DatasetError(f"{path}: manifest missing (every dataset folder needs dataset.yaml)")
    try:
        meta = safe_load_unique(path.read_text(encoding="utf-8"))
    except DuplicateKeyError as exc:
        raise DatasetError(f"{path}: {exc}") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise DatasetError(f"{path}: cannot be read as YAML ({type(exc).__name__})") from None
    if not isinstance(meta, dict):
        raise DatasetError(f"{path}: must be a mapping of name, extracted_on, source, description")
    if "extracted_on" not in meta:
        raise DatasetError(f"{path}: extracted_on is missing (the date open cases are censored at)")
    meta["extracted_on"] = _extraction_date(meta["extracted_on"], path)
    held = [key for key, value in _strings(meta) if contains_code(pd.Series([value], dtype=object)).iloc[0]]
    if held:  # a name or description is printed in every report: refuse it before it gets there
        raise DatasetError(f"{path}: the value of {', '.join(held)} holds a personal identity code: remove it")
    return meta


_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}( 00:00:00)?")


def _extraction_date(value: Any, path: Path) -> pd.Timestamp:
    """``extracted_on`` as a day: ISO only (12.01.2022 reads as 1 December in some parsers), no time zone."""
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        raise DatasetError(f"{path}: extracted_on has a time zone; give the day only (YYYY-MM-DD)")
    if value is None or not (isinstance(value, dt.date) or _ISO_DAY.fullmatch(str(value).strip())):
        raise DatasetError(f"{path}: extracted_on is not a date in YYYY-MM-DD form")
    try:
        day = pd.Timestamp(str(value).strip())
    except ValueError:
        raise DatasetError(f"{path}: extracted_on is not a calendar day (use YYYY-MM-DD)") from None
    if day != day.normalize():
        raise DatasetError(f"{path}: extracted_on has a time of day; give the day only (YYYY-MM-DD)")
    return day


def _strings(node: Any, key: str = "") -> Iterator[tuple[str, str]]:
    """Every text value (and key) of a YAML document with where it is, e.g. ``('name', 'x')``."""
    if isinstance(node, dict):
        for k, v in node.items():
            where = f"{key}.{k}" if key else str(k)
            yield where, str(k)
            yield from _strings(v, where)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _strings(v, f"{key}[{i}]")
    elif isinstance(node, str):
        yield key, node


def read_table(path: str | Path) -> pd.DataFrame:
    """One table file, as found: CSV and Excel cells as text, empty cell = null.

    The index is the 1-based data row number (header excluded), kept through
    validation so that every invalid row can be traced back to the file.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "sites.csv"
    >>> _ = p.write_text("site_id,population\\nS1,5000\\nS2,\\n")
    >>> df = read_table(p)
    >>> df.index.tolist(), df["population"].tolist()[0], df["population"].isna().sum()
    ([1, 2], '5000', np.int64(1))
    """
    path = Path(path)
    try:
        if path.suffix == ".csv":
            df = _read_csv(path)
        elif path.suffix == ".parquet":
            df = pd.read_parquet(path)
        elif path.suffix == ".xlsx":
            df = _read_excel(path)
        else:
            raise DatasetError(f"{path}: unknown format (use {', '.join(FORMATS)})")
    except DatasetError:
        raise
    except Exception as exc:  # noqa: BLE001 - every reader failure means "cannot read"
        if path.suffix == ".csv" and looks_like_cp1252(data := path.read_bytes()):
            raise DatasetError(
                f"{path}: cannot be read as utf-8 text (first at {_undecodable_line(data)}; it looks "
                "like Windows-1252): declare it in "
                f"dataset.yaml under tables: {path.stem}: with file: {path.name} and "
                "encoding: cp1252 (data/README.md)"
            ) from None
        raise DatasetError(f"{path}: cannot be read ({type(exc).__name__}: {_short(exc)})") from None
    df.columns = [str(c).strip() for c in df.columns]
    _check_headers(df, path)
    if path.suffix != ".csv":  # a CSV's rows are numbered as the file counts them, blank lines too
        df.index = pd.RangeIndex(1, len(df) + 1, name="row")
    return df


def _undecodable_line(data: bytes) -> str:
    """Where the first byte that is not UTF-8 is, as the file counts its lines."""
    try:
        data.decode("utf-8-sig")
        return "no line"
    except UnicodeDecodeError as exc:
        return f"line {data.count(10, 0, exc.start) + 1}"  # 10: the newline byte


def _check_headers(df: pd.DataFrame, path: Path) -> None:
    if contains_code(pd.Series(list(df.columns), dtype=object)).any():
        raise DatasetError(f"{path}: a column header holds a personal identity code: remove it from the header")
    if df.columns.duplicated().any():
        dup = sorted(set(df.columns[df.columns.duplicated()]))
        raise DatasetError(f"{path}: column(s) {', '.join(dup)} appear more than once")


def read_dataset(path: str | Path) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """Read a dataset folder: ``(tables, meta)``, tables as found (not yet validated).

    A missing optional table comes back empty with the contract's columns.

    Parameters
    ----------
    path : str or Path
        Folder with ``dataset.yaml`` and one ``<table>.csv|parquet|xlsx`` per table.

    Returns
    -------
    tables : dict of str to pandas.DataFrame
        Every table of :data:`evalkit.schemas.TABLES` (index = data row number),
        plus any other table files found in the folder.
    meta : dict
        The manifest, ``extracted_on`` as a Timestamp.

    Raises
    ------
    DatasetError
        Missing manifest, a table in two formats, an unreadable file, a missing
        required table or a missing required column.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = (d / "dataset.yaml").write_text("extracted_on: 2024-12-31\\n")
    >>> read_dataset(d)
    Traceback (most recent call last):
    ...
    evalkit.data.io.DatasetError: required table sites is missing (no sites.csv, sites.parquet or sites.xlsx in ...)
    """
    folder = Path(path)
    if mask_codes(str(folder.resolve())) != str(folder.resolve()):
        raise DatasetError(f"{mask_codes(str(folder))}: the folder's path holds a personal identity code: rename it")
    if not folder.is_dir():
        raise DatasetError(f"{folder}: not a folder (give the dataset folder holding dataset.yaml)")
    meta = read_manifest(folder)
    try:
        maps = table_maps(meta)
    except ValueError as exc:
        raise DatasetError(f"{folder / 'dataset.yaml'}: {exc}") from None
    mapped: dict[str, pd.DataFrame] = {}
    mapped_from: dict[str, str] = {}
    for name, tmap in maps.items():  # first: a mistake in the mapping is the first thing to fix
        try:
            mapped[name] = read_mapped(folder, name, tmap)
        except ValueError as exc:
            raise DatasetError(f"{folder / 'dataset.yaml'}: {exc}") from None
        _check_headers(mapped[name], folder / tmap.file)
        mapped_from[name] = str(folder / tmap.file)
    claimed = {m.file for m in maps.values()}  # raw exports are read through their mapping only
    files: dict[str, list[Path]] = {}
    for file in sorted(folder.iterdir()):
        if mask_codes(file.name) != file.name:
            raise DatasetError(
                f"{folder / mask_codes(file.name)}: a file name holds a personal identity code: rename the file"
            )
        if (
            file.is_file()
            and file.suffix.lstrip(".") in FORMATS
            and not file.name.startswith((".", "~$"))
            and file.name not in claimed
        ):
            files.setdefault(file.stem, []).append(file)
    tables: dict[str, pd.DataFrame] = {}
    for name, found in files.items():
        if len(found) > 1 or name in maps:
            given = [f.name for f in found] + ([f"{maps[name].file} (dataset.yaml)"] if name in maps else [])
            raise DatasetError(f"table {name} is given twice ({', '.join(given)}): keep one")
        tables[name] = read_table(found[0])
    sources = {n: str(f[0]) for n, f in files.items()}
    _sheets_hint({*mapped, *tables}, folder)
    return complete_tables({**mapped, **tables}, {**sources, **mapped_from}, str(folder)), meta


def _sheets_hint(found: set[str], folder: Path) -> None:
    """A required table missing while a workbook holds a sheet of that name: say how to declare it."""
    for name in REQUIRED_TABLES:
        if name in found:
            continue
        for book in sorted(folder.glob("*.xlsx")):
            try:
                sheets = pd.ExcelFile(book).sheet_names
            except Exception:  # noqa: BLE001 - an unreadable workbook is reported when it is read
                continue
            if name in sheets:
                raise DatasetError(
                    f"required table {name} is missing as a file, but {book.name} has a sheet "
                    f"{name}: declare it in dataset.yaml under tables: {name}: with "
                    f"file: {book.name} and sheet: {name} (data/README.md)"
                )


def complete_tables(tables: dict[str, pd.DataFrame], sources: Mapping[str, str], where: str) -> dict[str, pd.DataFrame]:
    """Check required tables and columns; add missing optional tables, empty.

    ``sources`` names the file of each table and ``where`` the folder, for messages.

    Examples
    --------
    >>> complete_tables({}, {}, "memory")
    Traceback (most recent call last):
    ...
    evalkit.data.io.DatasetError: required table sites is missing (no sites.csv, sites.parquet or sites.xlsx in memory)
    """
    for name in TABLES:
        if name not in tables:
            if name in REQUIRED_TABLES:
                raise DatasetError(
                    f"required table {name} is missing (no {name}.csv, {name}.parquet or {name}.xlsx in {where})"
                )
            tables[name] = pd.DataFrame(
                {c: pd.Series(dtype=object) for c in columns(name)}, index=pd.RangeIndex(1, 1, name="row")
            )
        missing = [c for c in columns(name) if c not in tables[name].columns]
        if missing:
            raise DatasetError(f"{sources.get(name, name)}: required column(s) missing: {', '.join(missing)}")
    return tables


def _read_csv(path: Path) -> pd.DataFrame:
    with open(path, newline="", encoding="utf-8-sig") as fh:
        first = fh.readline()
    if not first.strip():
        raise DatasetError(f"{path}: empty file (a CSV needs a header row)")
    # Finnish-locale spreadsheets export CSV with semicolons; some systems use tabs
    delimiter = max((",", ";", "\t"), key=first.count)
    # every column as text, under the header exactly as written ("team_id " too): no type guessing,
    # which would turn "005" into 5 and merge distinct ids
    names = next(csv.reader([first.lstrip("\ufeff")], delimiter=delimiter))
    with open(path, "rb") as fh:
        blank = re.search(rb"\n\r?\n.", fh.read(), re.S) is not None
    if not blank:
        try:
            table = pacsv.read_csv(
                path,
                parse_options=pacsv.ParseOptions(delimiter=delimiter),
                convert_options=pacsv.ConvertOptions(
                    column_types={n: pa.string() for n in names},
                    strings_can_be_null=True,
                    null_values=[""],
                    quoted_strings_can_be_null=True,
                ),
            )
            df = table.to_pandas()
            df.index = pd.RangeIndex(1, len(df) + 1, name="row")
            return df
        except pa.ArrowInvalid:
            pass  # a ragged row: the row-by-row reader below says which
    # blank lines (Arrow would skip them and shift every later row number) or a row Arrow cannot parse:
    # read row by row, numbering rows as the file does
    try:
        return read_mapped(path.parent, "sites", TableMap(file=path.name, delimiter=delimiter))
    except ValueError as exc:
        raise DatasetError(f"{path}: cannot be read: {str(exc).removeprefix(path.name + ' ')}") from None


def _read_excel(path: Path) -> pd.DataFrame:
    df = pd.read_excel(path, sheet_name=0, dtype=str)
    if not df.isna().to_numpy().any():
        return df
    # A formula without a saved result (a file written by a program rather than saved by
    # Excel, or a planted "=cmd|..." cell) reads as an empty cell: an optional column
    # would silently lose the value. Its text is kept instead, so the row fails validation.
    from openpyxl import load_workbook

    book = load_workbook(path, read_only=True, data_only=False)
    try:
        rows = book.worksheets[0].iter_rows(min_row=2, max_row=len(df) + 1, max_col=df.shape[1], values_only=True)
        for i, row in enumerate(rows):
            for j, value in enumerate(row):
                if isinstance(value, str) and value.startswith("=") and pd.isna(df.iat[i, j]):
                    df.iat[i, j] = value
    finally:
        book.close()
    return df


def _short(exc: Exception) -> str:
    # parser messages may quote the offending row: keep only the reason before it
    text = str(exc).splitlines()[0] if str(exc) else ""
    return ": ".join(text.split(": ")[:2])[:200]
