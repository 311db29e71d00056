"""Synthetic multi-site evaluation data with known true effects (``evalkit synth``).

:func:`synthesise` builds every table of the data contract (``DATA.md``)
for a number of pilot sites from one seed: sites are real Finnish
municipalities (Kuopio first) with approximate populations, then generated
``kunta_NNN`` sites; each has pilot and comparison teams (more with more
residents, about one per 25,000), staggered model starts from 2018-01 to
2019-12 (Kuopio's first pilot team on 2018-01-01), and follow-up from
2016-01-01 to the extraction date 2021-12-31. The true pilot effects
(:class:`Effects`) are written into ``dataset.yaml`` with their exact
definitions, so estimators can be checked against them.

Figures used for realism (``DOMAIN.md``): about 40,000 new open-care cases a
year nationally at 309 sites; caseloads of 20-30 children per social worker
in pilot teams and 35-45 in comparison teams; 7-16 sick-leave days per
FTE-year (Hackney 15.66 -> 7); survey rounds timed as in THL's Kuopio
evaluation. Everything is vectorised with numpy (no loop over cases), so
``sites=309`` takes seconds. Private parts live in ``_synth_sites``,
``_synth_cases``, ``_synth_staff`` and ``_synth_surveys``.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from evalkit import __version__
from evalkit.synth._cases import OPEN_YEARS, make_cases, make_contacts
from evalkit.synth._sites import EXTRACTED, FOLLOW_START, make_services, make_sites, make_teams
from evalkit.synth._staff import make_absences, make_staff
from evalkit.synth._export import write_client_export
from evalkit.synth._stress import Stress
from evalkit.synth._surveys import SCALES, make_surveys, make_time_use, max_survey_change
from evalkit.core.result import InputError

__all__ = ["Effects", "Stress", "SyntheticDataset", "synthesise", "write_client_export"]

_MAX_PLACEMENT_SHARE = 0.16  # the largest baseline share of case ends that are placements (LSL cases)


@dataclass(frozen=True)
class Effects:
    """The true pilot effects built into a synthetic dataset.

    "After the start" means from a pilot team's ``model_start`` on;
    comparison teams are never affected.

    Attributes
    ----------
    hr_close : float, default 1.25
        Hazard ratio of a case closing (for any reason except reaching age
        18, which is independent censoring), pilot vs comparison team of the
        same site during model work, conditional on team frailty and legal
        basis; applies from the start also to cases opened before it.
    hr_placement : float, default 0.8
        Cause-specific hazard ratio of a case ending in a placement (a
        competing end of the case), same contrast.
    cost_level_ratio : float, default 0.9
        Ratio of expected monthly purchased-service costs in a pilot team at
        its start month: ``exp(level change)`` on the log scale.
    cost_slope_ratio : float, default 0.995
        Change in the monthly growth ratio of costs after the start:
        ``exp(slope change)`` per month, the start month counting as month 1
        (as ``evalkit.trends.its``).
    sick_leave_rr : float, default 0.75
        Rate ratio of sick-leave days per FTE-year (person-years weighted by
        ``fte``), pilot teams after vs before the start.
    survey_change : float, default 0.3
        Wave x arm change in Likert points: pilot minus comparison change in
        the expected score from wave 1 to any later wave, in the favourable
        direction (+ for wellbeing, coping, felt_heard, got_help; - for
        workload).
    face_to_face_share_change : float, default 0.10
        Change in the expected share of working time spent face to face with
        families, pilot minus comparison, time-use wave 2 minus wave 1.

    Notes
    -----
    Defaults echo the reports' expected directions: shorter cases, fewer
    placements, falling purchased services (Hackney: care costs -4.97 %),
    less sick leave (Hackney: 15.66 -> 7 days a year, here a milder -25 %),
    better survey scores and more face-to-face time. Impossible values
    (non-positive ratios, more placements than case ends, changes beyond the
    1-5 scale) raise :class:`~evalkit.InputError`.

    Examples
    --------
    >>> from evalkit.synth import Effects
    >>> Effects(hr_close=1.5).describe()["hr_close"]["value"]
    1.5
    """

    hr_close: float = 1.25
    hr_placement: float = 0.8
    cost_level_ratio: float = 0.9
    cost_slope_ratio: float = 0.995
    sick_leave_rr: float = 0.75
    survey_change: float = 0.3
    face_to_face_share_change: float = 0.10

    def __post_init__(self) -> None:
        for name in ("hr_close", "hr_placement", "cost_level_ratio", "cost_slope_ratio", "sick_leave_rr"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and np.isfinite(value) and value > 0):
                raise InputError(f"Effects.{name} must be a positive ratio, got {value!r}")
        if _MAX_PLACEMENT_SHARE * self.hr_placement / self.hr_close > 1:
            raise InputError(
                "Effects.hr_placement / hr_close is too large: placements would exceed all case ends "
                f"(keep the ratio at most {1 / _MAX_PLACEMENT_SHARE:.2f})"
            )
        if abs(self.survey_change) > max_survey_change():
            raise InputError(f"Effects.survey_change must lie within +-{max_survey_change():.2f} Likert points")
        if not -0.15 <= self.face_to_face_share_change <= 0.3:
            raise InputError("Effects.face_to_face_share_change must lie between -0.15 and 0.3 (a share of time)")

    @classmethod
    def null(cls) -> "Effects":
        """No effect on anything: every ratio 1, every change 0 (``evalkit synth --null``).

        Examples
        --------
        >>> Effects.null().hr_close
        1.0
        """
        return cls(
            hr_close=1.0,
            hr_placement=1.0,
            cost_level_ratio=1.0,
            cost_slope_ratio=1.0,
            sick_leave_rr=1.0,
            survey_change=0.0,
            face_to_face_share_change=0.0,
        )

    def describe(self) -> dict[str, dict[str, Any]]:
        """The effects with their definitions, as written into ``dataset.yaml``."""
        definitions = {
            "hr_close": "hazard ratio of case closing (any end reason; age_limit ends are independent censoring), "
            "pilot vs comparison teams of a site after the pilot team's model_start; conditional on team "
            "frailty and legal_basis (estimate with Cox stratified by site, legal_basis adjusted)",
            "hr_placement": "cause-specific hazard ratio of a case ending in placement (competing end), same contrast",
            "cost_level_ratio": "purchased-service costs of a pilot team: ratio of expected monthly cost at the start "
            "month, exp(level change) on the log scale; comparison teams and site-level rows "
            "unchanged",
            "cost_slope_ratio": "purchased-service costs: multiplicative change in monthly growth after the start, "
            "exp(slope change) per month, start month = 1 (as evalkit.trends.its)",
            "sick_leave_rr": "rate ratio of sick-leave days per FTE-year, pilot teams after vs before model_start, "
            "relative to no change (comparison teams unaffected)",
            "survey_change": "wave x arm change in expected Likert score (1-5): pilot minus comparison change "
            "from wave 1 to each later wave, favourable direction: "
            + ", ".join(f"{r}/{s} {'+' if d > 0 else '-'}" for r, s, _, d in SCALES),
            "face_to_face_share_change": "time_use: expected face_to_face share of hours, pilot minus comparison, "
            "wave 2 minus wave 1 (taken from documentation and other)",
        }
        return {k: {"value": float(v), "definition": definitions[k]} for k, v in asdict(self).items()}


@dataclass
class SyntheticDataset:
    """Tables in the ``DATA.md`` shape and the ``dataset.yaml`` manifest.

    Attributes
    ----------
    tables : dict of str to pandas.DataFrame
        ``sites``, ``teams``, ``cases``, ``placements``, ``contacts``,
        ``services``, ``staff``, ``absences``, ``surveys``, ``time_use``.
    meta : dict
        ``name``, ``extracted_on``, ``source``, ``description``, ``seed``,
        ``generator``, ``follow_up``, ``true_effects``.
    """

    tables: dict[str, pd.DataFrame]
    meta: dict[str, Any] = field(default_factory=dict)


def synthesise(
    sites: int = 8, seed: int = 1, effects: Effects | None = None, stress: Stress | None = None
) -> SyntheticDataset:
    """Generate a synthetic multi-site dataset with known true effects.

    Parameters
    ----------
    sites : int, default 8
        Number of pilot sites (real municipalities first, Kuopio first;
        ``309`` gives a national-scale dataset, about 40,000 new cases a year).
    seed : int, default 1
        Random seed; the same seed and arguments give identical tables.
    effects : Effects, optional
        True pilot effects; ``Effects()`` (the documented defaults) if omitted,
        ``Effects.null()`` for none.
    stress : Stress, optional
        Features of real data that break easy estimators (team effects on
        every outcome, a calendar shock, autocorrelated costs, a pre-trend at
        one site); none if omitted. Recorded under ``stress`` in ``meta``.

    Returns
    -------
    SyntheticDataset
        ``tables`` with DATA.md's columns: text as pandas ``string``
        (nullable: ``cases.end_reason``, ``services.team_id``), dates as
        ``datetime64[ns]`` (``NaT`` = open: ``teams.model_start`` of
        comparison teams, ``cases.closed``, ``staff.end``), months as
        ``YYYY-MM`` text, counts as ``int64``; and ``meta`` for ``dataset.yaml``.

    References
    ----------
    Generated for evalkit; figures from THL's pilot reports and Cross,
    Hubbard & Munro (2010) as summarised in ``DOMAIN.md``.

    Examples
    --------
    >>> from evalkit.synth import Effects, synthesise
    >>> ds = synthesise(sites=2, seed=3, effects=Effects(sick_leave_rr=0.6))
    >>> ds.meta["true_effects"]["sick_leave_rr"]["value"]
    0.6
    >>> int(ds.tables["sites"]["population"].iloc[0])
    120000
    """
    if isinstance(sites, bool) or not isinstance(sites, (int, np.integer)) or sites < 1:
        raise InputError(f"sites must be a positive whole number, got {sites!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"seed must be a non-negative whole number, got {seed!r}")
    effects = Effects() if effects is None else effects
    if not isinstance(effects, Effects):
        raise InputError("effects must be an evalkit.synth.Effects")
    stress = Stress() if stress is None else stress
    if not isinstance(stress, Stress):
        raise InputError("stress must be an evalkit.synth.Stress")
    # the first eight streams are those of the plain generator, so Stress() changes nothing
    g = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(9)]
    site_df = make_sites(g[0], int(sites))
    if stress.pretrend_site is not None and stress.pretrend_site not in set(site_df["site_id"]):
        raise InputError(f"Stress.pretrend_site {stress.pretrend_site!r} is not one of the {sites} site(s)")
    teams = _with_team_effects(make_teams(g[1], site_df), stress, g[8], effects)
    cases, placements = make_cases(g[2], teams, effects.hr_close, effects.hr_placement, stress.calendar_shock)
    contacts = make_contacts(g[3], cases, teams["start"].to_numpy())
    extra = stress.cost_extra(g[8], teams, site_df["site_id"].to_numpy()) if stress.active else None
    services = make_services(
        g[4], teams, site_df, effects.cost_level_ratio, effects.cost_slope_ratio, OPEN_YEARS, extra
    )
    staff = make_staff(g[5], teams, OPEN_YEARS, effects.hr_close)
    site_sick_days = g[5].uniform(9.0, 16.0, len(site_df))
    absences = make_absences(g[6], staff, teams, site_sick_days, effects.sick_leave_rr, stress.calendar_shock)
    kuopio = (site_df["site_id"] == "kuopio").to_numpy()
    surveys, waves = make_surveys(
        g[7], teams, staff, kuopio, effects.survey_change, (stress.team_sd, stress.calendar_shock)
    )
    time_use = make_time_use(g[7], teams, staff, waves, effects.face_to_face_share_change)
    teams = teams.assign(model_start=_dates(np.where(teams["pilot"], teams["start"], -1)))
    tables = {
        "sites": site_df,
        "teams": teams[["team_id", "site_id", "arm", "model_start"]],
        "cases": cases.assign(opened=_dates(cases["opened"]), closed=_dates(cases["closed"])).drop(columns="team"),
        "placements": placements.assign(date=_dates(placements["date"])),
        "contacts": contacts.assign(date=_dates(contacts["date"])),
        "services": services,
        "staff": staff.assign(
            start=_dates(staff["start"]), end=_dates(np.where(staff["end_day"] <= EXTRACTED, staff["end_day"], -1))
        )[["worker_id", "team_id", "role", "fte", "start", "end"]],
        "absences": absences.assign(start=_dates(absences["start"]), end=_dates(absences["end"])),
        "surveys": surveys.assign(answered=_dates(surveys["answered"])),
        "time_use": time_use,
    }
    return SyntheticDataset(
        {k: _text_as_string(v) for k, v in tables.items()}, _meta(int(sites), seed, effects, stress)
    )


def _with_team_effects(teams: pd.DataFrame, stress: Stress, rng: np.random.Generator, effects: Effects) -> pd.DataFrame:
    """Permanent extra team effects on every outcome (``Stress.team_sd``), as multipliers or points."""
    if not stress.team_sd:
        return teams
    n = len(teams)
    # a team's placement share stays a probability, also after the start (hr_placement / hr_close)
    cap = 1 / (_MAX_PLACEMENT_SHARE * max(1.0, effects.hr_placement / effects.hr_close))
    return teams.assign(
        frailty=teams["frailty"] * np.exp(stress.team_effects(rng, n)),
        place_mult=np.minimum(np.exp(stress.team_effects(rng, n)), cap),
        sick_mult=np.exp(stress.team_effects(rng, n)),
        survey_extra=stress.team_effects(rng, n),
    )


def _dates(day: Any) -> np.ndarray:
    """Days since 1970-01-01 to datetime64[ns]; negative days (the 'open' sentinel) become NaT."""
    day = np.asarray(day, dtype=np.int64)
    out = day.astype("datetime64[D]").astype("datetime64[ns]")
    out[day < 0] = np.datetime64("NaT")
    return out


def _text_as_string(df: pd.DataFrame) -> pd.DataFrame:
    df = df.reset_index(drop=True)
    for col in df.columns:
        if df[col].dtype == object or pd.api.types.is_string_dtype(df[col].dtype):
            df[col] = df[col].astype("string")
    return df


def _meta(sites: int, seed: int, effects: Effects, stress: Stress) -> dict[str, Any]:
    iso = lambda d: str(np.datetime64(d, "D"))  # noqa: E731
    return {
        "name": f"evalkit-synthetic-{sites}-sites-seed-{seed}",
        "extracted_on": _dt.date.fromisoformat(iso(EXTRACTED)),
        "source": "synthetic: generated by evalkit.synth (no real persons)",
        "description": (
            f"Synthetic child-protection open-care data for {sites} pilot site(s) of the systemic practice "
            "model, pilot and comparison teams with staggered starts 2018-2019, follow-up "
            f"{iso(FOLLOW_START)} to {iso(EXTRACTED)}; known true effects under true_effects."
        ),
        "seed": int(seed),
        "generator": f"evalkit {__version__}",
        "follow_up": {
            "start": _dt.date.fromisoformat(iso(FOLLOW_START)),
            "end": _dt.date.fromisoformat(iso(EXTRACTED)),
        },
        "true_effects": effects.describe(),
        "stress": stress.describe(),
    }
