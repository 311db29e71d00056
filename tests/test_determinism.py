"""Same data and params, same answer (issue 8): results.json and report text do not depend on the run.

Two renders of the same small synthetic batch, one with ``--jobs 1`` and one
with ``--jobs 2`` (each kernel a fresh process, so Python's hash seed, thread
timing and the order in which sites finish all differ), must give the same
``results.json`` apart from the stamp's ``rendered_at`` and the same report
HTML apart from the render time. The stub notebook of test_render.py keeps
this fast; one check renders the real site report twice. The dask executor
is compared with the local one in test_render.py. Any randomness a report
uses is seeded from the params (``seed``), and the seed is recorded in the
stamp of results.json.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evalkit.cli import app
from evalkit.config import SiteConfig, write_params
from evalkit.io import write_dataset
from evalkit.synth import synthesise

ROOT = Path(__file__).resolve().parents[1]
STUB = ROOT / "tests" / "data" / "notebooks" / "site_report_stub.ipynb"
REAL = ROOT / "src" / "evalkit" / "templates" / "site_report.ipynb"
SITES = ("jyvaskyla", "kuopio")
STAMP_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00")
runner = CliRunner()


def _render(data: Path, params: Path, out: Path, notebook: Path, *extra: str) -> Path:
    result = runner.invoke(
        app,
        [
            "render",
            "--data",
            str(data),
            "--params",
            str(params),
            "--out",
            str(out),
            "--notebook",
            str(notebook),
            *extra,
        ],
    )
    assert result.exit_code == 0, result.output
    return out


def _results(out: Path, site: str) -> dict:
    doc = json.loads((out / site / "results.json").read_text(encoding="utf-8"))
    assert STAMP_TIME.fullmatch(doc["stamp"].pop("rendered_at"))
    return doc


def _report(out: Path, site: str) -> str:
    # the render time is the one thing a report may differ in (its stamp section)
    return STAMP_TIME.sub("<rendered at>", (out / site / "report.html").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("determinism")
    ds = synthesise(sites=2, seed=5)
    data = write_dataset(ds.tables, ds.meta, base / "data")
    for site in SITES:
        write_params(SiteConfig(site=site, lang="en", seed=7), base / "params" / f"{site}.yaml")
    one = _render(data, base / "params", base / "jobs1", STUB, "--jobs", "1")
    two = _render(data, base / "params", base / "jobs2", STUB, "--jobs", "2")
    return one, two


@pytest.mark.parametrize("site", SITES)
def test_results_json_is_identical_across_runs_and_jobs(two_runs, site):
    one, two = two_runs
    first = _results(one, site)
    assert first["key_estimates"] and first["results"]  # something to compare
    assert first == _results(two, site)
    # byte for byte too, once the render time is masked: keys are written sorted
    texts = [STAMP_TIME.sub("", (o / site / "results.json").read_text(encoding="utf-8")) for o in two_runs]
    assert texts[0] == texts[1]


@pytest.mark.parametrize("site", SITES)
def test_report_text_is_identical_apart_from_the_render_time(two_runs, site):
    one, two = two_runs
    assert _report(one, site) == _report(two, site)


def test_the_seed_comes_from_params_and_is_recorded(two_runs):
    for out in two_runs:
        for site in SITES:
            assert _results(out, site)["stamp"]["params"]["seed"] == 7


@pytest.mark.slow
def test_the_real_site_report_is_identical_across_two_runs(tmp_path):
    ds = synthesise(sites=1, seed=11)
    data = write_dataset(ds.tables, ds.meta, tmp_path / "data")
    write_params(SiteConfig(site="kuopio", lang="fi", seed=3), tmp_path / "params" / "kuopio.yaml")
    runs = [_render(data, tmp_path / "params", tmp_path / f"run{i}", REAL) for i in (1, 2)]
    first, second = (_results(out, "kuopio") for out in runs)
    assert first["stamp"]["params"]["seed"] == 3 and first["key_estimates"]
    assert first == second
    page = _report(runs[0], "kuopio")
    assert "<rendered at>" in page  # the stamp section shows the time, and only that is masked
    assert page == _report(runs[1], "kuopio")
