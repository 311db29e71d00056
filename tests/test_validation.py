"""Tests of evalkit.validation: every bad row quarantined, counts reconcile, no code leaks."""

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from conftest import tiny_tables, write_tiny
from evalkit.cli import app
from evalkit.idcode import generate_codes
from evalkit.schemas import TABLES
from evalkit.cli._validate import cli_validate
from evalkit.validation import MASK, validate

CODE = generate_codes(1, seed=42)[0]


def _run(folder, tmp_path):
    """Run the CLI; return exit code, all output text, report dict, quarantine files."""
    q, rep = tmp_path / "q", tmp_path / "report.json"
    res = CliRunner().invoke(app, ["validate", str(folder), "--quarantine", str(q), "--report", str(rep)])
    report = json.loads(rep.read_text()) if rep.exists() else None
    files = {p.stem: pd.read_csv(p, dtype=str) for p in q.glob("*.csv")} if q.exists() else {}
    return res.exit_code, res.output, report, files


def _reconciles(report):
    for name, c in report["tables"].items():
        assert c["rows_in"] == c["valid"] + c["quarantined"], name


def _failure(report, table, rule):
    return [f for f in report["failures"] if f["table"] == table and f["rule"] == rule]


def test_valid_dataset_exits_0(tiny_dir, tmp_path):
    code, out, report, files = _run(tiny_dir, tmp_path)
    assert code == 0, out
    assert report["failures"] == [] and files == {}
    assert report["tables"]["cases"] == {"rows_in": 6, "valid": 6, "quarantined": 0}


def test_corruptions_are_quarantined_with_original_row_numbers(tmp_path):
    tables, meta = tiny_tables()
    cases = tables["cases"]
    cases.loc[1, "closed"] = pd.Timestamp("2018-01-01")  # row 2: closed before opened
    cases.loc[4, "team_id"] = "T99"  # row 5: unknown team
    cases.loc[5, "child_id"] = CODE  # row 6: identity code
    tables["cases"] = pd.concat([cases, cases.iloc[[2]]], ignore_index=True)  # row 7 repeats C3
    tables["staff"].loc[2, "fte"] = 1.5  # row 3: fte > 1
    folder = write_tiny(tmp_path / "bad", tables=tables, meta=meta)
    code, out, report, files = _run(folder, tmp_path)
    assert code == 1
    _reconciles(report)
    assert _failure(report, "cases", "closed_before_opened")[0]["rows"] == [2]
    assert _failure(report, "cases", "unknown_team")[0]["rows"] == [5]
    ident = _failure(report, "cases", "identity_code")[0]
    assert (ident["column"], ident["rows"], ident["count"]) == ("child_id", [6], 1)
    assert _failure(report, "cases", "duplicate")[0]["rows"] == [3, 7]  # both copies
    assert _failure(report, "staff", "range")[0]["rows"] == [3]
    assert report["tables"]["cases"] == {"rows_in": 7, "valid": 2, "quarantined": 5}
    # cascade: rows pointing at quarantined cases (C2, C3, C5, C6) or worker W3
    assert _failure(report, "placements", "unknown_case")[0]["rows"] == [1, 2]
    assert _failure(report, "contacts", "unknown_case")[0]["rows"] == [3, 4]
    assert _failure(report, "time_use", "unknown_worker")[0]["rows"] == [4]
    assert sorted(files["cases"]["row_number"].astype(int)) == [2, 3, 5, 6, 7]
    assert "closed:closed_before_opened" in files["cases"].set_index("row_number").loc["2", "broken_rules"]
    # the code appears nowhere: not in output, report, quarantine files
    assert CODE not in out and CODE not in json.dumps(report)
    assert all(CODE not in f.to_csv() for f in files.values())
    row6 = files["cases"].set_index("row_number").loc["6"]
    assert row6["child_id"] == MASK and "child_id:identity_code" in row6["broken_rules"]


def test_cascade_uses_valid_parents_only(tiny):
    tables, meta = tiny
    tables["teams"].loc[0, "arm"] = "pilot_team"  # T1 invalid
    ds = validate(tables, meta)
    cases = ds.report.counts["cases"]
    assert cases == {"rows_in": 6, "valid": 4, "quarantined": 2}  # C1, C2 belong to T1
    contact_fail = [f for f in ds.report.failures if f.table == "contacts"][0]
    assert (contact_fail.rule, contact_fail.rows.tolist()) == ("unknown_case", [1, 2, 3])
    assert list(ds.tables["cases"].index) == [3, 4, 5, 6]  # original row numbers kept


