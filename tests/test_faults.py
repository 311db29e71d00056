"""Faults during a batch (issue 8): nothing presented as done that is not, and ``--resume`` finishes.

Each scenario renders the two sites of a small synthetic dataset with a
fault-injecting copy of ``tests/data/notebooks/site_report_stub.ipynb``
(``EVALKIT_FAULT=die:<site>`` makes that site's kernel kill itself with
SIGKILL, ``slow:<site>`` makes it sleep), then checks that ``manifest.json``
is valid JSON whose "done" sites have a complete report and results, that
the message says what happened, and that ``--resume`` completes the batch.
The site that hangs past the timeout is tested in test_render.py. The last
test renders, with the real site report, a batch in which a site fails on
data with planted identifiers (test_leaks.py's), and scans what a failure
leaves behind: terminal output, manifest, kept notebooks and logs, and the
metadata of every image.
"""

from __future__ import annotations

import base64
import errno
import json
import os
import re
import signal
import subprocess
import sys
import time
import zlib
from pathlib import Path
from typing import Callable

import nbformat
import pytest
from typer.testing import CliRunner

from evalkit.cli import app
from evalkit.config import SiteConfig, write_params
from evalkit.io import write_dataset
from evalkit.render import REPORT_NOTEBOOK
from evalkit.synth import synthesise

ROOT = Path(__file__).resolve().parents[1]
STUB = ROOT / "tests" / "data" / "notebooks" / "site_report_stub.ipynb"
SITES = ("jyvaskyla", "kuopio")  # rendered in this order with --jobs 1
FAULT_CELL = """\
import time
fault = os.environ.get("EVALKIT_FAULT", "")
if fault == f"slow:{cfg.site}":
    time.sleep(120)
if fault == f"die:{cfg.site}":
    os.kill(os.getpid(), 9)"""
runner = CliRunner()


@pytest.fixture(scope="module")
def faulty(tmp_path_factory) -> Path:
    """The stub with a fault cell before its last cell (the one writing results.json)."""
    nb = nbformat.read(STUB, as_version=4)
    nb.cells.insert(len(nb.cells) - 1, nbformat.v4.new_code_cell(FAULT_CELL))
    path = tmp_path_factory.mktemp("notebooks") / "faulty.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    ds = synthesise(sites=2, seed=5)
    return write_dataset(ds.tables, ds.meta, tmp_path_factory.mktemp("input") / "data")


@pytest.fixture
def batch(tmp_path, dataset, faulty):
    params = tmp_path / "params"
    for site in SITES:
        write_params(SiteConfig(site=site, lang="en"), params / f"{site}.yaml")

    def render(*extra: str):
        return runner.invoke(
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
                str(faulty),
                *extra,
            ],
        )

    return tmp_path / "out", render


def _consistent(out: Path) -> dict:
    """The manifest parses; every site it calls done has a whole report and results; no temporary file."""
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    for site in (s for s, e in manifest["sites"].items() if e["status"] == "done"):
        assert (out / site / "report.html").read_text(encoding="utf-8").rstrip().endswith("</html>"), site
        assert json.loads((out / site / "results.json").read_text(encoding="utf-8"))["site"] == site
    assert not [p for p in out.rglob("*.tmp")]
    return manifest


def _statuses(manifest: dict) -> dict[str, str]:
    return {s: e["status"] for s, e in manifest["sites"].items()}


def _resume_completes(out: Path, render, before: dict) -> None:
    result = render("--resume")
    assert result.exit_code == 0, result.output
    manifest = _consistent(out)
    assert _statuses(manifest) == dict.fromkeys(SITES, "done")
    for site, entry in before["sites"].items():  # what was done is kept, not rendered again
        if entry["status"] == "done":
            assert manifest["sites"][site]["finished"] == entry["finished"]
    assert not list(out.rglob("_work")) and not (out / "_data").exists()


def test_a_kernel_killed_mid_site_fails_that_site_only(batch, faulty, monkeypatch):
    out, render = batch
    monkeypatch.setenv("EVALKIT_FAULT", "die:kuopio")
    result = render("--jobs", "2")
    manifest = _consistent(out)
    assert result.exit_code == 1, result.output
    assert _statuses(manifest) == {"jyvaskyla": "done", "kuopio": "failed"}
    error = manifest["sites"]["kuopio"]["error"]
    assert error["type"] == "DeadKernelError" and "died" in error["message"].lower()
    assert error["code"] == "os.kill(os.getpid(), 9)"  # where it stopped, in the notebook's own words
    assert error["cell"] == len(nbformat.read(faulty, as_version=4).cells) - 1
    assert "DeadKernelError" in " ".join(result.output.split())
    assert not (out / "kuopio" / "results.json").exists()
    assert "This report is incomplete" in (out / "kuopio" / "report.html").read_text(encoding="utf-8")
    monkeypatch.delenv("EVALKIT_FAULT")
    _resume_completes(out, render, manifest)


