"""The common Result type and the Wald-table helper."""

from __future__ import annotations

import inspect
import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from evalkit import InputError, Result
from evalkit.core.result import require_columns, wald_table


def test_wald_table_z_matches_normal_quantiles():
    tab = wald_table(["a", "b"], [1.0, -0.5], [0.5, 0.25])
    assert tab.loc["a", "ci_low"] == pytest.approx(1.0 - stats.norm.ppf(0.975) * 0.5)
    assert tab.loc["b", "z"] == pytest.approx(-2.0)
    assert tab.loc["b", "p"] == pytest.approx(2 * stats.norm.sf(2.0))


def test_wald_table_t_and_ratio_columns():
    tab = wald_table(["x"], [math.log(2)], [0.1], df=10, ratio=True)
    q = stats.t.ppf(0.975, 10)
    assert "t" in tab.columns and "z" not in tab.columns
    assert tab.loc["x", "ratio"] == pytest.approx(2.0)
    assert tab.loc["x", "ratio_ci_high"] == pytest.approx(2.0 * math.exp(q * 0.1))


def test_result_to_dict_is_json_ready_and_nan_becomes_null():
    res = Result(
        table=wald_table(["a"], [np.float64(1.5)], [np.nan]),
        stats={"n": np.int64(10), "ok": np.bool_(True)},
        method="test method",
        warnings=["few clusters"],
    )
    d = json.loads(json.dumps(res.to_dict()))
    assert d["stats"] == {"n": 10, "ok": True}
    assert d["table"][0]["term"] == "a" and d["table"][0]["se"] is None
    assert d["warnings"] == ["few clusters"]


def test_result_reprs_show_method_and_warnings():
    res = Result(
        table=pd.DataFrame({"estimate": [1.0]}, index=["x"]), stats={"n": 3}, method="M", warnings=["careful <here>"]
    )
    assert "M" in repr(res) and "warning: careful" in repr(res)
    html = res._repr_html_()
    assert "careful &lt;here&gt;" in html and "<table" in html
    assert res["x"]["estimate"] == 1.0


def test_require_columns_names_the_missing_ones():
    with pytest.raises(InputError, match="zz"):
        require_columns(pd.DataFrame({"a": [1]}), "a", "zz")
    with pytest.raises(InputError, match="DataFrame"):
        require_columns([1, 2], "a")


# ------------------------------------------------------------------ alpha: one check, used everywhere
def _public_functions_with_alpha():
    import importlib
    import inspect

    import evalkit

    found = {}
    for name in sorted(set(evalkit.SHORT_NAMES) - {"result"} | {"synth", "site", "report", "render", "exercises"}):
        module = importlib.import_module(f"evalkit.{name}")
        for attr in getattr(module, "__all__", []):
            f = getattr(module, attr, None)
            if inspect.isfunction(f) and "alpha" in inspect.signature(f).parameters:
                found[f"{name}.{attr}"] = f
    return found


def test_every_public_function_taking_alpha_checks_it():
    functions = _public_functions_with_alpha()
    assert len(functions) >= 25  # the estimators of effects, survival, rates, trends, meta, design
    assert [name for name, f in functions.items() if not getattr(f, "checks_alpha", False)] == []


@pytest.mark.parametrize("alpha", [1.5, 0, 1, -0.1, float("nan"), "0.05", True, None])
def test_an_alpha_that_is_not_a_level_is_refused_in_one_wording(alpha):
    from evalkit import effects, rates, survival, trends

    d = pd.DataFrame(
        {
            "y": np.arange(16.0) % 5,
            "arm": np.repeat([0, 1], 8),
            "post": np.tile([0, 1], 8),
            "fte": 1.0,
            "month": np.tile(np.arange(8), 2),
            "event": 1,
        }
    )
    calls = [
        lambda: effects.did(d, "y", "arm", "post", alpha=alpha),  # once gave a lower limit above the estimate
        lambda: survival.cox(d, "y", "event", ["arm"], alpha=alpha),
        lambda: rates.rate_did(d, "y", "fte", "arm", "post", alpha=alpha),
        lambda: trends.its(d[d["arm"] == 0], "y", "month", start=4, alpha=alpha),
    ]
    for call in calls:
        with pytest.raises(InputError, match=r"^alpha must be a number between 0 and 1 \(0\.05 gives 95% "):
            call()


def test_rate_did_and_its_give_intervals_at_the_level_asked():
    from evalkit import rates, trends

    rng = np.random.default_rng(3)
    d = pd.DataFrame(
        {
            "days": rng.poisson(20, 40),
            "fte": 1.0,
            "arm": np.repeat([0, 1], 20),
            "post": np.tile([0, 1], 20),
            "month": np.arange(40),
        }
    )
    z90 = stats.norm.ppf(0.95)  # Wald z intervals, as R confint.default(glm(...), level = 0.90)
    for res, row in (
        (rates.rate_did(d, "days", "fte", "arm", "post", alpha=0.10), "did"),
        (trends.its(d, "days", "month", start=20, alpha=0.10), "level_change"),
    ):
        r = res[row]
        assert r["ci_low"] == pytest.approx(r["estimate"] - z90 * r["se"], rel=1e-12)
        assert r["ci_high"] == pytest.approx(r["estimate"] + z90 * r["se"], rel=1e-12)


