"""Terminal output of ``evalkit validate`` (private): counts and grouped failures.

Shows table, column, rule, count and a few row numbers, never a cell value.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from evalkit.core.idcode import mask_codes

if TYPE_CHECKING:
    from evalkit.data.validation import ValidationReport

__all__ = ["print_report", "print_error"]


def print_error(message: str, heading: str = "evalkit validate: cannot read the dataset") -> None:
    """An exit-2 (or interrupted) message under a heading naming its cause, on stderr.

    Soft-wrapped, so that a long path stays on one line (copyable, never cut
    mid-name), escaped, so that brackets in a name are shown, not read as
    markup, and with identity codes masked.
    """
    Console(stderr=True, highlight=False).print(
        f"[bold red]{escape(heading)}[/]\n{escape(mask_codes(message))}", soft_wrap=True
    )


def _shown(text: str) -> str:
    """A name from the user's data as the terminal shows it: codes masked, brackets not read as markup."""
    return escape(mask_codes(str(text)))


def print_report(report: "ValidationReport", quarantine: Optional[Path]) -> None:
    """Per-table counts, then failures grouped by table and rule."""
    console = Console(highlight=False)
    counts = Table(title="Rows per table", title_justify="left")
    for col in ("table", "rows in", "valid", "quarantined"):
        counts.add_column(col, justify="left" if col == "table" else "right")
    for name, c in report.counts.items():
        style = "red" if c["quarantined"] else None
        counts.add_row(_shown(name), str(c["rows_in"]), str(c["valid"]), str(c["quarantined"]), style=style)
    console.print(counts)
    if not report.failures:
        console.print("[green]Every row is valid.[/]")
        return
    fails = Table(title="Failures (row = data row number, header not counted)", title_justify="left")
    for col in ("table", "column", "rule", "count", "first rows"):
        fails.add_column(col, justify="right" if col == "count" else "left")
    for row in report.summary().itertuples(index=False):
        fails.add_row(_shown(row.table), _shown(row.column), _shown(row.rule), str(row.count), _shown(row.rows))
    console.print(fails)
    for failure in report.failures:
        if failure.hint:
            console.print(f"[yellow]hint[/]: {_shown(failure.hint)}", soft_wrap=True)
    where = f" to {_shown(str(quarantine))}" if quarantine is not None else " (use --quarantine QDIR to write them)"
    total = sum(c["quarantined"] for c in report.counts.values())
    console.print(f"[yellow]{total} invalid row(s) quarantined{where}.[/]")
