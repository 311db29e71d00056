"""What ``evalkit render`` and ``evalkit params`` run: progress, summary, exit codes (private).

Kept apart from :mod:`evalkit.render` so that the renderer itself stays free
of console output: Python callers get a :class:`~evalkit.render.Manifest`.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

from evalkit.render import Manifest, RenderError, RenderOptions, render_batch, write_site_params

__all__ = ["cli_render", "cli_params", "cli_audit", "cli_inspect"]


def cli_render(data: Path, params: Path | None, out: Path, options: RenderOptions) -> int:
    """What ``evalkit render`` runs: one progress bar, a summary; returns the exit code.

    0: every site rendered; 1: at least one site failed (see manifest.json);
    2: the batch could not start (the message says why).
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from evalkit.cli._console import print_error

    progress = Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), transient=False
    )
    task: list[Any] = []

    def plan(sites: list[str]) -> None:
        task.append(progress.add_task(f"rendering {len(sites)} site(s)", total=len(sites)))

    def site_done(site: str, entry: dict[str, Any]) -> None:
        progress.update(task[0], advance=1, description=f"{site}: {entry['status']}")

    try:
        with progress:
            manifest = render_batch(data, out, params, options, on_plan=plan, on_site=site_done)
    except RenderError as exc:
        print_error(str(exc), "evalkit render: the batch cannot start")
        return 2
    except OSError as exc:  # e.g. the output disk is full or read-only: a message, not a traceback
        where = Path(exc.filename).name if exc.filename else Path(out).name
        print_error(
            f"cannot write the reports ({exc.strerror or type(exc).__name__}: {where}); "
            "the sites finished so far are in manifest.json, and --resume completes the batch",
            "evalkit render: cannot write",
        )
        return 2
    except KeyboardInterrupt:
        # the batch has cleaned up after itself; a further Ctrl-C while Python ends must not wait
        signal.signal(signal.SIGINT, lambda *_: os._exit(130))
        print_error(
            "interrupted: the sites finished so far are recorded in manifest.json; "
            "run the same command with --resume to complete the batch",
            "evalkit render: interrupted",
        )
        return 130
    return _summary(manifest, out)


def cli_params(data: Path, out: Path, lang: str | None = None, force: bool = False) -> int:
    """What ``evalkit params`` runs: a params file per site of ``data``; returns the exit code.

    0: a file for every site; 1: some site ids cannot name a file (named; the others written); 2: unreadable.
    """
    from pydantic import ValidationError

    from evalkit.cli._console import print_error
    from evalkit.data.config import SiteConfig
    from evalkit.data.io import DatasetError
    from evalkit.data.validation import validate

    try:
        sites = [str(s) for s in validate(data).tables["sites"]["site_id"]]
    except DatasetError as exc:
        print_error(f"the dataset cannot be read: {exc}", "evalkit params: cannot read the dataset")
        return 2
    usable, unusable = [], []
    for site in sites:  # a site id that cannot name a file fails alone: the others get their files
        try:
            SiteConfig(site=site)
            usable.append(site)
        except ValidationError:
            unusable.append(site)
    written, kept = write_site_params(usable, Path(out), lang=lang, force=force)
    print(
        f"{len(written)} params file(s) written, {len(kept)} kept (use --force to overwrite) in {Path(out)}/; "
        "template: _template.yaml"
    )
    if unusable:
        print_error(
            f"no params file for {len(unusable)} site(s): {', '.join(repr(s) for s in unusable[:10])}; "
            "a site id names its params file, so it must be lower-case letters, digits, '_' or '-' "
            "(e.g. 'kuopio', 'jyvaskyla'): change it in the sites table (and the tables that refer to it)",
            "evalkit params: some site ids cannot name a file",
        )
        return 1
    return 0


def _summary(manifest: Manifest, out: Path) -> int:
    from rich.console import Console
    from rich.markup import escape

    from evalkit.core.idcode import mask_codes

    console = Console(stderr=True, highlight=False)
    aside = manifest.batch.get("rows_set_aside") or {}
    if aside:
        console.print(
            "validation set aside rows ("
            + escape(", ".join(f"{t}: {n}" for t, n in aside.items()))
            + "); run `evalkit validate` for details"
        )
    if manifest.batch.get("sites_without_params"):
        console.print(
            "no params file, not rendered: " + escape(mask_codes(", ".join(manifest.batch["sites_without_params"])))
        )
    failed = sorted(manifest.failed())
    for site in failed:
        err = manifest.sites[site].get("error", {})
        where = f" (cell {err['cell']})" if err.get("cell") else ""
        console.print(
            "[red]failed[/red] " + escape(mask_codes(f"{site}{where}: {err.get('type', '')}: {err.get('message', '')}"))
        )
    console.print(
        f"{len(manifest.done())} of {len(manifest.sites)} site(s) rendered into {escape(str(out))}/ "
        "(index.html, manifest.json)"
    )
    findings = manifest.batch.get("audit") or []
    _print_findings(console, findings, out)
    return 1 if failed or findings else 0


def _print_findings(console: Any, findings: list[str], out: Path) -> None:
    from rich.markup import escape

    if findings:
        console.print(f"[red]{len(findings)} finding(s)[/red]: do not publish {escape(str(out))}/ as it is")
        for line in findings[:20]:
            console.print("  " + escape(line))
        if len(findings) > 20:
            console.print(f"  ... and {len(findings) - 20} more (manifest.json, batch.audit)")


def cli_audit(out: Path) -> int:
    """What ``evalkit audit`` runs: 0 when the folder may be published, 1 with findings, 2 if not a folder."""
    from rich.console import Console

    from evalkit.cli._console import print_error
    from evalkit.report.audit import audit_output

    if not Path(out).is_dir():
        print_error(f"{Path(out).name}: not a folder", "evalkit audit: nothing to check")
        return 2
    console = Console(stderr=True, highlight=False)
    findings = [str(f) for f in audit_output(out)]
    _print_findings(console, findings, Path(out))
    if not findings:
        console.print(f"{sum(1 for p in Path(out).rglob('*') if p.is_file())} file(s) checked: nothing found")
    return 1 if findings else 0


def cli_inspect(raw: Path, out: Path | None, force: bool) -> int:
    """What ``evalkit inspect`` runs: the draft to stdout or ``out``; 0, or 2 with a message."""
    from evalkit.cli._console import print_error
    from evalkit.data.extract import draft_manifest

    if not Path(raw).is_dir():
        print_error(f"{Path(raw).name}: not a folder (give the folder of raw exports)", "evalkit inspect: no exports")
        return 2
    if out is not None and Path(out).exists() and not force:
        print_error(f"{Path(out).name} exists: keep it, or overwrite it with --force", "evalkit inspect: not written")
        return 2
    try:
        text = draft_manifest(raw)
    except OSError as exc:
        print_error(f"cannot read the exports ({exc.strerror or type(exc).__name__})", "evalkit inspect: no exports")
        return 2
    if out is None:
        print(text, end="")
    else:
        Path(out).write_text(text, encoding="utf-8")
        print(f"draft written to {Path(out).name}: replace every TODO, then run `evalkit validate`")
    return 0