def test_a_long_result_shows_head_and_tail_as_pandas_does_and_summary_shows_all():
    res = Result(
        pd.DataFrame({"time": np.arange(1328.0), "survival": np.linspace(1, 0, 1328)}), {"n": 1328}, "Kaplan-Meier"
    )
    html, text = res._repr_html_(), repr(res)
    assert html.count("<tr>") < 30 and "1328 rows" in html  # once: all 1,328 rows, 288 KB in a notebook
    assert len(text.splitlines()) < 30
    with pd.option_context("display.max_rows", 2000):
        assert res._repr_html_().count("<tr>") > 1328
    assert len(res.summary().splitlines()) > 1328 and "n=1328" in res.summary()


def test_option_values_are_one_value_in_any_case_and_a_wrong_one_is_named_in_one_wording():
    from evalkit import effects, meta, rates, survival

    d = pd.DataFrame(
        {
            "y": np.arange(16.0) % 5,
            "arm": np.repeat([0, 1], 8),
            "post": np.tile([0, 1], 8),
            "fte": 1.0,
            "team": np.arange(16) % 4,
            "event": 1,
        }
    )
    same = [
        (lambda v: effects.did(d, "y", "arm", "post", se_type=v)["did"]["se"], "HC1", "hc1"),
        (lambda v: survival.km(d, "y", "event", conf_type=v).table["ci_low"].sum(), "LOG-LOG", "log-log"),
        (
            lambda v: rates.rate_model(d, "y ~ arm", exposure="fte", family=v)["arm"]["se"],
            "QuasiPoisson",
            "quasipoisson",
        ),
        (lambda v: meta.pool(d.assign(vi=0.1), yi="y", vi="vi", method=v)["pooled"]["se"], "reml", "REML"),
    ]
    for call, loud, canonical in same:  # once: "HC1" refused while method="reml" was accepted
        assert call(loud) == call(canonical)
    with pytest.raises(InputError, match=r"^se_type must be one of 'iid', 'hc1', 'cluster', 'cr2', 'wild', not 'hc3'$"):
        effects.did(d, "y", "arm", "post", se_type="hc3")
    with pytest.raises(InputError, match=r"^conf_type must be one of 'log', 'log-log', 'plain', not 'logit'$"):
        survival.km(d, "y", "event", conf_type="logit")


def test_old_argument_names_still_work_with_a_deprecation_warning_and_give_the_same_result():
    from evalkit import effects, rates

    rng = np.random.default_rng(2)
    d = pd.DataFrame(
        {
            "y": rng.normal(size=40),
            "pilot": np.repeat([0, 1], 20),
            "after": np.tile([0, 1], 20),
            "days": rng.poisson(5, 40),
            "fte": 1.0,
            "worker": np.repeat(np.arange(10), 4),
            "wave": np.tile([1, 2, 3, 4], 10),
        }
    )
    d["arm"] = np.where(d["worker"] < 5, "pilot", "comparison")
    pairs = [
        (
            lambda: effects.did(d, "y", treated="pilot", post="after"),
            lambda: effects.did(d, "y", treatment="pilot", post="after"),
            "did",
        ),
        (
            lambda: rates.rate_did(d, events="days", exposure="fte", arm="pilot", period="after"),
            lambda: rates.rate_did(d, outcome="days", exposure="fte", treatment="pilot", post="after"),
            "did",
        ),
        (
            lambda: effects.mixed_anova(d, dv="y", within="wave", between="arm", subject="worker"),
            lambda: effects.mixed_anova(d, outcome="y", time="wave", group="arm", unit="worker"),
            "Interaction",
        ),
    ]
    for old, new, row in pairs:
        with pytest.warns(DeprecationWarning, match=r"is now .*; the old name will be removed"):
            before = old()
        pd.testing.assert_series_equal(before[row], new()[row])
    with pytest.raises(InputError, match="give treatment= only: treated= is its old name"):
        effects.did(d, "y", treated="pilot", treatment="pilot", post="after")


def test_the_estimators_speak_one_vocabulary():
    # docs/API.md: outcome, treatment / group, unit, time, post, cluster; the old names live only in @renamed
    # (for the arguments that name columns: its(period=12) is the length of a season, a number)
    old = {"dv", "treated", "events", "arm", "period", "between", "within", "subject"}

    def columns(f):
        return {n for n, p in inspect.signature(f).parameters.items() if str(p.annotation).startswith("str")}

    found = {
        name: sorted(old & columns(f))
        for name, f in _public_functions_with_alpha().items() | _public_estimators().items()
    }
    assert {name: params for name, params in found.items() if params} == {}


def _public_estimators():
    from evalkit import effects

    return {"effects.mixed_anova": effects.mixed_anova}
