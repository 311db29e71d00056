"""The ``evalkit`` command line: ``synth``, ``validate`` (and ``render`` when it lands).

Commands stay thin: each parses its options and hands over to the module that
owns the work, so the same code serves Python callers and the shell.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

__all__ = ["app"]

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="evalkit: validated data, estimators matching R/Stata, per-site evaluation reports.",
)


@app.command()
def synth(
    out: Path = typer.Option(..., "--out", help="Folder to write the synthetic dataset into."),
    sites: int = typer.Option(8, "--sites", min=1, help="Number of pilot sites (309 = national scale)."),
    seed: int = typer.Option(1, "--seed", help="Random seed; the same seed gives the same data."),
    fmt: str = typer.Option("csv", "--format", help="Table file format: csv, parquet or xlsx."),
) -> None:
    """Write a synthetic multi-site dataset with known true effects (in dataset.yaml)."""
    from . import synth as _synth

    raise typer.Exit(_synth.cli_synth(out=out, sites=sites, seed=seed, fmt=fmt))


@app.command()
def validate(
    path: Path = typer.Argument(..., help="Dataset folder (dataset.yaml + one file per table)."),
    quarantine: Optional[Path] = typer.Option(None, "--quarantine", help="Write invalid rows to QDIR/<table>.csv."),
    report: Optional[Path] = typer.Option(None, "--report", help="Write the validation report as JSON."),
) -> None:
    """Validate a dataset. Exit 0: valid; 1: invalid rows (quarantined); 2: unreadable."""
    from . import validation as _validation

    raise typer.Exit(_validation.cli_validate(path=path, quarantine=quarantine, report=report))


if __name__ == "__main__":  # pragma: no cover
    app()
