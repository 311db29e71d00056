"""Hostile real-extract inputs (issue 14): nothing planted reaches an output, nothing is guessed, no traceback.

Each case is planted in the tiny dataset (``conftest.tiny_tables``) and run
through ``evalkit validate`` as a user runs it. For each: the exit code, a
message that says what to do, reconciled counts where the data were read, and
no identity code, live formula or markup error in the terminal, the report
or the quarantine files.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from conftest import tiny_tables, write_tiny
from evalkit.cli import app
from evalkit.config import ParamsError, load_params
from evalkit.idcode import MASK, generate_codes, mask_codes

runner = CliRunner()
CODE = generate_codes(1, seed=11)[0]


def _validate(folder: Path) -> tuple[int, str, str]:
    """Exit code, terminal text, and every file validate wrote (report and quarantine), as one text."""
    out = folder.parent / "checked"
    res = runner.invoke(
        app, ["validate", str(folder), "--quarantine", str(out / "q"), "--report", str(out / "report.json")]
    )
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    written = (
        "".join(p.read_text(encoding="utf-8") for p in sorted(out.rglob("*")) if p.is_file()) if out.exists() else ""
    )
    return res.exit_code, res.output, written


def _reconciled(folder: Path) -> None:
    report = json.loads((folder.parent / "checked" / "report.json").read_text(encoding="utf-8"))
    for name, c in report["tables"].items():
        assert c["rows_in"] == c["valid"] + c["quarantined"], name


def _manifest(folder: Path, **changes) -> None:
    meta = yaml.safe_load((folder / "dataset.yaml").read_text(encoding="utf-8"))
    meta.update(changes)
    (folder / "dataset.yaml").write_text(yaml.safe_dump(meta, allow_unicode=True), encoding="utf-8")


# ---------------------------------------------------------------- extracted_on: ISO only, no time zone
@pytest.mark.parametrize(
    "value, words",
    [
        ("12.01.2022", "YYYY-MM-DD"),  # read as 1 December 2022 by a guessing parser
        ("2021-12-31T00:00:00+02:00", "time zone"),  # once switched off every after-extraction check
        ("2021-12-31 13:00:00", "YYYY-MM-DD"),
        ("31/12/2021", "YYYY-MM-DD"),
    ],
)
def test_extracted_on_is_a_day_in_iso_form_or_a_clear_error(tmp_path, value, words):
    folder = write_tiny(tmp_path / "d")
    text = (folder / "dataset.yaml").read_text(encoding="utf-8")
    (folder / "dataset.yaml").write_text(
        "\n".join(f"extracted_on: {value}" if line.startswith("extracted_on:") else line for line in text.splitlines())
        + "\n",
        encoding="utf-8",
    )
    code, output, _ = _validate(folder)
    assert code == 2 and words in output and "Traceback" not in output, output


def test_an_iso_extraction_day_still_reads(tmp_path):
    folder = write_tiny(tmp_path / "d")
    assert _validate(folder)[0] == 0


# ---------------------------------------------------------------- identity codes wherever a name can go
def test_a_code_in_the_dataset_name_is_refused_and_never_shown(tmp_path):
    folder = write_tiny(tmp_path / "d")
    _manifest(folder, name=f"extract for {CODE}")
    code, output, written = _validate(folder)
    assert code == 2 and "identity code" in output and "name" in output
    assert CODE not in output + written


def test_a_code_in_a_column_header_is_refused_and_never_shown(tmp_path):
    tables, meta = tiny_tables()
    tables["cases"] = tables["cases"].assign(**{f"note {CODE}": "x"})
    folder = write_tiny(tmp_path / "d", tables=tables, meta=meta)
    code, output, written = _validate(folder)
    assert code == 2 and "column header" in output and CODE not in output + written


@pytest.mark.parametrize("where", ["file", "folder"])
def test_a_code_in_a_file_or_folder_name_is_refused_and_masked(tmp_path, where):
    folder = write_tiny(tmp_path / (f"extract_{CODE}" if where == "folder" else "d"))
    if where == "file":
        (folder / f"notes_{CODE}.csv").write_text("a\n1\n", encoding="utf-8")
    code, output, written = _validate(folder)
    assert code == 2 and "identity code" in output and MASK in output.replace("\n", "")
    assert CODE not in output + written


@pytest.mark.parametrize("cell", [f"hetu{CODE}", f"{CODE}abc", f"x {CODE.lower()}"])
def test_a_code_glued_to_letters_is_found(tmp_path, cell):
    tables, meta = tiny_tables()
    tables["cases"] = tables["cases"].astype({"child_id": object})
    tables["cases"].loc[2, "child_id"] = cell
    folder = write_tiny(tmp_path / "d", tables=tables, meta=meta)
    code, output, written = _validate(folder)
    assert code == 1, output
    _reconciled(folder)
    assert CODE not in output + written and CODE.lower() not in written


def test_a_code_in_a_dictionary_encoded_parquet_column_is_found_and_masked(tmp_path):
    tables, meta = tiny_tables()
    cases = tables["cases"].astype({"child_id": object})
    cases.loc[1, "child_id"] = CODE
    tables["cases"] = cases.astype({"child_id": "category", "team_id": "category"})
    folder = write_tiny(tmp_path / "d", fmt="parquet", tables=tables, meta=meta)
    code, output, written = _validate(folder)
    assert code == 1 and "q" in {p.name for p in (folder.parent / "checked").iterdir()}, output
    _reconciled(folder)
    assert CODE not in output + written


def test_masking_leaves_look_alikes_that_fail_the_check_character():
    wrong = CODE[:-1] + ("A" if CODE[-1] != "A" else "B")
    assert mask_codes(f"a/{CODE}/{wrong}") == f"a/{MASK}/{wrong}"


# ---------------------------------------------------------------- no type guessing
def test_a_header_with_a_trailing_space_keeps_leading_zeros_and_distinct_ids(tmp_path):
    tables, meta = tiny_tables()
    folder = write_tiny(tmp_path / "d", tables=tables, meta=meta)
    path = folder / "cases.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[0] = lines[0].replace("child_id", "child_id ")
    lines[1:3] = [line.replace(",K1,", ",005,").replace(",K2,", ",5,") for line in lines[1:3]]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    from evalkit.io import read_table

    ids = read_table(path)["child_id"].tolist()
    assert ids[:2] == ["005", "5"]  # two children, not one


# ---------------------------------------------------------------- formulas
@pytest.mark.parametrize("cell", ["x;=cmd|' /C calc'!A0", "ok,+1+cmd|' /C calc'!A0", "a|@SUM(1)"])
def test_a_formula_after_a_separator_or_in_a_header_never_reaches_excel_live(tmp_path, cell):
    tables, meta = tiny_tables()
    cases = tables["cases"].astype({"closed": object})
    cases.loc[0, "closed"] = cell  # not a date: the row goes to quarantine with the cell as given
    tables["cases"] = cases.assign(**{'=HYPERLINK("x")': "1"})
    folder = write_tiny(tmp_path / "d", tables=tables, meta=meta)
    code, output, _ = _validate(folder)
    assert code == 1, output
    quarantined = (folder.parent / "checked" / "q" / "cases.csv").read_text(encoding="utf-8")
    for piece in quarantined.replace(";", "\n").replace(",", "\n").replace("|", "\n").splitlines():
        assert not piece.strip().strip('"').startswith(("=", "+", "@")), piece


# ---------------------------------------------------------------- markup and params keys
def test_brackets_in_a_table_column_or_value_are_shown_not_read_as_markup(tmp_path):
    tables, meta = tiny_tables()
    tables["cases"] = tables["cases"].astype({"team_id": object})
    tables["cases"].loc[0, "team_id"] = "[/]team[bold]"
    tables["teams"] = tables["teams"].assign(**{"[/]note": "x"})
    folder = write_tiny(tmp_path / "d", tables=tables, meta=meta)
    code, output, _ = _validate(folder)
    assert code == 1 and "Traceback" not in output and "MarkupError" not in output, output
    _reconciled(folder)


def test_brackets_in_a_folder_name_and_a_site_id_are_shown_as_written(tmp_path):
    tables, meta = tiny_tables()
    tables["teams"] = tables["teams"].assign(site_id=["S1", "S1", "[/]S9[red]"])  # an unknown site, with markup
    folder = write_tiny(tmp_path / "[bold]raw[/]" / "d", tables=tables, meta=meta)
    (folder / "cases.csv").write_bytes(b"\xe4" + (folder / "cases.csv").read_bytes())  # exit 2 names the path
    code, output, _ = _validate(folder)
    assert code == 2 and "[bold]raw[/]" in output.replace("\n", "") and "Traceback" not in output, output
    (folder / "cases.csv").write_bytes((folder / "cases.csv").read_bytes()[1:])
    code, output, _ = _validate(folder)
    assert code == 1 and "Traceback" not in output and "MarkupError" not in output, output
    assert _rules_of(folder, "teams")["unknown_site"] == [3]
    _reconciled(folder)


def test_a_tab_separated_export_is_read_with_its_columns(tmp_path):
    folder = write_tiny(tmp_path / "d")
    path = folder / "staff.csv"
    path.write_text(path.read_text(encoding="utf-8").replace(",", "\t"), encoding="utf-8")
    code, output, _ = _validate(folder)
    assert code == 0, output  # once: "required column(s) missing" although they were all there
    _reconciled(folder)


@pytest.mark.parametrize("key", ["1", "yes", "on"])
def test_a_params_key_that_is_not_a_name_is_a_clear_error(tmp_path, key):
    path = tmp_path / "kuopio.yaml"
    path.write_text(f"site: kuopio\n{key}: 3\n", encoding="utf-8")
    with pytest.raises(ParamsError, match="not names"):
        load_params(path)


def test_a_params_file_with_a_bad_key_fails_its_site_only(tmp_path):
    from evalkit.render import load_site_params

    (tmp_path / "kuopio.yaml").write_text("site: kuopio\nyes: 3\n", encoding="utf-8")
    (tmp_path / "joensuu.yaml").write_text("site: joensuu\n", encoding="utf-8")
    configs, errors = load_site_params(tmp_path, None, ["kuopio", "joensuu"])
    assert list(configs) == ["joensuu"]  # the batch goes on with the other sites
    assert list(errors) == ["kuopio"] and "not names" in errors["kuopio"]


# ---------------------------------------------------------------- plausibility, each rule with its own name
def _rules_of(folder: Path, table: str) -> dict[str, list[int]]:
    report = json.loads((folder.parent / "checked" / "report.json").read_text(encoding="utf-8"))
    return {f["rule"]: f["rows"] for f in report["failures"] if f["table"] == table}


@pytest.mark.parametrize(
    "table, column, value, rule",
    [
        ("cases", "opened", pd.Timestamp("1700-01-01"), "before_1990"),
        ("placements", "date", pd.Timestamp("1989-12-31"), "before_1990"),
        ("contacts", "minutes", 1e308, "over_24_hours"),
        ("contacts", "minutes", 1441.0, "over_24_hours"),
        ("absences", "start", pd.Timestamp("1992-01-01"), "longer_than_25_years"),
    ],
)
def test_implausible_values_fail_a_rule_of_their_own(tmp_path, table, column, value, rule):
    tables, meta = tiny_tables()
    tables[table] = tables[table].copy()
    tables[table].loc[0, column] = value
    folder = write_tiny(tmp_path / "d", tables=tables, meta=meta)
    code, output, _ = _validate(folder)
    assert code == 1, output
    _reconciled(folder)
    assert rule in _rules_of(folder, table), output


def test_a_days_contacts_adding_up_to_over_24_hours_fail_together(tmp_path):
    tables, meta = tiny_tables()
    contacts = tables["contacts"]
    day = pd.concat([contacts.iloc[[0]]] * 3, ignore_index=True).assign(minutes=[600.0, 500.0, 400.0])
    tables["contacts"] = pd.concat([contacts, day], ignore_index=True)
    folder = write_tiny(tmp_path / "d", tables=tables, meta=meta)
    _validate(folder)
    assert _rules_of(folder, "contacts")["over_24_hours"] == [1, 5, 6, 7]  # the first row is of that day too


def test_a_file_appended_to_itself_is_found_and_the_original_rows_kept(tmp_path):
    tables, meta = tiny_tables()
    tables["contacts"] = pd.concat([tables["contacts"]] * 6, ignore_index=True)
    folder = write_tiny(tmp_path / "d", tables=tables, meta=meta)
    code, output, _ = _validate(folder)
    assert code == 1 and "repeated_rows" in output, output
    _reconciled(folder)
    assert _rules_of(folder, "contacts")["repeated_rows"][:3] == [5, 6, 7]  # from the first copy on
    report = json.loads((folder.parent / "checked" / "report.json").read_text(encoding="utf-8"))
    assert report["tables"]["contacts"]["valid"] == 4


def test_two_identical_contacts_on_a_day_are_not_a_repeated_file(tmp_path):
    tables, meta = tiny_tables()
    tables["contacts"] = pd.concat([tables["contacts"], tables["contacts"].iloc[[2]]], ignore_index=True)
    folder = write_tiny(tmp_path / "d", tables=tables, meta=meta)
    assert _validate(folder)[0] == 0


# ---------------------------------------------------------------- undeclared formats: say what to declare
@pytest.mark.parametrize(
    "table, column, words",
    [
        ("staff", "fte", 'fte has decimal commas (e.g. row 1): declare decimal: ","'),
        ("cases", "opened", 'opened: dates look like dd.mm.yyyy (e.g. row 1): declare date_format: "%d.%m.%Y"'),
    ],
)
def test_an_undeclared_finnish_format_gets_a_hint_naming_what_to_declare(tmp_path, table, column, words):
    tables, meta = tiny_tables()
    df = tables[table].astype({column: object})
    if column == "fte":
        df[column] = [f"{v:.1f}".replace(".", ",") for v in tables[table][column]]
    else:
        df[column] = [f"{v:%d.%m.%Y}" for v in tables[table][column]]
    tables[table] = df
    folder = write_tiny(tmp_path / "d", tables=tables, meta=meta)
    code, output, _ = _validate(folder)
    assert code == 1 and words in output.replace("\n", " "), output
    report = json.loads((folder.parent / "checked" / "report.json").read_text(encoding="utf-8"))
    assert any(words in f.get("hint", "") for f in report["failures"])  # in the JSON report too


# ---------------------------------------------------------------- row numbers as the file counts them
def test_blank_lines_do_not_shift_row_numbers(tmp_path):
    folder = write_tiny(tmp_path / "d")
    path = folder / "teams.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[3] = lines[3].replace(",S2,", ",S9,")  # data row 3: an unknown site
    path.write_text("\n".join(lines[:2] + ["", ""] + lines[2:]) + "\n", encoding="utf-8")
    code, output, _ = _validate(folder)
    assert code == 1
    assert _rules_of(folder, "teams")["unknown_site"] == [5]  # file line 6: header, row 1, two blank lines


def test_a_ragged_row_names_its_row_number(tmp_path):
    folder = write_tiny(tmp_path / "d")
    path = folder / "teams.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[2] += ",extra,cells"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, output, _ = _validate(folder)
    assert code == 2 and "row 2 has 6 fields and the header 4" in output.replace("\n", " "), output


def test_a_workbook_with_a_sheet_per_table_says_how_to_declare_it(tmp_path):
    tables, meta = tiny_tables()
    folder = write_tiny(tmp_path / "d", tables={}, meta=meta)
    for p in folder.glob("*.csv"):
        p.unlink()
    with pd.ExcelWriter(folder / "lastensuojelu.xlsx") as book:
        for name, df in tables.items():
            df.to_excel(book, sheet_name=name, index=False)
    code, output, _ = _validate(folder)
    assert code == 2 and "sheet sites" in output and "tables:" in output, output


def test_quarantine_files_for_finnish_excel_use_semicolons_and_a_bom(tmp_path):
    tables, meta = tiny_tables()
    tables["teams"] = tables["teams"].assign(site_id=["S1", "S1", "S9"])
    folder = write_tiny(tmp_path / "d", tables=tables, meta=meta)
    q = tmp_path / "q"
    result = runner.invoke(app, ["validate", str(folder), "--quarantine", str(q), "--excel"])
    assert result.exit_code == 1, result.output
    data = (q / "teams.csv").read_bytes()
    assert data.startswith("\ufeff".encode("utf-8")) and data.decode("utf-8-sig").splitlines()[0].startswith(
        "row_number;broken_rules;"
    )
    assert not list(q.glob(".*.tmp"))  # written whole, through a temporary file


def test_params_writes_the_usable_sites_and_names_those_whose_id_cannot_be_a_file_name(tmp_path):
    tables, meta = tiny_tables()
    ids = {"S1": "kuopio", "S2": "Jyväskylä[/]"}
    tables["sites"] = tables["sites"].assign(site_id=tables["sites"]["site_id"].map(ids))
    for name in ("teams",):
        tables[name] = tables[name].assign(site_id=tables[name]["site_id"].map(ids))
    tables["services"] = tables["services"].assign(site_id=tables["services"]["site_id"].map(ids))
    folder = write_tiny(tmp_path / "d", tables=tables, meta=meta)
    result = runner.invoke(app, ["params", "--data", str(folder), "--out", str(tmp_path / "params")])
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert "'Jyväskylä[/]'" in result.output and "1 params file(s) written" in result.output
    assert sorted(p.name for p in (tmp_path / "params").glob("*.yaml")) == ["_template.yaml", "kuopio.yaml"]


def test_a_params_file_named_by_an_identity_code_fails_under_a_masked_name(tmp_path):
    folder = write_tiny(tmp_path / "d")
    params = tmp_path / "params"
    params.mkdir()
    (params / f"{CODE}.yaml").write_text("site: S1\n", encoding="utf-8")
    (params / "S2.yaml").write_text(f"site: S2\n{CODE}: 1\n", encoding="utf-8")  # a code as a key
    out = tmp_path / "out"
    result = runner.invoke(app, ["render", "--data", str(folder), "--params", str(params), "--out", str(out)])
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert {s: e["status"] for s, e in manifest["sites"].items()} == {MASK: "failed", "S2": "failed"}
    written = "".join(p.read_text(encoding="utf-8") for p in out.rglob("*") if p.is_file())
    assert CODE not in written + result.output and MASK in written


def test_a_windows_1252_byte_in_a_utf8_file_names_its_line(tmp_path):
    folder = write_tiny(tmp_path / "d")
    path = folder / "cases.csv"
    lines = path.read_bytes().split(b"\n")
    lines[3] = lines[3].replace(b",", ",Jyv\u00e4skyl\u00e4 ".encode("cp1252"), 1)  # file line 4
    path.write_bytes(b"\n".join(lines))
    code, output, _ = _validate(folder)
    text = " ".join(output.split())
    assert code == 2 and "cases.csv: cannot be read as utf-8 text (first at line 4" in text, output
    assert "encoding: cp1252" in text and "Traceback" not in output


def test_a_full_disk_while_quarantining_leaves_no_file_cut_mid_row(tmp_path, monkeypatch):
    import errno
    import os

    tables, meta = tiny_tables()
    tables["teams"] = tables["teams"].assign(site_id=["S1", "S1", "S9"])
    folder = write_tiny(tmp_path / "d", tables=tables, meta=meta)
    q, real = tmp_path / "q", Path.write_text

    def full(path: Path, content: str, *args, **kw):
        if q in Path(path).parents:  # half the bytes reach the disk, then it is full
            real(path, content[: len(content) // 2], *args, **kw)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real(path, content, *args, **kw)

    monkeypatch.setattr(Path, "write_text", full)
    result = runner.invoke(app, ["validate", str(folder), "--quarantine", str(q)])
    monkeypatch.undo()
    text = " ".join(result.output.split())
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert "evalkit validate: cannot write" in text and "No space left on device" in text
    assert "cannot read the dataset" not in text  # the heading names the cause
    assert not [p for p in q.rglob("*") if p.is_file()]  # neither the cut file nor its temporary copy
