#!/usr/bin/env python3
"""Set up evalkit in its own virtual environment and run a job.

    python3 tasks.py demo    # set up, synthesise, validate, render the demo reports
    python3 tasks.py test    # set up, run the test suite

Only the Python standard library is used here, so the two commands work on a
fresh machine with Python 3.11+ and the package registries.  The environment
lives in ``.venv`` (override with EVALKIT_VENV) and is rebuilt when
``pyproject.toml`` changes.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("EVALKIT_VENV", ROOT / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"


def _run(*cmd: str | Path) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], cwd=ROOT, check=True)


def setup() -> None:
    """Create the venv and install evalkit with its test extras (once per pyproject)."""
    if sys.version_info < (3, 11):
        sys.exit(f"evalkit needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    stamp = VENV / ".evalkit-installed"
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest and PY.exists():
        return
    if not PY.exists():
        print(f"creating virtual environment in {VENV}", flush=True)
        venv.create(VENV, with_pip=True)
    _run(PY, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    _run(PY, "-m", "pip", "install", "--quiet", "-e", ".[test]")
    _run(PY, "-m", "ipykernel", "install", "--sys-prefix", "--name", "python3")
    stamp.write_text(digest)


def demo() -> None:
    setup()
    evalkit = BIN / "evalkit"
    _run(evalkit, "synth", "--out", "data/synthetic", "--seed", "1")
    _run(
        evalkit,
        "validate",
        "data/synthetic",
        "--quarantine",
        "data/processed/quarantine",
        "--report",
        "data/processed/validation.json",
    )
    # params/ holds one YAML per synthetic site (written by `evalkit params`); reports/ is rebuilt
    _run(evalkit, "render", "--data", "data/synthetic", "--params", "params", "--out", "reports", "--jobs", "2")
    print(f"open {ROOT / 'reports' / 'index.html'}", flush=True)


def _chromium() -> None:
    """The screenshot tests need Debian's chromium: install it when missing and we are root."""
    if shutil.which("chromium") or os.name != "posix" or os.geteuid() != 0 or not shutil.which("apt-get"):
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
        print("+", " ".join(cmd), flush=True)
        if subprocess.run(cmd, env=env).returncode != 0:
            print("chromium could not be installed: the screenshot tests will be skipped", flush=True)
            return


def test() -> None:
    setup()
    _chromium()
    args = sys.argv[2:]
    _run(PY, "-m", "pytest", *args)


JOBS = {"setup": setup, "demo": demo, "test": test}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in JOBS:
        sys.exit(f"usage: python3 tasks.py {{{'|'.join(JOBS)}}} [pytest args]")
    try:
        JOBS[sys.argv[1]]()
    except subprocess.CalledProcessError as exc:
        sys.exit(exc.returncode)
