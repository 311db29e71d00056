"""evalkit.index: the batch's index page and its pooled cross-site summary (no kernels needed).

The BCG vaccine trials (metafor ``dat.bcg``) stand in for 13 sites: their
pooled result is published (metafor's dat.bcg example; docs/REFERENCES.md),
so the index's numbers can be checked against metafor's.
"""

from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from evalkit import datasets
from evalkit.render._files import Manifest
from evalkit.index import pooled_estimates, site_estimates, write_index
from evalkit.meta import pool


def _bcg_results() -> dict[str, dict]:
    d = pd.read_csv(datasets.path("dat_bcg"))
    yi = np.log((d.tpos / (d.tpos + d.tneg)) / (d.cpos / (d.cpos + d.cneg)))
    vi = 1 / d.tpos - 1 / (d.tpos + d.tneg) + 1 / d.cpos - 1 / (d.cpos + d.cneg)
    z = 1.959964
    return {
        f"trial_{t}": {
            "site": f"trial_{t}",
            "key_estimates": {
                "hr_placement": {
                    "estimate": float(y),
                    "se": float(np.sqrt(v)),
                    "ratio": float(np.exp(y)),
                    "ci_low": float(y - z * np.sqrt(v)),
                    "ci_high": float(y + z * np.sqrt(v)),
                }
            },
        }
        for t, y, v in zip(d.trial, yi, vi)
    }


def test_site_estimates_keeps_only_weighable_estimates_and_flags_ratios():
    ci = {"ci_low": -1.0, "ci_high": 2.0}
    docs = {
        "a": {
            "key_estimates": {
                "x": {"estimate": 0.1, "se": 0.2, "ratio": 1.1, **ci},
                "y": {"estimate": 0.3, "se": 0.0, "ratio": None, **ci},
                "z": {"estimate": None, "se": 0.1, "ratio": None, **ci},
                "d": {"estimate": 0.3, "se": 0.1, "ratio": None, "ci_low": None, "ci_high": None},
            }
        },  # descriptive: no interval, not pooled
        "b": {
            "key_estimates": {
                "x": {"estimate": 0.2, "se": None, "ratio": 1.2, **ci},
                "w": {"estimate": 1.5, "se": 0.5, "ratio": None, **ci},
            }
        },
        "c": {},
    }
    est = site_estimates(docs)
    assert est[["site", "name", "ratio"]].values.tolist() == [["a", "x", True], ["b", "w", False]]


def test_index_shows_each_sites_own_interval_and_municipality_as_text(tmp_path):
    docs = _bcg_results()
    # a site whose interval is wider than +-1.96 SE (a t on few df, as CR2 gives): the index must not recompute it
    docs["trial_1"]["key_estimates"]["hr_placement"].update(ci_low=float(np.log(0.01)), ci_high=float(np.log(7.0)))
    docs["trial_1"]["municipality"] = "Kuopio"
    manifest = Manifest(tmp_path)
    for site, doc in docs.items():
        (tmp_path / site).mkdir()
        (tmp_path / site / "results.json").write_text(json.dumps(doc))
        manifest.record(site, {"status": "done", "report": f"{site}/report.html"})
    page = write_index(tmp_path, manifest, "en").read_text()
    table = page[page.index('<table class="forest-numbers">') :]
    assert "<th>Kuopio</th>" in table and "0.01\u20137.00" in table
    assert ">trial_1<" not in page  # shown by its name, never its id (the id stays in the link only)


def test_pooled_estimate_matches_metafor_on_the_bcg_trials():
    fit = pooled_estimates(site_estimates(_bcg_results()))["hr_placement"]
    row = fit["pooled"]
    # R: metafor::rma(yi, vi, data = escalc("RR", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg),
    #    test = "adhoc"): estimate -0.7145, se 0.1808 (the z fit's 0.1798 rescaled by a factor > 1, so
    #    the same as "knha"), t on 12 df
    assert round(row["estimate"], 4) == -0.7145 and round(row["se"], 4) == 0.1808
    # metafor dat.bcg example (docs/REFERENCES.md): pooled RR 0.49 (0.33-0.73), the Knapp-Hartung interval
    assert (round(np.exp(row["ci_low"]), 2), round(np.exp(row["ci_high"]), 2)) == (0.33, 0.73)
    assert round(fit.stats["tau2"], 4) == 0.3132 and fit.stats["k"] == 13
    pred = fit.table.loc["prediction"]
    # R: predict(res, transf = exp, pi.type = "t"): pi.lb 0.14, pi.ub 1.76 (t on k - 1 df, as the index)
    assert (round(np.exp(pred["ci_low"]), 2), round(np.exp(pred["ci_high"]), 2)) == (0.14, 1.76)


def test_pooled_estimates_equal_meta_pool_and_say_why_one_is_not_pooled():
    est = pd.DataFrame(
        {
            "site": ["a", "b", "c", "a"],
            "name": ["x", "x", "x", "y"],
            "estimate": [0.1, 0.4, -0.2, 0.3],
            "se": [0.2, 0.1, 0.3, 0.1],
            "ratio": True,
        }
    )
    out = pooled_estimates(est)
    direct = pool(yi=[0.1, 0.4, -0.2], vi=[0.04, 0.01, 0.09], method="REML")
    assert out["x"]["pooled"]["estimate"] == pytest.approx(direct["pooled"]["estimate"], rel=1e-12)
    assert out["y"] == "fewer_than_two"


