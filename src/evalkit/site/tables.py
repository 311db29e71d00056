"""A site's slice of the dataset: its tables, cut out once and indexed for the analyses.

:func:`split_sites` cuts every site out of a national dataset in one pass;
:func:`site_data` gives one site's tables with the dates the analyses need
(:class:`SiteData`). The analysis plan that runs on them is :mod:`evalkit.site`.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from evalkit.core.result import EvalkitError
from evalkit.data.config import SiteConfig
from evalkit.data.rules import lookup

__all__ = ["SiteData", "SiteTables", "site_data", "split_sites"]


@dataclass(frozen=True)
class SiteData:
    """One site's rows of every table, with its dates."""

    site: str
    tables: dict[str, pd.DataFrame]
    extracted_on: pd.Timestamp
    pilot_start: pd.Timestamp
    follow_start: pd.Timestamp

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.tables[name]

    def __repr__(self) -> str:
        # counts only: the tables hold pseudonymous ids that a notebook should not echo
        rows = ", ".join(f"{k} {len(v)}" for k, v in self.tables.items())
        return (
            f"SiteData({self.site!r}, pilot start {self.pilot_start.date()}, "
            f"extracted {self.extracted_on.date()}; rows: {rows})"
        )

    def _repr_html_(self) -> str:
        counts = pd.DataFrame({"rows": {k: len(v) for k, v in self.tables.items()}})
        return f"<p><b>{html.escape(repr(self).split(';')[0])})</b></p>{counts.to_html(border=0)}"


def site_data(tables: dict[str, pd.DataFrame], meta: dict[str, Any], config: SiteConfig) -> SiteData:
    """Select ``config.site``'s rows of every table (valid rows of a validated dataset)."""
    if isinstance(tables, SiteTables):
        tables = tables.for_site(config.site)
    teams = tables["teams"][tables["teams"]["site_id"] == config.site]
    if teams.empty:
        raise EvalkitError(f"site {config.site!r} has no teams in the dataset")
    team_ids = set(teams["team_id"])
    cases = tables["cases"][tables["cases"]["team_id"].isin(team_ids)]
    staff = tables["staff"][tables["staff"]["team_id"].isin(team_ids)]
    by_case = lambda t: tables[t][tables[t]["case_id"].isin(set(cases["case_id"]))]  # noqa: E731
    by_worker = lambda t: tables[t][tables[t]["worker_id"].isin(set(staff["worker_id"]))]  # noqa: E731
    picked = {
        "sites": tables["sites"][tables["sites"]["site_id"] == config.site],
        "teams": teams,
        "cases": cases,
        "staff": staff,
        "placements": by_case("placements"),
        "contacts": by_case("contacts"),
        "absences": by_worker("absences"),
        "time_use": by_worker("time_use"),
        "services": tables["services"][tables["services"]["site_id"] == config.site],
        "surveys": tables["surveys"][tables["surveys"]["team_id"].isin(team_ids)],
    }
    starts = teams.loc[teams["arm"] == "pilot", "model_start"].dropna()
    if config.pilot_start is None and starts.empty:
        raise EvalkitError(f"site {config.site!r} has no pilot team with a model_start")
    pilot_start = pd.Timestamp(config.pilot_start) if config.pilot_start else starts.min()
    extracted = pd.Timestamp(meta["extracted_on"])
    follow = meta.get("follow_up", {}).get("start") if isinstance(meta.get("follow_up"), dict) else None
    follow_start = pd.Timestamp(follow) if follow else cases["opened"].min()
    return SiteData(config.site, picked, extracted, pilot_start, follow_start)


def _positions_by_site(df: pd.DataFrame, key: str, owners: pd.DataFrame) -> dict[str, np.ndarray]:
    """Row positions of ``df`` per site, joined through ``key`` to ``owners`` (key, site) pairs.

    A key may belong to several sites (a worker who moved): its rows then go
    to each of them. Positions are ascending, so rows keep their order.
    """
    pairs = owners[[key, "_site"]].drop_duplicates()
    site_codes, sites = pd.factorize(pairs["_site"], sort=False)
    if pairs[key].is_unique:
        # the usual case (a case, a team): one hash lookup, no join of millions of rows
        found = lookup(df[key], pairs[key])
        pos = np.flatnonzero(found >= 0)
        codes = site_codes[found[pos]]
    else:
        rows = pd.DataFrame({key: df[key].to_numpy(), "_pos": np.arange(len(df))})
        hit = rows.merge(pairs.assign(_code=site_codes), on=key, how="inner", sort=False)
        pos, codes = hit["_pos"].to_numpy(), hit["_code"].to_numpy()
    order = np.lexsort((pos, codes))
    bounds = np.searchsorted(codes[order], np.arange(len(sites) + 1))
    pos = pos[order]
    return {str(s): pos[bounds[i] : bounds[i + 1]] for i, s in enumerate(sites)}


