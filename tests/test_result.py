"""The common Result type and the Wald-table helper."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from evalkit import InputError, Result
from evalkit.result import require_columns, wald_table


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
    res = Result(table=pd.DataFrame({"estimate": [1.0]}, index=["x"]), stats={"n": 3},
                 method="M", warnings=["careful <here>"])
    assert "M" in repr(res) and "warning: careful" in repr(res)
    html = res._repr_html_()
    assert "careful &lt;here&gt;" in html and "<table" in html
    assert res["x"]["estimate"] == 1.0


def test_require_columns_names_the_missing_ones():
    with pytest.raises(InputError, match="zz"):
        require_columns(pd.DataFrame({"a": [1]}), "a", "zz")
    with pytest.raises(InputError, match="DataFrame"):
        require_columns([1, 2], "a")
