"""The judges of evalkit's exercises: a submission against the hashed answer key (private).

``answers.yaml`` holds a salted SHA-256 of each expected value as printed to
its decimals, or of a known truth on a grid; a judge prints the submission
the same way and compares hashes, so no expected value is stored in plain
text (``exercises/README.md``).
"""

from __future__ import annotations

import hashlib
import html
import itertools
import math
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, Iterator

import numpy as np
import yaml

__all__ = ["CheckResult", "JUDGES", "key", "numbers"]

_SLACK = 1e-9  # float representation of a boundary value such as 1.225
_MARK = {"correct": "✓", "incorrect": "✗", "not answered": "○"}
_COLOUR = {"correct": "#1a7f37", "incorrect": "#b42318", "not answered": "#667085"}


@dataclass(frozen=True)
class CheckResult:
    """The verdict on one submitted answer.

    Attributes
    ----------
    exercise_id : str
    status : {"correct", "incorrect", "not answered"}
    message : str
        What was compared (never an expected value).
    hint : str
        What to look at when the answer is not (yet) correct: the first step
        of :func:`hint`, or a diagnosis of a common slip.
    """

    exercise_id: str
    status: str
    message: str
    hint: str = ""

    @property
    def passed(self) -> bool:
        return self.status == "correct"

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        text = f"{_MARK[self.status]} {self.exercise_id}: {self.message}"
        return text + (f"\n  hint: {self.hint}" if self.hint else "")

    def _repr_html_(self) -> str:
        hint = f"<br><i>hint:</i> {html.escape(self.hint)}" if self.hint else ""
        return (
            f"<div class='evalkit-check' style='color:{_COLOUR[self.status]}'>"
            f"<b>{_MARK[self.status]} {html.escape(self.exercise_id)}</b>: "
            f"{html.escape(self.message)}{hint}</div>"
        )


@lru_cache(maxsize=1)
def key() -> dict[str, Any]:
    text = resources.files("evalkit.exercises").joinpath("answers.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def numbers(value: Any, n: int) -> list[float] | None:
    """``value`` as ``n`` finite floats (a scalar, sequence, array or Series), else None."""
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError):
        return None
    # text such as "1.23" is typed in, not computed: refuse it like any other non-number
    if arr.dtype.kind not in "iuf" or arr.size != n or not np.all(np.isfinite(arr)):
        return None
    return [float(v) for v in arr.ravel()]


# --- hashing ---------------------------------------------------------------------------------


def _hit(cid: str, spec: dict[str, Any], texts: Any) -> bool:
    """Whether one of ``texts`` is the expected value as answers.yaml hashed it."""
    salt = key()["salt"]
    return any(hashlib.sha256(f"{salt}|{cid}|{t}".encode()).hexdigest() == spec["sha256"] for t in texts)


def _fixed(n: int, decimals: int) -> str:
    """``n * 10**-decimals`` printed exactly ("-123", 2: "-1.23"); zero has no sign."""
    digits = str(abs(n)).rjust(decimals + 1, "0")
    text = f"{digits[:-decimals]}.{digits[-decimals:]}" if decimals else digits
    return ("-" if n < 0 else "") + text


def _printed(v: float, decimals: int, spread: int = 0) -> list[str]:
    """``v`` printed to ``decimals``: both neighbours at a tie (within _SLACK), ``spread`` more each side."""
    scaled, slack = v * 10.0**decimals, 0.5 + _SLACK * 10.0**decimals
    if not abs(scaled) < 1e15:
        return []
    lo, hi = math.ceil(scaled - slack) - spread, math.floor(scaled + slack) + spread
    return [_fixed(n, decimals) for n in range(lo, hi + 1)]


def _grid(lo: float, hi: float, spec: dict[str, Any]):
    """The grid points of a truth check inside ``[lo, hi]``, as hashed."""
    d = spec["digits"]
    if spec["scale"] == "ratio":  # d significant digits: "1.23e-01"
        points: Iterator[str] = (
            f"{m / 10 ** (d - 1):.{d - 1}f}e{e:+03d}"
            for e in range(math.floor(math.log10(lo)), math.floor(math.log10(hi)) + 1)
            for m in range(10 ** (d - 1), 10**d)
        )
    elif abs(lo) < 1e12 and abs(hi) < 1e12:  # d decimals: "0.123"
        points = (_fixed(n, d) for n in range(math.floor(lo * 10**d) - 1, math.ceil(hi * 10**d) + 2))
    else:
        points = iter(())
    return (p for p in points if lo <= float(p) <= hi)


# --- the judges ------------------------------------------------------------------------------


def _more(cid: str) -> str:
    return f' (exercises.hint("{cid}", 2) says more)'


