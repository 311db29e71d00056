"""The index and a site report, opened in headless Chromium: their figures are visible.

A 2-site batch is rendered (Finnish) with the site report notebook
(``notebooks/90_site_report.ipynb``), then Debian's chromium takes a
screenshot of ``index.html`` and of one ``report.html``.
A figure counts as visible when the page has decodable ``<img>`` data and
the screenshot holds many strongly coloured pixels (the palette's marks;
text and rules are grey). ``python3 tasks.py test`` installs chromium when
run as root; without it these tests are skipped with that reason.
"""
from __future__ import annotations

import base64
import io
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from evalkit.cli import app
from evalkit.io import write_dataset
from evalkit.synth import synthesise

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    CHROMIUM is None, reason="Debian chromium is not installed (`python3 tasks.py test` as root installs it)")]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("shots")
    ds = synthesise(sites=2, seed=4)
    data = write_dataset(ds.tables, ds.meta, base / "data")
    runner = CliRunner()
    assert runner.invoke(app, ["params", "--data", str(data), "--out", str(base / "params")]).exit_code == 0
    result = runner.invoke(app, ["render", "--data", str(data), "--params", str(base / "params"), "--out",
                                 str(base / "out"), "--jobs", "2", "--lang", "fi"])
    assert result.exit_code == 0, result.output
    return base / "out"


def _screenshot(page: Path, png: Path) -> np.ndarray:
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    f"--user-data-dir={png.parent / 'chromium-profile'}", f"--screenshot={png}",
                    "--window-size=1400,8000", page.resolve().as_uri()],  # the width readers use; tall enough for the figures below the summary
                   check=True, capture_output=True, timeout=120)
    return np.asarray(Image.open(png).convert("RGB")).astype(int)


def _coloured(pixels: np.ndarray) -> np.ndarray:
    return (pixels.max(axis=2) - pixels.min(axis=2)) > 80


def _inline_images(page: Path) -> list[Image.Image]:
    data = re.findall(r'src="data:image/png;base64,([^"]+)"', page.read_text())
    return [Image.open(io.BytesIO(base64.b64decode(d))) for d in data]


def test_index_screenshot_shows_the_forest_plots(rendered, tmp_path):
    images = _inline_images(rendered / "index.html")
    assert len(images) >= 1 and all(im.width * im.height > 0 for im in images)
    pixels = _screenshot(rendered / "index.html", tmp_path / "index.png")
    coloured = _coloured(pixels)
    assert coloured.sum() > 5000  # squares, diamonds and intervals of the forest plots
    rows = np.flatnonzero(coloured.any(axis=1))
    assert rows.max() - rows.min() > 500  # spread down the page, not one stray mark
    assert (pixels.min(axis=2) < 235).mean() > 0.02  # the page is not blank


def test_site_report_screenshot_shows_its_figure(rendered, tmp_path):
    page = rendered / "kuopio" / "report.html"
    images = _inline_images(page)
    assert images and all(im.width * im.height > 0 for im in images)
    assert len(images) >= 4  # summary, survival, costs, workforce figures at least
    pixels = _screenshot(page, tmp_path / "report.png")
    assert _coloured(pixels).sum() > 5000
    assert (pixels.min(axis=2) < 235).mean() > 0.01


def test_rendered_pages_show_no_code_tracebacks_or_machine_paths(rendered):
    root = str(Path(__file__).resolve().parents[1])
    for page in [rendered / "index.html", *sorted(rendered.glob("*/report.html"))]:
        text = page.read_text()
        assert "Traceback" not in text and "report.load_config" not in text and "config_json" not in text
        assert str(rendered.parent) not in text and root not in text, page.name
