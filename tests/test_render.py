"""evalkit.render: the batch renderer, through the command line as a user runs it.

One small synthetic batch (3 sites) is rendered with the test notebook
``tests/data/notebooks/site_report_stub.ipynb`` (the site report's
parameters and outputs, a fraction of its content), with one site broken by
a bad params file, one by a typo in a key, one whose estimator fails in a
cell. Later tests resume that batch. Kernel-free tests cover params checks,
the shared data, the lock and the manifest's wording of errors.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from evalkit import render
from evalkit.render._files import BatchLock, Manifest, RenderError
from evalkit.render._params import template_text
from evalkit.cli import app
from evalkit.config import SiteConfig
from evalkit.io import write_dataset
from evalkit.site import KEY_ESTIMATES
from evalkit.synth import synthesise

ROOT = Path(__file__).resolve().parents[1]
STUB = ROOT / "tests" / "data" / "notebooks" / "site_report_stub.ipynb"
SITES = ("kuopio", "jyvaskyla", "joensuu")
runner = CliRunner()


def _checksums(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def _render(data: Path, params: Path, out: Path, *extra: str):
    return runner.invoke(
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
            str(STUB),
            "--lang",
            "en",
            *extra,
        ],
    )


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    ds = synthesise(sites=3, seed=5)
    return write_dataset(ds.tables, ds.meta, tmp_path_factory.mktemp("input") / "data")


@pytest.fixture(scope="module")
def batch(dataset, tmp_path_factory):
    """The broken batch: params for the 3 sites + a ghost site + a typo; jyvaskyla's estimator fails."""
    base = tmp_path_factory.mktemp("batch")
    params, out = base / "params", base / "out"
    made = runner.invoke(app, ["params", "--data", str(dataset), "--out", str(params)])
    assert made.exit_code == 0, made.output
    (params / "ghost.yaml").write_text("site: ghost\n")
    (params / "typo.yaml").write_text("site: joensuu\nlangauge: en\n")
    before = _checksums(dataset)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EVALKIT_STUB_FAIL", "jyvaskyla")
        result = _render(dataset, params, out, "--jobs", "2")
    manifest = json.loads((out / "manifest.json").read_text())
    mtimes = {s: (out / s / "report.html").stat().st_mtime_ns for s in SITES}
    return {
        "base": base,
        "params": params,
        "out": out,
        "result": result,
        "manifest": manifest,
        "mtimes": mtimes,
        "input_unchanged": before == _checksums(dataset),
    }


# ------------------------------------------------------------------ the broken batch
def test_a_failed_site_does_not_stop_the_others_and_the_exit_code_says_so(batch):
    assert batch["result"].exit_code == 1, batch["result"].output
    sites = batch["manifest"]["sites"]
    assert {s: e["status"] for s, e in sites.items()} == {
        "kuopio": "done",
        "joensuu": "done",
        "jyvaskyla": "failed",
        "ghost": "failed",
        "typo": "failed",
    }
    for site in ("kuopio", "joensuu"):
        doc = json.loads((batch["out"] / site / "results.json").read_text())
        assert doc["site"] == site and doc["key_estimates"]  # each kernel wrote into its own folder
        assert sites[site]["duration_s"] > 0


def test_the_manifest_names_the_failing_cell_section_and_error(batch):
    err = batch["manifest"]["sites"]["jyvaskyla"]["error"]
    assert err["stage"] == "notebook" and err["type"] == "EstimationError"
    assert err["section"] == "Planted faults"
    assert err["cell"] == 9  # 1-based cell of site_report_stub.ipynb that raises
    assert err["code"] == 'raise EstimationError("planted failure: the model for this site cannot be estimated")'
    assert "cannot be estimated" in err["message"]


def test_bad_params_fail_their_site_with_file_and_key(batch):
    sites = batch["manifest"]["sites"]
    assert sites["ghost"]["error"]["stage"] == "params"
    assert sites["ghost"]["error"]["message"] == "params/ghost.yaml: key 'site': the dataset has no site 'ghost'"
    assert sites["typo"]["error"]["message"] == "params/typo.yaml: unknown key 'langauge'"
    assert "params/typo.yaml" in batch["result"].output


def test_rendering_leaves_the_input_folder_byte_identical(batch):
    assert batch["input_unchanged"]


