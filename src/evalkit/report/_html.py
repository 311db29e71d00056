"""HTML building blocks of the site report (private to :mod:`evalkit.report`).

A :class:`Section` is what a notebook cell displays; a :class:`Page` collects
a section's heading, sentences, disclosure-safe tables and figures, and the
note of what was suppressed, so that no section can forget that note.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from evalkit.report import plots
from evalkit.data.config import SiteConfig
from evalkit.core.disclosure import SECONDARY_MARK, Suppressed, small_mark, suppress_counts
from evalkit.report._text import level as _level
from evalkit.core.i18n import fmt_number, label

__all__ = ["Section", "Page", "number_format", "blank_where_hidden", "small"]

_STYLE = (
    "<style>.evalkit-report table.evalkit-table{border-collapse:collapse;margin:0.5em 0 1em}"
    ".evalkit-report table.evalkit-table th,.evalkit-report table.evalkit-table td"
    "{padding:0.25em 0.8em;border-bottom:1px solid #ddd;text-align:right}"
    ".evalkit-report table.evalkit-table th:first-child{text-align:left}"
    ".evalkit-report table.evalkit-stamp td{text-align:left;font-family:monospace;font-size:0.9em}"
    ".evalkit-report figure{margin:0.5em 0 1.2em}.evalkit-report img{max-width:min(100%,760px);height:auto}"
    ".evalkit-report figcaption,.evalkit-report caption{font-size:0.9em;color:#444;text-align:left}"
    ".evalkit-report .evalkit-note{font-size:0.9em;color:#555;border-left:3px solid #bbb;"
    "padding-left:0.6em}.evalkit-report .evalkit-skipped{color:#7a4a00}</style>"
)


@dataclass
class Section:
    """One part of a report as HTML; Jupyter displays it through ``_repr_html_``.

    Attributes
    ----------
    html : str
        The section's HTML (empty when the section is not in ``cfg.sections``).
    suppressed : list of str
        The sentences telling what disclosure control hid in this section.
    """

    html: str
    suppressed: list[str] = field(default_factory=list)

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:
        return f"Section({len(self.html)} characters of HTML)"


def number_format(lang: str, digits: int | None = None):
    """Number format for figures: ``digits`` decimals, or by default integers without and others up to two."""
    if digits is not None:
        return lambda v: fmt_number(float(v), lang, digits)

    def fmt(v: float) -> str:
        v = float(v)
        if v.is_integer():
            return fmt_number(v, lang, 0)
        return fmt_number(v, lang, 1 if round(v, 1) == round(v, 2) else 2)

    return fmt


class Page:
    """Builds one section: heading, paragraphs, tables, figures, then the suppression note."""

    def __init__(self, cfg: SiteConfig, heading_key: str, depth: int = 2, **values: object):
        self.cfg = cfg
        self.parts = [f"<h{depth}>{html.escape(self.t(heading_key, **values))}</h{depth}>"]
        self.notes: list[str] = []
        self.curves = False
        self.shown = False  # a table or figure: only then is there anything to say about suppression
        self.level = _level(cfg)
        #: key estimates withheld for small counts (SiteResults.withheld), set by the section that has results
        self.withheld: dict[str, str] = {}

    def t(self, key: str, **values: object) -> str:
        """A label in the report's language."""
        return label(key, self.cfg.lang, **values)

    def para(self, *sentences: str, css: str = "") -> None:
        text = " ".join(s for s in sentences if s)
        if text:
            cls = f" class='{css}'" if css else ""
            self.parts.append(f"<p{cls}>{html.escape(text)}</p>")

    def bullets(self, items: list[str], keys: list[str] | None = None) -> None:
        """A list; ``keys`` name what each item is about (``data-estimate``, read by :mod:`evalkit.audit`)."""
        attrs = [f' data-estimate="{html.escape(k)}"' for k in keys] if keys else [""] * len(items)
        self.parts.append("<ul>" + "".join(f"<li{a}>{html.escape(i)}</li>" for a, i in zip(attrs, items)) + "</ul>")

    def table(self, shown: pd.DataFrame, caption: str = "", css: str = "evalkit-table") -> None:
        """A table of already formatted strings (nothing in it may identify a person)."""
        self.shown = True
        body = shown.to_html(escape=True, border=0, classes=css, na_rep="", header=caption != "")
        self.parts.append(f"<figure><figcaption>{html.escape(caption)}</figcaption>{body}</figure>")

    def suppress(self, counts: pd.DataFrame, *, margins: bool = True) -> Suppressed:
        """A table of counts of people, cases or events through disclosure control."""
        return suppress_counts(
            counts.astype(int), threshold=self.cfg.disclosure_threshold, margins=margins, total_label=self.total
        )

    @property
    def total(self) -> str:
        """The label of total rows and columns."""
        return self.t("total").capitalize()

    def show(self, safe: Suppressed, caption: str) -> None:
        """Show a suppressed table (a total of a single row or column left out) and note what was hidden."""
        shown = safe.display
        if self.total in shown.columns and shown.shape[1] == 2:
            shown = shown.drop(columns=self.total)
        if self.total in shown.index and shown.shape[0] == 2:
            shown = shown.drop(index=self.total)
        self.table(self.formatted(shown), caption, css="evalkit-table evalkit-counts")
        if safe.n_primary or safe.n_secondary:
            self.notes.append(
                self.t(
                    "suppressed_cells",
                    table=caption,
                    primary=safe.n_primary,
                    secondary=safe.n_secondary,
                    mark=small_mark(self.cfg.disclosure_threshold),
                )
            )

    def figure(self, ax, caption: str, *, curves: bool = False) -> None:
        """Embed a figure (an Axes from :mod:`evalkit.plots`) as a base64 PNG."""
        self.shown = True
        data = plots.to_base64_png(ax)
        alt = html.escape(caption, quote=True)
        self.parts.append(
            f"<figure><img src='data:image/png;base64,{data}' alt='{alt}'>"
            f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        )
        self.curves = self.curves or curves

    def formatted(self, display: pd.DataFrame) -> pd.DataFrame:
        """Counts of a suppressed display with the language's thousands separator ("<5", ".." kept)."""
        lang = self.cfg.lang
        return display.map(lambda v: fmt_number(int(v), lang, 0) if v.isdigit() else v)

    def in_words(self, display: pd.DataFrame) -> pd.DataFrame:
        """A suppressed display for use inside a sentence: "fewer than 5" and "not shown" instead of the marks."""
        threshold = self.cfg.disclosure_threshold
        words = {small_mark(threshold): self.t("fewer_than", threshold=threshold), SECONDARY_MARK: self.t("not_shown")}
        return self.formatted(display).map(lambda v: words.get(v, v))

    def skipped(self, reason: str) -> None:
        self.para(reason, css="evalkit-skipped")

    def done(self, notes: bool = True) -> Section:
        """The section; with ``notes``, closing with what was suppressed (or that nothing needed to be)."""
        lines: list[str] = []
        if notes and self.shown:
            threshold = self.cfg.disclosure_threshold
            lines = list(self.notes)
            if self.curves:
                lines.append(self.t("curves_cut", threshold=threshold))
            if self.notes:
                lines.append(self.t("suppressed_note", threshold=threshold))
            elif not self.curves:
                lines.append(self.t("suppressed_none", threshold=threshold))
            self.para(*lines, css="evalkit-note")
        return Section(f"<section class='evalkit-report'>{_STYLE}{''.join(self.parts)}</section>", lines)


def blank_where_hidden(values: pd.DataFrame, safe: Suppressed) -> pd.DataFrame:
    """Values (formatted strings) with cells hidden where the matching count was suppressed."""
    hidden = (safe.primary | safe.secondary).reindex(index=values.index, columns=values.columns, fill_value=False)
    return values.mask(hidden.to_numpy(dtype=bool), SECONDARY_MARK)


def small(values: pd.Series | np.ndarray, threshold: int) -> np.ndarray:
    """Counts that disclosure control would hide (1 to threshold - 1)."""
    v = np.asarray(values, dtype=float)
    return (v >= 1) & (v < threshold)
