"""The checked input frames every survival estimator starts from: durations, event codes, covariates."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from evalkit.core.result import (
    InputError,
    require_columns,
)

__all__ = ["prepare", "by_group", "stack", "covariate_columns", "design_matrix"]


def prepare(data, duration, event, *others, competing=False):
    """Complete rows with a numeric, non-negative duration and a valid event code."""
    cols = list(dict.fromkeys(c for c in (duration, event, *others) if c is not None))
    require_columns(data, *cols)
    if data.empty:
        raise InputError("data has no rows")
    df = data[cols].dropna()
    warns = []
    if len(df) < len(data):
        warns.append(f"{len(data) - len(df)} row(s) with missing values in {', '.join(cols)} dropped")
    if df.empty:
        raise InputError("no complete rows to analyse")
    t = pd.to_numeric(df[duration], errors="coerce").astype(float)
    if t.isna().any() or not np.isfinite(t).all():
        raise InputError(f"duration column {duration!r} must be finite numbers")
    if (t < 0).any():
        raise InputError(f"{int((t < 0).sum())} negative value(s) in duration column {duration!r}")
    e = pd.to_numeric(df[event].astype(float) if df[event].dtype == bool else df[event], errors="coerce")
    allowed = "0 (censored) or 1, 2, ... (causes)" if competing else "0 (censored) or 1 (event)"
    bad = e.isna() | (e != np.round(e)) | (e < 0)
    if not competing:
        bad |= e > 1
    if bad.any():
        raise InputError(f"event column {event!r} must be {allowed}; {int(bad.sum())} value(s) are not")
    out = df.assign(_t=t.to_numpy(), _e=e.astype(int).to_numpy())
    return out, warns


def by_group(df, group):
    """(label, sub-frame) pairs in sorted order; one ('all', df) pair without a group."""
    if group is None:
        return [("all", df)]
    return [(g, df[df[group] == g]) for g in sorted(df[group].unique())]


def stack(parts, group):
    """One long table from (label, table) pairs, the group column first."""
    if group is None:
        return pd.concat([t for _, t in parts], ignore_index=True)
    table = pd.concat([t.assign(**{group: g}) for g, t in parts], ignore_index=True)
    return table[[group] + [c for c in table.columns if c != group]]


def covariate_columns(data, covariates, who="cox"):
    """The columns a covariate list or formula right-hand side uses, and the right-hand side."""
    if isinstance(covariates, str):
        rhs = covariates.split("~")[-1].strip()
        tokens = set(re.findall(r"[A-Za-z_.][A-Za-z0-9_.]*", rhs)) | set(re.findall(r"`([^`]+)`", rhs))
        cols = [c for c in data.columns if c in tokens]
    else:
        cols = list(covariates)
        rhs = " + ".join(c if re.fullmatch(r"[A-Za-z_.][A-Za-z0-9_.]*", c) else f"`{c}`" for c in cols)
    if not rhs:
        raise InputError(f"{who} needs at least one covariate")
    return cols, rhs


def design_matrix(df, rhs, covariates):
    """Covariate matrix (no intercept) and term names: numeric columns as they are, else formulaic."""
    if not isinstance(covariates, str) and all(
        pd.api.types.is_numeric_dtype(df[c]) or pd.api.types.is_bool_dtype(df[c]) for c in covariates
    ):
        return df[list(covariates)].to_numpy(dtype=float), list(covariates)
    import formulaic  # as lifelines builds a formula's columns: treatment coding, intercept dropped

    mm = formulaic.Formula(rhs).get_model_matrix(df)
    mm = mm.drop(columns="Intercept", errors="ignore")
    return mm.to_numpy(dtype=float), [str(c) for c in mm.columns]