def test_reports_are_report_mode_without_code_tracebacks_stderr_or_paths(batch):
    out = batch["out"]
    machine = [str(batch["base"]), str(batch["base"].resolve()), str(ROOT), sys.prefix, os.path.expanduser("~")]
    for site in SITES:
        page = (out / site / "report.html").read_text()
        assert "<img" in page and "Key estimates" in page
        for leaked in (
            "Traceback",
            "import matplotlib",
            "config_json",
            "injected",
            "working in",
            "An Exception was encountered",
            'EVALKIT_STUB_FAIL") ==',
        ):
            assert leaked not in page, (site, leaked)
        assert not [m for m in machine if m in page], site
        assert "<script src=" not in page  # no CDN calls from a published report
    failed = (out / "jyvaskyla" / "report.html").read_text()
    assert "This report is incomplete" in failed and "Planted faults" in failed
    assert "incomplete" not in (out / "kuopio" / "report.html").read_text()


def test_work_notebooks_are_kept_only_for_failed_sites_and_hold_no_machine_paths(batch):
    out = batch["out"]
    assert not (out / "kuopio" / "_work").exists()
    kept = out / "jyvaskyla" / "_work" / "report.ipynb"
    text = kept.read_text()
    assert "EstimationError" in text  # what a developer needs to debug
    assert str(batch["base"].resolve()) not in text and str(ROOT) not in text and sys.prefix not in text
    assert str(batch["base"].resolve()) not in (out / "manifest.json").read_text()


def test_the_dataset_is_validated_once_and_shared_as_parquet(batch, dataset, tmp_path):
    shared = render.prepare_batch_data(dataset, tmp_path / "_data")
    meta = yaml.safe_load((shared.path / "dataset.yaml").read_text())
    assert meta["source_sha256"] == batch["manifest"]["batch"]["dataset_sha256"]
    assert (shared.path / "cases.parquet").is_file() and not list(shared.path.glob("*.csv"))
    assert all(p.stat().st_mode & 0o222 == 0 for p in shared.path.iterdir())  # read-only for every kernel


def test_no_row_level_data_is_left_in_the_output_folder(batch):
    # OUT is what evaluators publish; the shared Parquet copy is removed when the batch ends
    assert not (batch["out"] / "_data").exists()
    assert not list(batch["out"].rglob("*.parquet"))


# ------------------------------------------------------------------ resume
@pytest.fixture(scope="module")
def resumed(batch, dataset):
    result = _render(dataset, batch["params"], batch["out"], "--resume", "--jobs", "2")
    manifest = json.loads((batch["out"] / "manifest.json").read_text())
    return result, manifest


def test_resume_renders_only_the_site_that_failed_in_its_notebook(batch, resumed):
    result, manifest = resumed
    out = batch["out"]
    assert manifest["sites"]["jyvaskyla"]["status"] == "done"
    assert (out / "jyvaskyla" / "results.json").is_file() and not (out / "jyvaskyla" / "_work").exists()
    for site in ("kuopio", "joensuu"):
        assert (out / site / "report.html").stat().st_mtime_ns == batch["mtimes"][site]
        assert manifest["sites"][site]["finished"] == batch["manifest"]["sites"][site]["finished"]
    assert (out / "jyvaskyla" / "report.html").stat().st_mtime_ns > batch["mtimes"]["jyvaskyla"]
    assert result.exit_code == 1  # the bad params files are still there
    assert "1/1" in result.output  # one progress bar for the batch, one site rendered


def test_resume_with_params_fixed_exits_zero_without_rendering_again(batch, resumed, dataset):
    (batch["params"] / "ghost.yaml").unlink()
    (batch["params"] / "typo.yaml").unlink()
    result = _render(dataset, batch["params"], batch["out"], "--resume")
    manifest = json.loads((batch["out"] / "manifest.json").read_text())
    assert result.exit_code == 0, result.output
    assert set(manifest["sites"]) == set(SITES)
    assert manifest["sites"]["kuopio"]["finished"] == resumed[1]["sites"]["kuopio"]["finished"]
    index = (batch["out"] / "index.html").read_text()
    assert all(f'href="{s}/report.html"' in index for s in SITES)
    assert index.count("<img") == len(KEY_ESTIMATES)  # a forest plot per key estimate, 3 sites each


def test_resume_refuses_a_changed_dataset(batch, tmp_path):
    ds = synthesise(sites=3, seed=6)
    other = write_dataset(ds.tables, ds.meta, tmp_path / "other")
    result = _render(other, batch["params"], batch["out"], "--resume")
    assert result.exit_code == 2 and "dataset changed" in result.output


# ------------------------------------------------------------------ without kernels
def test_a_second_render_into_the_same_folder_is_refused(tmp_path, dataset):
    (tmp_path / "params").mkdir()
    with BatchLock(tmp_path / "out"):
        result = _render(dataset, tmp_path / "params", tmp_path / "out")
    assert result.exit_code == 2
    assert "another evalkit render is writing into out/" in " ".join(result.output.split())
    with BatchLock(tmp_path / "out"):  # released when the holder finished
        pass


