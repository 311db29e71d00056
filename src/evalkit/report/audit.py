"""Audit a published output folder: every file passes the same disclosure and consistency rules.

``evalkit render`` runs :func:`audit_output` on its output folder when the
batch ends (a finding makes it exit 1, the manifest lists the findings), and
``evalkit audit OUT`` runs it on a folder as it is about to be published.
A finding names the file, the rule and where (table and row, estimate,
figure), never the value: a message must not leak what the rule protects.

Rules
-----
``small_count``
    A count of 1 to threshold - 1: in a JSON field named in
    :data:`evalkit.disclosure.COUNT_NAMES`, a cell of a report's count table
    (``class="evalkit-counts"``) or a CSV column with such a name.
``not_a_number``
    "nan", "inf" or ".." in visible prose (".." marks a hidden cell of a
    table and is allowed there, and quoted in the note that explains it).
``no_alt``
    A figure without alternative text.
``tick_overlap`` / ``unchecked_figure``
    A figure whose tick labels overlap, or that carries no record of the
    check evalkit makes when it saves a figure.
``withheld_quoted``
    A number in the summary line of an estimate whose section is withheld.
``interval_differs``
    A site's interval in the summary or on the index differs from its
    ``results.json`` (beyond the rounding shown).
``hash_differs``
    The data hash differs between the manifest, a ``results.json``, its
    report or the index.
``debug_notebook``
    A failed site's executed notebook (``_work/``): for debugging, not for
    publication.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import math
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Iterator

from evalkit.core.disclosure import COUNT_NAMES, DEFAULT_THRESHOLD

__all__ = ["Finding", "audit_output"]


@dataclass(frozen=True)
class Finding:
    """One breach of a rule: the file (relative to the folder), the rule and where, never the value."""

    file: str
    rule: str
    where: str

    def __str__(self) -> str:
        return f"{self.file}: {self.rule} ({self.where})"


def audit_output(out: str | Path) -> list[Finding]:
    """Check every file of a rendered output folder against the publication rules (see the module).

    Parameters
    ----------
    out : str or Path
        The folder ``evalkit render --out`` wrote.

    Returns
    -------
    list of Finding
        Empty when the folder may be published.

    Examples
    --------
    >>> import json, tempfile
    >>> from pathlib import Path
    >>> out = Path(tempfile.mkdtemp())
    >>> _ = (out / "manifest.json").write_text(json.dumps({"batch": {"rows": {"n": 3}}}))
    >>> [str(f) for f in audit_output(out)]
    ['manifest.json: small_count (/batch/rows/n)']
    """
    out = Path(out)
    sites = _site_documents(out)
    lowest = min(
        (d.get("disclosure_threshold") or DEFAULT_THRESHOLD for d in sites.values()), default=DEFAULT_THRESHOLD
    )
    findings: list[Finding] = []
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        rel = path.relative_to(out).as_posix()
        doc = sites.get(path.parent.name) if path.parent != out else None
        threshold = int(doc.get("disclosure_threshold") or DEFAULT_THRESHOLD) if doc else lowest
        if "_work" in path.relative_to(out).parts:
            findings.append(Finding(rel, "debug_notebook", "remove the _work folder before publishing"))
        elif path.suffix == ".json":
            findings += [Finding(rel, "small_count", where) for where in _small_json(path, threshold)]
        elif path.suffix == ".html":
            findings += [Finding(rel, rule, where) for rule, where in _html_findings(path, threshold, doc, sites)]
        elif path.suffix == ".csv":
            findings += [Finding(rel, "small_count", where) for where in _small_csv(path, threshold)]
        elif path.suffix == ".png":
            findings += [Finding(rel, rule, "figure") for rule in _figure_rules(path.read_bytes())]
    return findings + _hash_findings(out, sites)


def _site_documents(out: Path) -> dict[str, dict[str, Any]]:
    docs = {}
    for path in out.glob("*/results.json"):
        try:
            docs[path.parent.name] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            docs[path.parent.name] = {}
    return docs


def _small(value: float, threshold: int) -> bool:
    return 1 <= value < threshold


# ---------------------------------------------------------------- JSON and CSV
def _count_fields(node: Any, where: str = "") -> Iterator[tuple[str, float]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in COUNT_NAMES and isinstance(value, (int, float)) and not isinstance(value, bool):
                yield f"{where}/{key}", value
            yield from _count_fields(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _count_fields(value, f"{where}[{i}]")


def _small_json(path: Path, threshold: int) -> list[str]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ["not readable as JSON"]
    return [where for where, value in _count_fields(doc) if _small(value, threshold)]


def _small_csv(path: Path, threshold: int) -> list[str]:
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    if not rows:
        return []
    counted = [i for i, name in enumerate(rows[0]) if name.strip() in COUNT_NAMES]
    return [
        f"column {rows[0][i]}, row {r}"
        for r, row in enumerate(rows[1:], start=1)
        for i in counted
        if i < len(row) and (count := _as_count(row[i])) is not None and _small(count, threshold)
    ]


def _as_count(text: str) -> int | None:
    digits = re.sub(r"[\s\u00a0\u202f,]", "", text)
    return int(digits) if digits.isdigit() else None


# ---------------------------------------------------------------- figures
def _figure_rules(png: bytes) -> list[str]:
    from PIL import Image

    from evalkit.report.plots._base import OVERLAP_KEY

    try:
        # a PNG opens as PngImageFile, whose .text holds the tEXt chunks (the stub types Image.open as ImageFile)
        recorded = Image.open(io.BytesIO(png)).text.get(OVERLAP_KEY)  # type: ignore[attr-defined]
    except OSError:
        return ["unchecked_figure"]
    if recorded is None:
        return ["unchecked_figure"]
    return [] if recorded == "0" else ["tick_overlap"]


# ---------------------------------------------------------------- HTML
class _Page(HTMLParser):
    """What the audit needs from a page: prose, count cells, figures, summary lines and index rows."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lang = "en"
        self.prose: list[str] = []
        self.count_cells: list[tuple[int, int, str]] = []  # (table, row, text)
        self.images: list[dict[str, str]] = []
        self.lines: dict[str, str] = {}  # summary line of each key estimate
        self.forest: list[tuple[str, list[str]]] = []  # (estimate, [site, estimate, interval, weight])
        self._stack: list[tuple[str, dict[str, str]]] = []
        self._tables = 0
        self._rows: list[int] = []  # rows so far of each open table
        self._row: list[str] = []
        self._cell: list[str] | None = None

    def _inside(self, tag: str) -> dict[str, str] | None:
        return next((attrs for t, attrs in reversed(self._stack) if t == tag), None)

    def handle_starttag(self, tag: str, attrs_list: list) -> None:
        attrs = {k: v or "" for k, v in attrs_list}
        if tag == "html":
            self.lang = attrs.get("lang", "en")
        if tag == "img":
            self.images.append(attrs)
            return
        if tag in ("br", "meta", "link", "hr", "input"):
            return
        self._stack.append((tag, attrs))
        if tag == "table":
            self._tables += 1
            self._rows.append(0)
        elif tag == "tr":
            self._row = []
            if self._rows:
                self._rows[-1] += 1
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if not any(t == tag for t, _ in self._stack):
            return
        while self._stack:
            t, attrs = self._stack.pop()
            if t in ("td", "th") and self._cell is not None:
                text = "".join(self._cell).strip()
                self._row.append(text)
                self._cell = None
                table = self._inside("table")
                if t == "td" and table is not None and "evalkit-counts" in table.get("class", ""):
                    self.count_cells.append((self._tables, self._rows[-1] if self._rows else 0, text))
            elif t == "table" and self._rows:
                self._rows.pop()
            elif t == "tr" and self._inside("div") is not None:
                key = (self._inside("div") or {}).get("data-estimate")
                if key and self._row:
                    self.forest.append((key, self._row))
            if t == tag:
                break

    def handle_data(self, data: str) -> None:
        if self._inside("style") is not None or self._inside("script") is not None:
            return
        if self._cell is not None:
            self._cell.append(data)
            return
        self.prose.append(data)
        li = self._inside("li")
        if li is not None and li.get("data-estimate"):
            self.lines[li["data-estimate"]] = self.lines.get(li["data-estimate"], "") + data


