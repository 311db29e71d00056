"""The ``evalkit`` command line: ``synth``, ``inspect``, ``validate``, ``params``, ``render`` and ``audit``.

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
    fmt: str = typer.Option(
        "csv",
        "--format",
        help="Table file format: csv, parquet or xlsx; or export: as Finnish client and payroll "
        "systems export them, without dataset.yaml (practise `evalkit inspect` on it).",
    ),
    null: bool = typer.Option(False, "--null", help="No true effects: every ratio 1, every change 0."),
    team_sd: float = typer.Option(0.0, "--team-sd", help="SD of extra permanent team effects on every outcome."),
    calendar_shock: float = typer.Option(
        0.0, "--calendar-shock", help="Shock common to all teams, 2020-04 to 2021-03 (log scale)."
    ),
    cost_ar: float = typer.Option(0.0, "--cost-ar", help="AR(1) coefficient of monthly team cost disturbances."),
    pretrend_site: Optional[str] = typer.Option(
        None, "--pretrend-site", help="Site whose pilot teams' costs drift (parallel trends fail)."
    ),
    pretrend: float = typer.Option(0.01, "--pretrend", help="That drift per month (log scale)."),
) -> None:
    """Write a synthetic multi-site dataset with known true effects (in dataset.yaml)."""
    from evalkit.cli._synth import cli_synth

    stress = {
        "team_sd": team_sd,
        "calendar_shock": calendar_shock,
        "cost_ar": cost_ar,
        "pretrend_site": pretrend_site,
        "pretrend": pretrend,
    }
    raise typer.Exit(cli_synth(out=out, sites=sites, seed=seed, fmt=fmt, null=null, stress=stress))


@app.command()
def validate(
    path: Path = typer.Argument(..., help="Dataset folder (dataset.yaml + one file per table)."),
    quarantine: Optional[Path] = typer.Option(None, "--quarantine", help="Write invalid rows to QDIR/<table>.csv."),
    report: Optional[Path] = typer.Option(None, "--report", help="Write the validation report as JSON."),
    excel: bool = typer.Option(
        False, "--excel", help="Quarantine files for Excel with Finnish settings (semicolons, a BOM)."
    ),
) -> None:
    """Validate a dataset. Exit 0: valid; 1: invalid rows (quarantined); 2: unreadable."""
    from evalkit.cli._validate import cli_validate

    raise typer.Exit(cli_validate(path=path, quarantine=quarantine, report=report, excel=excel))


@app.command()
def inspect(
    raw: Path = typer.Argument(..., help="Folder of raw exports (CSV files and workbooks) as they came."),
    out: Optional[Path] = typer.Option(None, "--out", help="Write the draft here (e.g. RAW/dataset.yaml)."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing --out file."),
) -> None:
    """Draft dataset.yaml for raw exports: formats, tables, columns and values; TODO where undecided."""
    from evalkit.cli._render import cli_inspect

    raise typer.Exit(cli_inspect(raw, out, force))


@app.command()
def params(
    data: Path = typer.Option(..., "--data", help="Dataset folder whose sites need params files."),
    out: Path = typer.Option(Path("params"), "--out", help="Folder for <site>.yaml and _template.yaml."),
    lang: Optional[str] = typer.Option(None, "--lang", help="Report language written into each file (fi, sv, en)."),
    force: bool = typer.Option(False, "--force", help="Overwrite existing site files (default: keep them)."),
) -> None:
    """Write params/<site>.yaml (defaults) for every site of a dataset, and a commented template."""
    from evalkit.cli._render import cli_params

    raise typer.Exit(cli_params(data=data, out=out, lang=lang, force=force))


@app.command()
def render(
    data: Path = typer.Option(..., "--data", help="Dataset folder (validated once for the whole batch)."),
    params: Optional[Path] = typer.Option(
        None, "--params", help="Folder of <site>.yaml files (default: every site of the data with default parameters)."
    ),
    out: Path = typer.Option(Path("reports"), "--out", help="Output folder (index.html, manifest.json, <site>/)."),
    jobs: int = typer.Option(1, "--jobs", min=1, help="Sites rendered at the same time."),
    lang: Optional[str] = typer.Option(None, "--lang", help="Report language for every site: fi, sv or en."),
    executor: str = typer.Option("local", "--executor", help="local, or dask://HOST:PORT (a running cluster)."),
    resume: bool = typer.Option(False, "--resume", help="Render only the sites not done in OUT/manifest.json."),
    timeout: float = typer.Option(600, "--timeout", min=1, help="Seconds any one notebook cell may run."),
    notebook: Optional[Path] = typer.Option(
        None, "--notebook", help="Report notebook (default: evalkit's site_report, installed with it)."
    ),
    engine: str = typer.Option(
        "warm",
        "--engine",
        help="warm: one kernel per worker, reused and cleaned between sites; "
        "papermill: a new kernel per site. Same reports.",
    ),
    researcher_out: Optional[Path] = typer.Option(
        None,
        "--researcher-out",
        help="Folder apart from OUT for each site's unsuppressed results.json (small counts: never publish it).",
    ),
) -> None:
    """Render one HTML report per site, OUT/manifest.json and OUT/index.html.

    Exit 0: every site rendered and OUT passed the audit; 1: a site failed or the audit found something
    (see manifest.json); 2: the batch could not start.
    """
    from evalkit import render as _render
    from evalkit.cli._render import cli_render

    if lang is not None and lang not in ("fi", "sv", "en"):
        raise typer.BadParameter("use fi, sv or en", param_hint="--lang")
    if engine not in ("warm", "papermill"):
        raise typer.BadParameter("use warm or papermill", param_hint="--engine")
    options = _render.RenderOptions(
        jobs=jobs,
        lang=lang,
        resume=resume,
        executor=executor,
        timeout=timeout,
        notebook=notebook or _render.REPORT_NOTEBOOK,
        engine=engine,
        researcher_out=researcher_out,
    )
    raise typer.Exit(cli_render(data=data, params=params, out=out, options=options))


@app.command()
def audit(
    out: Path = typer.Argument(..., help="A rendered output folder, as it is about to be published."),
) -> None:
    """Check every file of OUT: no small count, no nan/inf/.. in prose, alt text on every figure,
    readable tick labels, no withheld estimate quoted, one interval and one data hash everywhere.

    Exit 0: nothing found; 1: findings (file, rule, where; never the value); 2: OUT is not a folder.
    """
    from evalkit.cli._render import cli_audit

    raise typer.Exit(cli_audit(out))


if __name__ == "__main__":  # pragma: no cover
    from evalkit._entry import main

    main()
