"""``evalkit synth``: generate a synthetic dataset and write it, with a short summary."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from evalkit.core.result import InputError
from evalkit.data.io import FORMATS, write_dataset
from evalkit.synth import Effects, Stress, synthesise, write_client_export

__all__ = ["cli_synth"]


def cli_synth(
    out: str | Path,
    sites: int = 8,
    seed: int = 1,
    fmt: str = "csv",
    *,
    null: bool = False,
    stress: dict[str, Any] | None = None,
) -> int:
    """Generate and write a synthetic dataset; print a short summary. Returns the exit code.

    Parameters
    ----------
    out : str or Path
        Folder to write ``dataset.yaml`` and the tables into.
    sites, seed : int
        As :func:`synthesise`.
    fmt : {"csv", "parquet", "xlsx", "export"}
        Table file format; ``"export"``: as Finnish client and payroll systems
        export them (Windows-1252 CSV, workbooks, Finnish headers and values;
        no ``dataset.yaml``), for ``evalkit inspect``.
    null : bool
        No true effects (:meth:`Effects.null`).
    stress : dict, optional
        Keyword arguments of :class:`Stress`.

    Returns
    -------
    int
        0 on success, 2 if the arguments cannot be used (the message says why).

    Examples
    --------
    >>> import contextlib, io, tempfile
    >>> from evalkit.cli._synth import cli_synth
    >>> with tempfile.TemporaryDirectory() as d, contextlib.redirect_stdout(io.StringIO()) as shown:
    ...     code = cli_synth(d, sites=1, seed=2, fmt="parquet")
    >>> code, "rows" in shown.getvalue()
    (0, True)
    """
    console = Console(width=100)
    if fmt not in (*FORMATS, "export"):
        console.print(f"[red]error:[/red] unknown format {fmt!r}; use one of {', '.join(FORMATS)} or export")
        return 2
    t0 = time.perf_counter()
    try:
        ds = synthesise(
            sites=sites, seed=seed, effects=Effects.null() if null else None, stress=Stress(**(stress or {}))
        )
    except InputError as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 2
    t1 = time.perf_counter()
    too_long = [k for k, v in ds.tables.items() if len(v) >= 1_048_576]
    if fmt == "xlsx" and too_long:
        console.print(
            f"[red]error:[/red] Excel holds at most 1,048,575 rows; too long: {', '.join(too_long)}. "
            "Use --format csv or parquet."
        )
        return 2
    if fmt == "export":
        write_client_export(ds.tables, out)
    else:
        write_dataset(ds.tables, ds.meta, out, fmt=fmt)
    t2 = time.perf_counter()
    console.print(
        f"Synthetic dataset: {sites} site(s), seed {seed}{', no true effects' if null else ''} -> {out}", markup=False
    )
    if ds.meta["stress"] != Stress().describe():
        console.print("stress: " + ", ".join(f"{k} {v}" for k, v in ds.meta["stress"].items()), markup=False)
    table = Table()
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, df in ds.tables.items():
        table.add_row(name, f"{len(df):,}")
    console.print(table)
    console.print(f"generated in {t1 - t0:.1f} s, written ({fmt}) in {t2 - t1:.1f} s")
    if fmt == "export":
        console.print(
            f"extracted on {ds.meta['extracted_on']:%Y-%m-%d}; no dataset.yaml: draft one with "
            f"`evalkit inspect {out} --out {Path(out) / 'dataset.yaml'}`",
            markup=False,
        )
    return 0
