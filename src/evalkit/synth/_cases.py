"""Cases, placements and contacts of the synthetic dataset (private to ``evalkit.synth``).

A case's end follows a Weibull all-cause hazard (shape 0.85, decreasing:
many short cases, some lasting years) that is multiplied by ``hr_close`` from
the pilot team's model start on (and, with a calendar shock, by
``exp(-shock)`` inside the shock window, in every team); a case ends in a
placement with a probability that makes the placement cause-specific hazard
ratio exactly ``hr_placement``. Reaching 18 ends a case (``age_limit``) regardless of arm;
the extraction date censors it. A child whose case closed without a
placement may be referred again (a new case in the same team).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evalkit.synth._sites import EXTRACTED, FOLLOW_START
from evalkit.synth._stress import SHOCK_END, SHOCK_START

__all__ = ["make_cases", "make_contacts", "OPEN_YEARS"]

_SHAPE = 0.85
_SCALE = {"LSL": 520.0, "SHL": 330.0}  # Weibull scale (days): median about 13 and 8 months
_P_PLACE = {"LSL": 0.16, "SHL": 0.05}  # share of (non-age-limit) ends that are placements, comparison arm
OPEN_YEARS = 1.1  # rough mean time a case stays open within the follow-up
_P_LSL = 0.55
_AGE_W = np.array([6, 5, 5, 5, 5, 5, 6, 6, 6, 6, 7, 7, 8, 9, 10, 10, 9, 7], float)
_OTHER_ENDS = (np.array(["no_need", "moved", "other"]), np.array([0.72, 0.12, 0.16]))
_PLACE_KIND = (np.array(["urgent", "voluntary", "care_order"]), np.array([0.40, 0.35, 0.25]))
_P_REFER_AGAIN = 0.15
_MAX_CASES_PER_CHILD = 4


def make_cases(
    rng: np.random.Generator, teams: pd.DataFrame, hr_close: float, hr_placement: float, shock: float = 0.0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Cases (with internal ``team``, ``closed_day`` columns) and placements.

    ``teams`` carries ``frailty`` (closing-hazard multiplier) and, optionally,
    ``place_mult`` (multiplier of the team's share of ends that are placements).
    """
    years = (EXTRACTED - FOLLOW_START + 1) / 365.25
    n_new = rng.poisson(teams["inflow"].to_numpy() / (1 + _P_REFER_AGAIN) * years)
    team = np.repeat(np.arange(len(teams)), n_new)
    n = len(team)
    batch = {
        "team": team,
        "child": np.arange(n),
        "opened": rng.integers(FOLLOW_START, EXTRACTED + 1, n),
        "age_exact": rng.choice(18, n, p=_AGE_W / _AGE_W.sum()) + rng.uniform(0, 1, n),
        "sex": rng.choice(np.array(["F", "M", "unknown"]), n, p=[0.48, 0.51, 0.01]),
    }
    team_cols = {
        "start": teams["start"].to_numpy(),
        "frailty": teams["frailty"].to_numpy(),
        "place_mult": teams["place_mult"].to_numpy() if "place_mult" in teams else np.ones(len(teams)),
    }
    parts = []
    for _ in range(_MAX_CASES_PER_CHILD):
        done = _case_ends(rng, batch, team_cols, (hr_close, hr_placement, shock))
        parts.append(done)
        again = (done["reason"] == "no_need") | (done["reason"] == "other")
        again &= rng.uniform(size=len(again)) < _P_REFER_AGAIN
        reopen = done["closed_day"] + 30 + np.floor(rng.exponential(365.0, len(again))).astype(np.int64)
        age = done["age_exact"] + (reopen - done["opened"]) / 365.25
        keep = again & (reopen <= EXTRACTED) & (age < 18)
        if not keep.any():
            break
        batch = {
            "team": done["team"][keep],
            "child": done["child"][keep],
            "opened": reopen[keep],
            "age_exact": age[keep],
            "sex": done["sex"][keep],
        }
    allc = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    order = np.lexsort((allc["team"], allc["opened"]))
    allc = {k: v[order] for k, v in allc.items()}
    n = len(order)
    # children are numbered by their first case, cases by opening date
    _, first_pos, child_rank = np.unique(allc["child"], return_index=True, return_inverse=True)
    child_no = np.argsort(np.argsort(first_pos))[child_rank] + 1
    case_id = _ids("C", np.arange(1, n + 1))
    closed = np.where(allc["closed_day"] <= EXTRACTED, allc["closed_day"], -1)
    reason = np.where(closed >= 0, allc["reason"], np.array(None, dtype=object))  # None: still open
    cases = pd.DataFrame(
        {
            "case_id": case_id,
            "child_id": _ids("L", child_no),
            "team_id": teams["team_id"].to_numpy()[allc["team"]],
            "opened": allc["opened"],
            "closed": closed,
            "end_reason": reason,
            "legal_basis": allc["legal"],
            "age_at_opening": np.floor(allc["age_exact"]).astype(np.int64),
            "sex": allc["sex"],
            "team": allc["team"],
        }
    )
    placed = reason == "placement"
    kinds, p = _PLACE_KIND
    placements = pd.DataFrame(
        {"case_id": case_id[placed], "date": closed[placed], "kind": rng.choice(kinds, int(placed.sum()), p=p)}
    )
    return cases, placements


