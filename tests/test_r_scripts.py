"""The R scripts in tests/r/ keep up with the references the tests cite (no R needed here).

Each script names the tests whose values it regenerates (``tests/test_x.py::name``), reads only
CSVs that exist, and covers the R functions docs/REFERENCES.md names; every test with an
``# R:`` comment is named by a script or listed in tests/r/README.md.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
R_DIR = ROOT / "tests" / "r"
SCRIPTS = sorted(R_DIR.glob("*.R"))
README = R_DIR / "README.md"
REFERENCES = ROOT / "docs" / "REFERENCES.md"

TEST_REF = re.compile(r"\b(tests/test_\w+\.py)::(\w+)")
CSV_READ = re.compile(r'file\.path\(\s*root\s*,\s*"src/evalkit/datasets"\s*,\s*"([^"]+)"\s*\)')
R_COMMENT = re.compile(r"#\s*R(?::| \()")
STATA_COMMENT = re.compile(r"#\s*Stata:")
CALL = re.compile(r"([A-Za-z][\w.]*)\s*\(")
NAME = re.compile(r"^[A-Za-z][\w.]*$")


def _defs(path: Path) -> set[str]:
    return set(re.findall(r"^\s*def (\w+)\(", path.read_text(), flags=re.M))


def _named_in(text: str) -> set[tuple[str, str]]:
    return set(TEST_REF.findall(text))


def test_there_are_scripts_and_a_readme():
    assert len(SCRIPTS) >= 5 and README.is_file()
    for script in SCRIPTS:
        assert script.name in README.read_text(), f"{script.name} is not described in tests/r/README.md"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_names_existing_test_functions(script):
    text = script.read_text()
    named = _named_in(text)
    assert named, f"{script.name} names no test function (tests/test_x.py::name)"
    for file, func in named:
        assert (ROOT / file).is_file(), f"{script.name}: {file} does not exist"
        assert func in _defs(ROOT / file), f"{script.name}: no def {func} in {file}"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_reads_only_csvs_that_exist(script):
    text = script.read_text()
    for name in CSV_READ.findall(text):
        assert name.endswith(".csv")
        here = [ROOT / "tests" / "data" / name, ROOT / "src" / "evalkit" / "datasets" / name]
        assert any(p.is_file() for p in here), f"{script.name} reads {name}, found in neither data folder"
    # a CSV read any other way would escape the check above
    for line in text.splitlines():
        if "read.csv(" in line:
            assert CSV_READ.search(line), f"{script.name}: read.csv without file.path(root, ...): {line.strip()}"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_loads_its_packages_first_and_prints_enough_digits(script):
    lines = [ln for ln in script.read_text().splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    assert lines and lines[0].startswith("library("), f"{script.name}: library() calls come first"
    assert "options(digits = 10)" in lines


def _reference_rows() -> list[dict[str, str]]:
    rows, header = [], None
    for line in REFERENCES.read_text().splitlines():
        if not line.startswith("|") or set(line) <= set("|- "):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if header is None:
            header = cells
        else:
            rows.append(dict(zip(header, cells)))
    return rows


def test_references_table_has_an_r_script_column():
    rows = _reference_rows()
    assert len(rows) >= 20 and all("R script" in r for r in rows)


@pytest.mark.parametrize("row", _reference_rows(), ids=lambda r: r["method"])
def test_every_r_function_in_references_is_in_its_script(row):
    cell = row["R script"]
    scripts = re.findall(r"`tests/r/(\w+\.R)`", cell)
    if not scripts:
        assert cell.startswith("not from R"), f"{row['method']}: name a tests/r script or say 'not from R'"
        return
    assert all((R_DIR / s).is_file() for s in scripts), scripts
    # the code only, not the comments: a function named in a comment is not a call
    code = "\n".join(ln.split("#", 1)[0] for s in scripts for ln in (R_DIR / s).read_text().splitlines())
    words = set(re.findall(r"[A-Za-z][\w.]*", code))
    for span in re.findall(r"`\??([^`]+)`", row["published output"]):
        names = set(CALL.findall(span)) | ({span.split("::")[-1]} if NAME.match(span.split("::")[-1]) else set())
        for name in names:
            assert name.split("::")[-1] in words, f"{row['method']}: {name} (from `{span}`) not in {scripts}"


def _tests_with_comment(pattern: re.Pattern) -> set[tuple[str, str]]:
    """(file, function) for every function carrying a comment that matches pattern (top-level
    comments belong to the next function, as the tests place them above the constants they use)."""
    found = set()
    for path in sorted((ROOT / "tests").glob("test_*.py")):
        if path.name == Path(__file__).name:
            continue
        rel, current, pending = f"tests/{path.name}", None, False
        for line in path.read_text().splitlines():
            top = re.match(r"def (\w+)\(", line)
            if line.startswith("@"):  # a decorator's comments belong to the function it decorates
                current = None
            elif top:
                current = top.group(1)
                if pending:
                    found.add((rel, current))
                    pending = False
            elif pattern.search(line):
                if line.startswith("#") or current is None:
                    pending = True
                else:
                    found.add((rel, current))
    return found


def test_every_r_comment_in_the_tests_is_covered():
    cited = _tests_with_comment(R_COMMENT)
    assert ("tests/test_survival.py", "test_cox_rossi") in cited  # the scan itself works
    covered = set().union(*(_named_in(s.read_text()) for s in SCRIPTS), _named_in(README.read_text()))
    missing = sorted(f"{f}::{n}" for f, n in cited - covered)
    assert not missing, f"tests with an '# R:' comment named by no tests/r script nor its README: {missing}"


def test_every_stata_reference_is_listed_as_not_from_r():
    cited = _tests_with_comment(STATA_COMMENT)
    assert cited, "the scan found no '# Stata:' comment"
    listed = _named_in(README.read_text().split("## Not from R", 1)[1])
    missing = sorted(f"{f}::{n}" for f, n in cited - listed)
    assert not missing, f"tests citing Stata, not under 'Not from R' in tests/r/README.md: {missing}"


def test_readme_names_only_existing_tests():
    for file, func in _named_in(README.read_text()):
        assert func in _defs(ROOT / file), f"tests/r/README.md: no def {func} in {file}"
