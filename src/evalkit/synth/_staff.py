"""Staff (employment spells) and absences of the synthetic dataset (private to ``evalkit.synth``).

Each team has positions; each position is filled by a chain of employment
spells (exponential tenure, mean four years, then a vacancy of two weeks to
four months). Pilot teams gain a consultant social worker, a family
therapist, a coordinator and enough social workers for a caseload of 20-30
at their model start; comparison teams keep 35-45 children per social worker.
Sick leave is a Poisson process per FTE-year (site rate 9-16 days, gamma
worker frailty), multiplied by ``sick_leave_rr`` in pilot teams after the start.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evalkit.synth._sites import EXTRACTED, FOLLOW_START
from evalkit.synth._stress import SHOCK_END, SHOCK_START, in_shock, piecewise_segments

__all__ = ["make_staff", "make_absences"]

_TENURE_DAYS = 4 * 365.25
_MAX_SPELLS = 10
_MAX_PAST = 10 * 365.25  # incumbents were hired at most ten years before the follow-up
_FTE = (np.array([1.0, 0.8, 0.6, 0.5]), np.array([0.80, 0.08, 0.05, 0.07]))
_OPEN = np.iinfo(np.int64).max // 4  # "still employed" inside this module


def make_staff(rng: np.random.Generator, teams: pd.DataFrame, open_years: float, hr_close: float) -> pd.DataFrame:
    """Employment spells with internal ``team`` and ``end_day`` (``_OPEN`` = employed) columns."""
    n_t = len(teams)
    open_cases = teams["inflow"].to_numpy() * open_years
    pilot = teams["pilot"].to_numpy()
    core_sw = np.maximum(1, np.ceil(open_cases / rng.uniform(35, 45, n_t))).astype(int)
    model_sw = np.ceil(open_cases / hr_close / rng.uniform(20, 30, n_t)).astype(int)  # incl. the consultant
    extra_sw = np.where(pilot, np.maximum(0, model_sw - core_sw - 1), 0)
    family_workers = rng.integers(0, 2, n_t)
    blocks = [  # (role, positions per team, filled from the model start?)
        ("social_worker", core_sw, False),
        ("social_counsellor", np.ones(n_t, int), False),
        ("family_worker", family_workers, False),
        ("consultant_social_worker", pilot.astype(int), True),
        ("family_therapist", pilot.astype(int), True),
        ("coordinator", pilot.astype(int), True),
        ("social_worker", extra_sw, True),
    ]
    team = np.concatenate([np.repeat(np.arange(n_t), k) for _, k, _ in blocks])
    role = np.concatenate([np.repeat(r, k.sum()) for r, k, _ in blocks])
    from_start = np.concatenate([np.repeat(f, k.sum()) for _, k, f in blocks])
    n_pos = len(team)
    tenure = rng.exponential(_TENURE_DAYS, (n_pos, _MAX_SPELLS))
    vacancy = rng.integers(14, 122, (n_pos, _MAX_SPELLS))
    # Incumbents on 2016-01-01 were hired earlier (at most ten years); by memorylessness
    # their remaining tenure is exponential too.
    past = rng.exponential(_TENURE_DAYS, n_pos)
    past = np.where(past > _MAX_PAST, rng.uniform(0, _MAX_PAST, n_pos), past)
    first = np.where(from_start, teams["start"].to_numpy()[team], FOLLOW_START - np.floor(past).astype(np.int64))
    tenure[:, 0] += np.where(from_start, 0, FOLLOW_START - first)
    length = np.floor(tenure).astype(np.int64) + 1
    starts = first[:, None] + np.cumsum(np.c_[np.zeros(n_pos, np.int64), length[:, :-1] + vacancy[:, :-1]], axis=1)
    ends = starts + length - 1
    keep = starts <= EXTRACTED
    pos, k = np.nonzero(keep)
    fte_v, fte_p = _FTE
    staff = pd.DataFrame(
        {
            "team": team[pos],
            "role": role[pos],
            "fte": rng.choice(fte_v, len(pos), p=fte_p),
            "start": starts[pos, k],
            "end_day": np.where(ends[pos, k] <= EXTRACTED, ends[pos, k], _OPEN),
        }
    ).sort_values(["start", "team"], kind="stable", ignore_index=True)
    staff.insert(0, "worker_id", "W" + pd.Series(np.arange(1, len(staff) + 1)).astype(str).str.zfill(5))
    staff.insert(1, "team_id", teams["team_id"].to_numpy()[staff["team"].to_numpy()])
    return staff


# Sick-leave spell lengths: 80 % short (mean 2 days), 20 % long (mean 20 days): mean 5.6 days.
_SHORT, _LONG, _P_LONG = 2.0, 20.0, 0.2
_MEAN_SICK_DAYS = (1 - _P_LONG) * _SHORT + _P_LONG * _LONG
_OTHER_RATE, _OTHER_MEAN = 0.6, 5.0  # other absences (training, family reasons) per FTE-year, mean days


def make_absences(
    rng: np.random.Generator,
    staff: pd.DataFrame,
    teams: pd.DataFrame,
    site_sick_days: np.ndarray,
    rr: float,
    shock: float = 0.0,
) -> pd.DataFrame:
    """Non-overlapping absence spells inside each employment spell.

    The sick-leave rate is multiplied by ``rr`` from the pilot team's start,
    by ``exp(shock)`` inside the calendar shock window (every team) and by
    ``teams["sick_mult"]`` if present (permanent team differences).
    """
    lo = staff["start"].to_numpy()
    hi = np.minimum(staff["end_day"].to_numpy(), EXTRACTED)
    team = staff["team"].to_numpy()
    start = teams["start"].to_numpy()[team]
    fte = staff["fte"].to_numpy()
    frailty = rng.gamma(2.0, 0.5, len(staff))  # mean 1, CV 0.71: some workers are often ill
    team_mult = teams["sick_mult"].to_numpy()[team] if "sick_mult" in teams else 1.0
    sick_per_day = site_sick_days[teams["site"].to_numpy()[team]] * frailty * fte * team_mult / 365.25 / _MEAN_SICK_DAYS
    # pieces of each spell on which the rate is constant: cut at the model start and the shock window
    window = [np.full(len(lo), SHOCK_START), np.full(len(lo), SHOCK_END)] if shock else []
    worker, seg_lo, seg_len = piecewise_segments(lo, hi + 1, [start, *window])
    seg_rate = sick_per_day[worker] * np.where(seg_lo >= start[worker], rr, 1.0) * np.exp(shock * in_shock(seg_lo))
    sick = _spells(rng, worker, seg_lo, seg_len, seg_rate, _sick_lengths)
    other = _spells(
        rng,
        worker[: len(staff)],
        lo,
        hi + 1 - lo,
        _OTHER_RATE * fte / 365.25,
        lambda g, n: 1 + g.poisson(_OTHER_MEAN - 1, n),
    )
    w = np.concatenate([sick[0], other[0]])
    s = np.concatenate([sick[1], other[1]])
    length = np.concatenate([sick[2], other[2]])
    kind = np.repeat(np.array(["sick_leave", "other"]), [len(sick[0]), len(other[0])])
    w, s, e, kind = _no_overlap(w, s, length, kind)
    limit = hi[w]
    ok = s <= limit
    w, s, e, kind = w[ok], s[ok], np.minimum(e[ok], limit[ok]), kind[ok]
    return pd.DataFrame({"worker_id": staff["worker_id"].to_numpy()[w], "start": s, "end": e, "kind": kind})


def _sick_lengths(rng: np.random.Generator, n: int) -> np.ndarray:
    long = rng.uniform(size=n) < _P_LONG
    return np.where(long, rng.geometric(1 / _LONG, n), rng.geometric(1 / _SHORT, n)).astype(np.int64)


def _spells(rng, worker, seg_lo, seg_len, rate_per_day, lengths):
    counts = rng.poisson(rate_per_day * np.maximum(seg_len, 0))
    seg = np.repeat(np.arange(len(counts)), counts)
    start = seg_lo[seg] + np.floor(rng.uniform(size=len(seg)) * seg_len[seg]).astype(np.int64)
    return worker[seg], start, lengths(rng, len(seg))


def _no_overlap(w, s, length, kind):
    """Shift each absence to start after the worker's previous one ends (lengths kept).

    With C the within-worker cumulative length, the shifted end is
    e'_i = C_i - 1 + max_{j <= i} (s_j - C_{j-1}): a grouped running maximum.
    """
    order = np.lexsort((s, w))
    w, s, length, kind = w[order], s[order], length[order], kind[order]
    new_group = np.r_[True, w[1:] != w[:-1]]
    c = np.cumsum(length)
    group_first = np.maximum.accumulate(np.where(new_group, np.arange(len(w)), 0))
    c_in = c - (c - length)[group_first]
    group_no = np.cumsum(new_group).astype(np.int64)
    big = np.int64(10**8)
    running = np.maximum.accumulate(s - (c_in - length) + group_no * big) - group_no * big
    end = c_in - 1 + running
    return w, end - length + 1, end, kind