@pytest.fixture
def index_page(tmp_path) -> tuple[Path, str]:
    results = _bcg_results()
    manifest = Manifest(tmp_path)
    for site, doc in results.items():
        (tmp_path / site).mkdir()
        # counts of people a results.json may carry: the index must not show them
        doc["results"] = {"duration": {"cox_placement": {"stats": {"n": 987651, "events": 3}}}}
        (tmp_path / site / "results.json").write_text(json.dumps(doc))
        manifest.record(site, {"status": "done", "report": f"{site}/report.html"})
    manifest.record(
        "lost_site",
        {"status": "failed", "report": "lost_site/report.html", "error": {"type": "KeyError", "message": "withheld"}},
    )
    manifest.record("typo", {"status": "failed", "error": {"type": "ParamsError", "message": "params/typo.yaml"}})
    manifest.set_batch(dataset="bcg", dataset_sha256="ab" * 32)
    write_index(tmp_path, manifest, "fi")
    return tmp_path, (tmp_path / "index.html").read_text()


def test_index_lists_every_site_with_status_and_links_in_the_language(index_page):
    _, page = index_page
    assert '<html lang="fi">' in page
    assert page.count('href="trial_') == 13 and 'href="lost_site/report.html"' in page
    assert re.search(r"typo</td><td class=\"failed\">epäonnistui</td><td></td>", page)
    assert "manifest.json" in page  # failed sites are pointed to the details
    assert "KeyError" not in page and "params/typo.yaml" not in page  # details stay in the manifest


def test_index_states_the_pooled_result_with_decimal_commas(index_page):
    _, page = index_page
    # metafor knha, as above: RR 0.49 (0.33-0.73), prediction interval 0.14-1.76, I2 92.22%
    assert (
        "Yhdistetty estimaatti 0,49 (95 %:n luottamusväli 0,33…0,73); ennusteväli uudelle kohteelle "
        "0,14…1,76; 13 kohdetta; heterogeenisuus I² 92\u00a0%." in page
    )


def test_index_forest_plot_is_an_inline_png_with_pixels(index_page):
    _, page = index_page
    images = re.findall(r'<img alt="([^"]+)" src="data:image/png;base64,([^"]+)"', page)
    assert [alt for alt, _ in images] == ["Sijoitus (syykohtainen hasardisuhde)"]
    picture = Image.open(io.BytesIO(base64.b64decode(images[0][1])))
    assert picture.width > 300 and picture.height > 300
    pixels = np.asarray(picture.convert("RGB")).astype(int)
    assert ((pixels.max(axis=2) - pixels.min(axis=2)) > 80).sum() > 1000  # coloured marks drawn


def test_index_shows_no_counts_of_people_and_no_scripts(index_page):
    _, page = index_page
    assert "987651" not in page and "events" not in page
    assert "<script" not in page and "http" not in page


@pytest.mark.parametrize(
    "lang, heading, sentence",
    [
        ("en", "Pooled result across sites", "Pooled estimate 0.49 (95% CI 0.33\u20130.73)"),
        ("sv", "Sammanvägt resultat för orterna", "Sammanvägd skattning 0,49 (95 % konfidensintervall 0,33\u20260,73)"),
    ],
)
def test_index_in_english_and_swedish(tmp_path, lang, heading, sentence):
    manifest = Manifest(tmp_path)
    for site, doc in _bcg_results().items():
        (tmp_path / site).mkdir()
        (tmp_path / site / "results.json").write_text(json.dumps(doc))
        manifest.record(site, {"status": "done", "report": f"{site}/report.html"})
    page = write_index(tmp_path, manifest, lang).read_text()
    assert f'<html lang="{lang}">' in page and heading in page and sentence in page


def _index_with_alphas(tmp_path, alphas: dict[str, float]) -> str:
    manifest = Manifest(tmp_path)
    for site, doc in _bcg_results().items():
        doc["stamp"] = {"params": {"alpha": alphas.get(site, alphas.get("*", 0.05))}}
        (tmp_path / site).mkdir()
        (tmp_path / site / "results.json").write_text(json.dumps(doc))
        manifest.record(site, {"status": "done", "report": f"{site}/report.html"})
    return write_index(tmp_path, manifest, "en").read_text()


def test_a_batch_rendered_at_90_percent_is_pooled_and_labelled_at_90_percent(tmp_path):
    page = _index_with_alphas(tmp_path, {"*": 0.10})
    d = pd.read_csv(datasets.path("dat_bcg"))
    yi = np.log((d.tpos / (d.tpos + d.tneg)) / (d.cpos / (d.cpos + d.cneg)))
    vi = 1 / d.tpos - 1 / (d.tpos + d.tneg) + 1 / d.cpos - 1 / (d.cpos + d.cneg)
    # metafor: rma(yi, vi, method = "REML", test = "adhoc", level = 90)
    fit = pool(pd.DataFrame({"yi": yi, "vi": vi}), yi="yi", vi="vi", method="REML", test="adhoc", alpha=0.10)
    ci = f"{np.exp(fit['pooled']['ci_low']):.2f}\u2013{np.exp(fit['pooled']['ci_high']):.2f}"
    assert f"(90% CI {ci})" in page
    assert "90% confidence interval" in page and "95%" not in page  # once: labelled 95% whatever the level


def test_sites_at_different_levels_keep_their_own_intervals_and_the_index_says_so(tmp_path):
    page = _index_with_alphas(tmp_path, {"trial_1": 0.10})
    assert "different confidence levels (90, 95%)" in page and "(95% CI " in page
