"""Hostile and broken inputs (issue 8): the readers and the validator never crash.

Hypothesis corrupts the files of the tiny dataset (``conftest.tiny_tables``)
byte by byte (truncation, flipped, inserted and deleted bytes) in CSV,
Parquet and Excel, and plants hostile cell values (formulas, very long
strings, huge numbers, impossible dates, Finnish number and date formats).
``evalkit validate`` must then exit 0, 1 or 2 with its own message (never a
traceback nor its "unexpected error" fallback), and whenever it reads the
data every row must be accounted for: ``rows_in = valid + quarantined``, and
the quarantine files hold exactly the rows the report names. Cell-level
corruption of in-memory tables is covered by test_validation.py; params
files by test_config.py (unsafe YAML) and the tests at the end of this file
(paths, duplicated keys). Example counts are kept small: the whole module
runs in well under a minute on two cores.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from conftest import tiny_tables, write_tiny
from evalkit.cli import app
from evalkit.config import ParamsError, SiteConfig, load_params
from evalkit.io import DatasetError, read_dataset, read_table
from evalkit.schemas import TABLES

FUZZ = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
)
FORMULAS = [
    "=cmd|' /C calc'!A0",
    '=HYPERLINK("http://x.invalid","klikkaa")',
    "+1+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
]
runner = CliRunner()


def _validate(folder: Path) -> tuple[int, str, dict | None, dict[str, pd.DataFrame]]:
    """``evalkit validate`` as a user runs it: exit code, terminal text, report, quarantine files."""
    q, rep = folder.parent / "quarantine", folder.parent / "report.json"
    res = runner.invoke(app, ["validate", str(folder), "--quarantine", str(q), "--report", str(rep)])
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    report = json.loads(rep.read_text(encoding="utf-8")) if rep.exists() else None
    files = {p.stem: pd.read_csv(p, dtype=str, keep_default_na=False) for p in q.glob("*.csv")} if q.exists() else {}
    return res.exit_code, res.output, report, files


def _clean_exit(code: int, output: str, report: dict | None, files: dict[str, pd.DataFrame]) -> None:
    """Exit 0/1/2 with evalkit's own words; when the data were read, every row is accounted for."""
    assert code in (0, 1, 2), output
    assert "Traceback" not in output and "unexpected" not in output, output
    if code == 2:
        assert "cannot read the dataset" in output and report is None
        return
    for name, c in report["tables"].items():
        assert c["rows_in"] == c["valid"] + c["quarantined"], name
        assert len(files.get(name, ())) == c["quarantined"], name
    named = {(f["table"], r) for f in report["failures"] for r in f["rows"]}
    kept = {(t, int(r)) for t, df in files.items() for r in df["row_number"]}
    assert named == kept
    assert (code == 1) == bool(report["failures"])


# ------------------------------------------------------------------ corrupted files
_MUTATIONS = st.sampled_from(["truncate", "flip", "insert", "delete", "empty"])


@FUZZ
@given(
    fmt=st.sampled_from(["csv", "parquet", "xlsx"]),
    table=st.sampled_from(TABLES),
    kind=_MUTATIONS,
    where=st.floats(0, 1),
    junk=st.binary(min_size=1, max_size=8),
)
def test_a_corrupted_table_file_exits_cleanly_and_counts_reconcile(fmt, table, kind, where, junk):
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_tiny(Path(tmp) / "data", fmt)
        path = folder / f"{table}.{fmt}"
        body = path.read_bytes()
        at = int(where * (len(body) - 1))
        path.write_bytes(
            {
                "truncate": body[:at],
                "flip": body[:at] + bytes([body[at] ^ junk[0]]) + body[at + 1 :],
                "insert": body[:at] + junk + body[at:],
                "delete": body[:at] + body[at + len(junk) :],
                "empty": b"",
            }[kind]
        )
        code, output, report, files = _validate(folder)
        _clean_exit(code, output, report, files)
        if code == 2:
            assert f"{table}.{fmt}" in output.replace("\n", "")  # the message names the file


