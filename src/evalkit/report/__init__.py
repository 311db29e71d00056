"""The site report: SiteResults in plain words, tables and figures, for managers who read no code.

Each function returns a :class:`Section`, an HTML block that a notebook cell
displays: a heading, a few sentences with the numbers (estimate and
confidence interval in words, whether the interval includes "no effect",
whether few teams make it unreliable), disclosure-safe tables, figures from
:mod:`evalkit.plots` as embedded PNGs, and a note of what was suppressed.
Everything is in ``cfg.lang`` (fi, sv or en; labels in ``locale/labels.yaml``).

Rules every section keeps:

- counts of people, cases and events pass through
  :func:`evalkit.disclosure.suppress_counts` at ``cfg.disclosure_threshold``;
  survival curves stop where the risk set falls under it;
- no identifier from the data is shown: teams are "pilot teams" and
  "comparison teams", and quoted values are removed from error messages;
- an analysis that could not run is one plain sentence with the reason,
  never a traceback.

The notebooks call only :func:`load_config`, :func:`load_dataset`,
:func:`evalkit.site.analyse` and the section functions here, so that they
stay free of logic.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Callable

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from evalkit.report import plots
from evalkit.data import validation
from evalkit.report._html import Page, Section, number_format
from evalkit.report._sections import costs_body, duration_body, sick_leave_body, survey_body, workforce_body
from evalkit.report._text import caveats, estimate_from_row, evidence_short, missing_reason, not_estimable
from evalkit.data.config import SiteConfig, load_params
from evalkit.core.i18n import fmt_date
from evalkit.core.result import EvalkitError, InputError
from evalkit.site import KEY_ESTIMATES, SiteData, SiteResults
from evalkit.report.stamp import dataset_hash, make_stamp, write_results

__all__ = [
    "Section",
    "load_config",
    "load_dataset",
    "title",
    "summary",
    "data_quality",
    "survey",
    "effects",
    "duration",
    "costs",
    "sick_leave",
    "workforce",
    "save_results",
]

#: report section (SiteConfig.sections) of each analysis of evalkit.site
_SECTION_OF = {
    "duration": "duration",
    "costs": "costs",
    "sick_leave": "sick_leave",
    "survey": "effects",
    "workforce": "workforce",
}
#: how each key estimate is shown: scale of its row, measure label
_KEY_SHOWN = {
    "hr_case_end": ("log", "hazard_ratio"),
    "hr_placement": ("log", "hazard_ratio"),
    "cost_level": ("log", "cost_ratio"),
    "cost_slope": ("log", "monthly_ratio"),
    "sick_leave_rr": ("log", "ratio_of_rate_ratios"),
    "survey_change": ("difference", "difference_points"),
}
_TABLES = ("cases", "placements", "contacts", "services", "staff", "absences", "surveys", "time_use")


def load_config(site: str = "", params_file: str = "", lang: str = "", config_json: str = "") -> SiteConfig:
    """The notebook's SiteConfig from its parameters, checked.

    Parameters
    ----------
    site : str
        Site id, used only when neither of the others is given. There is no
        default site: a notebook run without one says so instead of quietly
        reporting on a synthetic municipality.
    params_file : str
        A ``params/<site>.yaml`` (checked by :func:`evalkit.config.load_params`).
    lang : str
        "fi", "sv" or "en"; overrides the file's language; "" keeps it
        (default Finnish).
    config_json : str
        A SiteConfig as JSON, as ``evalkit render`` passes it; wins over the others.

    Returns
    -------
    SiteConfig

    Raises
    ------
    evalkit.data.config.ParamsError, pydantic.ValidationError
        The parameters break the SiteConfig rules (the message names the key).
    evalkit.InputError
        Neither a site id, a params file nor a config is given.

    Examples
    --------
    >>> cfg = load_config("joensuu", lang="sv")
    >>> print(cfg.site, cfg.lang, load_config(config_json=cfg.model_dump_json()).lang)
    joensuu sv sv
    """
    if config_json:
        return SiteConfig.model_validate_json(config_json)
    if params_file:
        return load_params(params_file, lang=lang or None)
    if not site:
        raise InputError(
            'no site given: set the notebook\'s site parameter (e.g. site = "kuopio"), a params_file or config_json'
        )
    return SiteConfig(site=site, lang=lang or "fi")


def load_dataset(data_dir: str | Path) -> validation.Dataset:
    """Read and validate a dataset folder (CSV, Parquet or Excel tables + ``dataset.yaml``).

    Parameters
    ----------
    data_dir : str or Path
        The folder, e.g. ``evalkit synth``'s output or the Parquet copy of
        the valid rows that ``evalkit render`` prepares.

    Returns
    -------
    evalkit.validation.Dataset
        ``.tables`` (valid rows), ``.meta`` and the validation ``.report``.
    """
    return validation.validate(data_dir)


def title(dataset: validation.Dataset, cfg: SiteConfig) -> Section:
    """The report's heading: municipality, region and extraction date.

    Parameters
    ----------
    dataset : evalkit.validation.Dataset
    cfg : SiteConfig

    Returns
    -------
    Section
    """
    row = dataset.tables["sites"].set_index("site_id").loc[cfg.site]
    page = Page(cfg, "title_heading", depth=1, municipality=row["municipality"])
    page.para(
        page.t(
            "title_intro",
            municipality=row["municipality"],
            region=row["region"],
            date=fmt_date(pd.Timestamp(dataset.meta["extracted_on"]).date(), cfg.lang),
        )
    )
    return page.done(notes=False)


def summary(results: SiteResults, cfg: SiteConfig) -> Section:
    """One page: each key estimate in one line (what changed, by how much, how sure) and a figure.

    A line follows the wording rules (:func:`evalkit.report._text.evidence`):
    a direction and the estimate with its interval only where the interval
    excludes "no effect"; otherwise that the data cannot tell, with the range
    they fit; "too little data" where the interval has no useful limits; and
    whether few teams make it unreliable. An estimate whose section is
    hidden for small counts (:meth:`evalkit.site.SiteResults.withheld`) is
    not quoted. The figure shows the ratio estimates with finite intervals
    on a log axis (not the survey change, which is in scale points, nor the
    monthly growth ratio of costs).

    Parameters
    ----------
    results : SiteResults
        From :func:`evalkit.site.analyse`.
    cfg : SiteConfig
        Language, disclosure threshold, sections and confidence level.

    Returns
    -------
    Section
        HTML: heading, one bullet per key estimate of
        :data:`evalkit.site.KEY_ESTIMATES` whose section is in ``cfg.sections``
        (or why it could not be estimated), and the figure.

    Examples
    --------
    >>> from evalkit.site import SiteResults
    >>> s = summary(SiteResults("demo", skipped={"duration": "too few events"}), SiteConfig(site="demo", lang="en"))
    >>> "could not be estimated" in s.html
    True
    """
    page = Page(cfg, "summary_heading")
    page.para(page.t("summary_intro"), page.t("ci_meaning", level=page.level))
    withheld = results.withheld(cfg.disclosure_threshold)
    lines, keys, ratios = [], [], {}
    for name, (analysis, key, row, _) in KEY_ESTIMATES.items():
        if _SECTION_OF[analysis] not in cfg.sections:
            continue
        outcome = page.t(f"{name}_title")
        keys.append(name)
        res = results.results.get(analysis, {}).get(key)
        if res is None or row not in res.table.index:
            reason = results.skipped.get(analysis) or missing_reason(
                results.tables.get(analysis, {}), key, page.t("not_run")
            )
            lines.append(f"{outcome}: {not_estimable(reason, cfg, short=True)}")
            continue
        if name in withheld:  # the section hides it: so does the summary, and its note says so
            lines.append(f"{outcome}: {page.t('withheld_short', threshold=cfg.disclosure_threshold)}.")
            continue
        scale, measure = _KEY_SHOWN[name]
        est = estimate_from_row(res, row, scale)
        claim = evidence_short(name, est, measure, cfg, 3 if name == "cost_slope" else 2)
        lines.append(f"{outcome}: {'; '.join([claim, *caveats(res, cfg, short=True)])}.")
        # the cost growth ratio is per month: beside ratios of levels it would sit on 1 and read as nothing
        if est.ratio and est.kind in ("clear", "unclear") and name != "cost_slope":
            ratios[outcome] = est
    page.bullets(lines, keys)
    if withheld:
        page.para(page.t("summary_withheld_note"))
    if ratios:
        _summary_figure(page, ratios)
    return page.done(notes=not withheld)


def _summary_figure(page: Page, ratios: dict) -> None:
    table = pd.DataFrame(
        {
            "estimate": [np.log(e.value) for e in ratios.values()],
            "ci_low": [np.log(e.low) for e in ratios.values()],
            "ci_high": [np.log(e.high) for e in ratios.values()],
            "weight": 1.0,
            "kind": "study",
        },
        index=list(ratios),
    )
    labels = {
        "title": "",
        "xlabel_ratio": page.t("summary_figure_x"),
        "estimate": page.t("summary_figure_estimate", level=page.level),
        "ci_sep": "\u2013" if page.cfg.lang == "en" else "\u2026",
    }
    with plots.style():  # wider than forest's default: room for the ratio ticks
        _, ax = plt.subplots(figsize=(9, 1.4 + 0.5 * len(table)), layout="constrained")
    ax = plots.forest(table, ratio=True, ax=ax, labels=labels, number_format=number_format(page.cfg.lang, 2))
    page.figure(ax, page.t("summary_figure_title") + ". " + page.t("summary_figure_caption"))


def data_quality(dataset: validation.Dataset, site_data: SiteData, cfg: SiteConfig) -> Section:
    """Teams, rows per table for the site, and what validation set aside (whole dataset).

    Parameters
    ----------
    dataset : evalkit.validation.Dataset
        The validated dataset (its report covers every site).
    site_data : evalkit.site.SiteData
        The site's rows, from :func:`evalkit.site.site_data`.
    cfg : SiteConfig

    Returns
    -------
    Section
        Empty if "quality" is not in ``cfg.sections``; row counts pass
        through disclosure control like every other count.
    """
    if "quality" not in cfg.sections:
        return Section("")
    page = Page(cfg, "dq_heading")
    arms = site_data["teams"]["arm"].value_counts()
    page.para(
        page.t(
            "dq_intro",
            date=fmt_date(site_data.extracted_on.date(), cfg.lang),
            pilot=int(arms.get("pilot", 0)),
            comparison=int(arms.get("comparison", 0)),
            start=fmt_date(site_data.pilot_start.date(), cfg.lang),
        )
    )
    rows = pd.DataFrame(
        {page.t("dq_rows"): [len(site_data[t]) for t in _TABLES]}, index=[page.t(f"tbl_{t}") for t in _TABLES]
    )
    site_rows = page.suppress(rows, margins=False)
    counts = pd.DataFrame(dataset.report.counts).T.reindex(list(_TABLES)).fillna(0)
    checked = counts[["valid", "quarantined"]].rename(
        index=lambda t: page.t(f"tbl_{t}"), columns={"valid": page.t("dq_valid"), "quarantined": page.t("dq_set_aside")}
    )
    safe = page.suppress(checked)
    shown, total = page.in_words(safe.display), page.total
    page.para(page.t("dq_validation", set_aside=shown.loc[total, page.t("dq_set_aside")], rows=shown.loc[total, total]))
    page.show(site_rows, page.t("dq_table_site"))
    page.show(safe, page.t("dq_table_validation"))
    failures = dataset.report.summary()
    if not failures.empty:
        broken = failures.assign(table=failures["table"].map(lambda t: page.t(f"tbl_{t}")))
        broken = broken.set_index(["table", "column", "rule"])[["count"]].rename(columns={"count": page.t("dq_rows")})
        broken.index.names = [page.t("dq_table"), page.t("dq_column"), page.t("dq_rule")]
        page.show(page.suppress(broken, margins=False), page.t("dq_table_failures"))
    return page.done()


def _analysis_section(results: SiteResults, cfg: SiteConfig, analysis: str, heading: str, body: Callable) -> Section:
    """A section of one analysis: its body, or the plain reason it could not be estimated."""
    if _SECTION_OF[analysis] not in cfg.sections:
        return Section("")
    page = Page(cfg, heading)
    page.withheld = results.withheld(cfg.disclosure_threshold)
    if analysis not in results.results:
        page.skipped(not_estimable(results.skipped.get(analysis, page.t("not_run")), cfg))
        return page.done()
    try:
        body(page, results.results[analysis], results.tables.get(analysis, {}))
    except EvalkitError as exc:  # e.g. a figure that cannot be drawn for this site's data
        page.skipped(not_estimable(str(exc), cfg))
    return page.done()


def survey(results: SiteResults, cfg: SiteConfig) -> Section:
    """Pilot versus comparison teams in the worker survey: change in wellbeing (DiD of means).

    Shown when ``cfg.sections`` holds ``"effects"`` (the params files' name of this section).

    Parameters
    ----------
    results : SiteResults
        From :func:`evalkit.site.analyse`.
    cfg : SiteConfig
        Language, disclosure threshold, sections and confidence level.

    Returns
    -------
    Section
        HTML (empty if the section is not in ``cfg.sections``): heading,
        sentences, disclosure-safe tables, figures and the suppression note;
        or the plain sentence why the analysis could not be estimated.

    Examples
    --------
    >>> from evalkit.site import SiteResults
    >>> cfg = SiteConfig(site="demo", lang="en")
    >>> html = survey(SiteResults("demo", skipped={"survey": "only 1 survey round"}), cfg).html
    >>> print(html.count("could not be estimated for this site: only 1 survey round."))
    1
    """
    return _analysis_section(results, cfg, "survey", "survey_heading", survey_body)


def effects(results: SiteResults, cfg: SiteConfig) -> Section:
    """The old name of :func:`survey`, which renders the worker survey section (a ``DeprecationWarning``)."""
    warnings.warn(
        "report.effects() is now report.survey(): it renders the worker survey section",
        DeprecationWarning,
        stacklevel=2,
    )
    return survey(results, cfg)


def duration(results: SiteResults, cfg: SiteConfig) -> Section:
    """Case duration by arm (Kaplan-Meier, Cox) and placement as a competing end (CIF).

    Parameters
    ----------
    results : SiteResults
        From :func:`evalkit.site.analyse`.
    cfg : SiteConfig
        Language, disclosure threshold, sections and confidence level.

    Returns
    -------
    Section
        HTML (empty if the section is not in ``cfg.sections``): heading,
        sentences, disclosure-safe tables, figures and the suppression note;
        or the plain sentence why the analysis could not be estimated.

    Examples
    --------
    >>> from evalkit.site import SiteResults
    >>> cfg = SiteConfig(site="demo", lang="fi", sections=("quality",))
    >>> print(len(duration(SiteResults("demo"), cfg).html))
    0
    """
    return _analysis_section(results, cfg, "duration", "dur_heading", duration_body)


def costs(results: SiteResults, cfg: SiteConfig) -> Section:
    """Purchased-service costs around the pilot start (interrupted time series).

    Parameters
    ----------
    results : SiteResults
        From :func:`evalkit.site.analyse`.
    cfg : SiteConfig
        Language, disclosure threshold, sections and confidence level.

    Returns
    -------
    Section
        HTML (empty if the section is not in ``cfg.sections``): heading,
        sentences, disclosure-safe tables, figures and the suppression note;
        or the plain sentence why the analysis could not be estimated.

    Examples
    --------
    >>> from evalkit.site import SiteResults
    >>> cfg = SiteConfig(site="demo", lang="fi", sections=("quality",))
    >>> print(len(costs(SiteResults("demo"), cfg).html))
    0
    """
    return _analysis_section(results, cfg, "costs", "costs_heading", costs_body)


def sick_leave(results: SiteResults, cfg: SiteConfig) -> Section:
    """Sick-leave days per person-year by arm and period, and the DiD on rates.

    Parameters
    ----------
    results : SiteResults
        From :func:`evalkit.site.analyse`.
    cfg : SiteConfig
        Language, disclosure threshold, sections and confidence level.

    Returns
    -------
    Section
        HTML (empty if the section is not in ``cfg.sections``): heading,
        sentences, disclosure-safe tables, figures and the suppression note;
        or the plain sentence why the analysis could not be estimated.

    Examples
    --------
    >>> from evalkit.site import SiteResults
    >>> cfg = SiteConfig(site="demo", lang="fi", sections=("quality",))
    >>> print(len(sick_leave(SiteResults("demo"), cfg).html))
    0
    """
    return _analysis_section(results, cfg, "sick_leave", "sick_heading", sick_leave_body)


def workforce(results: SiteResults, cfg: SiteConfig) -> Section:
    """Caseload against the recommended and legal levels, face-to-face time, staff turnover.

    Parameters
    ----------
    results : SiteResults
        From :func:`evalkit.site.analyse`.
    cfg : SiteConfig
        Language, disclosure threshold, sections and confidence level.

    Returns
    -------
    Section
        HTML (empty if the section is not in ``cfg.sections``): heading,
        sentences, disclosure-safe tables, figures and the suppression note;
        or the plain sentence why the analysis could not be estimated.

    Examples
    --------
    >>> from evalkit.site import SiteResults
    >>> cfg = SiteConfig(site="demo", lang="fi", sections=("quality",))
    >>> print(len(workforce(SiteResults("demo"), cfg).html))
    0
    """
    return _analysis_section(results, cfg, "workforce", "workforce_heading", workforce_body)


def save_results(
    results: SiteResults,
    dataset: validation.Dataset,
    data_dir: str | Path,
    cfg: SiteConfig,
    out_dir: str | Path = "",
    researcher_dir: str | Path = "",
) -> Section:
    """The reproducibility stamp as a section; also writes ``out_dir/results.json`` when ``out_dir``.

    Parameters
    ----------
    results : SiteResults
    dataset : evalkit.validation.Dataset
        For the dataset's name and extraction date.
    data_dir : str or Path
        The dataset folder. Its hash (SHA-256 over its files) is the stamp's,
        unless the folder records the hash of the files it was made from
        (``source_sha256`` in ``dataset.yaml``, as ``evalkit render`` writes):
        then that one, so that report, ``results.json``, manifest and index
        name the same input.
    cfg : SiteConfig
        Recorded as the parameters; its ``disclosure_threshold`` governs
        what ``results.json`` publishes.
    out_dir : str or Path
        Where the published ``results.json`` goes (small counts and the
        estimates resting on them withheld); "" writes nothing.
    researcher_dir : str or Path
        Where an unsuppressed ``results.json`` goes, for researchers only;
        "" writes none. Never the published folder.

    Returns
    -------
    Section
        Dataset name and hash, schema, package versions, parameters, render time.
    """
    digest = dataset.meta.get("source_sha256") or dataset_hash(data_dir)
    stamp = make_stamp(dataset.meta, str(digest), cfg.model_dump(mode="json"))
    if out_dir:
        write_results(results, stamp, out_dir, threshold=cfg.disclosure_threshold)
    if researcher_dir:
        if out_dir and Path(researcher_dir).resolve() == Path(out_dir).resolve():
            raise EvalkitError("researcher_dir must not be the published out_dir: it holds small counts")
        write_results(results, stamp, researcher_dir)
    page = Page(cfg, "about_heading")
    page.para(page.t("about_intro"))
    params = "; ".join(f"{k} = {', '.join(v) if isinstance(v, list) else v}" for k, v in stamp["params"].items())
    rows = {
        page.t("about_dataset"): stamp["dataset"]["name"],
        page.t("about_hash"): stamp["dataset"]["sha256"],
        page.t("about_extracted"): stamp["dataset"]["extracted_on"][:10],
        page.t("about_schema"): stamp["schema_version"],
        "evalkit": stamp["evalkit"],
        page.t("about_packages"): ", ".join(f"{p} {v}" for p, v in stamp["packages"].items()),
        page.t("about_params"): params,
        page.t("about_rendered"): stamp["rendered_at"],
    }
    page.table(pd.DataFrame({"": list(rows.values())}, index=list(rows)), css="evalkit-table evalkit-stamp")
    return page.done(notes=False)
