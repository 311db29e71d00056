"""The benchmarks' quick variants run, report their figures and find both ways to the same results.

No timing is asserted (the machine decides that); only that each benchmark
finishes, checks its outputs against a reference run and prints its last
line in the documented format.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from evalkit import site
from evalkit.config import SiteConfig
from evalkit.synth import synthesise

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
NUMBER = r"[0-9]+(?:\.[0-9]+)?"


def _run(script: str, tmp_path: Path, env: dict[str, str] | None = None) -> list[str]:
    done = subprocess.run(
        [sys.executable, str(BENCH / script), "--quick", "--workdir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=1200,
        env={**os.environ, **(env or {})},
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done.stdout.strip().splitlines()


@pytest.mark.slow
def test_bench_scale_quick_matches_a_serial_run(tmp_path):
    lines = _run("bench_scale.py", tmp_path)
    assert "check against a serial run on the unsplit tables: same results" in lines
    assert re.fullmatch(
        rf"read_s={NUMBER} validate_s={NUMBER} analyse_s={NUMBER} peak_rss_mb={NUMBER} "
        rf"validate_over_read={NUMBER}",
        lines[-1],
    ), lines[-1]


@pytest.mark.slow
def test_bench_render_quick_gives_the_naive_loops_results(tmp_path):
    # many BLAS threads for the naive loop, whatever this machine's core count:
    # a report's numbers must not depend on it (CI once had more cores than this)
    lines = _run("bench_render.py", tmp_path, {"OPENBLAS_NUM_THREADS": "8", "OMP_NUM_THREADS": "8"})
    assert "the same 2 reports, results.json identical apart from the render time" in lines
    assert re.fullmatch(rf"speedup_vs_naive={NUMBER} evalkit_s={NUMBER} naive_s={NUMBER} sites=2", lines[-1]), lines[-1]


def test_split_sites_gives_each_site_exactly_its_slice():
    data = synthesise(sites=3, seed=5)
    parts = site.split_sites(data.tables)
    assert sorted(parts) == sorted(data.tables["sites"]["site_id"])
    for s, tables in parts.items():
        whole = site.site_data(data.tables, data.meta, SiteConfig(site=s))
        part = site.site_data(tables, data.meta, SiteConfig(site=s))
        for name, df in whole.tables.items():
            pd.testing.assert_frame_equal(part[name], df)


def test_split_sites_gives_a_worker_who_moved_to_both_sites():
    data = synthesise(sites=2, seed=5)
    tables = dict(data.tables)
    staff = tables["staff"]
    a, b = tables["teams"].groupby("site_id")["team_id"].first()
    absent = staff["worker_id"].isin(tables["absences"]["worker_id"])
    mover = staff[(staff["team_id"] == a) & absent].iloc[[0]].assign(team_id=b)  # a later spell elsewhere
    tables["staff"] = pd.concat([staff, mover])
    worker = mover["worker_id"].iloc[0]
    parts = site.split_sites(tables)
    for s in parts:
        whole = site.site_data(tables, data.meta, SiteConfig(site=s))
        assert worker in set(whole["absences"]["worker_id"])  # the worker's absences belong to both sites
        pd.testing.assert_frame_equal(
            site.site_data(parts[s], data.meta, SiteConfig(site=s))["absences"], whole["absences"]
        )
