"""``evalkit validate``: validate a dataset folder, print a summary, write quarantine and report."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from evalkit.cli._console import print_error, print_report
from evalkit.data.io import DatasetError
from evalkit.data.validation import validate, write_quarantine

__all__ = ["cli_validate"]


def cli_validate(
    path: Path, quarantine: Optional[Path] = None, report: Optional[Path] = None, excel: bool = False
) -> int:
    """What ``evalkit validate`` runs: print a summary, write quarantine and report.

    Returns the exit code: 0 every row valid, 1 invalid rows (quarantined),
    2 the dataset cannot be read (the message says which file and why).
    Never raises; no identifier value or identity code is ever printed.

    Examples
    --------
    >>> cli_validate(Path("/nonexistent/folder"))
    2
    """
    try:
        ds = validate(path)
        if quarantine is not None:
            write_quarantine(ds, Path(quarantine), excel)
        if report is not None:
            ds.report.to_json(report)
    except DatasetError as exc:
        print_error(str(exc))
        return 2
    except OSError as exc:  # a full disk or a read-only folder: the files are written whole or not at all
        where = Path(exc.filename).name if exc.filename else "the output"
        print_error(
            f"cannot write {where} ({exc.strerror or type(exc).__name__}); nothing was half-written: "
            "free space or choose another folder, and validate again",
            "evalkit validate: cannot write",
        )
        return 2
    except Exception as exc:  # noqa: BLE001 - the command line must never show a traceback
        # only the type: an exception text can quote cell values
        print_error(
            f"validation stopped by an unexpected {type(exc).__name__}; please report it",
            "evalkit validate: stopped by an error",
        )
        return 2
    print_report(ds.report, quarantine)
    return ds.report.exit_code
