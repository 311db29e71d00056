"""Report-mode HTML from an executed notebook, and what a failed run left behind (private).

A report shows what a manager reads: markdown, tables and figures. It never
shows code, the parameters cell (papermill's injected one included),
tracebacks, printed text (stdout, and stderr: warnings) or papermill's error banners; a report of a
failed run opens with a plain-language notice naming the section that
stopped. Paths of the machine are replaced by placeholders in every file a
render keeps (issue 8: no absolute paths in outputs).
"""

from __future__ import annotations

import html
import json
import os
import sys
from pathlib import Path
from typing import Any, Iterable

import nbformat

from evalkit.core import i18n

__all__ = ["report_html", "failure_page", "failing_cell", "mask_paths", "path_placeholders", "debug_copy"]

_HIDDEN_TAGS = {"parameters", "injected-parameters", "remove", "papermill-error-cell-tag"}

# The stock "lab" template loads require.js, MathJax and mermaid from CDNs; a
# published report must not call out to third parties, and needs none of them.
#: the report's own style instead of JupyterLab's (about 270 KB the report never used): a reading
#: width of about 80 characters, and A4 print with headings kept with what follows and no figure
#: or table cut across a page
_CSS = (
    "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;color:#222;line-height:1.45;margin:0}"
    "main{max-width:52rem;margin:1.5rem auto;padding:0 1rem}p,li{max-width:80ch}"
    "h1,h2,h3{line-height:1.2}h2{margin-top:2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}"
    ".jp-OutputPrompt,.jp-InputPrompt,.jp-InputArea{display:none}"
    "@page{size:A4;margin:16mm 14mm}"
    "@media print{main{max-width:none;margin:0;padding:0}"
    "h1,h2,h3,h4{break-after:avoid;page-break-after:avoid;break-inside:avoid}"
    "figure,img,table,.evalkit-note,li{break-inside:avoid;page-break-inside:avoid}"
    "img{max-width:100%!important}a{color:inherit;text-decoration:none}}"
)
_TEMPLATE = (
    """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block notebook_css -%}<style>"""
    + _CSS
    + """</style>{%- endblock notebook_css -%}
"""
)


def path_placeholders(*roots: Path) -> list[tuple[str, str]]:
    """(absolute path, placeholder) pairs, longest path first, for :func:`mask_paths`."""
    pairs = [(str(Path(r).resolve()), f"<{Path(r).name or 'root'}>") for r in roots]
    pairs += [(sys.prefix, "<python>"), (sys.base_prefix, "<python>"), (os.path.expanduser("~"), "~")]
    pairs = [(p, h) for p, h in pairs if len(p) > 1]
    return sorted(set(pairs), key=lambda ph: -len(ph[0]))


def mask_paths(text: str, pairs: Iterable[tuple[str, str]]) -> str:
    """Replace every absolute path of ``pairs`` (also JSON-escaped) by its placeholder."""
    for path, holder in pairs:
        text = text.replace(path, holder).replace(json.dumps(path)[1:-1], holder)
    return text


def debug_copy(path: Path, pairs: Iterable[tuple[str, str]], safe_errors: set[str]) -> str:
    """The executed notebook ``path`` as kept in ``_work/`` for debugging a failed site, as text.

    Its displayed outputs are the report's own (disclosure-controlled), but
    an exception message or anything a cell printed may quote cell values
    (``KeyError: 'C000123'``): printed text is dropped, and the message of
    an error that is not one of evalkit's own is withheld (in ``evalue`` and
    the traceback's last line). Machine paths are replaced by placeholders.
    """
    nb = nbformat.read(path, as_version=4)
    withheld = "message withheld (it may quote data)"
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        kept = []
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                continue
            if out.get("output_type") == "error" and out.get("ename") not in safe_errors:
                out["evalue"] = withheld
                out["traceback"] = out.get("traceback", [])[:-1] + [f"{out.get('ename')}: {withheld}"]
            kept.append(out)
        cell.outputs = kept
    return mask_paths(nbformat.writes(nb), pairs)


