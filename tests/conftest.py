"""Shared fixtures: a tiny, hand-built dataset that satisfies every rule of DATA.md.

``tiny_tables()`` returns ``(tables, meta)`` (fresh copies each call) for
anyone who needs a valid dataset to corrupt or to analyse;
``write_tiny(folder, fmt)`` writes it as a dataset folder.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from evalkit.io import write_dataset

NaT = pd.NaT


def _dates(*values):
    return pd.to_datetime(pd.Series(values, dtype=object))


def tiny_tables() -> tuple[dict[str, pd.DataFrame], dict]:
    """Two sites, three teams (two pilot, one comparison), six cases and the rest."""
    sites = pd.DataFrame(
        {
            "site_id": ["S1", "S2"],
            "municipality": ["Kuopio", "Siilinjärvi"],
            "region": ["Pohjois-Savo", "Pohjois-Savo"],
            "population": [122000, 21000],
        }
    )
    teams = pd.DataFrame(
        {
            "team_id": ["T1", "T2", "T3"],
            "site_id": ["S1", "S1", "S2"],
            "arm": ["pilot", "comparison", "pilot"],
            "model_start": _dates("2018-01-01", None, "2019-01-01"),
        }
    )
    cases = pd.DataFrame(
        {
            "case_id": ["C1", "C2", "C3", "C4", "C5", "C6"],
            "child_id": ["K1", "K2", "K3", "K1", "K4", "K5"],
            "team_id": ["T1", "T1", "T2", "T2", "T3", "T3"],
            "opened": _dates("2018-02-01", "2018-03-15", "2018-01-10", "2019-05-01", "2019-02-01", "2019-03-01"),
            "closed": _dates("2018-09-30", None, "2018-12-31", None, "2019-08-31", None),
            "end_reason": ["no_need", None, "placement", None, "moved", None],
            "legal_basis": ["LSL", "SHL", "LSL", "LSL", "SHL", "LSL"],
            "age_at_opening": [3, 12, 17, 7, 0, 15],
            "sex": ["F", "M", "unknown", "F", "M", "F"],
        }
    )
    placements = pd.DataFrame(
        {"case_id": ["C3", "C6"], "date": _dates("2018-12-31", "2019-06-01"), "kind": ["care_order", "urgent"]}
    )
    contacts = pd.DataFrame(
        {
            "case_id": ["C1", "C1", "C2", "C5"],
            "date": _dates("2018-02-05", "2018-03-01", "2018-04-01", "2019-02-10"),
            "kind": ["face_to_face", "phone", "team_meeting", "network_meeting"],
            "minutes": [60.0, 15.0, 45.0, 90.0],
        }
    )
    services = pd.DataFrame(
        {
            "site_id": ["S1", "S1", "S2"],
            "team_id": ["T1", None, "T3"],
            "month": ["2018-01", "2018-02", "2019-03"],
            "service": ["family_work", "foster_care", "therapy"],
            "cost_eur": [1200.0, 5400.5, 0.0],
            "units": [10.0, 30.0, 0.0],
        }
    )
    staff = pd.DataFrame(
        {
            "worker_id": ["W1", "W2", "W3", "W1"],
            "team_id": ["T1", "T2", "T3", "T3"],
            "role": ["consultant_social_worker", "social_worker", "family_therapist", "coordinator"],
            "fte": [1.0, 0.8, 0.5, 1.0],
            "start": _dates("2017-01-01", "2016-06-01", "2019-01-01", "2019-01-01"),
            "end": _dates("2018-12-31", None, None, None),
        }
    )
    absences = pd.DataFrame(
        {
            "worker_id": ["W1", "W2"],
            "start": _dates("2018-03-01", "2019-01-07"),
            "end": _dates("2018-03-05", "2019-01-08"),
            "kind": ["sick_leave", "other"],
        }
    )
    surveys = pd.DataFrame(
        {
            "respondent_id": ["R1", "R1", "R2", "R3"],
            "team_id": ["T1", "T1", "T2", "T3"],
            "respondent": ["worker", "worker", "parent", "child"],
            "wave": [1, 2, 1, 1],
            "answered": _dates("2018-01-25", "2018-06-01", "2018-02-01", "2019-03-01"),
            "scale": ["workload", "workload", "felt_heard", "got_help"],
            "score": [2.0, 3.5, 4.0, 5.0],
        }
    )
    time_use = pd.DataFrame(
        {
            "worker_id": ["W1", "W1", "W2", "W3"],
            "wave": [1, 2, 1, 1],
            "activity": ["face_to_face", "face_to_face", "documentation", "travel"],
            "hours": [12.5, 16.0, 20.0, 3.0],
        }
    )
    tables = {
        "sites": sites,
        "teams": teams,
        "cases": cases,
        "placements": placements,
        "contacts": contacts,
        "services": services,
        "staff": staff,
        "absences": absences,
        "surveys": surveys,
        "time_use": time_use,
    }
    meta = {
        "name": "tiny",
        "extracted_on": "2019-12-31",
        "source": "hand-built test fixture",
        "description": "Smallest dataset that satisfies every rule of DATA.md.",
    }
    return tables, meta


def write_tiny(folder: Path, fmt: str = "csv", tables: dict | None = None, meta: dict | None = None) -> Path:
    """Write the tiny dataset (or given tables/meta) as a dataset folder."""
    base_tables, base_meta = tiny_tables()
    return write_dataset(tables or base_tables, meta or base_meta, folder, fmt=fmt)


@pytest.fixture
def tiny() -> tuple[dict[str, pd.DataFrame], dict]:
    return tiny_tables()


@pytest.fixture
def tiny_dir(tmp_path: Path) -> Path:
    return write_tiny(tmp_path / "tiny")
