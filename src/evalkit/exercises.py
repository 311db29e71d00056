"""Checked answers for the exercise notebooks in ``notebooks/exercises/``.

A student loads an exercise's data with :func:`load`, computes an answer with
evalkit and submits it with :func:`check`, which says whether it is right and,
if not, gives a hint. The expected values live in package data
(``exercise_data/answers.yaml``), not in the notebooks. Two kinds of check:

- ``value`` / ``interval``: a published figure (Card & Krueger 1994, R
  survival, metafor, MASS ...), accepted within half a unit of its last
  printed decimal (2.75 printed to two decimals: 2.745 to 2.755);
- ``truth``: synthetic data generated with a known true effect. The student
  submits ``(estimate, ci_low, ci_high)``; it passes when the truth lies in
  the 95% CI and the CI is no wider than a stated bound, so that an
  uninformative interval cannot pass. A correct analysis still misses the
  truth about one time in twenty; the hint says so.

Set the environment variable ``EVALKIT_CHECK_LOG`` to a file name to have
every check appended to it as a JSON line (the tests use this).
"""
from __future__ import annotations

import html
import json
import math
import os
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd
import yaml

from .result import InputError

__all__ = ["CheckResult", "check", "load", "list_exercises", "answer_key"]

_BUNDLED = {
    "card_krueger": "card_krueger_mhe.csv",
    "lung": "lung.csv",
    "rossi": "rossi.csv",
    "ships": "ships.csv",
    "bcg": "dat_bcg.csv",
}
_SLACK = 1e-9  # float representation of a boundary value such as 2.745
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
        What was compared (never the expected value of an unsolved check).
    hint : str
        What to look at when the answer is not (yet) correct.
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
        return (f"<div class='evalkit-check' style='color:{_COLOUR[self.status]}'>"
                f"<b>{_MARK[self.status]} {html.escape(self.exercise_id)}</b>: "
                f"{html.escape(self.message)}{hint}</div>")


