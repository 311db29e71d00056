"""The index and the site reports, opened in headless Chromium in fi, sv and en: on screen and on A4.

A 3-site batch is rendered in each language with the site report notebook
(``src/evalkit/templates/site_report.ipynb``). Debian's chromium then
- takes screenshots of ``index.html`` and one ``report.html`` at 1400 px: a
  figure counts as visible when the page has decodable ``<img>`` data and the
  screenshot holds many strongly coloured pixels (the palette's marks; text
  and rules are grey);
- prints both to PDF (A4, as a reader's browser does): every figure is on
  exactly one page (one that a page break cut would be drawn on two), no page
  ends with a heading, and the printed text has no "nan" or "inf";
- dumps the DOM it shows: every image has alternative text.
Each rendered folder also passes :func:`evalkit.audit.audit_output` (small
counts, placeholders, tick-label overlaps, one interval and hash everywhere).
``python3 tasks.py test`` installs chromium when run as root; without it
these tests are skipped with that reason.
"""

from __future__ import annotations

import base64
import io
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from evalkit.audit import audit_output
from evalkit.cli import app
from evalkit.io import write_dataset
from evalkit.synth import synthesise

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None, reason="Debian chromium is not installed (`python3 tasks.py test` as root installs it)"
    ),
]
LANGS = ("fi", "sv", "en")
A4 = (595.3, 841.9)  # points


@pytest.fixture(scope="module")
def batches(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("shots")
    ds = synthesise(sites=3, seed=4)
    data = write_dataset(ds.tables, ds.meta, base / "data")
    runner = CliRunner()
    assert runner.invoke(app, ["params", "--data", str(data), "--out", str(base / "params")]).exit_code == 0
    out = {}
    for lang in LANGS:
        result = runner.invoke(
            app,
            [
                "render",
                "--data",
                str(data),
                "--params",
                str(base / "params"),
                "--out",
                str(base / lang),
                "--jobs",
                "2",
                "--lang",
                lang,
            ],
        )
        assert result.exit_code == 0, result.output
        out[lang] = base / lang
    return out


@pytest.fixture(scope="module")
def rendered(batches) -> Path:
    return batches["fi"]


def _chromium(page: Path, profile: Path, *options: str) -> str:
    done = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            *options,
            page.resolve().as_uri(),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.stdout


def _screenshot(page: Path, png: Path) -> np.ndarray:
    # the width readers use; tall enough for the figures below the summary
    _chromium(page, png.parent / "chromium-profile", f"--screenshot={png}", "--window-size=1400,8000")
    return np.asarray(Image.open(png).convert("RGB")).astype(int)


def _pdf(page: Path, pdf: Path):
    from pypdf import PdfReader

    _chromium(page, pdf.parent / "chromium-profile", f"--print-to-pdf={pdf}", "--no-pdf-header-footer")
    return PdfReader(pdf)


class _Headings(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []
        self._open = False

    def handle_starttag(self, tag, attrs):
        if tag in ("h1", "h2", "h3", "h4"):
            self._open = True
            self.texts.append("")

    def handle_endtag(self, tag):
        if tag in ("h1", "h2", "h3", "h4"):
            self._open = False

    def handle_data(self, data):
        if self._open:
            self.texts[-1] += data


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("\ufb01", "fi").replace("\ufb02", "fl")).strip()


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


def _pages(lang_batch: Path) -> list[Path]:
    return [lang_batch / "index.html", sorted(lang_batch.glob("*/report.html"))[0]]


@pytest.mark.parametrize("lang", LANGS)
def test_every_rendered_folder_passes_the_output_audit(batches, lang):
    assert [str(f) for f in audit_output(batches[lang])] == []


@pytest.mark.parametrize("lang", LANGS)
def test_pages_at_1400_px_show_their_figures_in_every_language(batches, lang, tmp_path):
    for page in _pages(batches[lang]):
        pixels = _screenshot(page, tmp_path / f"{page.parent.name}-{lang}.png")
        assert _coloured(pixels).sum() > 5000, page
        assert pixels.shape[1] == 1400


@pytest.mark.parametrize("lang", LANGS)
def test_printed_on_a4_no_figure_is_cut_and_no_page_ends_with_a_heading(batches, lang, tmp_path):
    for page in _pages(batches[lang]):
        html = page.read_text(encoding="utf-8")
        reader = _pdf(page, tmp_path / f"{page.parent.name}-{lang}.pdf")
        size = reader.pages[0].mediabox
        assert abs(float(size.width) - A4[0]) < 1 and abs(float(size.height) - A4[1]) < 1
        # a figure cut by a page break is drawn on both pages
        assert sum(len(p.images) for p in reader.pages) == html.count("<img"), page
        parser = _Headings()
        parser.feed(html)
        headings = [_squash(h) for h in parser.texts if _squash(h)]
        assert headings
        for number, pdf_page in enumerate(reader.pages[:-1], start=1):
            lines = [_squash(line) for line in pdf_page.extract_text().splitlines() if _squash(line)]
            last = lines[-1] if lines else ""
            assert not (len(last) >= 8 and any(last in h for h in headings)), (page.name, number, last)
        printed = " ".join(p.extract_text() for p in reader.pages)
        assert not re.search(r"\b(?:nan|inf)\b", printed, re.IGNORECASE), page


@pytest.mark.parametrize("lang", LANGS)
def test_every_image_the_browser_shows_has_alternative_text(batches, lang, tmp_path):
    for page in _pages(batches[lang]):
        dom = _chromium(page, tmp_path / "chromium-profile", "--dump-dom")
        images = re.findall(r"<img\b[^>]*>", dom)
        assert images, page
        assert all(re.search(r'\balt="[^"]+"', img) for img in images), page
