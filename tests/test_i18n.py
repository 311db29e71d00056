"""Report labels and number formats in fi, sv and en."""

from __future__ import annotations

import datetime as dt

import pytest

from evalkit.i18n import LANGUAGES, _catalogue, fmt_ci, fmt_date, fmt_number, fmt_percent, label


def test_every_label_exists_in_every_language_and_is_not_empty():
    for key, texts in _catalogue().items():
        assert set(texts) == set(LANGUAGES), key
        assert all(isinstance(t, str) and t.strip() for t in texts.values()), key


def test_glossary_terms_from_domain_md():
    # DOMAIN.md glossary: huostaanotto = care order, sijoitus = placement, ...
    assert label("care_order", "fi") == "huostaanotto"
    assert label("urgent", "fi") == "kiireellinen sijoitus"
    assert label("purchased_services", "fi") == "ostopalvelut"
    assert label("person_year", "fi") == "henkilötyövuosi"
    assert label("comparison", "fi") == "vertailutiimi"


def test_placeholders_and_unknown_keys_and_languages():
    assert "<5" in label("suppressed_note", "sv", threshold=5)
    with pytest.raises(KeyError, match="no_such"):
        label("no_such", "fi")
    with pytest.raises(ValueError, match="unknown language"):
        label("pilot", "de")


def test_numbers_use_decimal_comma_and_nbsp_thousands_in_fi_and_sv():
    assert fmt_number(12345.678, "fi", 2) == "12\u00a0345,68"
    assert fmt_number(12345.678, "sv", 1) == "12\u00a0345,7"
    assert fmt_number(12345.678, "en", 1) == "12,345.7"
    assert fmt_number(-0.25, "fi", 2) == "\u22120,25"
    assert fmt_number(float("nan"), "fi") == "–"
    assert fmt_percent(0.123, "fi", 1) == "12,3\u00a0%"
    assert fmt_percent(0.123, "en") == "12%"


def test_dates_and_intervals():
    d = dt.date(2018, 1, 23)
    assert fmt_date(d, "fi") == "23.1.2018" and fmt_date(d, "en") == "2018-01-23"
    assert fmt_ci(-0.5, 1.25, "fi") == "\u22120,50\u20261,25"
    assert fmt_ci(0.42, 0.82, "en") == "0.42\u20130.82"
