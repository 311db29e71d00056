"""Tests of evalkit.schemas: the pandera models enforce DATA.md on their own."""

import pandas as pd
import pandera.pandas as pa
import pytest

from conftest import tiny_tables
from evalkit import schemas


def test_tables_and_required():
    assert schemas.TABLES[:3] == ("sites", "teams", "cases") == schemas.REQUIRED_TABLES
    assert len(schemas.TABLES) == 10 and set(schemas.MODELS) == set(schemas.TABLES)
    assert schemas.SCHEMA_VERSION


def test_columns_are_exactly_data_md():
    assert schemas.columns("cases") == (
        "case_id",
        "child_id",
        "team_id",
        "opened",
        "closed",
        "end_reason",
        "legal_basis",
        "age_at_opening",
        "sex",
    )
    assert schemas.columns("services") == ("site_id", "team_id", "month", "service", "cost_eur", "units")
    assert schemas.columns("surveys") == (
        "respondent_id",
        "team_id",
        "respondent",
        "wave",
        "answered",
        "scale",
        "score",
    )


@pytest.mark.parametrize("name", schemas.TABLES)
def test_tiny_tables_pass_every_model(name):
    tables, meta = tiny_tables()
    out = schemas.build(name, pd.Timestamp(meta["extracted_on"])).validate(tables[name])
    assert len(out) == len(tables[name])


def test_models_coerce_text_and_allow_extra_columns():
    df = pd.DataFrame(
        {
            "worker_id": ["W1"],
            "team_id": ["T1"],
            "role": ["social_worker"],
            "fte": ["1"],
            "start": ["2020-01-01"],
            "end": [None],
            "grade": ["x"],
        }
    )
    out = schemas.Staff.validate(df)
    assert out["fte"].dtype == "float64" and out["start"].dtype == "datetime64[ns]"
    assert "grade" in out


@pytest.mark.parametrize(
    "table, column, value",
    [
        ("staff", "fte", 0.0),
        ("staff", "fte", 1.01),
        ("cases", "age_at_opening", -1),
        ("surveys", "score", 0.5),
        ("time_use", "wave", 0),
        ("contacts", "minutes", -1.0),
        ("services", "month", "2019-3"),
        ("teams", "arm", "control"),
        ("cases", "end_reason", "died"),
    ],
)
def test_models_reject_out_of_contract_values(table, column, value):
    tables, _ = tiny_tables()
    df = tables[table]
    df[column] = df[column].astype(object)
    df.loc[0, column] = value
    with pytest.raises(pa.errors.SchemaError):
        schemas.MODELS[table].validate(df)


def test_extracted_on_is_a_parameter():
    tables, _ = tiny_tables()
    cases = tables["cases"]
    schemas.build("cases").validate(cases)
    schemas.build("cases", pd.Timestamp("2019-08-31")).validate(cases)  # latest date in cases
    with pytest.raises(pa.errors.SchemaError, match="after_extracted_on"):
        schemas.build("cases", pd.Timestamp("2019-08-30")).validate(cases)


def test_comparison_team_without_start_and_pilot_with_one():
    tables, _ = tiny_tables()
    teams = tables["teams"]
    teams.loc[1, "model_start"] = pd.Timestamp("2018-01-01")  # comparison team with a start
    with pytest.raises(pa.errors.SchemaError, match="model_start_iff_pilot"):
        schemas.Teams.validate(teams)
