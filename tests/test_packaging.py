"""The package's metadata and environments stay in step."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
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
    help_text = subprocess.run(
        [sys.executable, "-c", "from evalkit._entry import main; main()", "--help"], capture_output=True, text=True
    )
    assert help_text.returncode == 0 and "validate" in help_text.stdout


def test_every_module_declares_all():
    for path in sorted((ROOT / "src" / "evalkit").glob("*.py")):
        if path.name.startswith("_"):
            continue
        text = path.read_text()
        assert re.search(r"^__all__\s*=", text, re.M), f"{path.name} has no __all__"


@pytest.mark.slow
def test_a_built_wheel_installed_elsewhere_synthesises_and_renders(tmp_path):
    """Not an editable install: everything evalkit needs at run time (the report notebook, the labels,
    the exercise data) must be inside the wheel. The new environment borrows only the dependencies."""
    import sysconfig
    import venv

    import shutil

    dist, env, source = tmp_path / "dist", tmp_path / "env", tmp_path / "source"
    # built from a copy: an in-tree build leaves build/ behind, whose stale files a later wheel could pick up
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(source)],
        check=True,
        capture_output=True,
    )
    wheel = next(dist.glob("evalkit-*.whl"))
    venv.EnvBuilder(with_pip=False).create(env)
    python = env / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    # the dependencies from this environment (a path, so its editable evalkit finder is not loaded)
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", str(wheel)],
        check=True,
        capture_output=True,
    )
    # ... and their data files (nbconvert's templates live in share/jupyter, beside site-packages)
    env_vars = {**os.environ, "JUPYTER_PATH": str(Path(sys.prefix) / "share" / "jupyter")}
    run = {"cwd": tmp_path, "capture_output": True, "text": True, "env": env_vars}  # outside the clone
    where = subprocess.run(
        [
            str(python),
            "-c",
            "import evalkit, evalkit.render as r; print(evalkit.__file__); print(r.REPORT_NOTEBOOK.is_file())",
        ],
        **run,
    ).stdout.split()
    assert Path(where[0]).is_relative_to(site) and where[1] == "True", where
    evalkit = str(env / "bin" / "evalkit")
    made = subprocess.run([evalkit, "synth", "--out", "data", "--sites", "1", "--seed", "2"], **run)
    assert made.returncode == 0, made.stdout + made.stderr
    shown = subprocess.run(
        [str(env / "bin" / "evalkit"), "render", "--data", "data", "--out", "out", "--lang", "en"], **run
    )
    assert shown.returncode == 0, shown.stdout + shown.stderr  # once: exit 2, "report notebook ... is missing"
    assert len(list((tmp_path / "out").glob("*/report.html"))) == 1 and (tmp_path / "out" / "index.html").is_file()
