"""The data contract of ``/spec/DATA.md`` as pandera models, one per table.

Each model coerces its columns, checks types, ranges and allowed values, and
the rules that involve several columns of one row (``closed >= opened`` ...).
Extra columns are allowed: DATA.md is a minimum. Rules that involve other
tables (referential integrity, spells) live in :mod:`evalkit.validation`.

``build(table, extracted_on)`` adds "not after the extraction date" to every
date column, since that date comes from each dataset's ``dataset.yaml``.
Column and value names are exactly DATA.md's; ``data/README.md`` documents them.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from typing import Optional

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

__all__ = [
    "SCHEMA_VERSION",
    "TABLES",
    "REQUIRED_TABLES",
    "DATE_COLUMNS",
    "MONTH_COLUMNS",
    "MODELS",
    "build",
    "columns",
    "string_columns",
    "number_columns",
    "Sites",
    "Teams",
    "Cases",
    "Placements",
    "Contacts",
    "Services",
    "Staff",
    "Absences",
    "Surveys",
    "TimeUse",
]

SCHEMA_VERSION = "1.0"
TABLES = (
    "sites",
    "teams",
    "cases",
    "placements",
    "contacts",
    "services",
    "staff",
    "absences",
    "surveys",
    "time_use",
)
#: a missing optional table is read as empty; a missing required one is exit 2
REQUIRED_TABLES = ("sites", "teams", "cases")

ARMS = ["pilot", "comparison"]
END_REASONS = ["no_need", "placement", "moved", "age_limit", "other"]
PLACEMENT_KINDS = ["urgent", "care_order", "voluntary"]
CONTACT_KINDS = ["face_to_face", "phone", "team_meeting", "network_meeting"]
SERVICES = ["family_work", "institutional_care", "foster_care", "substance_abuse", "therapy", "other"]
ROLES = [
    "consultant_social_worker",
    "social_worker",
    "social_counsellor",
    "family_therapist",
    "coordinator",
    "family_worker",
    "other",
]
MONTH_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"


def _both(df: pd.DataFrame, a: str, b: str) -> pd.Series:
    """True where either date is missing (judged by other rules) or b >= a."""
    return df[a].isna() | df[b].isna() | (df[b] >= df[a])


#: plausibility bounds (issue 14): no case, absence or date of this evaluation lies this far out
EARLIEST_DAY = pd.Timestamp("1990-01-01")
LONGEST_SPELL = pd.DateOffset(years=25)
MINUTES_A_DAY = 24 * 60


def _within_25_years(df: pd.DataFrame, a: str, b: str) -> pd.Series:
    """True where either date is missing or the spell from a to b lasts at most 25 years."""
    return df[a].isna() | df[b].isna() | (df[b] <= df[a] + LONGEST_SPELL)


class _Table(pa.DataFrameModel):
    class Config:
        coerce = True
        strict = False


class Sites(_Table):
    """One row per pilot site (municipality or county).

    Keys (``site_id``, ``team_id``, ``case_id``) are unique: every copy of a
    duplicated key is invalid, since which one is right cannot be told.
    """

    site_id: Series[str] = pa.Field(unique=True)
    municipality: Series[str]
    region: Series[str]
    population: Series[pd.Int64Dtype] = pa.Field(gt=0)


class Teams(_Table):
    """Teams; pilot teams may start the model at different dates."""

    team_id: Series[str] = pa.Field(unique=True)
    site_id: Series[str]
    arm: Series[str] = pa.Field(isin=ARMS)
    model_start: Series[pa.DateTime] = pa.Field(nullable=True)

    @pa.dataframe_check(name="model_start_iff_pilot")
    def _model_start_iff_pilot(cls, df: pd.DataFrame) -> pd.Series:
        known = df["arm"].isin(ARMS)
        return ~known | ((df["arm"] == "pilot") == df["model_start"].notna())


class Cases(_Table):
    """One row per case (asiakkuus); a child may have several cases."""

    case_id: Series[str] = pa.Field(unique=True)
    child_id: Series[str]
    team_id: Series[str]
    opened: Series[pa.DateTime]
    closed: Series[pa.DateTime] = pa.Field(nullable=True)
    end_reason: Series[str] = pa.Field(nullable=True, isin=END_REASONS)
    legal_basis: Series[str] = pa.Field(isin=["LSL", "SHL"])
    age_at_opening: Series[pd.Int64Dtype] = pa.Field(ge=0, le=17)
    sex: Series[str] = pa.Field(isin=["F", "M", "unknown"])

    @pa.dataframe_check(name="closed_before_opened")
    def _closed_after_opened(cls, df: pd.DataFrame) -> pd.Series:
        return _both(df, "opened", "closed")

    @pa.dataframe_check(name="longer_than_25_years")
    def _plausible_length(cls, df: pd.DataFrame) -> pd.Series:
        return _within_25_years(df, "opened", "closed")

    @pa.dataframe_check(name="end_reason_iff_closed")
    def _end_reason_iff_closed(cls, df: pd.DataFrame) -> pd.Series:
        return df["end_reason"].isna() == df["closed"].isna()


class Placements(_Table):
    """Placements outside the home (sijoitus)."""

    case_id: Series[str]
    date: Series[pa.DateTime]
    kind: Series[str] = pa.Field(isin=PLACEMENT_KINDS)


class Contacts(_Table):
    """Meetings with the child and family; ``minutes`` of contact."""

    case_id: Series[str]
    date: Series[pa.DateTime]
    kind: Series[str] = pa.Field(isin=CONTACT_KINDS)
    minutes: Series[float] = pa.Field(ge=0)


class Services(_Table):
    """Purchased services (ostopalvelut) per month, nominal euros."""

    site_id: Series[str]
    team_id: Series[str] = pa.Field(nullable=True)
    month: Series[str] = pa.Field(str_matches=MONTH_PATTERN)
    service: Series[str] = pa.Field(isin=SERVICES)
    cost_eur: Series[float] = pa.Field(ge=0)
    units: Series[float] = pa.Field(ge=0)


class Staff(_Table):
    """Employment spells; person-time comes from here."""

    worker_id: Series[str]
    team_id: Series[str]
    role: Series[str] = pa.Field(isin=ROLES)
    fte: Series[float] = pa.Field(gt=0, le=1)
    start: Series[pa.DateTime]
    end: Series[pa.DateTime] = pa.Field(nullable=True)

    @pa.dataframe_check(name="end_before_start")
    def _end_after_start(cls, df: pd.DataFrame) -> pd.Series:
        return _both(df, "start", "end")


class Absences(_Table):
    """Absence spells (sairauspoissaolo = sick leave) inside an employment spell."""

    worker_id: Series[str]
    start: Series[pa.DateTime]
    end: Series[pa.DateTime]
    kind: Series[str] = pa.Field(isin=["sick_leave", "other"])

    @pa.dataframe_check(name="end_before_start")
    def _end_after_start(cls, df: pd.DataFrame) -> pd.Series:
        return _both(df, "start", "end")

    @pa.dataframe_check(name="longer_than_25_years")
    def _plausible_length(cls, df: pd.DataFrame) -> pd.Series:
        return _within_25_years(df, "start", "end")


class Surveys(_Table):
    """Long format: one row per respondent x wave x scale; Likert 1-5."""

    respondent_id: Series[str]
    team_id: Series[str]
    respondent: Series[str] = pa.Field(isin=["worker", "parent", "child"])
    wave: Series[pd.Int64Dtype] = pa.Field(ge=1)
    answered: Series[pa.DateTime]
    scale: Series[str]
    score: Series[float] = pa.Field(ge=1, le=5)

    class Config:
        unique = ["respondent_id", "wave", "scale"]


class TimeUse(_Table):
    """Time-use tracking at the start and end of a pilot, hours per activity."""

    worker_id: Series[str]
    wave: Series[pd.Int64Dtype] = pa.Field(ge=1)
    activity: Series[str] = pa.Field(isin=["face_to_face", "documentation", "meetings", "travel", "other"])
    hours: Series[float] = pa.Field(ge=0)


MODELS: dict[str, type[pa.DataFrameModel]] = dict(
    zip(
        TABLES,
        (
            Sites,
            Teams,
            Cases,
            Placements,
            Contacts,
            Services,
            Staff,
            Absences,
            Surveys,
            TimeUse,
        ),
    )
)


def _kinds(table: str) -> dict[str, str]:
    """Column -> 'str' | 'int' | 'float' | 'date' for the DATA.md columns of ``table``."""
    out = {}
    for name, col in MODELS[table].to_schema().columns.items():
        dtype = str(col.dtype)
        out[name] = (
            "date"
            if dtype.startswith("datetime")
            else "int"
            if dtype == "Int64"
            else "float"
            if dtype.startswith("float")
            else "str"
        )
    return out


def columns(table: str) -> tuple[str, ...]:
    """The minimum columns of ``table``, in DATA.md order."""
    return tuple(_kinds(table))


def string_columns(table: str) -> tuple[str, ...]:
    """Columns of ``table`` that hold text (identifiers, categories, months)."""
    return tuple(c for c, k in _kinds(table).items() if k == "str")


def number_columns(table: str) -> dict[str, str]:
    """Numeric columns of ``table`` mapped to 'int' or 'float'."""
    return {c: k for c, k in _kinds(table).items() if k in ("int", "float")}


DATE_COLUMNS = {t: tuple(c for c, k in _kinds(t).items() if k == "date") for t in TABLES}
MONTH_COLUMNS = {"services": ("month",)}


@lru_cache(maxsize=64)
def build(table: str, extracted_on: Optional[pd.Timestamp] = None, *, precoerced: bool = False) -> pa.DataFrameSchema:
    """The pandera schema of ``table``, with dates checked against ``extracted_on``.

    Parameters
    ----------
    table : str
        One of :data:`TABLES`.
    extracted_on : pandas.Timestamp, optional
        Extraction date from ``dataset.yaml``; no date (and no month) may lie
        after it. None skips that check.
    precoerced : bool
        The frame's columns already have the contract's types (as
        :func:`evalkit.validation.validate` ensures, row by row): skip the
        whole-column coercion and the per-element text type check, which
        dominate run time on national data.

    Returns
    -------
    pandera.DataFrameSchema

    References
    ----------
    pandera ``DataFrameModel.to_schema``; the rules are those of DATA.md.

    Examples
    --------
    >>> s = build("staff", pd.Timestamp("2024-12-31"))
    >>> df = pd.DataFrame({"worker_id": ["W1"], "team_id": ["T1"], "role": ["other"],
    ...                    "fte": ["0.5"], "start": ["2024-01-01"], "end": [None]})
    >>> float(s.validate(df)["fte"].iloc[0])
    0.5
    """
    # a copy: pandera caches the model's schema object, which must stay untouched
    schema = copy.deepcopy(MODELS[table].to_schema())
    updates: dict[str, dict] = {}
    for col in DATE_COLUMNS[table]:
        if (table, col) != ("staff", "start"):  # an employment may well have begun before 1990
            updates[col] = {
                "checks": [
                    *schema.columns[col].checks,
                    pa.Check.ge(EARLIEST_DAY, name="before_1990", error="before_1990"),
                ]
            }
    if extracted_on is not None:
        day = pd.Timestamp(extracted_on)
        for col in DATE_COLUMNS[table]:
            checks = updates.get(col, {}).get("checks", schema.columns[col].checks)
            updates[col] = {
                "checks": [*checks, pa.Check.le(day, name="after_extracted_on", error="after_extracted_on")]
            }
        for col in MONTH_COLUMNS.get(table, ()):
            updates[col] = {
                "checks": [
                    *schema.columns[col].checks,
                    pa.Check.le(f"{day:%Y-%m}", name="after_extracted_on", error="after_extracted_on"),
                ]
            }
    if precoerced:
        schema.coerce = False
        for col in schema.columns:
            updates.setdefault(col, {})["coerce"] = False
        for col in string_columns(table):
            updates[col]["dtype"] = None
    return schema.update_columns(updates) if updates else schema