@lru_cache(maxsize=1)
def answer_key() -> dict[str, Any]:
    """The parsed ``answers.yaml``: ``exercises``, ``checks`` and ``generated`` sections.

    Returns
    -------
    dict
        ``exercises``: notebook and check ids per exercise; ``checks``: per check
        its ``kind``, expected ``value`` and ``decimals`` (or ``truth``, ``scale``
        and ``max_width``), ``source``, ``question`` and ``hint``; ``generated``:
        the parameters of the generated data sets.

    Examples
    --------
    >>> from evalkit.exercises import answer_key
    >>> answer_key()["checks"]["ck_did"]["decimals"]
    2
    """
    text = resources.files("evalkit").joinpath("exercise_data/answers.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def list_exercises() -> pd.DataFrame:
    """Every check, by exercise: its notebook and the question it answers.

    Returns
    -------
    pandas.DataFrame
        Indexed by check id; columns ``exercise``, ``notebook``, ``kind``,
        ``question``.

    Examples
    --------
    >>> from evalkit.exercises import list_exercises
    >>> print(list_exercises().loc["lung_median", "notebook"])
    02_survival_lung
    """
    key = answer_key()
    rows = [{"check": cid, "exercise": name, "notebook": ex["notebook"], "kind": key["checks"][cid]["kind"],
             "question": key["checks"][cid]["question"]}
            for name, ex in key["exercises"].items() for cid in ex["checks"]]
    return pd.DataFrame(rows).set_index("check")


def load(name: str) -> pd.DataFrame:
    """The data of an exercise, as a DataFrame.

    Parameters
    ----------
    name : str
        ``card_krueger`` (Card & Krueger 1994, Angrist & Pischke's long
        version), ``lung`` (R survival ``lung``), ``rossi`` (Rossi et al.
        1980), ``ships`` (R MASS ``ships``), ``bcg`` (metafor ``dat.bcg``);
        or generated with known truth: ``costs_its`` (a municipality's
        monthly purchased-service costs), ``worker_survey`` (a two-wave
        worker wellbeing survey).

    Returns
    -------
    pandas.DataFrame
        The published data as distributed (``exercise_data/README.md`` names
        each source); ``costs_its``: ``month`` (``YYYY-MM``), ``cost_eur``;
        ``worker_survey``: ``worker_id``, ``arm``, ``wave``, ``score``.

    References
    ----------
    Card & Krueger (1994) AER 84:772-793; R survival ``lung``; Rossi, Berk &
    Lenihan (1980); McCullagh & Nelder (1989) section 6.3 (R MASS ``ships``);
    Colditz et al. (1994) JAMA 271:698-702 (R metafor ``dat.bcg``).

    Examples
    --------
    >>> from evalkit.exercises import load
    >>> len(load("lung")), len(load("costs_its"))
    (228, 72)
    """
    if name in _BUNDLED:
        with resources.files("evalkit").joinpath(f"exercise_data/{_BUNDLED[name]}").open("rb") as fh:
            return pd.read_csv(fh)
    if name == "costs_its":
        return _costs_its(**answer_key()["generated"]["costs_its"])
    if name == "worker_survey":
        return _worker_survey(**answer_key()["generated"]["worker_survey"])
    known = ", ".join([*_BUNDLED, "costs_its", "worker_survey"])
    raise InputError(f"no exercise data set named {name!r}; choose one of: {known}")


def check(exercise_id: str, value: Any) -> CheckResult:
    """Check a submitted answer against the answer key.

    Parameters
    ----------
    exercise_id : str
        The id printed in the exercise notebook (see :func:`list_exercises`).
    value
        A number; two numbers ``(low, high)`` for an interval; or
        ``(estimate, ci_low, ci_high)`` where the check compares with a
        known truth. ``None`` or ``...`` (the notebook's placeholder) means
        not answered yet. Never raises for a malformed value: it says what
        to submit instead.

    Returns
    -------
    CheckResult
        ✓ / ✗ / ○ with a message and a hint; true when correct.

    Examples
    --------
    >>> from evalkit.exercises import check
    >>> check("ck_did", 2.7504).status, check("ck_did", 2.7551).status, check("ck_did", ...).status
    ('correct', 'incorrect', 'not answered')
    """
    spec = answer_key()["checks"].get(exercise_id)
    if spec is None:
        raise InputError(f"no check named {exercise_id!r}; evalkit.exercises.list_exercises() lists them")
    if value is None or value is Ellipsis:
        result = CheckResult(exercise_id, "not answered", "not answered yet: replace ... with your answer",
                             spec["question"])
    else:
        result = _JUDGES[spec["kind"]](exercise_id, spec, value)
    _log(result)
    return result


def _log(result: CheckResult) -> None:
    path = os.environ.get("EVALKIT_CHECK_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"id": result.exercise_id, "status": result.status}) + "\n")


def _numbers(value: Any, n: int) -> list[float] | None:
    """``value`` as ``n`` finite floats (a scalar, sequence, array or Series), else None."""
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError):
        return None
    # text such as "2.75" is typed in, not computed: refuse it like any other non-number
    if arr.dtype.kind not in "iuf" or arr.size != n or not np.all(np.isfinite(arr)):
        return None
    return [float(v) for v in arr.ravel()]


def _tolerance(spec: dict[str, Any]) -> float:
    return 0.5 * 10.0 ** -spec["decimals"]


def _judge_value(cid: str, spec: dict[str, Any], value: Any) -> CheckResult:
    got = _numbers(value, 1)
    if got is None:
        return CheckResult(cid, "incorrect", f"expected one finite number, got {_show(value)}",
                           "submit a single number, e.g. res.table.loc['row', 'column']")
    v, want, tol = got[0], float(spec["value"]), _tolerance(spec)
    shown = f"{v:.{spec['decimals']}f}"
    if abs(v - want) <= tol + _SLACK:
        return CheckResult(cid, "correct", f"{shown} matches {spec['source']} to {spec['decimals']} decimals")
    return CheckResult(cid, "incorrect", f"{shown} does not match {spec['source']}", _hint(v, want, tol, spec))


def _hint(v: float, want: float, tol: float, spec: dict[str, Any]) -> str:
    """A diagnosis of common slips (sign, log scale, percent) before the exercise's own hint."""
    slips = [
        (-v, "right size, wrong sign: which group is subtracted from which?"),
        (math.exp(v) if abs(v) < 700 else math.inf,
         "this is on the log scale: exponentiate it (np.exp) to get the ratio"),
        (math.log(v) if v > 0 else math.inf, "this is a ratio: the question asks for the log-scale coefficient"),
        (100 * v, "percent versus proportion: check the scale"),
        (v / 100, "percent versus proportion: check the scale"),
    ]
    for candidate, hint in slips:
        if abs(candidate - want) <= tol + _SLACK:
            return hint
    if spec["decimals"] > 0 and abs(v - want) <= 20 * tol:
        return "close, but not to the published precision: " + spec["hint"]
    return spec["hint"]


def _judge_interval(cid: str, spec: dict[str, Any], value: Any) -> CheckResult:
    got = _numbers(value, 2)
    if got is None:
        return CheckResult(cid, "incorrect", f"expected two numbers (low, high), got {_show(value)}",
                           "submit a pair, e.g. (ci_low, ci_high)")
    lo, hi = got
    want_lo, want_hi = (float(x) for x in spec["value"])
    tol = _tolerance(spec)
    shown = f"({lo:.{spec['decimals']}f}, {hi:.{spec['decimals']}f})"
    if abs(lo - want_lo) <= tol + _SLACK and abs(hi - want_hi) <= tol + _SLACK:
        return CheckResult(cid, "correct", f"{shown} matches {spec['source']} to {spec['decimals']} decimals")
    if lo > hi:
        return CheckResult(cid, "incorrect", f"{shown} is not (low, high)", "put the lower limit first")
    return CheckResult(cid, "incorrect", f"{shown} does not match {spec['source']}", spec["hint"])


def _judge_truth(cid: str, spec: dict[str, Any], value: Any) -> CheckResult:
    got = _numbers(value, 3)
    if got is None:
        return CheckResult(cid, "incorrect", f"expected (estimate, ci_low, ci_high), got {_show(value)}",
                           "submit three numbers: the estimate and its 95% CI limits")
    est, lo, hi = got
    truth, ratio = float(spec["truth"]), spec["scale"] == "ratio"
    shown = f"{est:.4g} ({lo:.4g} to {hi:.4g})"
    if not lo <= est <= hi:
        return CheckResult(cid, "incorrect", f"{shown}: the estimate is not inside its CI",
                           "submit (estimate, ci_low, ci_high) in that order")
    if ratio and lo <= 0:
        return CheckResult(cid, "incorrect", f"{shown}: a ratio is positive",
                           "submit the ratio and its CI (the ratio columns, or exp of a log-scale estimate); "
                           "a difference in euros or days is not a ratio")
    width = hi / lo if ratio else hi - lo
    width_text = f"hi/lo = {width:.3g}" if ratio else f"width {width:.3g}"
    if width > spec["max_width"]:
        return CheckResult(cid, "incorrect", f"{shown}: too wide to be informative ({width_text})",
                           f"a suitable analysis of these data gives a 95% CI with {'hi/lo' if ratio else 'width'} "
                           f"under {spec['max_width']}: " + spec["hint"])
    if not lo <= truth <= hi:
        return CheckResult(cid, "incorrect", f"{shown}: the true value lies outside your 95% CI",
                           spec["hint"] + " (A correct 95% CI still misses the truth about 1 time in 20, more "
                           "often when the model fits only approximately.)")
    return CheckResult(cid, "correct", f"the true value {truth:g} lies in your 95% CI {shown} ({width_text})")


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


_JUDGES = {"value": _judge_value, "interval": _judge_interval, "truth": _judge_truth}


# --- generated data with known truth ---------------------------------------------------------

def _costs_its(*, seed: int, months: int, first: str, start: str, base_eur: float, growth_per_year: float,
               level_ratio: float, slope_ratio: float, noise_sd: float) -> pd.DataFrame:
    """Monthly purchased-service costs: log-linear trend, two seasonal harmonics, a level and a
    slope change from ``start`` (start month = month 1 of the slope, as evalkit.trends.its),
    log-normal noise. Pure sinusoids, so ``harmonics=2`` is the true seasonal model."""
    rng = np.random.default_rng(seed)
    period = pd.period_range(first, periods=months, freq="M")
    t = np.arange(1, months + 1)
    since = t - (period.get_loc(pd.Period(start, "M")) + 1) + 1
    post = since >= 1
    season = 0.08 * np.cos(2 * np.pi * t / 12) + 0.04 * np.sin(4 * np.pi * t / 12)
    log_mu = (np.log(base_eur) + np.log(growth_per_year) / 12 * t + season
              + post * (np.log(level_ratio) + np.log(slope_ratio) * since))
    cost = np.round(np.exp(log_mu + rng.normal(0.0, noise_sd, months)))
    return pd.DataFrame({"month": period.astype(str), "cost_eur": cost})


def _worker_survey(*, seed: int, workers_per_arm: int, baseline: float, person_sd: float, noise_sd: float,
                   comparison_change: float, true_change: float) -> pd.DataFrame:
    """Two waves of a wellbeing scale (mean of four Likert 1-5 items, so quarter points).
    The pilot's change exceeds the comparison's by ``true_change`` in expectation."""
    rng = np.random.default_rng(seed)
    n = 2 * workers_per_arm
    pilot = np.repeat([1, 0], workers_per_arm)
    person = baseline + rng.normal(0.0, person_sd, n)
    rows = []
    for wave in (1, 2):
        shift = (wave == 2) * (comparison_change + true_change * pilot)
        score = np.clip(np.round(4 * (person + shift + rng.normal(0.0, noise_sd, n))) / 4, 1.0, 5.0)
        rows.append(pd.DataFrame({"worker_id": [f"W{i + 1:03d}" for i in range(n)],
                                  "arm": np.where(pilot == 1, "pilot", "comparison"), "wave": wave,
                                  "score": score}))
    return pd.concat(rows, ignore_index=True)