# ------------------------------------------------------------------ hostile cell values
_NUMBERS = st.one_of(
    st.integers(-(10**40), 10**40).map(str),
    st.sampled_from(["1e400", "-1e309", "NaN", "inf", "-0", "0x1F", "1 000", "1,5", "١٢", "9" * 400]),
)
_DATES = st.sampled_from(
    [
        "31.2.2019",
        "2019-02-31",
        "29.02.2019",
        "0000-00-00",
        "9999-12-31",
        "2019-1-1",
        "1.1.2019",
        "20190101",
        "2019-01-01T25:00",
        "1900-01-00",
    ]
)
_TEXT = st.one_of(
    st.sampled_from(FORMULAS), st.text(min_size=1, max_size=30), st.integers(10**4, 10**6).map(lambda n: "x" * n)
)
_HOSTILE = st.one_of(_NUMBERS, _DATES, _TEXT)


def _printable(value: str) -> bool:
    # what any spreadsheet can hold: Excel files cannot carry control characters at all
    return all(ch >= " " or ch in "\t\n" for ch in value)


@FUZZ
@given(data=st.data(), fmt=st.sampled_from(["csv", "parquet", "xlsx"]))
def test_hostile_cell_values_are_quarantined_never_a_crash(data, fmt):
    tables, meta = tiny_tables()
    for _ in range(data.draw(st.integers(1, 3))):
        name = data.draw(st.sampled_from(TABLES))
        df = tables[name]
        col = data.draw(st.sampled_from(list(df.columns)))
        value = data.draw(_HOSTILE.filter(_printable))
        df[col] = df[col].astype(object)
        df.loc[data.draw(st.integers(0, len(df) - 1)), col] = value
        if fmt == "parquet":  # a Parquet column has one type: the text column an export would hold
            df[col] = df[col].where(df[col].isna(), df[col].astype(str))
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_tiny(Path(tmp) / "data", fmt, tables=tables, meta=meta)
        code, output, report, files = _validate(folder)
        _clean_exit(code, output, report, files)
        assert code in (0, 1), output  # a well-formed file is always read
        for name, df in tables.items():  # no row lost or invented by any reader
            assert report["tables"][name]["rows_in"] == len(df), name


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_formula_in_an_optional_excel_or_csv_cell_is_never_silently_emptied(tmp_path, fmt):
    # services.team_id may be empty: a formula cell read as empty would pass as valid
    tables, meta = tiny_tables()
    tables["services"].loc[0, "team_id"] = FORMULAS[0]
    code, output, report, files = _validate(write_tiny(tmp_path / "data", fmt, tables=tables, meta=meta))
    _clean_exit(code, output, report, files)
    assert code == 1 and [f["rule"] for f in report["failures"] if f["table"] == "services"] == ["unknown_team"]


def test_no_formula_reaches_a_quarantine_file_unescaped(tmp_path):
    tables, meta = tiny_tables()
    for i, formula in enumerate(FORMULAS):  # sex only allows F, M, unknown: each row is quarantined
        tables["cases"].loc[i, "sex"] = formula
    code, output, report, files = _validate(write_tiny(tmp_path / "data", "csv", tables=tables, meta=meta))
    assert code == 1
    cells = [str(v) for df in files.values() for v in df.to_numpy().ravel()]
    assert not [v for v in cells if v[:1] in ("=", "+", "-", "@", "\t", "\r")]


# ------------------------------------------------------------------ encodings and locales
def _recode(folder: Path, table: str, how: str) -> None:
    path = folder / f"{table}.csv"
    text = path.read_text(encoding="utf-8")
    if how == "bom":
        path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    elif how == "crlf":
        path.write_bytes(text.replace("\n", "\r\n").encode("utf-8"))
    elif how == "latin-1":
        path.write_bytes(text.encode("latin-1"))
    elif how == "semicolon":  # a Finnish-locale spreadsheet export: ; between cells, , in numbers
        path.write_text(text.replace(",", ";").replace("0.8", "0,8").replace("0.5", "0,5"), encoding="utf-8")