def _site_positions(tables: dict[str, pd.DataFrame]) -> dict[str, dict[str, np.ndarray]]:
    """Table name -> site -> row positions, one pass per table."""
    teams = tables["teams"].assign(_site=tables["teams"]["site_id"])
    cases = tables["cases"].merge(teams[["team_id", "_site"]], on="team_id")
    staff = tables["staff"].merge(teams[["team_id", "_site"]], on="team_id")
    by = {
        "teams": ("team_id", teams),
        "cases": ("team_id", teams),
        "staff": ("team_id", teams),
        "surveys": ("team_id", teams),
        "placements": ("case_id", cases),
        "contacts": ("case_id", cases),
        "absences": ("worker_id", staff),
        "time_use": ("worker_id", staff),
        "sites": ("site_id", teams),
        "services": ("site_id", teams),
    }
    return {name: _positions_by_site(tables[name], key, owners) for name, (key, owners) in by.items()}


def _take(
    tables: dict[str, pd.DataFrame], positions: dict[str, dict[str, np.ndarray]], site: str
) -> dict[str, pd.DataFrame]:
    empty = np.array([], dtype=np.intp)
    return {name: tables[name].take(by_site.get(site, empty)) for name, by_site in positions.items()}


def split_sites(tables: dict[str, pd.DataFrame]) -> dict[str, dict[str, pd.DataFrame]]:
    """Every site's rows of every table, found in one pass per table.

    For a batch over many sites: :func:`site_data` filters the whole of every
    table for one site (millions of contact rows at national scale), and
    this does that work once. ``analyse(split_sites(tables)[s], meta, cfg)``
    gives the same results as ``analyse(tables, meta, cfg)``: each site gets
    at least the rows its :func:`site_data` picks, in their original order
    and with their index, and :func:`site_data` still picks from them.

    Parameters
    ----------
    tables : dict of DataFrame
        Valid rows of every table, as for :func:`analyse`.

    Returns
    -------
    dict
        Site id -> tables by name (sites without teams are left out).

    Examples
    --------
    >>> from evalkit.synth import synthesise
    >>> data = synthesise(sites=2, seed=1)
    >>> parts = split_sites(data.tables)
    >>> frames = site_data(data.tables, data.meta, SiteConfig(site="kuopio"))
    >>> print(len(parts["kuopio"]["contacts"]) == len(frames["contacts"]))
    True
    """
    positions = _site_positions(tables)
    return {str(s): _take(tables, positions, str(s)) for s in pd.unique(tables["teams"]["site_id"])}


class SiteTables(dict):
    """Tables of many sites, each site's rows found once for all sites (batch rendering).

    :func:`site_data` on a plain dict filters the whole of every table; on
    this it takes the site's rows from positions found on first use, in one
    pass per table (:func:`split_sites`' work, without its copy of every
    table). The warm render kernels wrap the shared batch dataset in it, so
    each kernel pays the pass once for all the sites it renders. The
    positions are used only while every table is the same object with the
    same length as when they were found; the tables must not be changed in
    place.

    Examples
    --------
    >>> from evalkit.synth import synthesise
    >>> data = synthesise(sites=2, seed=1)
    >>> indexed = SiteTables(data.tables)
    >>> cfg = SiteConfig(site="kuopio")
    >>> a, b = site_data(indexed, data.meta, cfg), site_data(data.tables, data.meta, cfg)
    >>> print(all(a[t].equals(b[t]) for t in b.tables))
    True
    """

    _positions: Any = None
    _frames: tuple = ()

    def for_site(self, site: str) -> dict[str, pd.DataFrame]:
        """The site's rows of every table (all rows again if a table was replaced)."""
        frames = tuple((name, df, len(df)) for name, df in sorted(self.items()))
        same = len(frames) == len(self._frames) and all(
            a[0] == b[0] and a[1] is b[1] and a[2] == b[2] for a, b in zip(frames, self._frames)
        )
        if self._positions is None or not same:
            self._positions, self._frames = _site_positions(self), frames
        return {**self, **_take(self, self._positions, site)}
