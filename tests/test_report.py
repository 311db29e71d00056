"""The site report's sections: languages, number formats, disclosure control, identifiers, failures."""

from __future__ import annotations

import json
from html import escape as html_escape
import re

import matplotlib
import pandas as pd
import pytest

from evalkit import report, site
from evalkit.report._text import Estimate, caveats, evidence, evidence_short, signed_percent
from evalkit import InputError
from evalkit.config import SiteConfig, write_params
from evalkit.i18n import LANGUAGES, fmt_ci, fmt_number, label
from evalkit.io import write_dataset
from evalkit.core.result import Result
from evalkit.stamp import dataset_hash
from evalkit.synth import synthesise
from evalkit.validation import validate

matplotlib.use("Agg")

SECTIONS = ("summary", "effects", "duration", "costs", "sick_leave", "workforce")
HEADINGS = {
    "summary": "summary_heading",
    "effects": "survey_heading",
    "duration": "dur_heading",
    "costs": "costs_heading",
    "sick_leave": "sick_heading",
    "workforce": "workforce_heading",
}
ID_COLUMNS = {
    "cases": ("case_id", "child_id", "team_id"),
    "staff": ("worker_id", "team_id"),
    "surveys": ("respondent_id", "team_id"),
    "teams": ("team_id",),
}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """One synthetic site (Kuopio), validated, analysed once; its folder on disk for the stamp."""
    synth = synthesise(sites=1, seed=11)
    folder = write_dataset(synth.tables, synth.meta, tmp_path_factory.mktemp("synthetic"), fmt="parquet")
    dataset = validate(folder)
    cfg = SiteConfig(site="kuopio")
    return {
        "dataset": dataset,
        "folder": folder,
        "results": site.analyse(dataset.tables, dataset.meta, cfg),
        "site_data": site.site_data(dataset.tables, dataset.meta, cfg),
    }


@pytest.fixture(scope="module")
def pages(data):
    """Every section rendered once per language (figures are the slow part)."""
    out = {}
    for lang in LANGUAGES:
        cfg = SiteConfig(site="kuopio", lang=lang)
        out[lang] = {name: render(data, cfg, name) for name in SECTIONS}
        out[lang]["data_quality"] = report.data_quality(data["dataset"], data["site_data"], cfg).html
        out[lang]["title"] = report.title(data["dataset"], cfg).html
        out[lang]["about"] = report.save_results(data["results"], data["dataset"], data["folder"], cfg).html
    return out


def render(data, cfg: SiteConfig, name: str) -> str:
    if name == "summary":
        return report.summary(data["results"], cfg).html
    return getattr(report, "survey" if name == "effects" else name)(data["results"], cfg).html


def text_of(html: str) -> str:
    """The HTML without style sheets and embedded images (whose base64 is not text)."""
    html = re.sub(r"<style>.*?</style>", "", html, flags=re.S)
    return re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", html)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_section_renders_in_every_language(pages, lang):
    for name in SECTIONS:
        html = pages[lang][name]
        assert label(HEADINGS[name], lang) in html, name
        assert "Traceback" not in html and "Error" not in html, name
        assert html.count("<p") >= 2, name
    assert pages[lang]["duration"].count("<img") == 2
    assert pages[lang]["summary"].count("<img") == 1
    quality = pages[lang]["data_quality"]
    assert label("dq_heading", lang) in quality and label("tbl_placements", lang) in quality
    assert label("title_heading", lang, municipality="Kuopio") in pages[lang]["title"]


@pytest.mark.parametrize("lang", ["fi", "sv"])
def test_numbers_use_a_decimal_comma_in_fi_and_sv(data, pages, lang):
    row = data["results"].results["duration"]["cox_end"].table.loc["model_work"]
    html = text_of(pages[lang]["duration"])
    # the hazard ratio and its CI as written in the sentence, e.g. "1,04 (95 %:n luottamusväli 0,26…4,19)"
    assert fmt_number(row["ratio"], lang, 2) in html
    assert fmt_ci(row["ratio_ci_low"], row["ratio_ci_high"], lang, 2) in html
    for name in SECTIONS:
        assert not re.search(r"\d\.\d", text_of(pages[lang][name])), name


def test_english_numbers_use_a_decimal_point(data, pages):
    row = data["results"].results["duration"]["cox_end"].table.loc["model_work"]
    html = pages["en"]["duration"]
    assert f"hazard ratio {row['ratio']:.2f} (95% confidence interval {row['ratio_ci_low']:.2f}\u2013" in html


