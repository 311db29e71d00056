"""The style checks CI runs: ruff's lint and formatter (pyproject's [tool.ruff]) over the package,
tests, docs and benchmarks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_finds_nothing():
    # ruff is a test dependency (pyproject [test]); its findings name file, line and rule
    found = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--output-format", "concise", "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert found.returncode == 0, found.stdout + found.stderr


def test_ruff_format_would_change_nothing():
    # one layout for everyone; `ruff format .` (or the pre-commit hook) fixes what this finds
    found = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", "."], cwd=ROOT, capture_output=True, text=True
    )
    assert found.returncode == 0, found.stdout + found.stderr
