"""One Result layout, checked on every public estimator (docs/API.md, "Results").

- the index names the quantity: a named index of terms, groups, studies or
  checks; a curve (a long table) has a plain row index and is keyed by its
  ``time`` or ``q`` column, within its group column;
- no column repeats another under a second name (Cox's ``coef``/``hr`` were
  ``estimate``/``ratio``; ``median_survival``'s ``median`` was ``estimate``);
- ratio columns are the exponentiated log-scale columns;
- a test of the whole model or of all groups together puts its statistic in
  ``.stats``; a per-term test is a row of ``.table``;
- every Result is JSON-ready.

A new public estimator must be added to ``CALLS``: the first test fails until it is.
"""

from __future__ import annotations

import importlib
import inspect
import json
import warnings

import numpy as np
import pandas as pd
import pytest

from evalkit import datasets
from evalkit import Result

ESTIMATOR_MODULES = ("effects", "survival", "rates", "trends", "meta", "design")
#: the public functions that return something else than a Result
NOT_ESTIMATORS = {"design.ANALYSES"}


def _data() -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(1)
    mp = pd.read_csv(datasets.path("mpdta"))
    mp["treated_now"] = ((mp["first.treat"] > 0) & (mp["year"] >= mp["first.treat"])).astype(int)
    ships = pd.read_csv(datasets.path("ships"))
    series = pd.DataFrame({"month": np.arange(48), "y": rng.poisson(50, 48), "g": 0})
    panel = pd.DataFrame({"unit": np.repeat(np.arange(8), 24), "month": np.tile(np.arange(24), 8)})
    panel["y"] = rng.poisson(40, len(panel)) + 1.0
    panel["start"] = np.where(panel["unit"] < 4, 12, np.nan)
    panel["x"] = np.sin(panel["month"] / 5)
    rates = pd.DataFrame({"unit": np.repeat(np.arange(8), 4), "year": np.tile(np.arange(4), 8)})
    rates["treated"] = (rates["unit"] < 4).astype(int)
    rates["post"] = (rates["year"] >= 2).astype(int)
    rates["on"] = rates["treated"] * rates["post"]
    rates["years"] = 10.0
    rates["days"] = rng.poisson(30, len(rates))
    return {
        "ck": datasets.load("card_krueger_mhe"),
        "mp": mp,
        "ma": datasets.load("mixed_anova"),
        "few": pd.read_csv(datasets.path("did_few_clusters")),
        "lung": pd.read_csv(datasets.path("lung")),
        "bmt": pd.read_csv(datasets.path("bmtcrr")),
        "bcg": pd.read_csv(datasets.path("dat_bcg")),
        "ships": ships[ships["service"] > 0],
        "series": series,
        "series2": pd.concat([series, series.assign(g=1, y=rng.poisson(60, 48))]),
        "panel": panel,
        "rates": rates,
    }


D = _data()
_BCG_YI = dict(yi=np.log(D["bcg"]["tpos"] / D["bcg"]["cpos"]), vi=1 / D["bcg"]["tpos"] + 1 / D["bcg"]["cpos"])

CALLS = {
    "effects.did": lambda m: m.did(D["ck"], "fte", "nj", "d"),
    "effects.did_table": lambda m: m.did_table(D["ck"], "fte", "nj", "d"),
    "effects.twfe": lambda m: m.twfe(D["mp"], "lemp", "treated_now", "countyreal", "year"),
    "effects.staggered_did": lambda m: m.staggered_did(D["mp"], "lemp", "countyreal", "year", "first.treat"),
    "effects.mixed_anova": lambda m: m.mixed_anova(D["ma"], "Scores", "Time", "Group", "Subject"),
    "effects.compare_groups": lambda m: m.compare_groups(D["few"], "wellbeing", "pilot"),
    "effects.ols": lambda m: m.ols(D["ck"], "fte ~ nj * d"),
    "survival.km": lambda m: m.km(D["lung"], "time", "status", group="sex"),
    "survival.median_survival": lambda m: m.median_survival(D["lung"], "time", "status", group="sex"),
    "survival.quantile_survival": lambda m: m.quantile_survival(
        D["lung"], "time", "status", q=[0.25, 0.5], group="sex"
    ),
    "survival.survival_at": lambda m: m.survival_at(D["lung"], "time", "status", [100, 200], group="sex"),
    "survival.rmst": lambda m: m.rmst(D["lung"], "time", "status", tau=365, group="sex"),
    "survival.logrank": lambda m: m.logrank(D["lung"], "time", "status", "sex"),
    "survival.cox": lambda m: m.cox(D["lung"], "time", "status", ["sex", "age"]),
    "survival.cox_zph": lambda m: m.cox_zph(D["lung"], "time", "status", ["sex", "age"]),
    "survival.cif": lambda m: m.cif(D["bmt"], "ftime", "Status", cause=1, group="D"),
    "survival.finegray": lambda m: m.finegray(D["bmt"], "ftime", "Status", ["Age"], cause=1),
    "survival.gray_test": lambda m: m.gray_test(D["bmt"], "ftime", "Status", "D", cause=1),
    "rates.rate_model": lambda m: m.rate_model(D["ships"], "incidents ~ C(type)", exposure="service"),
    "rates.compare_rates": lambda m: m.compare_rates(D["ships"], "incidents", "service", "type"),
    "rates.rate_did": lambda m: m.rate_did(D["rates"], "days", "years", "treated", "post"),
    "rates.rate_twfe": lambda m: m.rate_twfe(D["rates"], "days", "years", "on", "unit", "year"),
    "trends.its": lambda m: m.its(D["series"], "y", "month", start=24),
    "trends.controlled_its": lambda m: m.controlled_its(D["series2"], "y", "month", "g", start=24),
    "trends.staggered_its": lambda m: m.staggered_its(D["panel"], "y", "month", "unit", "start"),
    "trends.pretrend_test": lambda m: m.pretrend_test(D["panel"], "y", "month", "unit", "start"),
    "trends.gls": lambda m: m.gls(D["panel"].drop(columns="start"), "y", ["x"], unit="unit", time="month"),
    "meta.pool": lambda m: m.pool(**_BCG_YI),
    "meta.forest_data": lambda m: m.forest_data(D["bcg"].assign(**_BCG_YI), yi="yi", vi="vi", label="trial"),
    "meta.effect_sizes": lambda m: m.effect_sizes(D["bcg"], "RR", ai="tpos", bi="tneg", ci="cpos", di="cneg"),
    "design.mde": lambda m: m.mde(clusters_per_arm=10, cluster_size=20, icc=0.05),
    "design.power": lambda m: m.power(effect=0.3, clusters_per_arm=10, cluster_size=20, icc=0.05),
    "design.estimable": lambda m: m.estimable(D["few"], "did", group="pilot", time="post", cluster="team"),
    "design.require_estimable": lambda m: m.require_estimable(
        D["few"], "did", group="pilot", time="post", cluster="team"
    ),
}
#: tests of the whole model or of all groups together: their statistic lives in .stats
MODEL_TESTS = {"survival.logrank", "survival.gray_test"}
#: curves: long tables keyed by a time or probability column within their group column
CURVES = {
    "survival.km": "time",
    "survival.survival_at": "time",
    "survival.cif": "time",
    "survival.quantile_survival": "q",
}
#: one row per row of the caller's data, indexed as the data are (to join back)
ROWS_OF_DATA = {"meta.effect_sizes": "bcg"}


