"""A result table that answers to the old names of renamed columns, with a ``DeprecationWarning``.

One Result layout has no duplicate columns: Cox's ``coef`` was ``estimate``
and its ``hr`` columns were ``ratio`` columns; ``median_survival``'s
``median`` was ``estimate``. Notebooks written against the old names keep
working: ``table["hr"]``, ``table.loc[row, "hr"]``, ``table.hr`` and
``table.loc[row]["hr"]`` read the new column and warn once per call site.
Anything derived from the table (a copy, ``round``, a slice of rows and
columns) is a plain pandas object, so the aliases do not travel.
"""

from __future__ import annotations

import warnings
from typing import Any

import pandas as pd

__all__ = ["with_aliases"]


def with_aliases(table: pd.DataFrame, aliases: dict[str, str], where: str) -> pd.DataFrame:
    """``table`` answering to each old column name in ``aliases`` (old -> new) with a warning.

    Examples
    --------
    >>> import warnings
    >>> t = with_aliases(pd.DataFrame({"ratio": [2.0]}, index=["x"]), {"hr": "ratio"}, "cox")
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     print(t.loc["x", "hr"], caught[0].category.__name__)
    2.0 DeprecationWarning
    """
    out = _AliasFrame(table)
    out._aliases = {old: new for old, new in aliases.items() if new in table.columns}
    out._where = where
    return out


def _new_name(aliases: dict[str, str], where: str, key: Any) -> Any:
    if isinstance(key, str) and key in aliases:
        warnings.warn(
            f"{where}: column {key!r} is now {aliases[key]!r}; the old name will be removed",
            DeprecationWarning,
            stacklevel=4,
        )
        return aliases[key]
    if isinstance(key, list):
        return [_new_name(aliases, where, k) for k in key]
    return key


class _AliasFrame(pd.DataFrame):
    _metadata = ["_aliases", "_where"]

    @property
    def _constructor(self):  # derived frames are plain: the aliases belong to the result's own table
        return pd.DataFrame

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, (str, list)) and not _has(self, key):
            key = _new_name(self._aliases, self._where, key)
        return super().__getitem__(key)

    def __getattr__(self, name: str) -> Any:
        aliases = self.__dict__.get("_aliases") or {}
        if name in aliases:
            return self[_new_name(aliases, self.__dict__.get("_where", ""), name)]
        return super().__getattr__(name)

    @property
    def loc(self) -> Any:  # type: ignore[override]
        return _AliasLoc(self)


def _has(frame: pd.DataFrame, key: Any) -> bool:
    keys = key if isinstance(key, list) else [key]
    return all(k in frame.columns for k in keys)


class _AliasLoc:
    """``.loc`` whose column part may use an old name; a single row comes back answering to them too."""

    def __init__(self, frame: _AliasFrame) -> None:
        self._frame = frame
        self._loc = pd.DataFrame.loc.fget(frame)  # type: ignore[attr-defined]

    def _key(self, key: Any) -> Any:
        if isinstance(key, tuple) and len(key) == 2 and not _has(self._frame, key[1]):
            return key[0], _new_name(self._frame._aliases, self._frame._where, key[1])
        return key

    def __getitem__(self, key: Any) -> Any:
        got = self._loc[self._key(key)]
        if isinstance(got, pd.Series) and got.index.equals(self._frame.columns):
            row = _AliasRow(got)
            row._aliases, row._where = self._frame._aliases, self._frame._where
            return row
        return got

    def __setitem__(self, key: Any, value: Any) -> None:
        self._loc[self._key(key)] = value

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loc, name)


class _AliasRow(pd.Series):
    _metadata = ["_aliases", "_where"]

    @property
    def _constructor(self):
        return pd.Series

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, (str, list)) and not _has_label(self, key):
            key = _new_name(self._aliases, self._where, key)
        return super().__getitem__(key)


def _has_label(row: pd.Series, key: Any) -> bool:
    keys = key if isinstance(key, list) else [key]
    return all(k in row.index for k in keys)
