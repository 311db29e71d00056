"""The API reference builds from the docstrings without warnings, one page per public module."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import warnings
from pathlib import Path

import pytest


ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "docs" / "build.py"
#: the modules a reader of the reference must find (the public contract and the report layer)
REQUIRED = (
    "effects",
    "survival",
    "rates",
    "trends",
    "meta",
    "design",
    "schemas",
    "validation",
    "synth",
    "site",
    "plots",
    "i18n",
    "disclosure",
    "config",
    "render",
    "report",
)


def _build_module():
    spec = importlib.util.spec_from_file_location("evalkit_docs_build", BUILD)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    # a fresh interpreter, as the documented command runs: pdoc's renderer keeps global state
    out = tmp_path_factory.mktemp("docs")
    proc = subprocess.run(
        [sys.executable, str(BUILD), "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    return proc, out


@pytest.mark.slow
def test_build_has_no_warnings(built):
    proc, out = built
    assert proc.returncode == 0, proc.stderr
    assert "warning" not in proc.stderr.lower(), proc.stderr
    assert (out / "index.html").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("name", REQUIRED)
def test_every_public_module_has_a_page(built, name):
    module = importlib.import_module(f"evalkit.{name}")
    page = built[1] / (module.__name__.replace(".", "/") + ".html")  # evalkit.survival: evalkit/stats/survival.html
    assert page.is_file(), f"no page for evalkit.{name}"
    text = page.read_text(encoding="utf-8")
    assert '<h1 class="modulename">' in text
    # every name the module exports is documented on its page (pdoc gives each an anchor)
    exported = module.__all__
    assert [n for n in exported if f'id="{n}"' not in text] == []


@pytest.mark.slow
def test_landing_page_names_the_three_user_paths_and_links_modules(built):
    text = (built[1] / "index.html").read_text(encoding="utf-8")
    for path in ("Researchers, in JupyterLab", "Evaluators, batch-rendering", "Students, with exercises"):
        assert path in text
    assert 'href="evalkit/stats/survival.html"' in text
    assert 'http-equiv="refresh"' not in text  # the landing page, not pdoc's redirect


@pytest.mark.slow
def test_columns_do_not_borrow_pandera_docstrings(built):
    # pandera's Field class docstring would otherwise stand under every column of every table
    text = (built[1] / "evalkit" / "data" / "schemas.html").read_text(encoding="utf-8")
    assert 'id="Cases.case_id"' in text
    assert "Captures extra information about a field" not in text


def test_every_public_source_file_is_documented():
    pkg = ROOT / "src" / "evalkit"
    found = set()
    for p in pkg.rglob("*.py"):
        parts = p.relative_to(pkg).with_suffix("").parts
        if "templates" in parts or any(part.startswith("_") and part != "__init__" for part in parts):
            continue
        found.add(".".join(("evalkit", *(part for part in parts if part != "__init__"))))
    assert set(_build_module().public_modules()) == found
    import evalkit

    assert set(REQUIRED) <= set(evalkit.SHORT_NAMES) | {"synth", "site", "report", "render", "cli", "exercises"}


def test_a_warning_fails_the_build(tmp_path, monkeypatch, capsys):
    build = _build_module()

    def warn_instead(*modules, output_directory):
        warnings.warn("Error parsing docstring of evalkit.x", UserWarning)

    monkeypatch.setattr(build.pdoc, "pdoc", warn_instead)
    assert build.main(["--out", str(tmp_path)]) == 1
    assert "Error parsing docstring of evalkit.x" in capsys.readouterr().err


def test_the_contract_in_docs_api_md_is_what_the_code_says():
    # a renamed argument, a new function or a removed one must be reviewed in docs/API.md, not discovered later
    import importlib.util

    spec = importlib.util.spec_from_file_location("api_md", ROOT / "docs" / "api_md.py")
    api_md = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(api_md)
    text = (ROOT / "docs" / "API.md").read_text(encoding="utf-8")
    assert api_md.reference() in text, "docs/API.md is out of date: run python docs/api_md.py and review the diff"
    assert "/work/" not in text and str(ROOT) not in text  # no machine's path in the contract


def test_nothing_in_the_repository_points_outside_it():
    # the next maintainers have the repository only: no ../shared, no absolute path of this machine
    import subprocess

    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    pointing = [
        f
        for f in files
        if (ROOT / f).is_file()
        and not f.endswith((".png", ".csv", ".ipynb", ".pdf"))
        and f != "tests/test_docs.py"  # this test names what it looks for
        and any(
            s in (ROOT / f).read_text(encoding="utf-8", errors="ignore")
            for s in ("../shared", "/work/shared", "shared/reference", "shared/spec")
        )
    ]
    assert pointing == []
