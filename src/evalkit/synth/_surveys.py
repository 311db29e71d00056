"""Surveys and time-use tracking of the synthetic dataset (private to ``evalkit.synth``).

Each site surveys its first-starting pilot team(s) and its comparison teams
in two or three waves timed as THL's Kuopio rounds (23.1.-5.3., 28.5.-30.6.
and 18.9.-31.10.2018 for a January start). Scores are a rounded, clipped
latent normal (person or team effect plus noise). The wave x arm effect is
added by moving a random share q of pilot answers in waves 2+ one point in
the favourable direction; q = |change| / P(the answer can move), so the
expected change in Likert points is exactly ``survey_change``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import norm

__all__ = ["make_surveys", "make_time_use", "SCALES"]

_WAVES = np.array([[22, 63], [147, 180], [260, 303]])  # days after the site's first model start
# (respondent, scale, latent mean, favourable direction)
SCALES = [
    ("worker", "workload", 3.7, -1),
    ("worker", "wellbeing", 3.4, 1),
    ("worker", "coping", 3.5, 1),
    ("parent", "felt_heard", 3.6, 1),
    ("parent", "got_help", 3.4, 1),
    ("child", "felt_heard", 3.5, 1),
    ("child", "got_help", 3.4, 1),
]
_SD_PERSON, _SD_TEAM, _SD_NOISE = 0.5, 0.2, 0.7
_CLIENTS_PER_OPEN_CASE = {"parent": 0.10, "child": 0.06}
_RESPONSE = {"worker": 0.75, "parent": 0.45, "child": 0.35}


def _waves(rng: np.random.Generator, teams: pd.DataFrame, n_sites: int, kuopio: np.ndarray) -> pd.DataFrame:
    """One row per surveyed team x wave with the wave window (days)."""
    first_start = pd.Series(teams["start"].to_numpy()).where(teams["pilot"].to_numpy()).groupby(teams["site"]).min()
    n_waves = np.where(kuopio, 3, rng.integers(2, 4, n_sites))
    surveyed = np.flatnonzero(teams["first"].to_numpy() | ~teams["pilot"].to_numpy())
    site = teams["site"].to_numpy()[surveyed]
    reps = n_waves[site]
    team = np.repeat(surveyed, reps)
    wave = np.arange(len(team)) - np.repeat(np.cumsum(reps) - reps, reps) + 1
    base = first_start.to_numpy().astype(np.int64)[teams["site"].to_numpy()[team]]
    return pd.DataFrame(
        {"team": team, "wave": wave, "lo": base + _WAVES[wave - 1, 0], "hi": base + _WAVES[wave - 1, 1]}
    )


def _employed(staff: pd.DataFrame, waves: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (wave row, staff row) of workers employed in the team on the wave's first day."""
    m = waves.reset_index(names="w").merge(staff[["team", "start", "end_day"]].reset_index(names="s"), on="team")
    m = m[(m["start"] <= m["lo"]) & (m["end_day"] >= m["lo"])]
    return m["w"].to_numpy(), m["s"].to_numpy()


