"""evalkit.extract: raw exports read through the mapping in dataset.yaml, byte-identical on disk.

The tiny dataset (``conftest.tiny_tables``) is written the way a Finnish
client system and a payroll system export it: cases as Windows-1252,
semicolon-separated, decimal commas, dd.mm.yyyy dates, Finnish headers and
values, with a blank line; staff and the other tables as one workbook with a
sheet per table. With the mapping it validates with exit 0 and the same rows
as the original.
"""

from __future__ import annotations

import hashlib
import json

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from conftest import tiny_tables, write_tiny
from evalkit.cli import app
from evalkit.extract import table_maps
from evalkit.io import DatasetError, read_dataset
from evalkit.validation import validate

FI_CASES = {
    "case_id": "Asiakkuus",
    "child_id": "Lapsi",
    "team_id": "Tiimi",
    "opened": "Alkupvm",
    "closed": "Loppupvm",
    "end_reason": "Päättymisen syy",
    "legal_basis": "Peruste",
    "age_at_opening": "Ikä",
    "sex": "Sukupuoli",
}
FI_REASONS = {"no_need": "ei tarvetta", "placement": "sijoitus", "moved": "muutto"}
FI_STAFF = {
    "worker_id": "Työntekijä",
    "team_id": "Tiimi",
    "role": "Nimike",
    "fte": "Työaika",
    "start": "Alku",
    "end": "Loppu",
}


