"""Tests of evalkit.io readers: formats round-trip; unreadable input is a DatasetError."""

import pandas as pd
import pytest

from conftest import tiny_tables, write_tiny
from evalkit import EvalkitError
from evalkit.io import DatasetError, read_dataset, read_table
from evalkit.validation import validate


@pytest.mark.parametrize("fmt", ["csv", "parquet", "xlsx"])
def test_round_trip_every_format(tmp_path, fmt):
    tables, meta = tiny_tables()
    ds = validate(write_tiny(tmp_path / fmt, fmt))
    assert ds.report.exit_code == 0
    assert ds.meta["extracted_on"] == pd.Timestamp(meta["extracted_on"])
    for name, df in tables.items():
        got = ds.tables[name].reset_index(drop=True)[list(df.columns)]
        expected = validate(tables, meta).tables[name].reset_index(drop=True)
        pd.testing.assert_frame_equal(got, expected, check_dtype=True)


def test_csv_cells_stay_text_and_rows_are_numbered(tmp_path):
    p = tmp_path / "cases.csv"
    p.write_text("case_id,age_at_opening\nC1,07\nC2,\n")
    df = read_table(p)
    assert df.index.tolist() == [1, 2]
    assert df["age_at_opening"].iloc[0] == "07" and pd.isna(df["age_at_opening"].iloc[1])


def test_semicolon_csv_from_finnish_spreadsheets(tmp_path):
    p = tmp_path / "sites.csv"
    p.write_text("site_id;municipality\nS1;Kuopio\n", encoding="utf-8")
    assert read_table(p).to_dict("records") == [{"site_id": "S1", "municipality": "Kuopio"}]


@pytest.mark.parametrize(
    "content, why",
    [
        (b"", "empty file"),
        (b"site_id,municipality\nS1,Kuopio,extra,cells\n", "cannot be read"),
        (b"site_id,municipality\nS1,Kuop\xe4io\n", "cannot be read"),  # Latin-1, not UTF-8
        (b"site_id,site_id\nS1,S2\n", "more than once"),
    ],
)
def test_unreadable_csv(tmp_path, content, why):
    p = tmp_path / "sites.csv"
    p.write_bytes(content)
    with pytest.raises(DatasetError, match=why) as err:
        read_table(p)
    assert "sites.csv" in str(err.value) and isinstance(err.value, EvalkitError)


def test_parser_message_does_not_quote_the_row(tmp_path):
    p = tmp_path / "cases.csv"
    p.write_text("case_id,child_id\nC1,SECRET-ID,3\n")
    with pytest.raises(DatasetError) as err:
        read_table(p)
    assert "SECRET-ID" not in str(err.value)


def test_manifest_problems(tmp_path):
    folder = write_tiny(tmp_path / "d")
    (folder / "dataset.yaml").write_text("name: x\n")
    with pytest.raises(DatasetError, match="extracted_on is missing"):
        read_dataset(folder)
    (folder / "dataset.yaml").write_text("extracted_on: soon\n")
    with pytest.raises(DatasetError, match="not a date"):
        read_dataset(folder)
    (folder / "dataset.yaml").write_text("[unclosed\n")
    with pytest.raises(DatasetError, match="YAML"):
        read_dataset(folder)
    with pytest.raises(DatasetError, match="not a folder"):
        read_dataset(tmp_path / "nowhere")


def test_two_formats_for_one_table(tmp_path):
    folder = write_tiny(tmp_path / "d")
    tiny_tables()[0]["teams"].to_excel(folder / "teams.xlsx", index=False)
    with pytest.raises(DatasetError, match="teams is given twice"):
        read_dataset(folder)