def test_small_counts_are_suppressed_and_the_section_says_so(data):
    # a threshold of 50 turns the survey's respondent counts and the turnover counts into small cells
    cfg = SiteConfig(site="kuopio", lang="en", disclosure_threshold=50)
    means = data["results"].tables["survey"]["means"]
    assert (means["count"] < 50).any()
    html = render(data, cfg, "effects")
    assert "&lt;50" in html
    assert label("hidden_small", "en", threshold=50) in html
    assert html_escape(label("suppressed_note", "en", threshold=50)) in html
    # a mean resting on a suppressed count is hidden with it
    small_mean = means.loc[means["count"] < 50, "mean"].iloc[0]
    assert f">{small_mean:.2f}<" not in html
    turnover = data["results"].results["workforce"]["turnover"].table
    work = render(data, cfg, "workforce")
    assert (turnover["events"] < 50).all() and "&lt;50" in work
    assert label("rate_ratio", "en") not in work  # no ratio resting on suppressed counts
    # survival curves are cut where fewer than the threshold remain at risk, and the section says so
    assert label("curves_cut", "en", threshold=50) in render(data, cfg, "duration")


def test_the_default_threshold_hides_nothing_here_and_says_so(pages):
    html = pages["en"]["workforce"]
    assert "&lt;5" not in html and label("suppressed_none", "en", threshold=5) in html


def test_no_identifier_of_the_data_appears_in_any_section(data, pages):
    tables = data["dataset"].tables
    ids = set()
    for table, columns in ID_COLUMNS.items():
        for column in columns:
            ids |= set(tables[table][column].astype(str))
    assert len(ids) > 1000
    for lang in LANGUAGES:
        text = text_of("".join(pages[lang].values()))
        found = [i for i in ids if i in text]
        assert not found, found[:5]


def test_a_skipped_analysis_is_one_plain_sentence_without_quoted_values(data):
    results = site.SiteResults("kuopio", results=dict(data["results"].results), tables=dict(data["results"].tables))
    del results.results["costs"]
    results.skipped["costs"] = "team 'kuopio_p1' has no purchased-service rows"
    for lang in LANGUAGES:
        cfg = SiteConfig(site="kuopio", lang=lang)
        html = report.costs(results, cfg).html
        reason = "team … has no purchased-service rows"
        assert label("not_estimable", lang, reason=reason) in html
        assert "kuopio_p1" not in html and "<img" not in html
        summary = report.summary(results, cfg).html
        assert label("not_estimable_short", lang, reason=reason) in summary
        assert "kuopio_p1" not in summary


def test_sections_left_out_of_the_config_render_nothing(data):
    cfg = SiteConfig(site="kuopio", lang="en", sections=("duration",))
    assert report.costs(data["results"], cfg).html == ""
    assert report.data_quality(data["dataset"], data["site_data"], cfg).html == ""
    assert label("dur_heading", "en") in report.duration(data["results"], cfg).html
    summary = report.summary(data["results"], cfg).html
    assert label("hr_case_end_title", "en") in summary and label("cost_level_title", "en") not in summary


def test_certainty_and_caveats_in_words():
    cfg = SiteConfig(site="x", lang="en")
    wide = Estimate(1.2, 0.9, 1.6, ratio=True)
    assert not wide.clear and wide.certainty(cfg) == label("ci_includes_null", "en", null="1")
    narrow = Estimate(-0.4, -0.7, -0.1, ratio=False)
    assert narrow.clear and not narrow.up and narrow.certainty(cfg, short=True) == "clear difference"
    res = Result(
        pd.DataFrame(),
        stats={"n_clusters": 4},
        warnings=["only 4 clusters: the sandwich SE is unreliable with few clusters", "fallback model"],
    )
    assert caveats(res, cfg) == [label("few_clusters", "en", n=4), label("other_caveats", "en", n=1)]
    assert signed_percent(0.9, "fi") == "\u221210\u00a0%" and signed_percent(1.05, "en") == "+5.0%"
    assert signed_percent(1.25, "sv") == "+25\u00a0%"