def _finnish_export(folder):
    """The tiny dataset as a client system exports it, and the mapping a user writes beside it."""
    tables, meta = tiny_tables()
    cases = tables.pop("cases").copy()
    staff = tables.pop("staff").copy()
    write_tiny(folder, tables={k: v for k, v in tables.items() if k in ("sites", "teams")}, meta=meta)
    for name in ("sites", "teams"):
        (folder / f"{name}.csv").unlink()
    cases["end_reason"] = cases["end_reason"].map(FI_REASONS)
    for col in ("opened", "closed"):
        cases[col] = cases[col].dt.strftime("%d.%m.%Y")
    lines = cases.rename(columns=FI_CASES).to_csv(sep=";", index=False).splitlines()
    lines.insert(3, "")  # a blank line, as exports have: row numbers count it
    (folder / "asiakkuudet.csv").write_bytes(("\r\n".join(lines) + "\r\n").encode("cp1252"))
    staff["fte"] = staff["fte"].map(lambda v: f"{v:.1f}".replace(".", ","))
    for col in ("start", "end"):
        staff[col] = staff[col].dt.strftime("%d.%m.%Y")
    with pd.ExcelWriter(folder / "lastensuojelu.xlsx") as book:
        staff.rename(columns=FI_STAFF).to_excel(book, sheet_name="Henkilöstö", index=False)
        for name, df in tables.items():
            df.to_excel(book, sheet_name=name, index=False)
    mapping = {
        "cases": {
            "file": "asiakkuudet.csv",
            "encoding": "cp1252",
            "delimiter": ";",
            "date_format": "%d.%m.%Y",
            "columns": {v: k for k, v in FI_CASES.items()},
            "values": {"end_reason": {v: k for k, v in FI_REASONS.items()}},
        },
        "staff": {
            "file": "lastensuojelu.xlsx",
            "sheet": "Henkilöstö",
            "decimal": ",",
            "date_format": "%d.%m.%Y",
            "columns": {v: k for k, v in FI_STAFF.items()},
        },
        **{name: {"file": "lastensuojelu.xlsx", "sheet": name} for name in tables},
    }
    meta = {**meta, "tables": mapping}
    (folder / "dataset.yaml").write_text(yaml.safe_dump(meta, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return folder


def _digest(folder) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def _edit_export(folder, line: int, change) -> None:
    """Change one line (0 = header) of the cp1252 cases export, as a user's editor would."""
    path = folder / "asiakkuudet.csv"
    lines = path.read_bytes().decode("cp1252").split("\r\n")
    lines[line] = change(lines[line])
    path.write_bytes("\r\n".join(lines).encode("cp1252"))


def test_a_finnish_export_validates_through_its_mapping_with_the_original_rows(tmp_path):
    folder = _finnish_export(tmp_path / "raw")
    before = _digest(folder)
    out = tmp_path / "report.json"
    result = CliRunner().invoke(app, ["validate", str(folder), "--report", str(out)])
    assert result.exit_code == 0, result.output
    original = validate(write_tiny(tmp_path / "plain"))
    counts = json.loads(out.read_text(encoding="utf-8"))["tables"]
    assert {n: c["valid"] for n, c in counts.items()} == {n: c["valid"] for n, c in original.report.counts.items()}
    mapped = validate(folder)
    for name in ("cases", "staff"):
        pd.testing.assert_frame_equal(
            mapped.tables[name].reset_index(drop=True), original.tables[name].reset_index(drop=True), check_dtype=False
        )
    assert _digest(folder) == before  # raw data are never edited


def test_row_numbers_are_the_raw_files_counting_its_blank_line(tmp_path):
    folder = _finnish_export(tmp_path / "raw")
    _edit_export(folder, 5, lambda line: line.replace(";T", ";T9"))  # file line 6: a team that does not exist
    report = validate(folder).report
    rows = [f.rows for f in report.failures if f.table == "cases"]
    assert rows and rows[0][0] == 5  # data row 5 = file line 6 (header line 1, blank line 4 counted)


@pytest.mark.parametrize(
    "change, words",
    [
        ({"encoding": "utf-8"}, "encoding: cp1252"),
        ({"columns": {"Alkupvm": "opened", "Ei ole": "closed"}}, "has no column 'Ei ole'"),
        ({"columns": {"Alkupvm": "start_day"}}, "'start_day' is not a column of cases"),
        ({"file": "../elsewhere.csv"}, "without a path"),
        ({"encoding": "klingon"}, "unknown encoding"),
        ({"delimiter": ";;"}, "one character"),
        ({"sheet": "x", "file": "missing.csv"}, "is not in the dataset folder"),
        ({"oops": 1}, "oops"),
    ],
)
def test_a_mapping_problem_is_a_clear_error_naming_the_key(tmp_path, change, words):
    folder = _finnish_export(tmp_path / "raw")
    meta = yaml.safe_load((folder / "dataset.yaml").read_text(encoding="utf-8"))
    meta["tables"]["cases"].update(change)
    (folder / "dataset.yaml").write_text(yaml.safe_dump(meta, allow_unicode=True), encoding="utf-8")
    with pytest.raises(DatasetError, match=words.replace("(", r"\(")):
        read_dataset(folder)


def test_a_yaml_yes_as_a_value_key_must_be_quoted():
    with pytest.raises(ValueError, match="quote it"):
        table_maps({"tables": {"cases": {"file": "a.csv", "values": {"sex": {True: "F"}}}}})


def test_a_ragged_row_names_its_row(tmp_path):
    folder = _finnish_export(tmp_path / "raw")
    _edit_export(folder, 2, lambda line: line + ";extra")
    with pytest.raises(DatasetError, match="row 2 has 10 fields and the header 9"):
        read_dataset(folder)


def test_a_table_given_as_a_file_and_in_the_mapping_is_refused(tmp_path):
    folder = _finnish_export(tmp_path / "raw")
    tiny_tables()[0]["cases"].to_csv(folder / "cases.csv", index=False)
    with pytest.raises(DatasetError, match="cases is given twice"):
        read_dataset(folder)


def test_an_unmapped_windows_1252_csv_says_how_to_declare_it(tmp_path):
    folder = write_tiny(tmp_path / "d")
    text = (folder / "sites.csv").read_text(encoding="utf-8")
    (folder / "sites.csv").write_bytes(text.encode("cp1252"))
    with pytest.raises(DatasetError, match="encoding: cp1252"):
        read_dataset(folder)


# ---------------------------------------------------------------- evalkit inspect
def test_inspect_drafts_a_mapping_that_validates_after_two_lines_are_filled_in(tmp_path):
    folder = _finnish_export(tmp_path / "raw")
    (folder / "dataset.yaml").unlink()
    before = _digest(folder)
    runner = CliRunner()
    drafted = runner.invoke(app, ["inspect", str(folder), "--out", str(folder / "dataset.yaml")])
    assert drafted.exit_code == 0, drafted.output
    text = (folder / "dataset.yaml").read_text(encoding="utf-8")
    assert "encoding: cp1252" in text and 'delimiter: ";"' in text and 'decimal: ","' in text
    assert 'date_format: "%d.%m.%Y"' in text and '"Alkupvm": opened' in text and '"sijoitus": placement' in text
    assert runner.invoke(app, ["validate", str(folder)]).exit_code == 2  # TODO is no date: a draft cannot pass unread
    text = text.replace("name: TODO", "name: kuopio extract").replace("extracted_on: TODO", "extracted_on: 2019-12-31")
    (folder / "dataset.yaml").write_text(text, encoding="utf-8")
    out = tmp_path / "report.json"
    result = runner.invoke(app, ["validate", str(folder), "--report", str(out)])
    assert result.exit_code == 0, result.output
    original = validate(write_tiny(tmp_path / "plain")).report.counts
    counts = json.loads(out.read_text(encoding="utf-8"))["tables"]
    assert {n: c["valid"] for n, c in counts.items()} == {n: c["valid"] for n, c in original.items()}
    assert {k: v for k, v in _digest(folder).items() if k != "dataset.yaml"} == before


def test_inspect_marks_a_value_it_does_not_know_as_todo(tmp_path):
    folder = tmp_path / "raw"
    folder.mkdir()
    (folder / "tiimit.csv").write_text(
        "Tiimi;Kohde;Ryhmä;Mallin aloitus\nT1;S1;pilotti;1.1.2018\nT2;S1;kontrolli;\n", encoding="utf-8"
    )
    result = CliRunner().invoke(app, ["inspect", str(folder)])
    assert result.exit_code == 0 and '"kontrolli": TODO' in result.output and '"pilotti": pilot' in result.output


def test_inspect_never_shows_an_identity_code_and_refuses_to_overwrite(tmp_path):
    from evalkit.idcode import generate_codes

    code = generate_codes(1, seed=5)[0]
    folder = tmp_path / "raw"
    folder.mkdir()
    (folder / "tiimit.csv").write_text(f"Tiimi;Kohde;Ryhmä\nT1;S1;{code}\n", encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(app, ["inspect", str(folder)])
    assert result.exit_code == 0 and code not in result.output
    (folder / "dataset.yaml").write_text("keep me\n", encoding="utf-8")
    again = runner.invoke(app, ["inspect", str(folder), "--out", str(folder / "dataset.yaml")])
    assert again.exit_code == 2 and "--force" in again.output
    assert (folder / "dataset.yaml").read_text(encoding="utf-8") == "keep me\n"
    assert runner.invoke(app, ["inspect", str(tmp_path / "nowhere")]).exit_code == 2


def test_a_quarantined_mapped_row_keeps_its_cells_as_given_beside_the_mapped_ones(tmp_path):
    folder = _finnish_export(tmp_path / "raw")
    _edit_export(folder, 5, lambda line: line.replace(";T", ";T9"))  # data row 5: a team that does not exist
    ds = validate(folder)
    rows = ds.quarantine["cases"]
    assert rows["row_number"].tolist() == [5]
    assert rows.loc[0, "team_id"] == rows.loc[0, "as given: Tiimi"] and rows.loc[0, "team_id"].startswith("T9")
    assert rows.loc[0, "as given: Alkupvm"].count(".") == 2  # dd.mm.yyyy, as in the file


SV_CASES = {
    "case_id": "Ärende",
    "child_id": "Barn",
    "team_id": "Team",
    "opened": "Startdatum",
    "closed": "Slutdatum",
    "end_reason": "Avslutningsorsak",
    "legal_basis": "Grund",
    "age_at_opening": "Ålder",
    "sex": "Kön",
}


def test_inspect_reads_a_swedish_export_of_a_bilingual_municipality(tmp_path):
    folder = tmp_path / "raw"
    folder.mkdir()
    cases = tiny_tables()[0]["cases"]
    cases = cases.assign(
        end_reason=cases["end_reason"].map({"no_need": "inget behov", "placement": "placering", "moved": "flyttat"}),
        sex=cases["sex"].map({"F": "flicka", "M": "pojke"}),
    )
    cases.rename(columns=SV_CASES).to_csv(
        folder / "klientrelationer.csv", sep=";", index=False, date_format="%d.%m.%Y", encoding="cp1252"
    )
    draft = CliRunner().invoke(app, ["inspect", str(folder)])
    assert draft.exit_code == 0, draft.output
    text = draft.output.split("tables:")[1]
    assert text.lstrip().startswith("cases:")
    for contract, header in SV_CASES.items():
        assert f'"{header}": {contract}' in text
    assert '"inget behov": no_need' in text and '"placering": placement' in text and '"flicka": F' in text
    assert "TODO" not in text.split("values:")[1]  # every Swedish value has its contract value


def test_a_synthetic_client_system_export_validates_to_the_same_tables_after_inspect_and_two_lines(tmp_path):
    """Issue 14's acceptance path: raw exports as they come, a drafted mapping, two lines filled in."""
    runner = CliRunner()
    raw, plain = tmp_path / "raw", tmp_path / "plain"
    for out, fmt in ((raw, "export"), (plain, "csv")):
        made = runner.invoke(app, ["synth", "--out", str(out), "--sites", "1", "--seed", "4", "--format", fmt])
        assert made.exit_code == 0, made.output
    assert not (raw / "dataset.yaml").exists()
    assert (raw / "asiakkuudet.csv").read_bytes().count(b"\r\n\r\n") == 1  # cp1252, CRLF, a blank line
    before = _digest(raw)
    drafted = runner.invoke(app, ["inspect", str(raw), "--out", str(raw / "dataset.yaml")])
    assert drafted.exit_code == 0, drafted.output
    text = (raw / "dataset.yaml").read_text(encoding="utf-8")
    assert [line.split(":")[0] for line in text.splitlines() if "TODO" in line and not line.startswith("#")] == [
        "name",
        "extracted_on",
    ]  # all a user must fill in; every table, column and value was decided
    text = text.replace("name: TODO", "name: harjoitus").replace("extracted_on: TODO", "extracted_on: 2021-12-31")
    (raw / "dataset.yaml").write_text(text, encoding="utf-8")
    checked = runner.invoke(app, ["validate", str(raw)])
    assert checked.exit_code == 0, checked.output
    got, expected = validate(raw).tables, validate(plain).tables
    assert set(got) == set(expected)
    for name, table in expected.items():
        pd.testing.assert_frame_equal(got[name].reset_index(drop=True), table.reset_index(drop=True), obj=name)
    assert {k: v for k, v in _digest(raw).items() if k != "dataset.yaml"} == before  # raw files untouched