def _judge_value(cid: str, spec: dict[str, Any], value: Any) -> CheckResult:
    got = numbers(value, 1)
    if got is None:
        return CheckResult(
            cid,
            "incorrect",
            f"expected one finite number, got {_show(value)}",
            "submit a single number, e.g. res.table.loc['row', 'column']",
        )
    v, d = got[0], spec["decimals"]
    shown = f"{v:.{d}f}"
    if _hit(cid, spec, _printed(v, d)):
        return CheckResult(cid, "correct", f"{shown} matches {spec['source']} to {d} decimals")
    return CheckResult(cid, "incorrect", f"{shown} does not match {spec['source']}", _diagnose(cid, spec, v))


def _diagnose(cid: str, spec: dict[str, Any], v: float) -> str:
    """A diagnosis of common slips (sign, log scale, percent) before the exercise's first hint."""
    d = spec["decimals"]
    pct = "percent versus proportion: check the scale"
    slips = [
        (-v, "right size, wrong sign: which group is subtracted from which?"),
        (math.exp(min(v, 700)), "this is on the log scale: exponentiate it (np.exp) to get the ratio"),
        (math.log(v) if v > 0 else math.inf, "this is a ratio: the question asks for the log-scale coefficient"),
        (100 * v, pct),
        (v / 100, pct),
    ]
    for candidate, text in slips:
        if _hit(cid, spec, _printed(candidate, d)):
            return text + _more(cid)
    if d > 0 and _hit(cid, spec, _printed(v, d, spread=10)):  # within 20 half-units
        return "close, but not to the published precision: " + spec["hints"][0] + _more(cid)
    return spec["hints"][0] + _more(cid)


def _judge_interval(cid: str, spec: dict[str, Any], value: Any) -> CheckResult:
    got = numbers(value, 2)
    if got is None:
        return CheckResult(
            cid,
            "incorrect",
            f"expected two numbers (low, high), got {_show(value)}",
            "submit a pair, e.g. (ci_low, ci_high)",
        )
    (lo, hi), d = got, spec["decimals"]
    shown = f"({lo:.{d}f}, {hi:.{d}f})"
    if _hit(cid, spec, ("|".join(p) for p in itertools.product(_printed(lo, d), _printed(hi, d)))):
        return CheckResult(cid, "correct", f"{shown} matches {spec['source']} to {d} decimals")
    if lo > hi:
        return CheckResult(cid, "incorrect", f"{shown} is not (low, high)", "put the lower limit first")
    return CheckResult(cid, "incorrect", f"{shown} does not match {spec['source']}", spec["hints"][0] + _more(cid))


def _judge_truth(cid: str, spec: dict[str, Any], value: Any) -> CheckResult:
    got = numbers(value, 3)
    if got is None:
        return CheckResult(
            cid,
            "incorrect",
            f"expected (estimate, ci_low, ci_high), got {_show(value)}",
            "submit three numbers: the estimate and its 95% CI limits",
        )
    est, lo, hi = got
    ratio = spec["scale"] == "ratio"
    shown = f"{est:.4g} ({lo:.4g} to {hi:.4g})"
    if not lo <= est <= hi:
        return CheckResult(
            cid,
            "incorrect",
            f"{shown}: the estimate is not inside its CI",
            "submit (estimate, ci_low, ci_high) in that order",
        )
    if ratio and lo <= 0:
        return CheckResult(
            cid,
            "incorrect",
            f"{shown}: a ratio is positive",
            "submit the ratio and its CI (the ratio columns, or exp of a log-scale estimate); "
            "a difference in euros or days is not a ratio",
        )
    width = hi / lo if ratio else hi - lo
    width_text = f"hi/lo = {width:.3g}" if ratio else f"width {width:.3g}"
    if width > spec["max_width"]:  # checked first: it bounds the grid that _grid walks
        return CheckResult(
            cid,
            "incorrect",
            f"{shown}: too wide to be informative ({width_text})",
            f"a suitable analysis of these data gives a 95% CI with {'hi/lo' if ratio else 'width'} "
            f"under {spec['max_width']}: " + spec["hints"][0] + _more(cid),
        )
    if not _hit(cid, spec, _grid(lo, hi, spec)):
        return CheckResult(
            cid,
            "incorrect",
            f"{shown}: the true value lies outside your 95% CI",
            spec["hints"][0] + " (A correct 95% CI still misses the truth about 1 time in 20, more "
            "often when the model fits only approximately.)" + _more(cid),
        )
    return CheckResult(cid, "correct", f"the true value lies in your 95% CI {shown} ({width_text})")


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


JUDGES = {"value": _judge_value, "interval": _judge_interval, "truth": _judge_truth}