def test_load_site_params_names_file_and_key_for_each_kind_of_error(tmp_path):
    (tmp_path / "kuopio.yaml").write_text("site: kuopio\ndisclosure_threshold: five\n")
    (tmp_path / "joensuu.yaml").write_text("site: kuopio\n")
    (tmp_path / "_template.yaml").write_text("not: checked\n")
    (tmp_path / "jyvaskyla.yaml").write_text("site: jyvaskyla\nlang: sv\n")
    configs, errors = render.load_site_params(tmp_path, "en", SITES)
    assert list(configs) == ["jyvaskyla"] and configs["jyvaskyla"].lang == "en"  # --lang wins
    name = tmp_path.name
    assert errors["kuopio"].startswith(f"{name}/kuopio.yaml: key 'disclosure_threshold'")
    assert errors["joensuu"] == f"{name}/joensuu.yaml: key 'site' is 'kuopio' but the file is named 'joensuu'"
    assert str(tmp_path) not in " ".join(errors.values())


def test_error_messages_that_may_quote_data_are_withheld():
    assert render._error("KeyError", "'C000123'")["message"].startswith("message withheld")
    assert (
        render._error("EstimationError", "no events in the pilot arm\nmore")["message"] == "no events in the pilot arm"
    )
    assert render._error("CellTimeoutError", "A cell timed out after 5 seconds")["message"].startswith("A cell")


def test_prepare_batch_data_counts_rows_set_aside(tmp_path):
    ds = synthesise(sites=1, seed=2)
    tables = dict(ds.tables)
    cases = tables["cases"].copy()
    cases.loc[0, "age_at_opening"] = 40  # out of range: set aside
    tables["cases"] = cases
    data = write_dataset(tables, ds.meta, tmp_path / "in")
    shared = render.prepare_batch_data(data, tmp_path / "out" / "_data")
    assert shared.site_ids == ("kuopio",)
    assert shared.set_aside["cases"] >= 1
    assert set(shared.set_aside) <= {"cases", "placements", "contacts"}  # children of the bad case only


def test_batch_fails_to_start_without_notebook_or_params_folder(tmp_path, dataset):
    with pytest.raises(RenderError, match="params folder"):
        render.render_batch(dataset, tmp_path / "out", tmp_path / "none", render.RenderOptions(notebook=STUB))
    with pytest.raises(RenderError, match="unknown executor 'spark://x'"):
        render.render_batch(
            dataset, tmp_path / "out", tmp_path, render.RenderOptions(notebook=STUB, executor="spark://x")
        )
    with pytest.raises(RenderError, match="notebook nothing.ipynb is missing"):
        render.render_batch(
            dataset, tmp_path / "out", tmp_path, render.RenderOptions(notebook=tmp_path / "nothing.ipynb")
        )


def test_params_command_writes_each_site_keeps_edits_and_a_template_that_loads(tmp_path, dataset):
    out = tmp_path / "params"
    assert runner.invoke(app, ["params", "--data", str(dataset), "--out", str(out)]).exit_code == 0
    assert sorted(p.name for p in out.glob("*.yaml")) == ["_template.yaml", *sorted(f"{s}.yaml" for s in SITES)]
    (out / "kuopio.yaml").write_text("site: kuopio\nlang: sv\n")
    (out / "joensuu.yaml").unlink()
    again = runner.invoke(app, ["params", "--data", str(dataset), "--out", str(out), "--lang", "en"])
    assert "1 params file(s) written, 2 kept" in again.output
    assert yaml.safe_load((out / "kuopio.yaml").read_text())["lang"] == "sv"
    assert yaml.safe_load((out / "joensuu.yaml").read_text())["lang"] == "en"
    filled = yaml.safe_load(template_text().replace("your_site_id", "kuopio"))
    assert SiteConfig(**filled) == SiteConfig(site="kuopio")  # the template shows the true defaults


def test_manifest_survives_reopening_and_writes_atomically(tmp_path):
    m = Manifest(tmp_path)
    m.record("kuopio", {"status": "done"})
    m.set_batch(lang="fi")
    assert Manifest(tmp_path).done() == {"kuopio"} and Manifest(tmp_path).batch["lang"] == "fi"
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.json"]  # no temporary file left behind