@pytest.mark.parametrize(
    "table, column, value, rule",
    [
        ("cases", "age_at_opening", 18, "range"),
        ("cases", "age_at_opening", "seven", "type"),
        ("cases", "sex", "female", "allowed_values"),
        ("cases", "opened", "2018-02-30", "type"),
        ("cases", "opened", "2020-06-01", "after_extracted_on"),
        ("cases", "legal_basis", None, "missing"),
        ("teams", "model_start", None, "model_start_iff_pilot"),
        ("services", "month", "2018-13", "format"),
        ("services", "cost_eur", -5, "range"),
        ("surveys", "score", 6, "range"),
        ("surveys", "wave", 0, "range"),
        ("time_use", "hours", -1, "range"),
        ("staff", "fte", 0, "range"),
        ("absences", "start", "2016-12-01", "outside_employment"),
        ("absences", "start", "2020-01-05", "after_extracted_on"),
        ("contacts", "date", "2018-01-01", "before_case_opened"),
        ("placements", "date", "2019-01-02", "after_case_closed"),
        ("services", "team_id", "T3", "team_not_in_site"),
    ],
)
def test_each_rule(tiny, table, column, value, rule):
    tables, meta = tiny
    df = tables[table]
    df[column] = df[column].astype(object)
    df.loc[0, column] = value
    ds = validate(tables, meta)
    found = {(f.table, f.column, f.rule): f.rows.tolist() for f in ds.report.failures}
    assert found.get((table, column, rule)) == [1], found


def test_end_reason_iff_closed(tiny):
    tables, meta = tiny
    tables["cases"].loc[1, "end_reason"] = "no_need"  # open case with an end reason
    tables["cases"].loc[0, "end_reason"] = None  # closed case without one
    ds = validate(tables, meta)
    [fail] = [f for f in ds.report.failures if f.table == "cases"]
    assert (fail.column, fail.rule, fail.rows.tolist()) == ("end_reason", "end_reason_iff_closed", [1, 2])


def test_identity_code_in_an_extra_column_and_table(tiny):
    tables, meta = tiny
    tables["contacts"]["note"] = ["ok", f"asked about {CODE}", "ok", "ok"]
    tables["extra_notes"] = pd.DataFrame({"text": ["fine", CODE]})
    ds = validate(tables, meta)
    assert ds.report.counts["contacts"]["quarantined"] == 1
    assert ds.report.counts["extra_notes"] == {"rows_in": 2, "valid": 1, "quarantined": 1}
    assert ds.quarantine["contacts"]["note"].tolist() == [MASK]
    assert CODE not in ds.report.to_json() and CODE not in repr(ds) and CODE not in ds._repr_html_()


def test_missing_required_column_and_table_exit_2(tmp_path, capsys):
    tables, meta = tiny_tables()
    tables["cases"] = tables["cases"].drop(columns="opened")
    folder = write_tiny(tmp_path / "a", tables=tables, meta=meta)
    assert cli_validate(folder) == 2
    err = capsys.readouterr().err
    assert "cases.csv" in err and "opened" in err and "Traceback" not in err
    (folder / "cases.csv").unlink()
    assert cli_validate(folder) == 2
    assert "required table cases is missing" in capsys.readouterr().err.replace("\n", " ")


def test_optional_table_missing_is_empty(tiny_dir):
    (tiny_dir / "time_use.csv").unlink()
    ds = validate(tiny_dir)
    assert ds.report.exit_code == 0 and ds.report.counts["time_use"]["rows_in"] == 0


def test_unreadable_file_and_manifest_exit_2(tiny_dir, tmp_path, capsys):
    (tiny_dir / "staff.csv").unlink()
    (tiny_dir / "staff.xlsx").write_bytes(b"\x00\x01 not a spreadsheet")
    code, out, report, _ = _run(tiny_dir, tmp_path)
    assert code == 2 and "staff.xlsx" in out and "cannot be read" in out and report is None
    (tiny_dir / "dataset.yaml").unlink()
    assert cli_validate(tiny_dir) == 2
    assert "dataset.yaml" in capsys.readouterr().err


def test_table_in_two_formats_exit_2(tiny_dir, capsys):
    tables, _ = tiny_tables()
    tables["sites"].to_parquet(tiny_dir / "sites.parquet")
    assert cli_validate(tiny_dir) == 2
    assert "sites" in capsys.readouterr().err