def make_surveys(
    rng: np.random.Generator,
    teams: pd.DataFrame,
    staff: pd.DataFrame,
    kuopio: np.ndarray,
    change: float,
    stress: tuple[float, float] = (0.0, 0.0),
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Survey answers (long format) and the survey waves (for time use).

    ``kuopio`` flags each site (three waves there); ``stress`` is
    ``(team_sd, shock)`` of :class:`evalkit.synth.Stress`: extra permanent team
    effects in Likert points, and a shift of every answer after the first wave
    by ``shock`` points in the unfavourable direction.
    """
    extra_sd, shock = stress
    waves = _waves(rng, teams, len(kuopio), kuopio)
    w_idx, s_idx = _employed(staff, waves)
    answered = rng.uniform(size=len(w_idx)) < _RESPONSE["worker"]
    worker = s_idx[answered]
    # (respondent, wave rows, ids, person index, number of persons, last possible answer day)
    rows = [
        (
            "worker",
            w_idx[answered],
            staff["worker_id"].to_numpy()[worker],
            worker,
            len(staff),
            staff["end_day"].to_numpy()[worker],
        )
    ]
    open_cases = teams["inflow"].to_numpy()[waves["team"].to_numpy()] * 1.1
    next_id = 1
    for resp in ("parent", "child"):
        n = rng.binomial(rng.poisson(open_cases * _CLIENTS_PER_OPEN_CASE[resp] / _RESPONSE[resp]), _RESPONSE[resp])
        w = np.repeat(np.arange(len(waves)), n)
        ids = "R" + pd.Series(np.arange(next_id, next_id + len(w))).astype(str).str.zfill(6)
        next_id += len(w)
        rows.append((resp, w, ids.to_numpy(dtype=object), np.arange(len(w)), len(w), waves["hi"].to_numpy()[w]))
    team_effect = rng.normal(0, _SD_TEAM, len(teams))
    if extra_sd:
        team_effect += teams["survey_extra"].to_numpy()
    sd = np.sqrt(_SD_PERSON**2 + _SD_TEAM**2 + extra_sd**2 + _SD_NOISE**2)
    pilot = teams["pilot"].to_numpy()
    out = []
    for resp, w, ids, person, n_people, latest in rows:
        window = (waves["hi"] - waves["lo"] + 1).to_numpy()[w]
        day = np.minimum(
            waves["lo"].to_numpy()[w] + np.floor(rng.uniform(size=len(w)) * window).astype(np.int64), latest
        )  # a worker who leaves during the round answers before leaving
        team = waves["team"].to_numpy()[w]
        later = waves["wave"].to_numpy()[w] > 1
        treated = pilot[team] & later
        for r, scale, mean, direction in SCALES:
            if r != resp:
                continue
            # a worker's person effect persists across waves (a panel); clients answer once
            person_effect = rng.normal(0, _SD_PERSON, n_people)[person]
            latent = (
                mean + team_effect[team] + person_effect + rng.normal(0, _SD_NOISE, len(w)) - shock * direction * later
            )
            score = np.clip(np.round(latent), 1, 5).astype(np.int64)
            # treated answers are all after the first wave: movable shares at the shifted mean
            score += _bump(rng, score, treated, (mean - shock * direction, sd), change * direction)
            out.append(
                pd.DataFrame(
                    {
                        "respondent_id": ids,
                        "team_id": teams["team_id"].to_numpy()[team],
                        "respondent": resp,
                        "wave": waves["wave"].to_numpy()[w],
                        "answered": day,
                        "scale": scale,
                        "score": score,
                    }
                )
            )
    surveys = pd.concat(out, ignore_index=True).sort_values(
        ["team_id", "wave", "respondent", "respondent_id", "scale"], ignore_index=True
    )
    return surveys, waves


def _bump(
    rng: np.random.Generator, score: np.ndarray, treated: np.ndarray, latent: tuple[float, float], delta: float
) -> np.ndarray:
    """Move treated answers one point with probability q so that E[change] = delta exactly.

    ``latent`` is the (mean, SD) of the treated answers' latent normal.
    """
    mean, sd = latent
    if delta >= 0:
        movable, p_movable, step = score < 5, norm.cdf((4.5 - mean) / sd), 1
    else:
        movable, p_movable, step = score > 1, norm.sf((1.5 - mean) / sd), -1
    q = min(1.0, abs(delta) / p_movable)
    return step * (treated & movable & (rng.uniform(size=len(score)) < q))


def max_survey_change() -> float:
    """Largest |survey_change| the one-point moves can deliver for every scale."""
    sd = np.sqrt(_SD_PERSON**2 + _SD_TEAM**2 + _SD_NOISE**2)
    return float(min(min(norm.cdf((4.5 - m) / sd), norm.sf((1.5 - m) / sd)) for _, _, m, _ in SCALES))


_ACTIVITIES = np.array(["face_to_face", "documentation", "meetings", "travel", "other"])
_SHARE_USUAL = np.array([0.17, 0.33, 0.22, 0.08, 0.20])
_SHARE_SHIFT = np.array([1.0, -0.6, 0.0, 0.0, -0.4])  # where the extra face-to-face time comes from
_WEEK_HOURS = 37.25  # Finnish municipal social work: 38 h 15 min a week less breaks, roughly


def make_time_use(
    rng: np.random.Generator, teams: pd.DataFrame, staff: pd.DataFrame, waves: pd.DataFrame, change: float
) -> pd.DataFrame:
    """One tracked week per worker in waves 1 and 2; pilot face-to-face share rises by ``change`` in wave 2."""
    waves = waves[waves["wave"] <= 2].reset_index(drop=True)
    w_idx, s_idx = _employed(staff, waves)
    take = rng.uniform(size=len(w_idx)) < 0.8
    w_idx, s_idx = w_idx[take], s_idx[take]
    treated = teams["pilot"].to_numpy()[waves["team"].to_numpy()[w_idx]] & (waves["wave"].to_numpy()[w_idx] == 2)
    mean = _SHARE_USUAL[None, :] + np.outer(treated * change, _SHARE_SHIFT)
    share = rng.gamma(40 * mean)
    share /= share.sum(axis=1, keepdims=True)  # Dirichlet(40 * mean): E[share] = mean
    hours = np.round(share * _WEEK_HOURS * staff["fte"].to_numpy()[s_idx][:, None] * 4) / 4
    n = len(w_idx)
    return pd.DataFrame(
        {
            "worker_id": np.repeat(staff["worker_id"].to_numpy()[s_idx], len(_ACTIVITIES)),
            "wave": np.repeat(waves["wave"].to_numpy()[w_idx], len(_ACTIVITIES)),
            "activity": np.tile(_ACTIVITIES, n),
            "hours": hours.ravel(),
        }
    ).sort_values(["worker_id", "wave"], kind="stable", ignore_index=True)
