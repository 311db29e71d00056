"""The type check CI runs: mypy (pyproject's [tool.mypy]: the package, untyped libraries' imports ignored)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_mypy_finds_nothing():
    # mypy is a test dependency (pyproject [test]); pandas-stubs is deliberately not (see [tool.mypy]).
    # Its findings name file, line and error code.
    found = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True)
    assert found.returncode == 0, found.stdout + found.stderr