def _section_of(nb: Any, index: int) -> str:
    """The last markdown heading before cell ``index`` (the report's own words)."""
    for cell in reversed(nb.cells[:index]):
        if cell.cell_type == "markdown" and not _HIDDEN_TAGS & set(cell.metadata.get("tags", [])):
            for line in cell.source.splitlines():
                if line.lstrip().startswith("#"):
                    return line.lstrip("# ").strip()
    return ""


def failing_cell(path: Path) -> dict[str, Any]:
    """Where an executed notebook stopped: 1-based cell number in the source notebook, its section
    (the markdown heading above it) and its last line of code (the notebook's own text, never data)."""
    nb = nbformat.read(path, as_version=4)
    injected = [i for i, c in enumerate(nb.cells) if "injected-parameters" in c.metadata.get("tags", [])]
    banners = [i for i, c in enumerate(nb.cells) if "papermill-error-cell-tag" in c.metadata.get("tags", [])]
    # A raising cell is flagged; a cell stopped by the timeout or a dying kernel is not, and is
    # then the last one papermill started. (After a dead kernel papermill marks the cells it never
    # ran "completed" too, but without a start time.)
    started = [
        i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.metadata.get("papermill", {}).get("start_time")
    ]
    flagged = [i for i in started if nb.cells[i].metadata["papermill"].get("exception")]
    if not started:
        return {"cell": None, "section": "", "code": ""}
    i = (flagged or started)[-1]
    shift = sum(1 for j in injected + banners if j < i)
    lines = [ln.strip() for ln in nb.cells[i].source.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    return {"cell": i - shift + 1, "section": _section_of(nb, i), "code": lines[-1][:120] if lines else ""}


def _notice(lang: str, section: str) -> str:
    where = i18n.label("render_failed_section", lang, section=section) if section else ""
    return f"**{i18n.label('render_failed_notice', lang)}** {where} {i18n.label('render_failed_details', lang)}"


def report_html(path: Path, lang: str, title: str, failed: bool, pairs: Iterable[tuple[str, str]]) -> str:
    """Report-mode HTML of the executed notebook ``path`` (see module docstring)."""
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter
    from traitlets.config import Config

    nb = nbformat.read(path, as_version=4)
    section = failing_cell(path)["section"] if failed else ""
    nb.cells = [c for c in nb.cells if not _HIDDEN_TAGS & set(c.metadata.get("tags", []))]
    for cell in nb.cells:
        if cell.cell_type == "code":
            # printed text (stdout as well as stderr) is not a disclosure-controlled report section
            cell.outputs = [o for o in cell.get("outputs", []) if o.get("output_type") not in ("error", "stream")]
    if failed:
        nb.cells.insert(0, nbformat.v4.new_markdown_cell(_notice(lang, section)))
    nb.metadata["title"] = title
    # no code is shown, so the syntax-highlighting CSS nbconvert inlines would go unused
    exporter = HTMLExporter(
        extra_loaders=[DictLoader({"evalkit_report.html.j2": _TEMPLATE})],
        template_file="evalkit_report.html.j2",
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        language_code=lang,
        config=Config({"CSSHTMLHeaderPreprocessor": {"enabled": False}}),
    )
    body, _ = exporter.from_notebook_node(nb, resources={"inlining": {"css": []}})
    return mask_paths(body, pairs)


def failure_page(lang: str, title: str) -> str:
    """A self-contained page for a site whose notebook never produced output."""
    text = f"{i18n.label('render_failed_notice', lang)} {i18n.label('render_failed_details', lang)}"
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8"><title>{html.escape(title)}'
        f"</title></head><body><h1>{html.escape(title)}</h1><p>{html.escape(text)}</p></body></html>\n"
    )
