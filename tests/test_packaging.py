"""The package's metadata and environments stay in step."""
from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _name(req: str) -> str:
    return re.split(r"[<>=!~\[ ;]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pyproject_requirements() -> dict[str, str]:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(meta["dependencies"]) + list(meta["optional-dependencies"]["test"])
    return {_name(r): r.replace(" ", "") for r in reqs}


def _conda_requirements() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    deps = [d for d in env["dependencies"] if isinstance(d, str)]
    return {_name(d): d.replace(" ", "") for d in deps if _name(d) not in {"python", "pip"}}


def test_environment_yml_lists_the_same_packages_and_bounds_as_pyproject():
    assert _conda_requirements() == _pyproject_requirements()


def test_environment_yml_installs_evalkit_itself():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_parts = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert pip_parts and "-e ." in pip_parts[0]


def test_console_script_runs_the_cli_app_from_an_entry_point_that_imports_nothing_heavy():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["evalkit"] == "evalkit._entry:main"
    # a Ctrl-C while pandas loads must reach main's handler, so importing the entry point loads no pandas
    code = "import sys, evalkit._entry; print('pandas' in sys.modules)"
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert shown.strip() == "False"
    help_text = subprocess.run([sys.executable, "-c", "from evalkit._entry import main; main()", "--help"],
                               capture_output=True, text=True)
    assert help_text.returncode == 0 and "validate" in help_text.stdout


def test_every_module_declares_all():
    for path in sorted((ROOT / "src" / "evalkit").glob("*.py")):
        if path.name.startswith("_"):
            continue
        text = path.read_text()
        assert re.search(r"^__all__\s*=", text, re.M), f"{path.name} has no __all__"
