"""Tests of evalkit.plots: the shared style and the event-study figure."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import base64
import io
import re

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.container import ErrorbarContainer
from matplotlib.patches import Polygon, Rectangle
from matplotlib.text import Text
from PIL import Image

from evalkit import InputError, datasets
from evalkit.meta import forest_data
from evalkit.plots import (
    LEGAL_CAPS,
    PALETTE,
    bar_share,
    caseload,
    cif_curves,
    event_study,
    forest,
    its_plot,
    km_curves,
    rates_by_arm,
    save_png,
    style,
    to_base64_png,
)
from evalkit.rates import compare_rates
from evalkit.report.plots._base import OVERLAP_KEY
from evalkit.effects import staggered_did
from evalkit.survival import cif, km


@pytest.fixture(scope="module")
def mpdta() -> pd.DataFrame:
    return pd.read_csv(datasets.path("mpdta"))


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _event(df, **kw):
    return staggered_did(df, "lemp", "countyreal", "year", "first.treat", aggregate="event", **kw)


def _bars(ax):
    """(x, y, low, high) of every error-bar point drawn, pre then post."""
    out = []
    for cont in ax.containers:
        assert isinstance(cont, ErrorbarContainer)
        line, _, (bars,) = cont.lines
        x, y = line.get_data()
        segs = bars.get_segments()
        out += [(xi, yi, s[0][1], s[1][1]) for xi, yi, s in zip(x, y, segs)]
    return np.array(out)


def test_event_study_points_and_error_bars(mpdta, tmp_path):
    res = _event(mpdta)
    ax = event_study(res)
    drawn = _bars(ax)
    assert len(ax.containers) == 2  # before and after the start of treatment
    assert drawn.shape == (7, 4)  # seven event times -3..3, one error bar each
    np.testing.assert_allclose(drawn[:, 0], res.table["event_time"])
    np.testing.assert_allclose(drawn[:, 1], res.table["estimate"])
    np.testing.assert_allclose(drawn[:, 2], res.table["ci_low"])
    np.testing.assert_allclose(drawn[:, 3], res.table["ci_high"])
    # zero line and the pre/post split between event times -1 and 0
    horizontal = [ln for ln in ax.lines if np.allclose(ln.get_ydata(), 0) and len(set(ln.get_xdata())) > 1]
    vertical = [ln for ln in ax.lines if np.allclose(ln.get_xdata(), -0.5)]
    assert horizontal and vertical
    pre_colour, post_colour = (c.lines[0].get_color() for c in ax.containers)
    assert pre_colour != post_colour
    out = tmp_path / "event.png"
    ax.figure.savefig(out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 5000


def test_event_study_uses_simultaneous_band_with_bootstrap(mpdta):
    res = _event(mpdta, bootstrap=199, seed=3)
    ax = event_study(res)
    drawn = _bars(ax)
    assert ax.get_legend().get_title().get_text() == "95% simultaneous confidence band"
    np.testing.assert_allclose(drawn[:, 2], res.table["cb_low"])
    np.testing.assert_allclose(drawn[:, 3], res.table["cb_high"])


def test_event_study_labels_and_given_axes(mpdta):
    fig, ax = plt.subplots()
    out = event_study(_event(mpdta), ax=ax, labels={"title": "Tapahtumatutkimus", "post": "Jälkeen"})
    assert out is ax
    assert ax.get_title() == "Tapahtumatutkimus"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["Before", "Jälkeen"]
    assert ax.get_legend().get_title().get_text() == "95% confidence interval"


def test_event_study_needs_an_event_result(mpdta):
    simple = staggered_did(mpdta, "lemp", "countyreal", "year", "first.treat")
    with pytest.raises(InputError, match="aggregate='event'"):
        event_study(simple)


def test_style_is_scoped_and_colour_blind_safe():
    before = dict(plt.rcParams)
    with style():
        fig, ax = plt.subplots()
        assert plt.rcParams["axes.grid"]
        assert ax.xaxis.label.get_fontsize() >= 12
    assert dict(plt.rcParams) == before
    assert len(PALETTE) >= 8 and PALETTE[0] != PALETTE[1]


# ---------------------------------------------------------------- report figures (issue 5)

SMALL = re.compile(r"^[1-4]$")  # a count the default threshold of 5 must hide


def _cases() -> pd.DataFrame:
    """Arm A: 12 cases ending on days 1..12 (risk set 12, 11, ..., 1); arm B: only 3 cases."""
    a = pd.DataFrame({"days": np.arange(1.0, 13.0), "closed": 1, "arm": "A"})
    b = pd.DataFrame({"days": [2.0, 5.0, 7.0], "closed": [1, 0, 1], "arm": "B"})
    return pd.concat([a, b], ignore_index=True)


def _all_text(ax) -> list[str]:
    ax.figure.canvas.draw()
    return [t.get_text() for t in ax.figure.findobj(Text) if t.get_text()]


def test_km_curves_stop_where_fewer_than_threshold_are_at_risk():
    res = km(_cases(), "days", "closed", group="arm")
    ax = km_curves(res, risk_times=[0, 4, 8, 10])
    curve = [ln for ln in ax.lines if len(ln.get_xdata())]
    assert len(curve) == 1  # arm B never has 5 at risk: no curve
    x, y = curve[0].get_xdata(), curve[0].get_ydata()
    # arm A has n_risk >= 5 up to day 8 (n_risk 5); days 9-12 (n_risk 4..1) are the tail
    assert x.max() == 8.0 and x.max() < 9.0
    np.testing.assert_allclose(y[1:], res.table.query("arm == 'A' and time <= 8")["survival"])
    band = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(band) == 1 and band[0].get_paths()[0].vertices[:, 0].max() <= 8.0
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["A", "B (not shown: fewer than 5 at risk)"]
    assert ax.get_legend().get_title().get_text() == "Curves end when fewer than 5 are at risk"
    shown = [t.get_text() for t in ax.texts]
    # at risk on days 0, 4, 8, 10: A 12, 9, 5, 3 -> "<5"; B (days 2, 5, 7) 3, 2, 0, 0
    assert shown == ["Number at risk", "A", "12", "9", "5", "<5", "B", "<5", "<5", "0", "0"]
    assert not any(SMALL.match(t) for t in shown)


def test_km_curves_threshold_is_configurable_and_single_curve():
    res = km(_cases().query("arm == 'A'"), "days", "closed")
    assert km_curves(res, threshold=1).lines[0].get_xdata().max() == 12.0
    assert km_curves(res, threshold=10).lines[0].get_xdata().max() == 3.0  # n_risk 10 on day 3


def test_km_curves_labels_and_number_format():
    res = km(_cases(), "days", "closed", group="arm")
    ax = km_curves(
        res,
        labels={"title": "Asiakkuuden kesto", "A": "Pilottitiimi", "risk_table": "Riskissä"},
        risk_times=[0, 4],
        number_format=lambda v: f"{v:.1f}".replace(".", ","),
    )
    assert ax.get_title() == "Asiakkuuden kesto"
    assert ax.get_legend().get_texts()[0].get_text() == "Pilottitiimi"
    assert "Riskissä" in [t.get_text() for t in ax.texts]
    ax.figure.canvas.draw()
    assert "0,4" in [t.get_text() for t in ax.get_yticklabels()]


def test_km_curves_needs_a_km_table():
    with pytest.raises(InputError, match="n_risk"):
        km_curves(pd.DataFrame({"time": [1.0], "survival": [0.5], "ci_low": [0.1], "ci_high": [0.9]}))
    with pytest.raises(InputError, match="group="):
        km_curves(km(_cases(), "days", "closed", group="arm").table.assign(site="x"))


def _competing() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    n = 80
    return pd.DataFrame(
        {
            "days": rng.integers(1, 400, n).astype(float),
            "end": rng.integers(0, 3, n),
            "arm": np.repeat(["pilot", "comparison"], n // 2),
        }
    )


def test_cif_curves_by_group_and_cause_follow_the_risk_rule():
    df = _competing()
    res = {
        "closed": cif(df, "days", "end", cause=1, group="arm"),
        "placement": cif(df, "days", "end", cause=2, group="arm"),
    }
    ax = cif_curves(res)
    lines = [ln for ln in ax.lines if len(ln.get_xdata())]
    assert len(lines) == 4  # 2 arms x 2 causes
    assert {ln.get_linestyle() for ln in lines} == {"-", "--"}
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0] == "Comparison teams – closed" and labels[3] == "Pilot teams – placement"
    for ln, (cause, arm) in zip(lines, [(c, a) for c in res for a in ("comparison", "pilot")]):
        tab = res[cause].table.query("arm == @arm")
        allowed = tab.loc[tab["n_risk"] >= 5, "time"]
        assert ln.get_xdata().max() == allowed.max()  # ends at the last jump with >= 5 at risk
        assert (tab.loc[tab["time"] > allowed.max(), "n_risk"] < 5).all()


def test_cif_curves_at_fixed_times_need_a_risk_table():
    df = _competing()
    fixed = cif(df, "days", "end", cause=1, group="arm", times=[50, 100, 200, 300, 390])
    with pytest.raises(InputError, match="risk=km"):
        cif_curves(fixed)
    risk = km(df.assign(any_end=df["end"] > 0), "days", "any_end", group="arm")
    ax = cif_curves(fixed, risk=risk)
    for ln, arm in zip(ax.lines, ("comparison", "pilot")):
        t = df.loc[df["arm"] == arm, "days"].to_numpy()
        drawn = ln.get_xdata()[1:]
        assert all((t >= x).sum() >= 5 for x in drawn)  # at risk at every drawn time
        later = [x for x in (50, 100, 200, 300, 390) if x > drawn.max()]
        assert all((t >= x).sum() < 5 for x in later)


@pytest.fixture(scope="module")
def bcg_forest():
    # dat.bcg log risk ratios (R: escalc("RR", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg))
    d = pd.read_csv(datasets.path("dat_bcg"))
    a, b, c, e = d["tpos"], d["tneg"], d["cpos"], d["cneg"]
    d["yi"] = np.log(a / (a + b)) - np.log(c / (c + e))
    d["vi"] = 1 / a - 1 / (a + b) + 1 / c - 1 / (c + e)
    d["site"] = [f"Trial {i}" for i in d["trial"]]
    return forest_data(d, yi="yi", vi="vi", label="site")


def test_forest_squares_diamond_prediction_and_log_axis(bcg_forest):
    tab = bcg_forest.table
    study = tab[tab["kind"] == "study"]
    ax = forest(bcg_forest)
    squares = [c for c in ax.collections if len(c.get_offsets()) == len(study) and c.get_sizes().size > 1]
    assert len(squares) == 1
    np.testing.assert_allclose(squares[0].get_offsets()[:, 0], np.exp(study["estimate"]))
    sizes = squares[0].get_sizes()
    by_weight = np.argsort(study["weight"].to_numpy(), kind="stable")
    assert np.array_equal(np.argsort(sizes, kind="stable"), by_weight)  # bigger weight, bigger square
    diamond = [p for p in ax.patches if isinstance(p, Polygon)]
    assert len(diamond) == 1
    xs = diamond[0].get_xy()[:, 0]
    pooled, pred = tab.loc["pooled"], tab.loc["prediction"]
    np.testing.assert_allclose([xs.min(), xs.max()], np.exp([pooled["ci_low"], pooled["ci_high"]]))
    pi_line = [ln for ln in ax.lines if len(ln.get_xdata()) == 2 and ln.get_xdata()[0] != ln.get_xdata()[1]]
    np.testing.assert_allclose(pi_line[0].get_xdata(), np.exp([pred["ci_low"], pred["ci_high"]]))
    assert ax.get_xscale() == "log"
    assert any(np.allclose(ln.get_xdata(), 1.0) for ln in ax.lines)  # reference line at 1
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[0] == "Trial 1" and labels[-2:] == ["All sites (random effects)", "Prediction interval"]
    ax.figure.canvas.draw()
    assert not any("10^" in t.get_text() or "$" in t.get_text() for t in ax.get_xticklabels())


def test_forest_linear_scale_labels_and_decimal_comma(bcg_forest):
    ax = forest(
        bcg_forest,
        ratio=False,
        labels={"pooled": "Kaikki alueet", "Trial 1": "Alue 1"},
        number_format=lambda v: f"{v:.2f}".replace(".", ",").replace("-", "\u2212"),
    )
    assert ax.get_xscale() == "linear"
    assert any(np.allclose(ln.get_xdata(), 0.0) for ln in ax.lines)
    est = bcg_forest.table.loc["pooled", "estimate"]
    written = [t.get_text() for t in ax.texts]
    assert any(t.startswith(f"{est:.2f}".replace(".", ",").replace("-", "\u2212") + " (") for t in written)
    assert "Kaikki alueet" in [t.get_text() for t in ax.get_yticklabels()]
    assert "Alue 1" in [t.get_text() for t in ax.get_yticklabels()]


def _dates(xs) -> pd.DatetimeIndex:
    """x data of a line on a date axis, whether stored as Timestamps or as matplotlib day numbers."""
    xs = np.asarray(xs)
    if np.issubdtype(xs.dtype, np.number):
        return pd.DatetimeIndex(matplotlib.dates.num2date(xs)).tz_localize(None)
    return pd.DatetimeIndex(pd.to_datetime(xs))


def _series() -> pd.DataFrame:
    months = pd.period_range("2017-01", "2018-12", freq="M").astype(str)
    x = np.arange(24.0)
    return pd.DataFrame({"month": months, "cost": 100 + 2 * x - 15 * (x >= 12), "worker_id": "W-90817"})


def test_its_plot_observed_fitted_counterfactual_and_start():
    df = _series()
    x = np.arange(24.0)
    fitted, counterfactual = 100 + 2 * x - 15 * (x >= 12), 100 + 2 * x
    shuffled = df.sample(frac=1, random_state=1)
    ax = its_plot(
        shuffled,
        "month",
        "cost",
        start="2018-01",
        fitted=pd.Series(fitted, index=df.index),
        counterfactual=pd.Series(counterfactual, index=df.index),
    )
    observed, pre, post, cf, start = ax.lines
    assert len(observed.get_xdata()) == 24 and observed.get_linestyle() == "None"
    np.testing.assert_allclose(observed.get_ydata(), df["cost"])  # sorted back into time order
    np.testing.assert_allclose(pre.get_ydata(), fitted[:12])  # fitted drawn in two pieces
    np.testing.assert_allclose(post.get_ydata(), fitted[12:])
    first = pd.Timestamp("2018-01-01")
    assert cf.get_linestyle() == "--" and (_dates(cf.get_xdata()) >= first).all()
    np.testing.assert_allclose(cf.get_ydata(), counterfactual[12:])
    vline = _dates(start.get_xdata())[0]
    assert pd.Timestamp("2017-12-01") < vline < first
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "Observed",
        "Fitted trend",
        "Expected without the change (earlier trend continued)",
        "Start",
    ]
    assert not any("W-90817" in t for t in _all_text(ax))


def test_its_plot_checks_its_input():
    df = _series()
    with pytest.raises(InputError, match="both before and from the start"):
        its_plot(df, "month", "cost", start="2020-01")
    with pytest.raises(InputError, match="one value per row"):
        its_plot(df, "month", "cost", start="2018-01", fitted=np.zeros(5))
    with pytest.raises(InputError, match="same form"):
        its_plot(df, "month", "cost", start=13)


def test_rates_by_arm_from_compare_rates():
    staff = pd.DataFrame(
        {
            "arm": ["pilot", "pilot", "comparison", "comparison"] * 2,
            "period": ["before", "after"] * 4,
            "days": [160, 70, 150, 140, 153, 75, 142, 130],
            "fte_years": [10.0, 10.5, 11.0, 10.0, 9.8, 10.2, 10.4, 10.1],
        }
    )
    res = compare_rates(staff, "days", "fte_years", "arm", by="period")
    ax = rates_by_arm(res, labels={"before": "Ennen", "after": "Jälkeen", "pilot": "Pilotti"})
    assert [t.get_text() for t in ax.get_xticklabels()] == ["Ennen", "Jälkeen"]
    assert len(ax.containers) == 2
    tab = res.table
    arms = {"Pilotti": "pilot", "Comparison teams": "comparison"}
    assert sorted(c.get_label() for c in ax.containers) == sorted(arms)
    for cont in ax.containers:
        arm = arms[cont.get_label()]
        line, _, (bars,) = cont.lines
        expected = tab.xs(arm, level="arm").loc[["before", "after"]]
        np.testing.assert_allclose(line.get_ydata(), expected["estimate"])
        segs = bars.get_segments()
        np.testing.assert_allclose([s[0][1] for s in segs], expected["ci_low"])
        np.testing.assert_allclose([s[1][1] for s in segs], expected["ci_high"])
    assert sorted(t.get_text() for t in ax.get_legend().get_texts()) == sorted(arms)


def _caseload(first: str, last: str) -> pd.DataFrame:
    months = pd.period_range(first, last, freq="M").astype(str)
    n = len(months)
    return pd.DataFrame(
        {
            "month": np.r_[months, months],
            "children": np.r_[np.linspace(36, 22, n), np.full(n, 33.0)],
            "arm": ["pilot"] * n + ["comparison"] * n,
            "worker_id": "W-555",
        }
    )


def _flat(ax, colour=None):
    return [ln for ln in ax.lines if len(set(ln.get_ydata())) == 1 and len(ln.get_xdata()) == 2]


def test_caseload_target_and_caps_only_over_the_data_range():
    ax = caseload(_caseload("2023-06", "2024-06"), "month", "children", "arm")
    arms = [ln for ln in ax.lines if len(ln.get_xdata()) == 13]
    assert len(arms) == 2
    flat = {float(ln.get_ydata()[0]): _dates(ln.get_xdata()) for ln in _flat(ax)}
    assert sorted(flat) == [20.0, 30.0, 35.0]
    assert list(flat[35.0]) == [pd.Timestamp("2023-06-01"), pd.Timestamp("2023-12-31")]
    assert list(flat[30.0]) == [pd.Timestamp("2024-01-01"), pd.Timestamp("2024-06-01")]
    assert list(flat[20.0]) == [pd.Timestamp("2023-06-01"), pd.Timestamp("2024-06-01")]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["Pilot teams", "Comparison teams", "Recommended level (20)", "Legal maximum (HE 170/2021)"]
    assert not any("W-555" in t for t in _all_text(ax))


def test_caseload_before_the_law_shows_no_cap():
    ax = caseload(_caseload("2020-01", "2021-06"), "month", "children", "arm", labels={"target": "Suositus {value}"})
    assert [float(ln.get_ydata()[0]) for ln in _flat(ax)] == [20.0]
    assert "Suositus 20" in [t.get_text() for t in ax.get_legend().get_texts()]
    assert LEGAL_CAPS[0][2] == 35 and LEGAL_CAPS[1][2] == 30


def test_caseload_draws_gaps_for_hidden_months():
    df = _caseload("2023-10", "2024-03")
    df.loc[df["arm"] == "comparison", "children"] = np.nan  # e.g. suppressed: too few open cases
    df.loc[2, "children"] = np.nan
    ax = caseload(df, "month", "children", "arm")
    pilot = ax.lines[0].get_ydata().astype(float)
    assert np.isnan(pilot[2]) and np.isfinite(np.delete(pilot, 2)).all()
    assert ax.get_ylim()[1] > 35


def test_caseload_input_errors():
    df = _caseload("2023-01", "2023-03")
    with pytest.raises(InputError, match="one row per"):
        caseload(pd.concat([df, df]), "month", "children", "arm")
    with pytest.raises(InputError, match="dated"):
        caseload(df.assign(month=np.tile(np.arange(3), 2)), "month", "children", "arm")


def test_bar_share_grouped_percentages():
    t = pd.DataFrame(
        {
            "wave": [1, 1, 2, 2],
            "arm": ["pilot", "comparison"] * 2,
            "share": [0.18, 0.17, 0.274, 0.16],
            "worker_id": "W-1",
        }
    )
    ax = bar_share(t, labels={"wave": "Kierros"}, number_format=lambda v: f"{v:.1f}".replace(".", ","))
    bars = [[p for p in c] for c in ax.containers]
    assert len(bars) == 2 and all(len(b) == 2 for b in bars)
    assert all(isinstance(p, Rectangle) for b in bars for p in b)
    np.testing.assert_allclose([p.get_height() for p in bars[0]], [18.0, 27.4])
    np.testing.assert_allclose([p.get_height() for p in bars[1]], [17.0, 16.0])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["Kierros 1", "Kierros 2"]
    assert "27,4" in [t.get_text() for t in ax.texts]
    assert not any("W-1" in t for t in _all_text(ax))
    with pytest.raises(InputError, match="proportions"):
        bar_share(t.assign(share=t["share"] * 100))


def test_png_export_closes_figures_and_carries_no_paths(tmp_path):
    res = km(_cases(), "days", "closed", group="arm")
    figures = [
        km_curves(res, risk_times=[0, 5]),
        bar_share(pd.DataFrame({"wave": [1], "arm": ["pilot"], "share": [0.2]})),
    ]
    out = save_png(figures[0], tmp_path / "km.png")
    data = [out.read_bytes(), base64.b64decode(to_base64_png(figures[1].figure))]
    assert plt.get_fignums() == []
    for png in data:
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
        for marker in (
            str(tmp_path).encode(),
            str(Path.home()).encode(),
            b"/tmp",
            b"/work",
            b"/home",
            b"Software",
            b"matplotlib",
            b"iTXt",
        ):
            assert marker not in png
        # the one text chunk: how many tick labels still overlap (read by evalkit.audit), nothing else
        assert Image.open(io.BytesIO(png)).text == {OVERLAP_KEY: "0"}


def test_identifier_like_group_columns_are_refused():
    many = pd.DataFrame({"days": np.arange(1.0, 41.0), "closed": 1, "child_id": [f"C{i:03d}" for i in range(40)]})
    with pytest.raises(InputError, match="identifier"):
        km_curves(km(many, "days", "closed", group="child_id"))
    with pytest.raises(InputError, match="identifier"):
        bar_share(pd.DataFrame({"wave": 1, "arm": [f"W{i}" for i in range(12)], "share": 0.2}))


def _visible_tick_labels(ax):
    """The x tick labels matplotlib draws inside the view, with their rendered extents in pixels."""
    ax.figure.canvas.draw()
    renderer = ax.figure.canvas.get_renderer()
    left, right = sorted(ax.get_xlim())
    out = []
    for tick, text in zip(ax.xaxis.get_major_locator()(), ax.get_xticklabels()):
        if left <= tick <= right and text.get_text():
            out.append((text.get_text(), text.get_window_extent(renderer)))
    return out


@pytest.mark.parametrize("comma", [False, True], ids=["en", "fi"])
@pytest.mark.parametrize(
    "low, high",
    [(0.01, 100), (0.12, 1.17), (0.95, 1.05), (0.995, 1.004), (4.0, 5.5), (0.0002, 1691.6), (0.2, 0.26), (0.5, 2.0)],
)
def test_ratio_axes_have_three_labelled_ticks_that_never_overlap(low, high, comma):
    mid = np.sqrt(low * high)
    table = pd.DataFrame(
        {
            "estimate": np.log([mid, mid]),
            "ci_low": np.log([low, mid]),
            "ci_high": np.log([mid, high]),
            "weight": [50.0, 50.0],
            "kind": "study",
        },
        index=["A", "B"],
    )
    fmt = (lambda v: f"{v:.2f}".replace(".", ",")) if comma else None
    ax = forest(table, ratio=True, number_format=fmt)
    labels = _visible_tick_labels(ax)
    texts = [t for t, _ in labels]
    assert len(labels) >= 3, texts
    assert len(set(texts)) == len(texts), texts  # no two ticks read the same ("1,00", "1,00")
    boxes = sorted((box for _, box in labels), key=lambda b: b.x0)
    assert all(a.x1 < b.x0 for a, b in zip(boxes, boxes[1:])), texts
    assert all(("." not in t) if comma else ("," not in t) for t in texts), texts


def test_arms_keep_their_colours_whatever_the_row_order():
    from evalkit.plots import rates_by_arm

    table = pd.DataFrame(
        {
            "arm": ["comparison", "comparison", "pilot", "pilot"],
            "period": ["before", "after", "before", "after"],
            "estimate": [10.0, 11, 9, 8],
            "ci_low": [9.0, 10, 8, 7],
            "ci_high": [11.0, 12, 10, 9],
        }
    )
    colours = []
    for rows in (table, table.iloc[::-1]):
        ax = rates_by_arm(rows, periods=["before", "after"])
        handles, names = ax.get_legend_handles_labels()
        colours.append(
            {n: tuple(np.round(matplotlib.colors.to_rgb(h.lines[0].get_color()), 3)) for h, n in zip(handles, names)}
        )
    pilot = [n for n in colours[0] if "ilot" in n]
    assert colours[0] == colours[1] and len(pilot) == 1
    assert colours[0][pilot[0]] == tuple(np.round(PALETTE[0], 3))