@pytest.mark.parametrize(
    "how, table, expected",
    [
        ("bom", "cases", 0),
        ("bom", "sites", 0),
        ("crlf", "staff", 0),
        ("latin-1", "sites", 2),  # Siilinjärvi: the message names the file and the encoding
        ("semicolon", "staff", 1),  # read, the decimal commas set aside as type failures
        ("semicolon", "cases", 0),  # no number with a decimal part: read as it is
    ],
)
def test_encodings_and_finnish_spreadsheet_exports(tmp_path, how, table, expected):
    folder = write_tiny(tmp_path / "data")
    _recode(folder, table, how)
    code, output, report, files = _validate(folder)
    _clean_exit(code, output, report, files)
    assert code == expected, output
    if how == "latin-1":
        assert "sites.csv" in output and "utf-8" in output
    if how == "semicolon" and table == "staff":
        assert [(f["column"], f["rule"], f["rows"]) for f in report["failures"] if f["table"] == "staff"] == [
            ("fte", "type", [2, 3])
        ]
    if code == 0:
        assert read_table(folder / f"{table}.csv").columns.tolist() == list(tiny_tables()[0][table].columns)


@pytest.mark.parametrize(
    "value, rule",
    [
        ("31.2.2019", "type"),
        ("2019-02-31", "type"),
        ("1" + "0" * 400, "type"),
        ("1e400", "type"),
        ("x" * 1_000_000, "type"),
    ],
)
def test_impossible_dates_and_numbers_are_type_failures(tmp_path, value, rule):
    tables, meta = tiny_tables()
    col = "opened" if value[0] in "32" else "age_at_opening"
    tables["cases"][col] = tables["cases"][col].astype(object)
    tables["cases"].loc[2, col] = value
    code, output, report, files = _validate(write_tiny(tmp_path / "data", tables=tables, meta=meta))
    _clean_exit(code, output, report, files)
    assert [(f["column"], f["rule"], f["rows"]) for f in report["failures"] if f["table"] == "cases"] == [
        (col, rule, [3])
    ]


# ------------------------------------------------------------------ duplicated keys
def test_duplicated_rows_columns_and_manifest_keys(tmp_path):
    tables, meta = tiny_tables()
    tables["sites"] = pd.concat([tables["sites"], tables["sites"].iloc[[0]]], ignore_index=True)
    code, output, report, files = _validate(write_tiny(tmp_path / "rows" / "data", tables=tables, meta=meta))
    _clean_exit(code, output, report, files)
    assert [(f["table"], f["rule"], f["rows"]) for f in report["failures"]][:1] == [("sites", "duplicate", [1, 3])]
    folder = write_tiny(tmp_path / "cols" / "data")
    path = folder / "teams.csv"
    path.write_text(path.read_text().replace("arm", "team_id", 1))
    code, output, report, files = _validate(folder)
    _clean_exit(code, output, report, files)
    assert code == 2 and "more than once" in output
    folder = write_tiny(tmp_path / "yaml" / "data")
    (folder / "dataset.yaml").write_text("name: a\nextracted_on: 2019-12-31\nextracted_on: 2030-01-01\n")
    with pytest.raises(DatasetError, match="key 'extracted_on' appears twice"):
        read_dataset(folder)


# ------------------------------------------------------------------ params cannot name paths
@pytest.mark.parametrize(
    "site",
    [
        "../../etc",
        "..",
        ".",
        "/etc/passwd",
        "a/b",
        "kuopio/../../x",
        "kuopio\n",
        "kuopio\x00",
        "~root",
        "Kuopio",
        "",
        "kuo pio",
        "%2e%2e",
        "..\\x",
        "kuopio.yaml",
    ],
)
def test_a_site_id_can_never_be_a_path(tmp_path, site):
    path = tmp_path / "p.yaml"
    path.write_text(json.dumps({"site": site}))  # JSON is YAML: every character arrives as written
    with pytest.raises(ParamsError, match="key 'site'"):
        load_params(path)


@pytest.mark.parametrize("key", ["data_dir", "out_dir", "params_file", "notebook", "output", "config_json"])
def test_params_have_no_path_keys(tmp_path, key):
    path = tmp_path / "p.yaml"
    path.write_text(f"site: kuopio\n{key}: ../../etc\n")
    with pytest.raises(ParamsError, match=f"unknown key '{key}'"):
        load_params(path)


def test_a_key_given_twice_in_params_is_refused(tmp_path):
    path = tmp_path / "kuopio.yaml"
    path.write_text("site: kuopio\ndisclosure_threshold: 10\ndisclosure_threshold: 2\n")
    with pytest.raises(ParamsError, match="key 'disclosure_threshold' appears twice"):
        load_params(path)
    assert SiteConfig(site="kuopio").disclosure_threshold == 5