# ------------------------------------------------------------------ faults and executors
def test_a_hanging_cell_fails_its_site_at_the_timeout(tmp_path, dataset):
    params = tmp_path / "params"
    params.mkdir()
    (params / "joensuu.yaml").write_text("site: joensuu\n")
    result = runner.invoke(
        app,
        [
            "render",
            "--data",
            str(dataset),
            "--params",
            str(params),
            "--out",
            str(tmp_path / "out"),
            "--notebook",
            str(STUB.with_name("hang.ipynb")),
            "--timeout",
            "3",
        ],
    )
    entry = json.loads((tmp_path / "out" / "manifest.json").read_text())["sites"]["joensuu"]
    assert result.exit_code == 1
    assert entry["error"]["type"] == "CellTimeoutError"
    assert (entry["error"]["cell"], entry["error"]["section"]) == (4, "A slow analysis")
    assert "raportti on keskeneräinen" in (tmp_path / "out" / "joensuu" / "report.html").read_text()  # lang: fi


@pytest.mark.slow
def test_dask_executor_renders_the_same_results_as_local(batch, resumed, dataset, tmp_path):
    distributed = pytest.importorskip("distributed")
    params = tmp_path / "params"
    params.mkdir()
    for site in ("kuopio", "joensuu"):
        (params / f"{site}.yaml").write_text((batch["params"] / f"{site}.yaml").read_text())
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, protocol="tcp://", dashboard_address=None
    ) as cluster:
        address = cluster.scheduler_address.replace("tcp://", "dask://")
        result = _render(dataset, params, tmp_path / "out", "--executor", address)
    assert result.exit_code == 0, result.output
    for site in ("kuopio", "joensuu"):
        local = json.loads((batch["out"] / site / "results.json").read_text())
        remote = json.loads((tmp_path / "out" / site / "results.json").read_text())
        assert remote["key_estimates"] == local["key_estimates"]
        assert remote["results"] == local["results"]


@pytest.mark.slow
def test_an_unreachable_dask_scheduler_is_a_clear_start_error(tmp_path, dataset):
    pytest.importorskip("distributed")
    (tmp_path / "params").mkdir()
    (tmp_path / "params" / "kuopio.yaml").write_text("site: kuopio\n")
    result = _render(dataset, tmp_path / "params", tmp_path / "out", "--executor", "dask://127.0.0.1:9")
    assert result.exit_code == 2
    assert re.search(r"cannot reach the dask scheduler at dask://127\.0\.0\.1:9", " ".join(result.output.split()))


def test_engine_papermill_from_the_command_line_gives_the_warm_engines_results(batch, dataset, tmp_path):
    params = tmp_path / "params"
    params.mkdir()
    (params / "kuopio.yaml").write_text((batch["params"] / "kuopio.yaml").read_text())
    result = _render(dataset, params, tmp_path / "out", "--engine", "papermill")
    assert result.exit_code == 0, result.output
    warm = json.loads((batch["out"] / "kuopio" / "results.json").read_text())
    cold = json.loads((tmp_path / "out" / "kuopio" / "results.json").read_text())
    assert cold["results"] == warm["results"] and cold["key_estimates"] == warm["key_estimates"]
    refused = _render(dataset, params, tmp_path / "out2", "--engine", "lukewarm")
    assert refused.exit_code == 2 and "warm or papermill" in refused.output


def test_render_without_params_renders_every_site_with_defaults(tmp_path, dataset):
    out = tmp_path / "out"
    result = runner.invoke(
        app, ["render", "--data", str(dataset), "--out", str(out), "--notebook", str(STUB), "--lang", "sv"]
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert set(manifest["sites"]) == set(SITES) and not manifest["batch"]["sites_without_params"]
    assert all(e["status"] == "done" for e in manifest["sites"].values())
    assert '<html lang="sv">' in (out / "kuopio" / "report.html").read_text(encoding="utf-8")


def test_report_page_has_a_readable_title_print_style_and_no_unused_notebook_css(batch):
    page = (batch["out"] / "kuopio" / "report.html").read_text(encoding="utf-8")
    title = re.search(r"<title>(.*?)</title>", page).group(1)
    assert "Kuopio" in title and "evalkit" not in title  # the municipality and the subject, not an id
    assert "@page{size:A4" in page and "break-inside:avoid" in page and "max-width:80ch" in page
    assert "--jp-" not in page and len(page.encode()) < 120_000  # JupyterLab's ~270 KB theme is not shipped


def test_index_lists_every_site_of_the_data_also_those_without_params(tmp_path, dataset):
    params = tmp_path / "params"
    made = runner.invoke(app, ["params", "--data", str(dataset), "--out", str(params)])
    assert made.exit_code == 0, made.output
    for site in ("jyvaskyla", "joensuu"):
        (params / f"{site}.yaml").unlink()
    result = _render(dataset, params, tmp_path / "out")
    assert result.exit_code == 0, result.output
    page = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    rows = re.findall(r"<tr><td>(.*?)</td><td class=\"(\w+)\">", page)
    assert {status for _, status in rows} == {"done", "no_params"} and len(rows) == 3
