"""Input checks and inference notes the effect estimators share."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from evalkit.core.result import (
    EstimationError,
    InputError,
    Result,
    require_columns,
)
from evalkit.stats.effects._wild import WildResult

__all__ = ["complete_rows", "require_variation", "mean_se", "cr2_notes", "with_wild_bootstrap"]


def complete_rows(data: pd.DataFrame, columns: Sequence[str | None], numeric: Sequence[str] = ()) -> pd.DataFrame:
    """Complete rows of the named columns; ``numeric`` ones must hold numbers."""
    cols = list(dict.fromkeys(c for c in columns if c is not None))
    require_columns(data, *cols)
    for col in numeric:
        if not pd.api.types.is_numeric_dtype(data[col]):
            raise InputError(f"'{col}' must be numeric, not {data[col].dtype}")
    out = data[cols].dropna()
    if out.empty:
        raise InputError("no complete rows in the data for the requested columns")
    return out


def require_variation(values: np.ndarray, col: str) -> None:
    if np.ptp(values) == 0:
        raise EstimationError(f"'{col}' is constant: there is no variation to estimate an effect from")


def mean_se(values: np.ndarray) -> tuple[float, float, int]:
    n = len(values)
    if n < 2:
        raise EstimationError(f"a cell has {n} observation(s): a mean and its SE need at least 2")
    return float(np.mean(values)), float(np.std(values, ddof=1) / np.sqrt(n)), n


def cr2_notes(df: float) -> list[str]:
    """Say so when the Satterthwaite df show that a handful of clusters carry the estimate."""
    if df < 4:
        return [f"Satterthwaite df {df:.1f}: a few clusters carry the estimate, so the CR2 interval is wide"]
    return []


def with_wild_bootstrap(res: Result, boot: WildResult, seed: int | None) -> Result:
    """``res`` with p and CI of its single row taken from the wild bootstrap."""
    res.table.loc[:, ["p", "ci_low", "ci_high"]] = [[boot.p, boot.ci_low, boot.ci_high]]
    n_clusters = res.stats["n_clusters"]
    draws = "all sign vectors enumerated" if boot.enumerated else f"{boot.reps} draws, seed {seed}"
    res.stats.update(boot_reps=boot.reps, boot_weights=boot.weights)
    res.warnings = [w for w in res.warnings if "(se_type='wild')" not in w]
    if n_clusters < 10:
        res.warnings.append(f"only {n_clusters} clusters: even the wild cluster bootstrap is fragile here")
    if not np.isfinite([boot.ci_low, boot.ci_high]).all():
        res.warnings.append("the bootstrap confidence interval is unbounded: too few clusters to bound the effect")
    res.method = res.method.split("; ")[0] + (
        f"; p and CI: wild cluster restricted bootstrap-t, {boot.weights} weights, {draws}, "
        "CI by test inversion (as boottest)"
    )
    return res
