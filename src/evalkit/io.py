"""Reading and writing dataset folders (``dataset.yaml`` + one file per table).

A dataset folder holds ``dataset.yaml`` and ``<table>.csv``, ``.parquet`` or
``.xlsx`` per table (see ``data/README.md``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import pandas as pd
import yaml

__all__ = ["write_dataset", "FORMATS"]

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


def _iso_dates(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for col in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[col]):
            out[col] = out[col].dt.strftime("%Y-%m-%d")
    return out
