"""The ``evalkit`` command's entry point (private).

Imports nothing heavy before it can answer a Ctrl-C: pressed while Python
loads pandas, or while it ends after the work, it stops the command with
a line and exit code 130, never with a traceback. During a command, a
Ctrl-C is the command's own to handle (``evalkit render`` stops its
kernels and records what finished).
"""

from __future__ import annotations

import os
import signal
import sys

__all__ = ["main"]


def main() -> None:
    """Run the ``evalkit`` command line."""
    try:
        from evalkit.cli import app

        app()
        code: int | str | None = 0
    except KeyboardInterrupt:
        print("evalkit: interrupted", file=sys.stderr)
        code = 130
    except SystemExit as exc:
        code = exc.code
    # the work is done or given up: a Ctrl-C while Python ends ends it at once
    signal.signal(signal.SIGINT, lambda *_: os._exit(130))
    if code == 130:
        # interrupted, and the command has cleaned up after itself: leave now, or a second Ctrl-C in
        # the last moments of Python's own shutdown (its handlers gone) would kill it with a signal
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130)
    sys.exit(code)
