"""Private helpers of :func:`evalkit.meta.effect_sizes`: metafor::escalc's formulas."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special

from evalkit.core.result import InputError

__all__ = ["BINARY", "ROLES", "column", "tables", "binary", "smd"]

BINARY = ("RR", "OR", "RD")
ROLES = {"ai", "bi", "ci", "di", "n1i", "n2i", "m1i", "m2i", "sd1i", "sd2i"}


def column(data: pd.DataFrame, columns: dict[str, str], role: str) -> np.ndarray:
    """The numeric column playing ``role``; rows that are missing or not numeric are named."""
    values = pd.to_numeric(data[columns[role]], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values)
    if bad.any():
        raise InputError(
            f"{role} ({columns[role]}) is missing or not numeric in row(s): " + ", ".join(map(str, data.index[bad]))
        )
    return values


def tables(data: pd.DataFrame, columns: dict[str, str]) -> tuple[np.ndarray, ...]:
    """The four cells of each 2x2 table, from ai/bi/ci/di or ai/n1i/ci/n2i."""
    if {"ai", "bi", "ci", "di"} <= columns.keys():
        a, b, c, d = (column(data, columns, r) for r in ("ai", "bi", "ci", "di"))
    elif {"ai", "n1i", "ci", "n2i"} <= columns.keys():
        a, c = column(data, columns, "ai"), column(data, columns, "ci")
        b, d = column(data, columns, "n1i") - a, column(data, columns, "n2i") - c
    else:
        raise InputError("binary measures need ai, bi, ci, di (or ai, n1i, ci, n2i) column names")
    if (np.vstack([a, b, c, d]) < 0).any():
        raise InputError("2x2 cell counts must be >= 0 (events cannot exceed group size)")
    return a, b, c, d


def binary(measure: str, a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray):
    """yi and vi of RR (log), OR (log) or RD from the (already corrected) cells."""
    n1, n2 = a + b, c + d
    if measure == "RR":
        return np.log(a / n1) - np.log(c / n2), 1 / a - 1 / n1 + 1 / c - 1 / n2
    if measure == "OR":
        return np.log(a * d / (b * c)), 1 / a + 1 / b + 1 / c + 1 / d
    p1, p2 = a / n1, c / n2
    return p1 - p2, p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2


def _hedges_j(m: np.ndarray) -> np.ndarray:
    """Exact small-sample correction J(m) = G(m/2) / (sqrt(m/2) G((m-1)/2)) (Hedges 1981)."""
    return np.exp(special.gammaln(m / 2) - 0.5 * np.log(m / 2) - special.gammaln((m - 1) / 2))


def smd(data: pd.DataFrame, columns: dict[str, str]):
    """Hedges' g with the exact J and escalc's large-sample ("LS") variance."""
    need = ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i")
    missing = [r for r in need if r not in columns]
    if missing:
        raise InputError(f"SMD needs column names for {', '.join(missing)}")
    m1, s1, n1, m2, s2, n2 = (column(data, columns, r) for r in need)
    if (n1 < 2).any() or (n2 < 2).any() or (s1 < 0).any() or (s2 < 0).any():
        raise InputError("SMD needs n >= 2 per group and SDs >= 0")
    sp = np.sqrt(((n1 - 1) * s1**2 + (n2 - 1) * s2**2) / (n1 + n2 - 2))
    if (sp == 0).any():
        raise InputError("pooled SD is 0 in row(s): " + ", ".join(map(str, data.index[sp == 0])))
    g = _hedges_j(n1 + n2 - 2) * (m1 - m2) / sp
    return g, 1 / n1 + 1 / n2 + g**2 / (2 * (n1 + n2))
