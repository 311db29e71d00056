"""Departures from the easy case in synthetic data (private to ``evalkit.synth``).

:class:`Stress` holds what makes real data hard for an estimator: larger
differences between teams on every outcome, a calendar shock that hits every
team at once, autocorrelated monthly costs and a differential pre-trend at
one site. Each is off by default, so ``Stress()`` is the plain generator.
:func:`piecewise_segments` cuts a person's time into pieces on which a rate
multiplier is constant, which is how the shock and the model start enter the
case and sick-leave generators.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from evalkit.synth._sites import MONTHS, days
from evalkit.core.result import InputError

__all__ = ["Stress", "SHOCK_START", "SHOCK_END", "piecewise_segments", "in_shock"]

#: the calendar window of the shock (days since 1970): two quarters of 2020 and two of 2021, when a
#: pandemic-like disruption slowed the closing of cases and raised costs and sick leave in every team
SHOCK_START = days("2020-04-01")
SHOCK_END = days("2021-04-01")


@dataclass(frozen=True)
class Stress:
    """Features of real data that break easy estimators, all off by default.

    Attributes
    ----------
    team_sd : float, default 0
        SD of extra, permanent team effects on every outcome: on the log
        scale for the case-closing and placement hazards, purchased-service
        costs and sick-leave rates, and in Likert points for survey scores.
        They come on top of the generator's own team differences.
    calendar_shock : float, default 0
        A shock common to all teams, pilot and comparison alike, from
        2020-04-01 to 2021-03-31: the case-closing hazard is multiplied by
        ``exp(-calendar_shock)``, costs and the sick-leave rate by
        ``exp(calendar_shock)``, and survey scores after the first wave move
        ``calendar_shock`` points in the unfavourable direction for everyone.
    cost_ar : float, default 0
        AR(1) coefficient of a team-level monthly cost disturbance (marginal
        SD 0.10 on the log scale) shared by a team's services: months of
        high spending follow each other.
    pretrend_site : str, optional
        Site whose pilot teams' costs drift away from the comparison teams'
        by ``pretrend`` on the log scale per month over the whole follow-up
        (parallel trends fail there); a pre-trend check should flag it.
    pretrend : float, default 0.01
        The drift per month at ``pretrend_site``.

    Examples
    --------
    >>> from evalkit.synth import Stress
    >>> Stress(team_sd=0.3).describe()["team_sd"]
    0.3
    """

    team_sd: float = 0.0
    calendar_shock: float = 0.0
    cost_ar: float = 0.0
    pretrend_site: str | None = None
    pretrend: float = 0.01

    def __post_init__(self) -> None:
        for name, low, high in (
            ("team_sd", 0.0, 1.0),
            ("calendar_shock", -1.0, 1.0),
            ("cost_ar", 0.0, 0.95),
            ("pretrend", -0.05, 0.05),
        ):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and not isinstance(value, bool) and low <= value <= high):
                raise InputError(f"Stress.{name} must be a number from {low} to {high}, got {value!r}")
        if self.pretrend_site is not None and not isinstance(self.pretrend_site, str):
            raise InputError(f"Stress.pretrend_site must be a site id, got {self.pretrend_site!r}")

    @property
    def active(self) -> bool:
        """True if anything departs from the plain generator."""
        return bool(self.team_sd or self.calendar_shock or self.cost_ar or self.pretrend_site)

    def describe(self) -> dict[str, Any]:
        """The options as written into ``dataset.yaml`` (``stress``)."""
        out = asdict(self)
        out["calendar_shock_window"] = [str(np.datetime64(SHOCK_START, "D")), str(np.datetime64(SHOCK_END - 1, "D"))]
        return out

    def team_effects(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Permanent team effects (log scale or points), zeros when ``team_sd`` is 0."""
        return rng.normal(0.0, self.team_sd, n) if self.team_sd else np.zeros(n)

    def cost_extra(self, rng: np.random.Generator, teams: Any, site_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Log-scale additions to monthly costs: (teams x months, months for site-level rows).

        Team effects, the AR(1) disturbance, the calendar shock and the pre-trend
        drift (measured from each pilot team's start month).
        """
        n_t, n_m = len(teams), len(MONTHS)
        month_day = MONTHS.astype("datetime64[D]").astype(np.int64)
        shock = self.calendar_shock * in_shock(month_day)
        out = self.team_effects(rng, n_t)[:, None] + shock[None, :]
        if self.cost_ar:
            sd, rho = _COST_AR_SD, self.cost_ar
            eps = rng.normal(0.0, sd * np.sqrt(1 - rho**2), (n_t, n_m))
            eps[:, 0] = rng.normal(0.0, sd, n_t)
            ar = np.zeros((n_t, n_m))
            ar[:, 0] = eps[:, 0]
            for m in range(1, n_m):  # 72 steps over all teams at once
                ar[:, m] = rho * ar[:, m - 1] + eps[:, m]
            out += ar
        if self.pretrend_site is not None:
            drifting = (np.asarray(teams["site_id"]) == self.pretrend_site) & np.asarray(teams["pilot"])
            start_m = np.searchsorted(month_day, np.minimum(np.asarray(teams["start"]), month_day[-1]), "right") - 1
            out += np.where(drifting[:, None], self.pretrend * (np.arange(n_m)[None, :] - start_m[:, None]), 0.0)
        return out, shock


_COST_AR_SD = 0.10  # marginal SD of the team-level AR(1) cost disturbance (log scale)


def in_shock(day: np.ndarray) -> np.ndarray:
    """1.0 for days inside the calendar shock window, else 0.0."""
    day = np.asarray(day)
    return ((day >= SHOCK_START) & (day < SHOCK_END)).astype(float)


def piecewise_segments(lo: np.ndarray, hi: np.ndarray, cuts: list[np.ndarray]) -> tuple[np.ndarray, ...]:
    """Cut each interval [lo, hi) at the given cut days (clipped into it).

    Returns ``(row, seg_lo, seg_len)``: ``len(cuts) + 1`` consecutive pieces
    of every interval (some of length 0), piece by piece (all first pieces,
    then all second pieces, ...). A rate that changes at the cuts is constant
    on each piece.
    """
    lo, hi = np.asarray(lo, dtype=np.int64), np.asarray(hi, dtype=np.int64)
    inner = [np.clip(np.asarray(c, dtype=np.int64), lo, hi) for c in cuts]
    edges = np.sort(np.column_stack([lo, *inner, hi]), axis=1)
    seg_lo = edges[:, :-1].T.ravel()
    seg_len = np.diff(edges, axis=1).T.ravel()
    row = np.tile(np.arange(len(lo)), edges.shape[1] - 1)
    return row, seg_lo, seg_len