def test_a_file_where_a_site_folder_must_go_fails_that_site_with_a_message(batch):
    out, render = batch
    out.mkdir()
    (out / "kuopio").write_text("not a folder")
    result = render()
    manifest = _consistent(out)
    assert result.exit_code == 1, result.output
    assert _statuses(manifest) == {"jyvaskyla": "done", "kuopio": "failed"}
    error = manifest["sites"]["kuopio"]["error"]
    assert error["stage"] == "worker"
    assert re.fullmatch(
        r"cannot write (_work|kuopio) \(Not a directory\); fix it and run with --resume", error["message"]
    ), error["message"]
    assert str(out) not in json.dumps(manifest)
    (out / "kuopio").unlink()
    _resume_completes(out, render, manifest)


def test_a_full_disk_mid_batch_leaves_the_last_good_manifest(batch, monkeypatch):
    """No space left once the second site's report is written: every later write fails half-way."""
    out, render = batch
    real_text, real_bytes = Path.write_text, Path.write_bytes
    full = []

    def filling(real):
        def write(path: Path, content, *args, **kw):
            inside = Path(os.path.abspath(path)).is_relative_to(out.resolve())
            if inside and (full or path.parent.name == "kuopio"):
                full.append(path.name)
                real(path, content[: len(content) // 2], *args, **kw)
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
            return real(path, content, *args, **kw)

        return write

    monkeypatch.setattr(Path, "write_text", filling(real_text))
    monkeypatch.setattr(Path, "write_bytes", filling(real_bytes))
    result = render()
    monkeypatch.undo()
    assert full, "the fault was never triggered"
    text = " ".join(result.output.split())
    assert result.exit_code == 2, result.output
    assert "cannot write the reports (No space left on device" in text and "--resume" in text
    manifest = _consistent(out)
    assert _statuses(manifest) == {"jyvaskyla": "done", "kuopio": "pending"}
    assert not list(out.rglob("_work"))  # the executed notebook, unscrubbed, once stayed behind
    _resume_completes(out, render, manifest)


def _interrupt(out: Path, cmd: list[str], ready: Callable[[], bool], twice: bool = False) -> tuple[float, str]:
    """Run ``cmd``, press Ctrl-C once ``ready()`` (twice: again 0.2 s later); seconds to stop, its output."""
    env = {**os.environ, "EVALKIT_FAULT": "slow:kuopio", "COLUMNS": "200"}
    # as from a terminal: Ctrl-C not ignored. A child inherits an ignored SIGINT (never a handler), and
    # something earlier in a long test session can leave this process ignoring it
    inherited = signal.getsignal(signal.SIGINT)
    if inherited == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    finally:
        signal.signal(signal.SIGINT, inherited)
    try:
        deadline = time.monotonic() + 120
        while not ready():
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        started = time.monotonic()
        if twice:
            time.sleep(0.2)
            proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    output = stdout + stderr
    assert proc.returncode == 130, output
    assert "Traceback" not in output
    assert not list(out.rglob("_work")) and not (out / "_data").exists()  # nothing half-done stays in OUT
    return time.monotonic() - started, output


def _command(out: Path, dataset: Path, faulty: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "evalkit",
        "render",
        "--data",
        str(dataset),
        "--params",
        str(out.parent / "params"),
        "--out",
        str(out),
        "--notebook",
        str(faulty),
    ]


def test_ctrl_c_mid_batch_stops_at_once_and_resume_completes(batch, dataset, faulty):
    out, render = batch
    slow_cell_started = []

    def in_slow_cell() -> bool:  # kuopio's kernel is in its slow cell a few seconds after jyvaskyla is done
        if (out / "kuopio" / "_work" / "kernel.log").exists() and (out / "jyvaskyla" / "results.json").exists():
            slow_cell_started.append(time.monotonic())
        return bool(slow_cell_started) and time.monotonic() - slow_cell_started[0] > 8

    took, output = _interrupt(out, _command(out, dataset, faulty), in_slow_cell)
    assert took < 5  # not the 120 s the running cell would take
    assert "interrupted" in output and "--resume" in output
    manifest = _consistent(out)
    assert _statuses(manifest) == {"jyvaskyla": "done", "kuopio": "pending"}
    assert not (out / "kuopio" / "report.html").exists()  # no failure page for a site that was stopped
    _resume_completes(out, render, manifest)


@pytest.mark.parametrize("twice", [False, True], ids=["once", "twice"])
def test_ctrl_c_while_the_kernels_start_stops_within_five_seconds(batch, dataset, faulty, twice):
    out, render = batch
    # the plan is written before the first kernel starts: a moment later they are starting and warming up
    planned = []

    def starting() -> bool:
        if (out / "manifest.json").exists():
            planned.append(time.monotonic())
        return bool(planned) and time.monotonic() - planned[0] > 0.5

    took, output = _interrupt(out, _command(out, dataset, faulty), starting, twice)
    assert "interrupted" in output and "--resume" in output
    assert took < 5  # once took about 60 s: a killed kernel's warm-up waited for its whole timeout
    manifest = _consistent(out)
    assert set(_statuses(manifest).values()) <= {"pending", "done"}
    _resume_completes(out, render, manifest)


def test_ctrl_c_in_the_first_moments_ends_it_without_a_traceback(batch, dataset, faulty):
    # a whole batch (params written, a slow site): whether the Ctrl-C lands while Python loads pandas or
    # a moment later, the command ends at once with exit 130 and no traceback
    out, _ = batch
    started = time.monotonic()
    took, output = _interrupt(out, _command(out, dataset, faulty), lambda: time.monotonic() - started > 0.3)
    assert took < 5


# ------------------------------------------------------------------ what a failure leaves behind
LEAKY_CELL = """\
import sys, warnings
cases = dataset.tables["cases"]
planted = cases[cases["case_id"].str.startswith("PLANTED") | cases["child_id"].str.startswith("PLANTED")]
print(planted[["case_id", "child_id", "team_id"]].to_string())
warnings.warn(f"odd rows: {list(planted['child_id'])}")
raise KeyError(planted["case_id"].iloc[0])"""


def _png_texts(page: str) -> list[bytes]:
    """The text chunks (tEXt, zTXt, iTXt) of every PNG embedded in an HTML page."""
    texts = []
    for data in re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", page):
        png, at = base64.b64decode(data), 8
        while at < len(png):
            size, kind = int.from_bytes(png[at : at + 4], "big"), png[at + 4 : at + 8]
            body = png[at + 8 : at + 8 + size]
            if kind in (b"tEXt", b"iTXt"):
                texts.append(body)
            elif kind == b"zTXt":
                texts.append(zlib.decompress(body.split(b"\0", 1)[1][1:]))
            at += 12 + size
    return texts


@pytest.mark.slow
def test_a_failing_site_leaks_no_identifier_in_messages_logs_notebooks_or_images(tmp_path):
    from test_leaks import PLANTED, THRESHOLD, _plant

    from evalkit.idcode import generate_codes

    ds = synthesise(sites=1, seed=11)
    tables = _plant(ds.tables)
    code = generate_codes(1, seed=3)[0]
    tables["cases"] = tables["cases"].astype({"child_id": object})
    tables["cases"].loc[tables["cases"].index[12], "child_id"] = code
    data = write_dataset(tables, ds.meta, tmp_path / "data")
    nb = nbformat.read(REPORT_NOTEBOOK, as_version=4)
    nb.cells.insert(len(nb.cells) - 1, nbformat.v4.new_code_cell(LEAKY_CELL))
    nbformat.write(nb, tmp_path / "leaky.ipynb")
    write_params(
        SiteConfig(site="kuopio", lang="fi", disclosure_threshold=THRESHOLD), tmp_path / "params" / "kuopio.yaml"
    )
    out = tmp_path / "out"
    result = runner.invoke(
        app,
        [
            "render",
            "--data",
            str(data),
            "--params",
            str(tmp_path / "params"),
            "--out",
            str(out),
            "--notebook",
            str(tmp_path / "leaky.ipynb"),
        ],
    )
    assert result.exit_code == 1, result.output
    kept = out / "kuopio" / "_work" / "report.ipynb"
    assert "KeyError" in kept.read_text(encoding="utf-8")  # still says what failed, for debugging
    needles = [*PLANTED.values(), code]
    machine = [str(tmp_path), str(tmp_path.resolve()), str(ROOT), sys.prefix, os.path.expanduser("~")]
    texts = {"terminal output": result.output}
    texts.update(
        {
            str(p.relative_to(out)): p.read_bytes().decode("utf-8", errors="replace")
            for p in out.rglob("*")
            if p.is_file()
        }
    )
    assert {"manifest.json", "index.html", "kuopio/report.html", "kuopio/_work/report.ipynb"} <= set(texts)
    found = {name: [n for n in needles if n in text] for name, text in texts.items()}
    assert not {k: v for k, v in found.items() if v}
    images = [t for name, text in texts.items() if name.endswith(".html") for t in _png_texts(text)]
    assert not [t for t in images if any(m.encode() in t for m in machine) or any(n.encode() in t for n in needles)]


def test_a_batch_started_to_ignore_ctrl_c_ignores_it(batch, dataset, faulty):
    # a background job of a script (or nohup) starts with SIGINT ignored: evalkit does not take that back
    out, _ = batch
    env = {**os.environ, "EVALKIT_FAULT": "slow:kuopio"}
    inherited = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        proc = subprocess.Popen(
            _command(out, dataset, faulty), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
    finally:
        signal.signal(signal.SIGINT, inherited)
    try:
        deadline = time.monotonic() + 120
        while not (out / "manifest.json").exists():
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        time.sleep(1)  # the kernels are starting: the batch's own Ctrl-C handling would be in place by now
        proc.send_signal(signal.SIGINT)
        time.sleep(3)
        assert proc.poll() is None  # still rendering
    finally:
        proc.kill()
        proc.wait()