#: direction words of the key estimates' sentences, by language (none may appear unless the interval excludes 1)
DIRECTION_WORDS = {
    "en": ("sooner", "later", "rose", "fell", "lower", "higher", "more favourably", "slowed"),
    "fi": ("nopeammin", "hitaammin", "nousivat", "laskivat", "vähenivät", "lisääntyivät"),
    "sv": ("snabbare", "långsammare", "steg", "sjönk", "minskade", "ökade"),
}
EDGE_CASES = {  # the wording rules' kinds, on the ratio scale
    "excludes": (Estimate(0.80, 0.70, 0.92, ratio=True), "clear"),
    "touches": (Estimate(0.85, 0.72, 1.00, ratio=True), "unclear"),
    "includes": (Estimate(0.37, 0.12, 1.17, ratio=True), "unclear"),
    "unbounded": (Estimate(float("inf"), 0.79, float("inf"), ratio=True), "unbounded"),
    "uninformative": (Estimate(0.19, 0.0002, 1691.63, ratio=True), "unbounded"),
    "not a number": (Estimate(float("nan"), float("nan"), float("nan"), ratio=True), "unbounded"),
    "near one": (Estimate(0.995, 0.991, 0.999, ratio=True), "clear"),
}


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("case", list(EDGE_CASES))
def test_words_follow_the_evidence(case, lang):
    est, kind = EDGE_CASES[case]
    cfg = SiteConfig(site="x", lang=lang)
    assert est.kind == kind
    for name in ("sick_leave_rr", "cost_level"):
        text = " ".join(evidence(name, est, "rate_ratio", cfg)) + " " + evidence_short(name, est, "rate_ratio", cfg)
        assert not re.search(r"\binf\b|\bnan\b|\.\.|∞", text, flags=re.IGNORECASE), text
        said_direction = [w for w in DIRECTION_WORDS[lang] if re.search(rf"\b{w}\b", text)]
        words = label(f"{name}_what", lang)  # the neutral "rose or fell" phrase names both directions
        if kind == "clear":
            assert said_direction and "%" in text
            assert fmt_number(1.0, lang, 2) not in text  # no limit rounds to "no difference" (0.995 -> 1.00)
        else:
            assert not [w for w in said_direction if w not in words], text
            assert signed_percent(est.value, lang) not in text  # no percentage change leads an uninformative claim
        if kind == "unbounded":
            assert not re.search(r"\d", text.replace(label(f"{name}_what", lang), "").replace("95", "")), text


def test_an_estimate_whose_section_is_hidden_is_not_in_the_summary(data):
    results = data["results"]
    cfg = SiteConfig(site="kuopio", lang="en", disclosure_threshold=50)
    assert "survey_change" in results.withheld(50)
    html = report.summary(results, cfg).html
    did = results.results["survey"]["did"].table.loc["model_work"]
    line = [li for li in re.findall(r"<li[^>]*>(.*?)</li>", html) if li.startswith(label("survey_change_title", "en"))]
    assert line and label("withheld_short", "en", threshold=50) in line[0]
    assert fmt_number(did["estimate"], "en", 2) not in line[0]
    assert label("summary_withheld_note", "en") in html
    assert label("suppressed_none", "en", threshold=50) not in html  # no note that contradicts it
    assert label("hidden_small", "en", threshold=50) in report.survey(results, cfg).html


def test_load_config_from_json_params_file_or_defaults(tmp_path):
    cfg = SiteConfig(site="joensuu", lang="sv", disclosure_threshold=10)
    assert report.load_config(config_json=cfg.model_dump_json()) == cfg
    path = write_params(cfg, tmp_path / "joensuu.yaml")
    assert report.load_config(params_file=str(path), lang="en").lang == "en"
    assert report.load_config(params_file=str(path)).disclosure_threshold == 10
    assert report.load_config("kuopio") == SiteConfig(site="kuopio", lang="fi")
    with pytest.raises(InputError, match="no site given"):  # no synthetic municipality by default
        report.load_config()


def test_save_results_writes_results_json_and_shows_the_stamp(data, tmp_path, monkeypatch):
    cfg = SiteConfig(site="kuopio", lang="fi")
    section = report.save_results(data["results"], data["dataset"], data["folder"], cfg, tmp_path / "out")
    doc = json.loads((tmp_path / "out" / "results.json").read_text(encoding="utf-8"))
    assert doc["site"] == "kuopio" and doc["stamp"]["params"]["lang"] == "fi"
    assert set(doc["key_estimates"]) == set(site.KEY_ESTIMATES)
    assert dataset_hash(data["folder"]) in section.html
    monkeypatch.chdir(tmp_path)
    report.save_results(data["results"], data["dataset"], data["folder"], cfg, "")
    assert not (tmp_path / "results.json").exists()


def test_report_effects_is_the_old_name_of_the_survey_section(data):
    results = data["results"]
    cfg = SiteConfig(site="kuopio", lang="en")
    with pytest.warns(DeprecationWarning, match=r"report.effects\(\) is now report.survey\(\)"):
        old = report.effects(results, cfg).html
    assert old == report.survey(results, cfg).html and old
