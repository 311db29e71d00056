"""Small-cell suppression: primary cells hidden, and none recoverable from totals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.linalg import null_space

from evalkit.disclosure import SECONDARY_MARK, suppress_counts


def _recoverable(values: np.ndarray, hidden: np.ndarray) -> list[tuple[int, int]]:
    """Hidden cells of an augmented table (last row/column = totals) that the
    published row and column sums pin down: those with a zero in every null vector."""
    cells = list(zip(*np.nonzero(hidden)))
    if not cells:
        return []
    r, c = values.shape
    rows = []
    for i in range(r):
        rows.append([(-1.0 if j == c - 1 else 1.0) if a == i else 0.0 for a, j in cells])
    for j in range(c):
        rows.append([(-1.0 if i == r - 1 else 1.0) if b == j else 0.0 for i, b in cells])
    ns = null_space(np.array(rows))
    if ns.size == 0:
        return cells
    return [cell for k, cell in enumerate(cells) if np.allclose(ns[k], 0.0)]


def test_published_example_hides_the_small_cell_and_a_complement():
    t = pd.DataFrame({"pilot": [3, 40], "comparison": [12, 51]}, index=["urgent", "care_order"])
    s = suppress_counts(t)
    assert s.display.loc["urgent", "pilot"] == "<5"
    assert s.display.loc["Total", "Total"] == "106"
    assert (s.display.loc["urgent"] == SECONDARY_MARK).sum() == 1
    assert s.n_primary == 1 and s.n_secondary == 3


def test_zero_is_shown_and_threshold_is_configurable():
    t = pd.DataFrame({"a": [0, 7], "b": [9, 12]})
    assert suppress_counts(t).n_primary == 0
    s = suppress_counts(t, threshold=10)
    assert s.display.iloc[1, 0] == "<10" and s.display.iloc[0, 0] == "0"


def test_negative_or_missing_counts_are_refused():
    with pytest.raises(ValueError, match="non-negative"):
        suppress_counts(pd.DataFrame({"a": [1, -1]}))
    with pytest.raises(ValueError, match="missing"):
        suppress_counts(pd.DataFrame({"a": [1, None]}))


def test_a_cell_bridging_two_suppression_cycles_is_protected_too():
    # Two-or-none per line is not enough here: greedy secondary suppression leaves
    # cell (1, 3) on no cycle of hidden cells, so the totals would pin it down.
    body = np.array(
        [
            [3, 10, 40, 0, 10, 40],
            [20, 20, 2, 3, 5, 40],
            [2, 10, 10, 1, 20, 5],
            [40, 20, 40, 1, 20, 20],
            [40, 8, 3, 8, 1, 40],
        ]
    )
    s = suppress_counts(pd.DataFrame(body))
    aug = np.vstack([body, body.sum(axis=0)])
    aug = np.hstack([aug, aug.sum(axis=1, keepdims=True)])
    assert _recoverable(aug.astype(float), s.primary.to_numpy() | s.secondary.to_numpy()) == []


@settings(max_examples=300, deadline=None)
@given(
    arrays(
        np.int64,
        st.tuples(st.integers(1, 6), st.integers(1, 6)),
        elements=st.sampled_from([0, 1, 2, 3, 4, 5, 8, 12, 20, 40]),
    ),
)
def test_no_small_count_shown_and_no_hidden_cell_recoverable(body):
    counts = pd.DataFrame(body)
    s = suppress_counts(counts)
    aug = np.vstack([body, body.sum(axis=0)])
    aug = np.hstack([aug, aug.sum(axis=1, keepdims=True)])
    shown = s.display.to_numpy()
    hidden = s.primary.to_numpy() | s.secondary.to_numpy()
    small = (aug >= 1) & (aug < 5)
    assert not np.any(small & ~s.primary.to_numpy())
    assert all(shown[i, j] == str(aug[i, j]) for i, j in zip(*np.nonzero(~hidden)))
    assert _recoverable(aug.astype(float), hidden) == []
    body_only = suppress_counts(counts, margins=False).display
    assert body_only.equals(s.display.iloc[:-1, :-1])