#: ".." in quotes is the notes' explanation of the mark, not a placeholder
_NOT_A_NUMBER = re.compile(r'\b(?:nan|inf|infinity)\b|(?<![."])\.\.(?![."])|∞', re.IGNORECASE)


def _html_findings(path: Path, threshold: int, doc: dict | None, sites: dict[str, dict]) -> Iterator[tuple[str, str]]:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    for i, text in enumerate(page.prose):
        if _NOT_A_NUMBER.search(text):
            yield "not_a_number", f"text block {i + 1}"
    for table, row, text in page.count_cells:
        if _NOT_A_NUMBER.sub("", text) != text and text != "..":
            yield "not_a_number", f"table {table}, row {row}"
        count = _as_count(text)
        if count is not None and _small(count, threshold):
            yield "small_count", f"table {table}, row {row}"
    for i, img in enumerate(page.images, start=1):
        if not img.get("alt", "").strip():
            yield "no_alt", f"figure {i}"
        src = img.get("src", "")
        if src.startswith("data:image/png;base64,"):
            for rule in _figure_rules(base64.b64decode(src.split(",", 1)[1])):
                yield rule, f"figure {i}"
    if doc is not None:
        yield from _summary_findings(page, doc)
    if path.name == "index.html":
        yield from _index_findings(page, sites)


