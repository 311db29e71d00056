"""The command line end to end: synthesise, write in each format, validate."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from evalkit.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def synth_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "ds"
    res = runner.invoke(app, ["synth", "--out", str(out), "--seed", "1", "--sites", "2"])
    assert res.exit_code == 0, res.output
    return out


def test_synth_writes_manifest_and_every_table(synth_dir):
    import yaml

    meta = yaml.safe_load((synth_dir / "dataset.yaml").read_text())
    for key in ("name", "extracted_on", "source", "description", "true_effects"):
        assert key in meta
    from evalkit.schemas import TABLES

    for table in TABLES:
        assert (synth_dir / f"{table}.csv").exists(), table


@pytest.mark.parametrize("fmt", ["csv", "parquet", "xlsx"])
def test_synthetic_data_validates_clean_in_every_format(tmp_path, fmt):
    out = tmp_path / fmt
    res = runner.invoke(app, ["synth", "--out", str(out), "--seed", "1", "--sites", "1", "--format", fmt])
    assert res.exit_code == 0, res.output
    report = tmp_path / "report.json"
    res = runner.invoke(app, ["validate", str(out), "--report", str(report)])
    assert res.exit_code == 0, res.output
    rep = json.loads(report.read_text())
    tables = rep["tables"] if "tables" in rep else rep
    total_in = sum(t["rows_in"] for t in tables.values())
    assert total_in > 1000
    assert all(t["quarantined"] == 0 and t["valid"] == t["rows_in"] for t in tables.values())


def test_console_script_runs_as_a_process(synth_dir):
    exe = Path(sys.executable).with_name("evalkit")
    proc = subprocess.run([str(exe), "validate", str(synth_dir)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_corrupted_copy_quarantines_every_bad_row_and_reconciles(synth_dir, tmp_path):
    from evalkit.idcode import generate_codes

    bad = tmp_path / "bad"
    shutil.copytree(synth_dir, bad)
    cases = pd.read_csv(bad / "cases.csv", dtype=str, keep_default_na=False)
    code = generate_codes(1, seed=7)[0]
    closed = cases.index[cases["closed"] != ""][:3]
    cases.loc[closed[0], ["opened", "closed"]] = cases.loc[closed[0], ["closed", "opened"]].to_numpy()
    cases.loc[closed[1], "team_id"] = "NO_SUCH_TEAM"
    cases.loc[closed[2], "child_id"] = code
    cases.to_csv(bad / "cases.csv", index=False)
    staff = pd.read_csv(bad / "staff.csv", dtype=str, keep_default_na=False)
    staff.loc[0, "fte"] = "1.7"
    staff.to_csv(bad / "staff.csv", index=False)

    q, report = tmp_path / "q", tmp_path / "r.json"
    res = runner.invoke(app, ["validate", str(bad), "--quarantine", str(q), "--report", str(report)])
    assert res.exit_code == 1, res.output
    rep = json.loads(report.read_text())
    tables = rep["tables"] if "tables" in rep else rep
    for t in tables.values():
        assert t["rows_in"] == t["valid"] + t["quarantined"]
    qcases = pd.read_csv(q / "cases.csv", dtype=str)
    row_col = next(c for c in qcases.columns if "row" in c.lower())
    # data row numbers are 1-based (the header is not a row)
    assert {str(i + 1) for i in closed} <= set(qcases[row_col])
    assert tables["staff"]["quarantined"] >= 1
    everything = res.output + report.read_text() + "".join(p.read_text() for p in q.glob("*.csv"))
    assert code not in everything


def test_unreadable_dataset_exits_2_with_a_reason(synth_dir, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(synth_dir, bad)
    (bad / "teams.csv").write_bytes(b"\x00\xff\xfe garbage \x00")
    res = runner.invoke(app, ["validate", str(bad)])
    assert res.exit_code == 2 and "teams" in res.output
    res = runner.invoke(app, ["validate", str(tmp_path / "nowhere")])
    assert res.exit_code == 2 and "Traceback" not in res.output
