"""Report language: labels in Finnish, Swedish and English, and number and date formats.

Finland is bilingual, so every label a report shows exists in ``fi``, ``sv``
and ``en`` (``locale/labels.yaml``). Numbers use a decimal comma and a
non-breaking space between thousands in Finnish and Swedish; dates are
``d.m.yyyy`` there and ISO in English.
"""

from __future__ import annotations

import datetime as dt
import math
from functools import lru_cache
from importlib import resources

import yaml

__all__ = ["LANGUAGES", "label", "fmt_number", "fmt_percent", "fmt_date", "fmt_ci"]

LANGUAGES = ("fi", "sv", "en")
_NBSP = "\u00a0"


@lru_cache(maxsize=1)
def _catalogue() -> dict[str, dict[str, str]]:
    text = resources.files("evalkit").joinpath("locale/labels.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def _check_lang(lang: str) -> None:
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; use one of {', '.join(LANGUAGES)}")


def label(key: str, lang: str = "en", **values: object) -> str:
    """The label ``key`` in ``lang``, with ``{placeholders}`` filled from ``values``.

    Examples
    --------
    >>> print(label("care_order", "fi"), "/", label("care_order", "sv"))
    huostaanotto / omhändertagande
    """
    _check_lang(lang)
    try:
        text = _catalogue()[key][lang]
    except KeyError:
        raise KeyError(f"no label {key!r} in evalkit/locale/labels.yaml") from None
    return text.format(**values) if values else text


def fmt_number(x: float, lang: str = "en", digits: int = 1) -> str:
    """A number for a report: ``1 234,5`` in fi and sv, ``1,234.5`` in en.

    Examples
    --------
    >>> print(fmt_number(3.14159, "fi", 2), fmt_number(3.14159, "en", 2))
    3,14 3.14
    """
    _check_lang(lang)
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    text = f"{x:,.{digits}f}"
    if lang == "en":
        return text
    return text.replace(",", _NBSP).replace(".", ",").replace("-", "\u2212")


def fmt_percent(x: float, lang: str = "en", digits: int = 0) -> str:
    """A proportion (0.123) as a percentage: ``12 %`` in fi and sv, ``12%`` in en."""
    sep = "" if lang == "en" else _NBSP
    return f"{fmt_number(100 * x, lang, digits)}{sep}%"


def fmt_date(d: dt.date, lang: str = "en") -> str:
    """A date: ``22.11.2026`` in fi and sv, ``2026-11-22`` in en."""
    _check_lang(lang)
    return d.isoformat()[:10] if lang == "en" else f"{d.day}.{d.month}.{d.year}"


def fmt_ci(low: float, high: float, lang: str = "en", digits: int = 2) -> str:
    """A confidence interval, with a separator that cannot be read as a minus sign."""
    return (
        f"{fmt_number(low, lang, digits)}\u2013{fmt_number(high, lang, digits)}"
        if lang == "en"
        else f"{fmt_number(low, lang, digits)}\u2026{fmt_number(high, lang, digits)}"
    )