def _public_estimators() -> set[str]:
    found = set()
    for name in ESTIMATOR_MODULES:
        module = importlib.import_module(f"evalkit.{name}")
        found |= {f"{name}.{attr}" for attr in module.__all__ if inspect.isfunction(getattr(module, attr))}
    return found - NOT_ESTIMATORS


@pytest.fixture(scope="module")
def results() -> dict[str, Result]:
    out = {}
    for name, call in CALLS.items():
        module = importlib.import_module(f"evalkit.{name.split('.')[0]}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # few clusters and the like: the layout is checked, not the fit
            out[name] = call(module)
    return out


def test_every_public_estimator_is_checked_here():
    assert set(CALLS) == _public_estimators()


@pytest.mark.parametrize("name", sorted(CALLS))
def test_the_index_names_the_quantity(results, name):
    table = results[name].table
    assert isinstance(results[name], Result) and isinstance(table, pd.DataFrame) and len(table)
    if name in ROWS_OF_DATA:
        assert table.index.equals(D[ROWS_OF_DATA[name]].index)
    elif name in CURVES:
        key = [c for c in table.columns[:2] if c != CURVES[name]] + [CURVES[name]]
        assert isinstance(table.index, pd.RangeIndex) and table.index.name is None
        assert list(table.columns[: len(key)]) == key, "a curve starts with its group and time columns"
        assert not table.duplicated(key).any(), "a curve has one row per group and time"
    else:
        assert not isinstance(table.index, pd.RangeIndex), "a row number does not name a quantity"
        assert table.index.name and table.index.is_unique
        assert all(isinstance(v, str) or np.isscalar(v) for v in table.index)


@pytest.mark.parametrize("name", sorted(CALLS))
def test_no_column_repeats_another_under_a_second_name(results, name):
    table = results[name].table.select_dtypes("number")
    same = [
        (a, b)
        for i, a in enumerate(table.columns)
        for b in table.columns[i + 1 :]
        if table[a].notna().any() and table[a].equals(table[b])
    ]
    assert same == []


@pytest.mark.parametrize("name", sorted(CALLS))
def test_ratio_columns_are_the_exponentiated_estimate_and_limits(results, name):
    table = results[name].table
    if "ratio" not in table.columns or name == "rates.compare_rates":  # crude rates: the ratio is its own figure
        return
    for scale, ratio in (("estimate", "ratio"), ("ci_low", "ratio_ci_low"), ("ci_high", "ratio_ci_high")):
        np.testing.assert_allclose(np.exp(table[scale]), table[ratio], rtol=1e-12)


@pytest.mark.parametrize("name", sorted(MODEL_TESTS))
def test_a_test_of_the_whole_model_is_in_stats(results, name):
    res = results[name]
    assert {"chi2", "df", "p"} <= set(res.stats)
    assert not {"chi2", "p"} & set(res.table.columns)


@pytest.mark.parametrize("name", sorted(CALLS))
def test_every_result_is_json_ready(results, name):
    text = json.dumps(results[name].to_dict(), allow_nan=False)
    assert json.loads(text)["method"] == results[name].method and results[name].method
