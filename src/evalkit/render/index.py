"""``OUT/index.html``: every site's status and the pooled cross-site summary.

For each headline estimate of :data:`evalkit.site.KEY_ESTIMATES`, the sites'
estimates (from their ``results.json``: log scale for ratios, with standard
errors) are pooled by random-effects meta-analysis (REML with the
Knapp-Hartung interval, its variance factor truncated at 1, as
``metafor::rma(..., test = "adhoc")``) and drawn as a forest plot
(:func:`evalkit.plots.forest`) with its numbers as a table beside it. With a
handful of sites the Wald z interval of the pooled effect is too narrow (it
takes tau2 as known); untruncated Knapp-Hartung was too narrow too where the
sites agree (its factor then falls below 1: 0.915 coverage of the cost slope
in ``benchmarks/validity.py``); the truncated one holds the level.
The page is self-contained (figures inline, no scripts, no external links)
and shows no counts of people: only sites, estimates and intervals.
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from evalkit.core import i18n
from evalkit.render._files import DONE, atomic_write, now
from evalkit.core.result import EvalkitError, Result, checks_alpha

__all__ = ["site_estimates", "pooled_estimates", "write_index"]

_MIN_SITES_PI = 3
_CSS = """body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse}td,th{padding:.3rem .8rem;border-bottom:1px solid #ddd;text-align:left}
.failed{color:#a40000}.pending{color:#8a6d00}img{max-width:100%;height:auto}.meta{color:#666;font-size:.9rem}
@page{size:A4;margin:16mm 14mm}
@media print{body{max-width:none;margin:0;padding:0}h1,h2,h3{break-after:avoid;break-inside:avoid}
img,tr,p{break-inside:avoid}a{color:inherit;text-decoration:none}}"""


def site_estimates(results: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """Long table of each site's key estimates: ``site``, ``name``, ``estimate``, ``se``, ``ci_low``, ``ci_high``,
    ``ratio``.

    ``results`` maps a site to its ``results.json`` content. Estimates
    without a finite, positive standard error are left out (they cannot be
    weighted), and so are those the site withheld for small counts (no
    numbers) or shows without an interval (descriptive). ``ci_low`` and
    ``ci_high`` are the site's own interval, as its report shows it (for
    example on Satterthwaite degrees of freedom), never recomputed. ``ratio``
    is True where the site reported a ratio (the estimate is then its log).

    Examples
    --------
    >>> doc = {"key_estimates": {"sick_leave_rr": {"estimate": -0.2, "se": 0.1, "ratio": 0.82,
    ...                                            "ci_low": -0.4, "ci_high": 0.0}}}
    >>> print(site_estimates({"kuopio": doc})["se"].iloc[0])
    0.1
    """
    rows = []
    for site, doc in results.items():
        for name, est in (doc.get("key_estimates") or {}).items():
            y, se, ratio = est.get("estimate"), est.get("se"), est.get("ratio")
            low, high = est.get("ci_low"), est.get("ci_high")
            if _finite(y) and _finite(se) and se > 0 and _finite(low) and _finite(high):
                rows.append(
                    {
                        "site": site,
                        "name": name,
                        "estimate": float(y),
                        "se": float(se),
                        "ci_low": float(low),
                        "ci_high": float(high),
                        "ratio": _finite(ratio),
                    }
                )
    return pd.DataFrame(rows, columns=["site", "name", "estimate", "se", "ci_low", "ci_high", "ratio"])


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


@checks_alpha
def pooled_estimates(estimates: pd.DataFrame, *, alpha: float = 0.05, test: str = "adhoc") -> dict[str, Result | str]:
    """Random-effects (REML, truncated Knapp-Hartung) forest data per key estimate with at least two sites.

    Parameters
    ----------
    estimates : DataFrame
        From :func:`site_estimates`.
    alpha : float
        1 - confidence level.
    test : {"adhoc", "knha", "z"}
        Knapp-Hartung t on k - 1 df with its factor truncated at 1 (default),
        untruncated, or Wald z for the pooled interval.

    Returns
    -------
    dict
        Estimate name -> :func:`evalkit.meta.forest_data` Result (rows per
        site, ``pooled``, ``prediction``: the prediction interval on t(k - 1)),
        or the reason it was not pooled.

    References
    ----------
    R ``metafor::rma(yi, sei = se, method = "REML", test = "adhoc")``,
    ``predict(res, pi.type = "t")``; IntHout, Ioannidis & Borm (2014), BMC
    Med Res Methodol 14:25, on Knapp-Hartung with few studies; Röver, Knapp & Friede (2015),
    BMC Med Res Methodol 15:99, on truncating its factor.

    Examples
    --------
    >>> d = pd.DataFrame({"site": ["a", "b", "c"], "name": "x", "estimate": [0.1, 0.3, 0.2],
    ...                   "se": [0.2, 0.15, 0.1], "ratio": True})
    >>> fit = pooled_estimates(d)["x"]
    >>> print(round(fit.stats["tau2"], 4), round(fit["pooled"]["estimate"], 4))  # tau2 0: the 1/se^2-weighted mean
    0.0 0.2115
    """
    from evalkit.stats.meta import forest_data

    out: dict[str, Result | str] = {}
    for name, part in estimates.groupby("name", sort=False):
        if len(part) < 2:
            out[name] = "fewer_than_two"
            continue
        part = part.assign(vi=part["se"] ** 2)
        try:
            fit = forest_data(
                part, yi="estimate", vi="vi", label="site", method="REML", alpha=alpha, test=test, pi_type="t"
            )
        except EvalkitError as exc:
            out[name] = str(exc)
            continue
        if {"ci_low", "ci_high"} <= set(part.columns):  # each site's row: its own interval, one number everywhere
            own = part.set_index(part["site"].astype(str))
            fit.table.loc[own.index, ["ci_low", "ci_high"]] = own[["ci_low", "ci_high"]].to_numpy()
        out[name] = fit
    return out


def _level(alpha: float, lang: str) -> str:
    return i18n.fmt_number(100 * (1 - alpha), lang, 0 if round(100 * alpha, 9).is_integer() else 1)


def _batch_level(results: Mapping[str, Mapping[str, Any]], lang: str) -> tuple[float, list[str]]:
    """The confidence level the index pools at, and the levels the sites' reports use.

    The sites' own level when they share one (a batch rendered with ``alpha: 0.10`` pools at 90%);
    95% when they differ, each site's row then keeping its own report's interval.
    """
    alphas = sorted(
        {float(((doc.get("stamp") or {}).get("params") or {}).get("alpha", 0.05)) for doc in results.values()},
        reverse=True,
    )  # levels from the lowest up
    return (alphas[0] if len(alphas) == 1 else 0.05), [_level(a, lang) for a in alphas]


def _label(key: str, lang: str, default: str, **values: object) -> str:
    try:
        return i18n.label(key, lang, **values)
    except KeyError:
        return default


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


#: decimals per key estimate where two would round every value to 1 (costs grow by fractions of a percent a month)
_DIGITS = {"cost_slope": 3}


def _forest_png(table: pd.DataFrame, ratio: bool, lang: str, digits: int, level: str) -> str:
    from evalkit.report import plots

    sep = "\u2013" if lang == "en" else "\u2026"
    # no title in the figure: the section heading above it names the estimate
    labels = {
        "title": "",
        "pooled": i18n.label("index_pooled", lang),
        "prediction": i18n.label("index_prediction_interval", lang),
        "ci_sep": sep,
        "xlabel_ratio": i18n.label("index_ratio_axis", lang),
        "xlabel": _capital(i18n.label("estimate", lang)),
        "estimate": f"{_capital(i18n.label('estimate', lang))} ({level}{'' if lang == 'en' else chr(160)}% CI)",
    }
    ax = plots.forest(table, ratio=ratio, labels=labels, number_format=lambda x: i18n.fmt_number(x, lang, digits))
    return plots.to_base64_png(ax)


def _pooled_section(name: str, fit: Result | str, ratio: bool, lang: str, level: str) -> str:
    title = html.escape(_label(f"index_est_{name}", lang, name))
    if isinstance(fit, str):
        reason = i18n.label("index_not_pooled", lang) if fit == "fewer_than_two" else fit
        return f"<h3>{title}</h3><p>{html.escape(reason)}</p>"
    row, k = fit["pooled"], int(fit.stats["k"])
    f, digits = (math.exp if ratio else float), _DIGITS.get(name, 2)
    pred = fit.table.loc["prediction"]
    values = {
        "estimate": i18n.fmt_number(f(row["estimate"]), lang, digits),
        "k": k,
        "ci": i18n.fmt_ci(f(row["ci_low"]), f(row["ci_high"]), lang, digits),
        "pi": i18n.fmt_ci(f(pred["ci_low"]), f(pred["ci_high"]), lang, digits),
        "i2": i18n.fmt_percent(fit.stats["i2"] / 100, lang),
        "level": level,
    }
    # with two sites, t on 1 df makes the prediction interval span orders of magnitude: say so instead
    text = i18n.label("index_pooled_sentence" if k >= _MIN_SITES_PI else "index_pooled_sentence_no_pi", lang, **values)
    table = fit.table if k >= _MIN_SITES_PI else fit.table[fit.table["kind"] != "prediction"]
    img = _forest_png(table, ratio, lang, digits, level)
    return (
        f"<h3>{title}</h3><p>{html.escape(text)}</p>"
        f'<div class="forest" data-estimate="{html.escape(name)}">'
        f'<img alt="{title}" src="data:image/png;base64,{img}">'
        f"{_forest_table(table, ratio, lang, digits, level)}</div>"
    )


def _forest_table(table: pd.DataFrame, ratio: bool, lang: str, digits: int, level: str) -> str:
    """The forest plot's numbers as text (readable by a screen reader, copyable): the same values as the image."""
    f = math.exp if ratio else float
    names = {"pooled": i18n.label("index_pooled", lang), "prediction": i18n.label("index_prediction_interval", lang)}
    rows = []
    for label, row in table.iterrows():
        shown = names.get(str(row["kind"]), str(label))
        value = "" if row["kind"] == "prediction" else i18n.fmt_number(f(row["estimate"]), lang, digits)
        weight = "" if pd.isna(row["weight"]) else i18n.fmt_percent(row["weight"] / 100, lang, 0)
        rows.append(
            f"<tr><th>{html.escape(shown)}</th><td>{value}</td>"
            f"<td>{i18n.fmt_ci(f(row['ci_low']), f(row['ci_high']), lang, digits)}</td><td>{weight}</td></tr>"
        )
    head = (
        f"<tr><th>{html.escape(i18n.label('site', lang).capitalize())}</th>"
        f"<th>{html.escape(_capital(i18n.label('estimate', lang)))}</th>"
        f"<th>{html.escape(i18n.label('index_ci', lang, level=level))}</th>"
        f"<th>{html.escape(_capital(i18n.label('index_weight', lang)))}</th></tr>"
    )
    return f'<table class="forest-numbers">{head}{"".join(rows)}</table>'


def _sites_table(sites: Mapping[str, Mapping[str, Any]], lang: str, names: Mapping[str, str]) -> str:
    rows = []
    for site, entry in sorted(sites.items(), key=lambda item: names.get(item[0], item[0])):
        status = entry.get("status", "pending")
        shown = html.escape(_label(f"index_status_{status}", lang, status))
        report = entry.get("report")
        link = (
            f'<a href="{html.escape(report)}">{html.escape(i18n.label("index_open_report", lang))}</a>'
            if report
            else ""
        )
        rows.append(
            f'<tr><td>{html.escape(names.get(site, site))}</td><td class="{html.escape(status)}">{shown}</td>'
            f"<td>{link}</td></tr>"
        )
    head = (
        f"<tr><th>{html.escape(i18n.label('site', lang))}</th><th>{html.escape(i18n.label('index_status', lang))}"
        "</th><th></th></tr>"
    )
    return f"<table>{head}{''.join(rows)}</table>"


def write_index(out: Path, manifest: Any, lang: str) -> Path:
    """Write ``out/index.html`` from the manifest and the done sites' ``results.json``."""
    from evalkit import __version__

    results = {}
    for site, entry in manifest.sites.items():
        path = out / site / "results.json"
        if entry.get("status") == DONE and path.is_file():
            results[site] = json.loads(path.read_text(encoding="utf-8"))
    est = site_estimates(results)
    names = {site: doc.get("municipality") or site for site, doc in results.items()}
    est["site"] = est["site"].map(names)  # readers see municipality names, never ids
    ratio = est.groupby("name")["ratio"].all().to_dict() if len(est) else {}
    alpha, levels = _batch_level(results, lang)
    level = _level(alpha, lang)
    pooled = "".join(
        _pooled_section(n, fit, ratio[n], lang, level) for n, fit in pooled_estimates(est, alpha=alpha).items()
    )
    if len(levels) > 1 and pooled:  # each site's row keeps its own report's interval: say so
        pooled = (
            f"<p>{html.escape(i18n.label('index_mixed_levels', lang, levels=', '.join(levels), level=level))}"
            f"</p>{pooled}"
        )
    batch = manifest.batch
    failed = any(e.get("status") != DONE for e in manifest.sites.values())
    meta = i18n.label(
        "index_stamp",
        lang,
        dataset=batch.get("dataset", ""),
        sha=str(batch.get("dataset_sha256", ""))[:12],
        time=now(),
        version=__version__,
    )
    listed = {
        **manifest.sites,
        **{s: {"status": "no_params"} for s in batch.get("sites_without_params", []) if s not in manifest.sites},
    }  # every site of the data, also those not rendered
    body = (
        f"<h1>{html.escape(i18n.label('index_title', lang))}</h1>"
        f'<p class="meta">{html.escape(meta)}</p>'
        f"<h2>{html.escape(i18n.label('index_sites', lang))}</h2>{_sites_table(listed, lang, names)}"
        + (f"<p>{html.escape(i18n.label('index_failed_note', lang))}</p>" if failed else "")
        + f"<h2>{html.escape(i18n.label('index_pooled_heading', lang))}</h2>"
        f"<p>{html.escape(i18n.label('index_pooled_intro', lang))}</p>"
        + (pooled or f"<p>{html.escape(i18n.label('index_no_estimates', lang))}</p>")
    )
    page = (
        f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8">'
        f"<title>{html.escape(i18n.label('index_title', lang))}</title><style>{_CSS}</style></head>"
        f"<body>{body}</body></html>\n"
    )
    path = out / "index.html"
    atomic_write(path, page)
    return path
