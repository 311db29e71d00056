"""End to end: planted identifiers and small cells never reach any rendered file.

One synthetic site is rendered with the real site report notebook after
planting distinctive identifiers in every identifier column, a valid Finnish
identity code, and a disclosure threshold so high that many counts are small.
Every file the batch leaves in the output folder is then scanned as text.
"""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from evalkit.audit import _count_fields  # the audit's own reading of count fields
from evalkit.cli import app
from evalkit.config import SiteConfig, write_params
from evalkit.idcode import generate_codes
from evalkit.io import write_dataset
from evalkit.synth import synthesise

PLANTED = {
    "case": "PLANTEDCASE0001",
    "child": "PLANTEDCHILD0001",
    "worker": "PLANTEDWORKER0001",
    "team": "plantedteam0001",
    "respondent": "PLANTEDRESP0001",
}
THRESHOLD = 40


def _plant(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    t = {k: v.copy() for k, v in tables.items()}
    old_team = t["teams"].loc[t["teams"]["arm"] == "pilot", "team_id"].iloc[0]
    for name in ("teams", "cases", "staff", "services", "surveys"):
        t[name]["team_id"] = t[name]["team_id"].replace({old_team: PLANTED["team"]})
    case = t["cases"]["case_id"].iloc[10]
    for name in ("cases", "placements", "contacts"):
        t[name]["case_id"] = t[name]["case_id"].replace({case: PLANTED["case"]})
    t["cases"].loc[t["cases"].index[11], "child_id"] = PLANTED["child"]
    worker = t["staff"]["worker_id"].iloc[3]
    for name in ("staff", "absences", "time_use"):
        t[name]["worker_id"] = t[name]["worker_id"].replace({worker: PLANTED["worker"]})
    t["surveys"]["respondent_id"] = t["surveys"]["respondent_id"].replace(
        {t["surveys"]["respondent_id"].iloc[0]: PLANTED["respondent"]}
    )
    return t


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    base = tmp_path_factory.mktemp("leaks")
    ds = synthesise(sites=1, seed=11)
    tables = _plant(ds.tables)
    code = generate_codes(1, seed=3)[0]
    cases = tables["cases"].astype({"child_id": object})
    cases.loc[cases.index[12], "child_id"] = code
    tables["cases"] = cases
    data = write_dataset(tables, ds.meta, base / "data")
    params = base / "params"
    write_params(SiteConfig(site="kuopio", lang="fi", disclosure_threshold=THRESHOLD), params / "kuopio.yaml")
    out = base / "out"
    result = CliRunner().invoke(app, ["render", "--data", str(data), "--params", str(params), "--out", str(out)])
    return {"out": out, "result": result, "code": code, "data": data, "tables": tables}


def test_the_site_rendered(rendered):
    assert rendered["result"].exit_code == 0, rendered["result"].output
    assert (rendered["out"] / "kuopio" / "report.html").is_file()


def test_no_planted_identifier_or_identity_code_in_any_output_file(rendered):
    files = [p for p in rendered["out"].rglob("*") if p.is_file()]
    assert files
    needles = [*PLANTED.values(), rendered["code"]]
    given = "".join(p.read_text(encoding="utf-8") for p in rendered["data"].glob("*.csv"))
    assert all(n in given for n in needles)  # the scan below looks for things that were there
    for path in files:
        text = path.read_bytes().decode("utf-8", errors="replace")
        found = [n for n in needles if n in text]
        assert not found, f"{path.relative_to(rendered['out'])} contains {found}"
    assert not any(n in rendered["result"].output for n in needles)


def test_no_ordinary_identifier_of_the_site_in_the_report(rendered):
    html = (rendered["out"] / "kuopio" / "report.html").read_text(encoding="utf-8")
    t = rendered["tables"]
    ids = set(t["teams"]["team_id"]) | set(t["staff"]["worker_id"]) | set(t["cases"]["case_id"].iloc[::97])
    assert not [i for i in ids if str(i) in html]


def test_small_cells_are_shown_as_below_the_threshold_and_the_report_says_so(rendered):
    html = (rendered["out"] / "kuopio" / "report.html").read_text(encoding="utf-8")
    assert f"&lt;{THRESHOLD}" in html or f"<{THRESHOLD}" in html
    assert "..</td>" in html or ">..<" in html  # secondary suppression is visible as such


def test_no_json_file_in_the_output_folder_holds_a_count_under_the_threshold(rendered):
    import json

    files = sorted(rendered["out"].rglob("*.json"))
    assert any(p.name == "results.json" for p in files) and any(p.name == "manifest.json" for p in files)
    seen = 0
    for path in files:
        cells = list(_count_fields(json.loads(path.read_text(encoding="utf-8"))))
        seen += len(cells)
        small = [(where, v) for where, v in cells if 1 <= v < THRESHOLD]
        assert not small, f"{path.relative_to(rendered['out'])}: {small[:5]}"
    assert seen  # the scan found counts to check (those at or over the threshold are published)
    doc = json.loads((rendered["out"] / "kuopio" / "results.json").read_text(encoding="utf-8"))
    assert doc["disclosure_threshold"] == THRESHOLD and "duration/km" in doc["withheld"]
    # a key estimate whose section is hidden has no numbers anywhere: neither here nor in the report's summary
    for name, est in doc["key_estimates"].items():
        if est["withheld"]:
            assert est["estimate"] is None and est["ci_low"] is None, name
    assert any(est["withheld"] for est in doc["key_estimates"].values())


def test_the_report_hash_is_the_inputs_as_in_manifest_and_index(rendered):
    import json

    from evalkit.stamp import dataset_hash

    digest = dataset_hash(rendered["data"])
    doc = json.loads((rendered["out"] / "kuopio" / "results.json").read_text(encoding="utf-8"))
    manifest = json.loads((rendered["out"] / "manifest.json").read_text(encoding="utf-8"))
    assert doc["stamp"]["dataset"]["sha256"] == digest == manifest["batch"]["dataset_sha256"]
    assert digest in (rendered["out"] / "kuopio" / "report.html").read_text(encoding="utf-8")
    assert digest[:12] in (rendered["out"] / "index.html").read_text(encoding="utf-8")