def test_unexpected_error_is_exit_2_without_traceback(tiny_dir, monkeypatch, capsys):
    import evalkit.validation as v

    monkeypatch.setattr(v, "cross_table", lambda *a: 1 / 0)
    assert cli_validate(tiny_dir) == 2
    assert "ZeroDivisionError" in capsys.readouterr().err


def test_repr_html_is_readable(tiny):
    tables, meta = tiny
    tables["cases"].loc[0, "sex"] = "x"
    ds = validate(tables, meta)
    page = ds._repr_html_()
    assert "<table" in page and "allowed_values" in page and "tiny" in page


# --- property test: random corruption never crashes and always reconciles ---------
_JUNK = st.one_of(
    st.none(),
    st.text(max_size=12),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.just(CODE),
    st.sampled_from(["2019-02-29", "2018-06-01", "T1", "S1", "C1", "W1", "pilot", "2018-13"]),
)


@pytest.mark.slow
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_random_corruption_never_crashes_and_reconciles(data):
    tables, meta = tiny_tables()
    for _ in range(data.draw(st.integers(1, 6))):
        name = data.draw(st.sampled_from(TABLES))
        df = tables[name]
        col = data.draw(st.sampled_from(list(df.columns)))
        row = data.draw(st.integers(0, len(df) - 1))
        df[col] = df[col].astype(object)
        df.loc[row, col] = data.draw(_JUNK)
    ds = validate(tables, meta)
    for name, c in ds.report.counts.items():
        assert c["rows_in"] == c["valid"] + c["quarantined"] == len(tables[name])
        assert len(ds.tables[name]) == c["valid"] and len(ds.quarantine[name]) == c["quarantined"]
    assert CODE not in ds.report.to_json()
    assert all(CODE not in q.to_csv() for q in ds.quarantine.values())
    bad_rows = {(f.table, int(r)) for f in ds.report.failures for r in f.rows}
    assert bad_rows == {(t, int(r)) for t, q in ds.quarantine.items() for r in q["row_number"]}


def test_survey_triple_is_a_key(tiny):
    tables, meta = tiny
    tables["surveys"] = pd.concat([tables["surveys"], tables["surveys"].iloc[[0]]], ignore_index=True)
    tables["cases"].loc[0, "end_reason"] = None  # a second whole-row rule failing at once
    ds = validate(tables, meta)
    found = {(f.table, f.column, f.rule): f.rows.tolist() for f in ds.report.failures}
    assert found[("surveys", "respondent_id+wave+scale", "duplicate")] == [1, 5]
    assert found[("cases", "end_reason", "end_reason_iff_closed")] == [1]


def test_checks_on_distinct_values_report_the_rows_pandera_reports_on_the_whole_frame():
    # Column checks run once per distinct value and are taken back to the rows; every
    # row must be reported exactly as pandera reports it on the whole frame.
    import pandera.pandas as pandera

    from evalkit import schemas
    from evalkit.data.rules import coerce, distinct
    from evalkit.validation import _pandera_cases, _pandera_failures

    rng = np.random.default_rng(3)
    n = 3000
    raw = pd.DataFrame(
        {
            "case_id": rng.choice(["C1", "C2", "C3", None], n, p=[0.4, 0.3, 0.29, 0.01]),
            "date": rng.choice(["2020-01-05", "2020-02-30", "2031-01-01", "2020-03-01", None], n),
            "kind": rng.choice(["phone", "face_to_face", "e-mail", None], n),
            "minutes": rng.choice(["5", "-3", "x", "12.5", None], n),
        },
        index=pd.RangeIndex(1, n + 1, name="row"),
    ).astype(object)
    day = pd.Timestamp("2024-12-31")
    typed, type_fails = coerce(raw, "contacts", distinct(raw))
    typed_plain, type_fails_plain = coerce(raw, "contacts")
    pd.testing.assert_frame_equal(typed, typed_plain)
    assert [(c, r, list(x)) for c, r, x in type_fails] == [(c, r, list(x)) for c, r, x in type_fails_plain]
    fast = _pandera_failures("contacts", _pandera_cases("contacts", typed, distinct(raw), day), type_fails)
    with pytest.raises(pandera.errors.SchemaErrors) as caught:
        schemas.build("contacts", day, precoerced=True).validate(typed, lazy=True)
    whole = _pandera_failures("contacts", caught.value.failure_cases, type_fails)
    as_sets = lambda fails: {(c, r): sorted(map(int, rows)) for c, r, rows in fails}  # noqa: E731
    assert as_sets(fast) == as_sets(whole)
    assert {r for _, r in as_sets(fast)} >= {"missing", "allowed_values", "range", "after_extracted_on"}