def _numbers(text: str, lang: str) -> list[tuple[float, int]]:
    """The decimal numbers of a text as (value, decimals shown), read in the page's language."""
    if lang == "en":
        found = re.findall(r"(?<![\d.])(-?\d{1,3}(?:,\d{3})*|-?\d+)\.(\d+)", text)
        return [(float(a.replace(",", "") + "." + b), len(b)) for a, b in found]
    found = re.findall(r"([\u2212-]?\d{1,3}(?:[\u00a0\u202f ]\d{3})*|[\u2212-]?\d+),(\d+)", text)
    return [(float(re.sub(r"[\u00a0\u202f ]", "", a).replace("\u2212", "-") + "." + b), len(b)) for a, b in found]


def _shown(value: float, numbers: list[tuple[float, int]]) -> bool:
    return any(abs(x - value) <= 0.5 * 10**-d + 1e-9 for x, d in numbers)


def _limits(est: dict[str, Any]) -> tuple[float, float] | None:
    low, high = est.get("ci_low"), est.get("ci_high")
    if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        return None
    return (math.exp(low), math.exp(high)) if est.get("ratio") is not None else (low, high)


def _summary_findings(page: _Page, doc: dict) -> Iterator[tuple[str, str]]:
    for name, est in (doc.get("key_estimates") or {}).items():
        line = page.lines.get(name)
        if line is None:
            continue
        numbers = _numbers(line, page.lang)
        if est.get("withheld"):
            if numbers:
                yield "withheld_quoted", f"summary, {name}"
            continue
        limits = _limits(est)
        if numbers and limits and not all(_shown(v, numbers) for v in limits):
            yield "interval_differs", f"summary, {name}"


def _index_findings(page: _Page, sites: dict[str, dict]) -> Iterator[tuple[str, str]]:
    by_name = {str(d.get("municipality") or s): d for s, d in sites.items()}
    for name, row in page.forest:
        doc = by_name.get(row[0]) if row else None
        if doc is None or len(row) < 3:
            continue  # the pooled and prediction rows, and the header
        limits = _limits((doc.get("key_estimates") or {}).get(name, {}))
        numbers = _numbers(row[2], page.lang)
        if limits is None or len(numbers) != 2 or not all(_shown(v, [n]) for v, n in zip(limits, numbers)):
            yield "interval_differs", f"index, {name}, {row[0]}"


# ---------------------------------------------------------------- one data hash
def _hash_findings(out: Path, sites: dict[str, dict]) -> list[Finding]:
    try:
        batch = json.loads((out / "manifest.json").read_text(encoding="utf-8")).get("batch", {})
    except (OSError, ValueError):
        return []
    digest = str(batch.get("dataset_sha256") or "")
    if not digest:
        return []
    findings = []
    for site, doc in sorted(sites.items()):
        if ((doc.get("stamp") or {}).get("dataset") or {}).get("sha256") != digest:
            findings.append(Finding(f"{site}/results.json", "hash_differs", "stamp"))
        report = out / site / "report.html"
        if report.is_file() and digest not in report.read_text(encoding="utf-8"):
            findings.append(Finding(f"{site}/report.html", "hash_differs", "stamp"))
    index = out / "index.html"
    if index.is_file() and digest[:12] not in index.read_text(encoding="utf-8"):
        findings.append(Finding("index.html", "hash_differs", "stamp"))
    return findings