def _case_ends(rng, batch, team_cols, effects) -> dict[str, np.ndarray]:
    """Draw each case's end time and reason by inverting its piecewise Weibull cumulative hazard.

    The hazard multiplier changes at the team's model start (``hr_close``)
    and at the edges of the calendar shock window (``exp(-shock)``); between
    those days it is constant, so the cumulative hazard is inverted piece by piece.
    """
    hr_close, hr_placement, shock = effects
    n = len(batch["team"])
    legal = np.where(rng.uniform(size=n) < _P_LSL, "LSL", "SHL")
    scale = np.where(legal == "LSL", _SCALE["LSL"], _SCALE["SHL"])
    team, opened = batch["team"], batch["opened"]
    start = team_cols["start"][team]
    # days from opening at which the multiplier may change (0 when already past)
    edges = np.sort(np.column_stack([np.maximum(d - opened, 0) for d in (start, SHOCK_START, SHOCK_END)]), axis=1)
    edges = np.column_stack([np.zeros(n), edges.astype(float), np.full(n, np.inf)])
    day = opened[:, None] + edges[:, :-1]  # calendar day at the left edge of each piece
    rate = (
        team_cols["frailty"][team][:, None]
        * np.where(day >= start[:, None], hr_close, 1.0)
        * np.where((day >= SHOCK_START) & (day < SHOCK_END), np.exp(-shock), 1.0)
    )
    base = (edges / scale[:, None]) ** _SHAPE
    cum = np.column_stack([np.zeros(n), np.cumsum(rate * np.diff(base, axis=1), axis=1)])
    e = rng.exponential(size=n)
    piece = np.clip((cum[:, 1:] <= e[:, None]).sum(axis=1), 0, rate.shape[1] - 1)
    rows = np.arange(n)
    h = base[rows, piece] + (e - cum[rows, piece]) / rate[rows, piece]
    t = scale * h ** (1 / _SHAPE)
    post = opened + t >= start
    p_place = (
        np.where(legal == "LSL", _P_PLACE["LSL"], _P_PLACE["SHL"])
        * team_cols["place_mult"][team]
        * np.where(post, hr_placement / hr_close, 1.0)
    )
    kinds, p = _OTHER_ENDS
    reason = np.where(rng.uniform(size=n) < p_place, "placement", rng.choice(kinds, n, p=p)).astype(object)
    to_18 = (18 - batch["age_exact"]) * 365.25
    aged_out = to_18 <= t
    reason[aged_out] = "age_limit"
    t = np.minimum(t, to_18)
    closed = batch["opened"] + np.floor(np.minimum(t, 1e6)).astype(np.int64)
    return {**batch, "legal": legal, "closed_day": closed, "reason": reason}


# Contacts per 30.4 days, comparison teams (and pilot teams before the start) vs pilot teams in model work.
_CONTACT_KINDS = np.array(["face_to_face", "phone", "team_meeting", "network_meeting"])
_RATE_USUAL = np.array([0.6, 1.0, 0.2, 0.15])
_RATE_MODEL = np.array([1.5, 0.8, 0.8, 0.3])
_MINUTES = (np.array([30, 5, 15, 60]), np.array([15, 5, 10, 15]), np.array([2.5, 1.5, 1.0, 2.0]))


def make_contacts(rng: np.random.Generator, cases: pd.DataFrame, start: np.ndarray) -> pd.DataFrame:
    """Contacts inside each case's open interval; more face-to-face work in pilot teams after the start."""
    opened = cases["opened"].to_numpy()
    last = np.where(cases["closed"].to_numpy() >= 0, cases["closed"].to_numpy(), EXTRACTED)
    s = start[cases["team"].to_numpy()]
    cut = np.clip(s, opened, last + 1)  # first day of model work inside the case, or last + 1
    seg_lo = np.concatenate([opened, cut])
    seg_len = np.concatenate([cut - opened, last + 1 - cut])  # days in each segment
    rates = np.concatenate([np.tile(_RATE_USUAL, (len(opened), 1)), np.tile(_RATE_MODEL, (len(opened), 1))])
    counts = rng.poisson(rates * (seg_len / 30.44)[:, None])
    seg, kind = np.nonzero(counts)
    reps = counts[seg, kind]
    seg, kind = np.repeat(seg, reps), np.repeat(kind, reps)
    date = seg_lo[seg] + np.floor(rng.uniform(size=len(seg)) * seg_len[seg]).astype(np.int64)
    case = seg % len(opened)
    base, step, lam = _MINUTES
    minutes = base[kind] + step[kind] * rng.poisson(lam[kind])
    order = np.lexsort((kind, date, case))
    return pd.DataFrame(
        {
            "case_id": cases["case_id"].to_numpy()[case[order]],
            "date": date[order],
            "kind": _CONTACT_KINDS[kind[order]],
            "minutes": minutes[order].astype(np.int64),
        }
    )


def _ids(prefix: str, numbers: np.ndarray) -> np.ndarray:
    """Pseudonymous ids such as ``C000123`` (never date-like, so never mistaken for an identity code)."""
    return (prefix + pd.Series(numbers).astype(str).str.zfill(6)).to_numpy(dtype=object)
