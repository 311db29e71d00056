"""Sites, teams and purchased services of the synthetic dataset (private to ``evalkit.synth``).

Dates are handled as integer days since 1970-01-01 so that everything stays
vectorised; ``evalkit.synth`` turns them into ``datetime64`` at the end.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["FOLLOW_START", "EXTRACTED", "MONTHS", "make_sites", "make_teams", "make_services", "days"]


def days(iso: str) -> int:
    """Days since 1970-01-01 of an ISO date."""
    return int(np.datetime64(iso, "D").astype(np.int64))


FOLLOW_START = days("2016-01-01")
EXTRACTED = days("2021-12-31")
MONTHS = np.arange(np.datetime64("2016-01"), np.datetime64("2022-01"))  # 72 calendar months
_MONTH_START = MONTHS.astype("datetime64[D]").astype(np.int64)

# Real Finnish municipalities with approximate populations (rounded, late 2010s).
# The first eight are the default sites; Kuopio comes first (the THL pilot report).
MUNICIPALITIES = [
    ("kuopio", "Kuopio", "Pohjois-Savo", 120_000),
    ("jyvaskyla", "Jyväskylä", "Keski-Suomi", 143_000),
    ("joensuu", "Joensuu", "Pohjois-Karjala", 77_000),
    ("mikkeli", "Mikkeli", "Etelä-Savo", 53_000),
    ("seinajoki", "Seinäjoki", "Etelä-Pohjanmaa", 64_000),
    ("rovaniemi", "Rovaniemi", "Lappi", 63_000),
    ("iisalmi", "Iisalmi", "Pohjois-Savo", 21_000),
    ("suonenjoki", "Suonenjoki", "Pohjois-Savo", 7_000),
    ("helsinki", "Helsinki", "Uusimaa", 635_000),
    ("espoo", "Espoo", "Uusimaa", 290_000),
    ("tampere", "Tampere", "Pirkanmaa", 238_000),
    ("vantaa", "Vantaa", "Uusimaa", 233_000),
    ("oulu", "Oulu", "Pohjois-Pohjanmaa", 205_000),
    ("turku", "Turku", "Varsinais-Suomi", 192_000),
    ("lahti", "Lahti", "Päijät-Häme", 120_000),
    ("pori", "Pori", "Satakunta", 84_000),
    ("kouvola", "Kouvola", "Kymenlaakso", 82_000),
    ("lappeenranta", "Lappeenranta", "Etelä-Karjala", 73_000),
    ("hameenlinna", "Hämeenlinna", "Kanta-Häme", 68_000),
    ("vaasa", "Vaasa", "Pohjanmaa", 67_000),
    ("kotka", "Kotka", "Kymenlaakso", 52_000),
    ("salo", "Salo", "Varsinais-Suomi", 52_000),
    ("porvoo", "Porvoo", "Uusimaa", 50_000),
    ("kokkola", "Kokkola", "Keski-Pohjanmaa", 48_000),
    ("hyvinkaa", "Hyvinkää", "Uusimaa", 46_000),
    ("lohja", "Lohja", "Uusimaa", 46_000),
    ("nurmijarvi", "Nurmijärvi", "Uusimaa", 43_000),
    ("jarvenpaa", "Järvenpää", "Uusimaa", 43_000),
    ("rauma", "Rauma", "Satakunta", 39_000),
    ("kirkkonummi", "Kirkkonummi", "Uusimaa", 39_000),
    ("tuusula", "Tuusula", "Uusimaa", 38_000),
    ("kerava", "Kerava", "Uusimaa", 36_000),
    ("kajaani", "Kajaani", "Kainuu", 37_000),
    ("kaarina", "Kaarina", "Varsinais-Suomi", 33_000),
    ("nokia", "Nokia", "Pirkanmaa", 33_000),
    ("ylojarvi", "Ylöjärvi", "Pirkanmaa", 33_000),
    ("kangasala", "Kangasala", "Pirkanmaa", 31_000),
    ("savonlinna", "Savonlinna", "Etelä-Savo", 33_000),
    ("riihimaki", "Riihimäki", "Kanta-Häme", 29_000),
    ("imatra", "Imatra", "Etelä-Karjala", 26_000),
    ("raisio", "Raisio", "Varsinais-Suomi", 25_000),
    ("sastamala", "Sastamala", "Pirkanmaa", 25_000),
    ("raahe", "Raahe", "Pohjois-Pohjanmaa", 25_000),
    ("tornio", "Tornio", "Lappi", 22_000),
    ("siilinjarvi", "Siilinjärvi", "Pohjois-Savo", 21_000),
    ("kemi", "Kemi", "Lappi", 21_000),
    ("valkeakoski", "Valkeakoski", "Pirkanmaa", 21_000),
    ("kurikka", "Kurikka", "Etelä-Pohjanmaa", 21_000),
    ("varkaus", "Varkaus", "Pohjois-Savo", 21_000),
    ("jamsa", "Jämsä", "Keski-Suomi", 20_000),
    ("hamina", "Hamina", "Kymenlaakso", 20_000),
    ("kempele", "Kempele", "Pohjois-Pohjanmaa", 18_000),
    ("pietarsaari", "Pietarsaari", "Pohjanmaa", 19_000),
    ("heinola", "Heinola", "Päijät-Häme", 19_000),
    ("aanekoski", "Äänekoski", "Keski-Suomi", 19_000),
    ("pieksamaki", "Pieksämäki", "Etelä-Savo", 18_000),
    ("forssa", "Forssa", "Kanta-Häme", 17_000),
    ("orimattila", "Orimattila", "Päijät-Häme", 16_000),
    ("ylivieska", "Ylivieska", "Pohjois-Pohjanmaa", 15_000),
    ("kuusamo", "Kuusamo", "Pohjois-Pohjanmaa", 15_000),
    ("uusikaupunki", "Uusikaupunki", "Varsinais-Suomi", 15_000),
    ("loviisa", "Loviisa", "Uusimaa", 15_000),
    ("lapua", "Lapua", "Etelä-Pohjanmaa", 14_000),
    ("lieksa", "Lieksa", "Pohjois-Karjala", 11_000),
    ("kitee", "Kitee", "Pohjois-Karjala", 10_000),
    ("sotkamo", "Sotkamo", "Kainuu", 10_000),
    ("leppavirta", "Leppävirta", "Pohjois-Savo", 9_500),
    ("sodankyla", "Sodankylä", "Lappi", 8_500),
    ("kiuruvesi", "Kiuruvesi", "Pohjois-Savo", 7_500),
    ("nurmes", "Nurmes", "Pohjois-Karjala", 7_500),
]
REGIONS = sorted({m[2] for m in MUNICIPALITIES})

# New open-care cases per resident per year, calibrated so that 309 sites give
# about 40,000 cases a year (THL 2023: about 38,500 open-care clients).
CASE_RATE = 0.0078
POP_PER_TEAM = 25_000  # Kuopio (about 120,000 residents) had five open-care teams


def make_sites(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """``n`` sites: the real municipalities first, then generated ``kunta_NNN`` sites."""
    real = MUNICIPALITIES[:n]
    extra = n - len(real)
    # Generated sites mimic Finland's many small municipalities (5,000 residents and up).
    pops = np.clip(np.round(rng.lognormal(np.log(5_500), 0.4, extra), -2), 5_000, 60_000)
    rows = real + [
        (f"kunta_{i:03d}", f"Kunta {i:03d}", REGIONS[i % len(REGIONS)], int(p))
        for i, p in zip(range(len(real) + 1, n + 1), pops)
    ]
    return pd.DataFrame(rows, columns=["site_id", "municipality", "region", "population"])


def _month_index(day: np.ndarray) -> np.ndarray:
    return np.searchsorted(_MONTH_START, day, side="right") - 1


def make_teams(rng: np.random.Generator, sites: pd.DataFrame) -> pd.DataFrame:
    """Pilot and comparison teams per site with staggered model starts (first of a month).

    Internal columns besides DATA.md's: ``site`` (row of ``sites``), ``pilot``
    (bool), ``start`` (model start in days; a large number for comparison
    teams), ``first`` (the team starts on its site's first start), ``inflow``
    (expected new cases a year) and ``frailty`` (team closing-hazard multiplier).
    """
    pop = sites["population"].to_numpy()
    n_teams = np.maximum(2, np.round(pop / POP_PER_TEAM).astype(int))
    n_pilot = np.clip(np.round(n_teams * rng.uniform(0.3, 0.6, len(pop))).astype(int), 1, n_teams - 1)
    site = np.repeat(np.arange(len(pop)), n_teams)
    rank = np.arange(len(site)) - np.repeat(np.cumsum(n_teams) - n_teams, n_teams)
    pilot = rank < n_pilot[site]
    # Site's first start: a month from 2018-01 to 2019-06 (Kuopio: January 2018);
    # later pilot teams follow within a year, no later than 2019-12.
    first = rng.integers(0, 18, len(pop))
    kuopio = (sites["site_id"] == "kuopio").to_numpy()
    first[kuopio] = 0
    delay = np.where(rank == 0, 0, rng.integers(0, 13, len(site)))
    delay[kuopio[site] & (rank > 0)] = 12  # Kuopio extended the model to more teams in 2019
    month = np.minimum(first[site] + delay, 23) + 24  # months since 2016-01
    start = np.where(pilot, _MONTH_START[month], np.iinfo(np.int64).max // 4)
    number = np.where(pilot, rank + 1, rank - n_pilot[site] + 1)
    ids = sites["site_id"].to_numpy()[site] + np.where(pilot, "_p", "_c") + number.astype(str)
    rate = CASE_RATE * rng.lognormal(0.0, 0.15, len(pop)) * np.where(sites["region"] == "Pohjois-Savo", 1.2, 1.0)
    inflow = (rate * pop)[site] / n_teams[site] * rng.lognormal(0.0, 0.15, len(site))
    return pd.DataFrame(
        {
            "team_id": ids,
            "site_id": sites["site_id"].to_numpy()[site],
            "arm": np.where(pilot, "pilot", "comparison"),
            "site": site,
            "pilot": pilot,
            "start": start,
            "first": pilot & (month == first[site] + 24),
            "inflow": inflow,
            "frailty": rng.lognormal(0.0, 0.1, len(site)) * rng.lognormal(0.0, 0.15, len(pop))[site],
        }
    )


# Mean purchased units per month per expected open case, and euros per unit.
_SERVICES = {
    "family_work": (1.5, 60.0),  # hours of family work
    "institutional_care": (0.9, 310.0),  # care days in an institution
    "foster_care": (1.2, 110.0),  # care days in family foster care
    "substance_abuse": (0.15, 220.0),  # rehabilitation days
    "therapy": (0.12, 95.0),  # therapy sessions
    "other": (0.3, 80.0),
}


def make_services(
    rng: np.random.Generator,
    teams: pd.DataFrame,
    sites: pd.DataFrame,
    level_ratio: float,
    slope_ratio: float,
    open_years: float,
    extra: tuple[np.ndarray, np.ndarray] | None = None,
) -> pd.DataFrame:
    """Monthly purchased services per team and service, plus unallocated site-level ``other``.

    log E[cost] = series level + 2 %/year inflation + seasonality
    + post * (log(level_ratio) + log(slope_ratio) * (month - start_month + 1)),
    with post = month >= the pilot team's start month; log-normal noise (sd 0.12).
    ``extra`` = (teams x months, months) on the log scale adds the stress
    features of :mod:`evalkit.synth._stress`: the first to every service of a
    team, the second (the calendar shock) to the site-level rows.
    """
    names = np.array(list(_SERVICES))
    per_case = np.array([v[0] for v in _SERVICES.values()])
    price = np.array([v[1] for v in _SERVICES.values()])
    n_t, n_s, n_m = len(teams), len(names), len(MONTHS)
    grid = np.meshgrid(np.arange(n_t), np.arange(n_s), np.arange(n_m), indexing="ij")
    t_idx, s_idx, m_idx = (a.ravel() for a in grid)
    open_cases = teams["inflow"].to_numpy() * open_years
    series_level = np.log(open_cases[:, None] * per_case[None, :] * price[None, :]) + rng.normal(0, 0.3, (n_t, n_s))
    start_m = np.where(teams["pilot"], _month_index(np.minimum(teams["start"].to_numpy(), _MONTH_START[-1])), n_m)
    since = m_idx - start_m[t_idx] + 1
    post = since >= 1
    log_mu = series_level[t_idx, s_idx] + _season(m_idx) + post * (np.log(level_ratio) + np.log(slope_ratio) * since)
    if extra is not None:
        log_mu = log_mu + extra[0][t_idx, m_idx]
    team_rows = _cost_rows(rng, log_mu, price[s_idx])
    team_part = pd.DataFrame(
        {
            "site_id": teams["site_id"].to_numpy()[t_idx],
            "team_id": teams["team_id"].to_numpy()[t_idx],
            "m": m_idx,
            "service": names[s_idx],
            **team_rows,
        }
    )
    # purchases not booked to a team (a nullable team_id), untouched by the pilot
    n_site = len(sites)
    site_idx, sm = (a.ravel() for a in np.meshgrid(np.arange(n_site), np.arange(n_m), indexing="ij"))
    site_level = np.log(sites["population"].to_numpy() * 0.002 * 80.0) + rng.normal(0, 0.3, n_site)
    site_shock = extra[1][sm] if extra is not None else 0.0
    site_rows = _cost_rows(rng, site_level[site_idx] + _season(sm) + site_shock, np.full(len(sm), 80.0))
    site_part = pd.DataFrame(
        {"site_id": sites["site_id"].to_numpy()[site_idx], "team_id": None, "m": sm, "service": "other", **site_rows}
    )
    out = pd.concat([team_part, site_part], ignore_index=True)
    out["month"] = MONTHS.astype(str)[out.pop("m").to_numpy()]
    out = out.sort_values(["site_id", "month", "team_id", "service"], kind="stable", na_position="last")
    return out[["site_id", "team_id", "month", "service", "cost_eur", "units"]].reset_index(drop=True)


def _season(month_index: np.ndarray) -> np.ndarray:
    """2 %/year inflation on the log scale plus a summer dip and a December peak."""
    moy = month_index % 12
    return np.log(1.02) / 12 * month_index - 0.12 * (moy == 6) + 0.06 * np.cos(2 * np.pi * moy / 12)


def _cost_rows(rng: np.random.Generator, log_mu: np.ndarray, price: np.ndarray) -> dict[str, np.ndarray]:
    cost = np.round(np.exp(log_mu + rng.normal(0.0, 0.12, len(log_mu))), 2)
    return {"cost_eur": cost, "units": np.maximum(1, np.round(cost / price)).astype(np.int64)}
