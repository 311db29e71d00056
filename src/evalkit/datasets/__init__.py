"""The published data sets evalkit reproduces, one copy each, for tests, exercises and users.

Each is a small CSV kept as distributed (``README.md`` beside them names its
source and what reproduces it): R ``survival``'s ``lung`` and ``veteran``,
metafor's ``dat.bcg``, MASS's ``ships``, Card & Krueger's fast-food data,
and the rest of the published references the tests check evalkit against.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

__all__ = ["load", "names", "path"]


def names() -> list[str]:
    """The data sets bundled with evalkit, by name.

    Examples
    --------
    >>> from evalkit import datasets
    >>> "lung" in datasets.names(), len(datasets.names()) > 20
    (True, True)
    """
    return sorted(p.name[:-4] for p in resources.files(__name__).iterdir() if p.name.endswith(".csv"))


def path(name: str) -> Path:
    """The CSV file of a bundled data set (for reading it with options of your own).

    Parameters
    ----------
    name : str
        One of :func:`names`, e.g. ``"lung"`` or ``"dat_bcg"``.

    Returns
    -------
    pathlib.Path
    """
    from evalkit.core.result import InputError

    if name not in names():
        raise InputError(f"no bundled data set named {name!r}; evalkit.datasets.names() lists them")
    return Path(str(resources.files(__name__).joinpath(f"{name}.csv")))


def load(name: str, **read_csv: Any):
    """A bundled data set as a DataFrame (``pandas.read_csv`` of its file).

    Parameters
    ----------
    name : str
        One of :func:`names`.
    **read_csv
        Passed to :func:`pandas.read_csv`.

    Returns
    -------
    pandas.DataFrame

    Examples
    --------
    >>> from evalkit import datasets
    >>> lung = datasets.load("lung")
    >>> lung.shape
    (228, 10)
    """
    import pandas as pd

    return pd.read_csv(path(name), **read_csv)
