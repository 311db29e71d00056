"""Tests of evalkit.plots: the shared style and the event-study figure."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.container import ErrorbarContainer  # noqa: E402

from evalkit import InputError  # noqa: E402
from evalkit._staggered import staggered_did  # noqa: E402
from evalkit.plots import PALETTE, event_study, style  # noqa: E402

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def mpdta() -> pd.DataFrame:
    return pd.read_csv(DATA / "mpdta.csv")


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
    assert drawn.shape == (7, 4)    # seven event times -3..3, one error bar each
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
