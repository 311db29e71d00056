"""Checked answers for the exercise notebooks in ``notebooks/exercises/``.

A student loads an exercise's data with :func:`load`, computes an answer with
evalkit and submits it with :func:`check`, which says whether it is right and,
if not, gives the first of three hints; :func:`hint` gives the others on
request (1 the idea, 2 the evalkit function, 3 the call).

The installed package holds no expected value. ``exercise_data/answers.yaml``
stores a salted SHA-256 of each, and :func:`check` hashes the submission the
same way. Two kinds of check:

- ``value`` / ``interval``: a published figure (Card & Krueger 1994, R
  survival, metafor, MASS ...), hashed as printed ("1.23"). The submission is
  rounded to the same decimals, so it passes within half a unit of the last
  printed decimal, both ends included (1.23 printed to two decimals: 1.225 to
  1.235; a submission within 1e-9 of an end is rounded both ways);
- ``truth``: synthetic data generated with a known true effect, hashed on a
  grid (3 decimals, or 3 significant digits for a ratio). The student submits
  ``(estimate, ci_low, ci_high)``; it passes when the truth lies in the 95% CI
  (every grid point in the CI is hashed: a few thousand at most) and the CI
  is no wider than a stated bound, so that an uninformative interval cannot
  pass. A correct analysis still misses the truth about one time in twenty.

The hashes keep the answers out of sight, not secret: a figure printed to a
few decimals has few candidates, which a loop (over them, or over
:func:`check`) finds. The plain key is in the repository's tests, not in the
package; the generated data ship as CSVs, without their parameters. The
capstone's truth is that of :class:`evalkit.synth.Effects`: :func:`reveal`.

Set the environment variable ``EVALKIT_CHECK_LOG`` to a file name to have
every check appended to it as a JSON line (the tests use this).
"""
from __future__ import annotations

import copy
import hashlib
import html
import itertools
import json
import math
import os
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, Iterator

import numpy as np
import pandas as pd
import yaml

from .result import InputError
from .synth import Effects

__all__ = ["CheckResult", "check", "hint", "reveal", "load", "list_exercises", "answer_key"]

_DATA = {
    "card_krueger": "card_krueger_mhe.csv",
    "lung": "lung.csv",
    "rossi": "rossi.csv",
    "ships": "ships.csv",
    "bcg": "dat_bcg.csv",
    "costs_its": "costs_its.csv",
    "worker_survey": "worker_survey.csv",
}
_SLACK = 1e-9  # float representation of a boundary value such as 1.225
_PUBLIC = ("kind", "decimals", "scale", "digits", "max_width", "source", "question", "sha256")
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
        return (f"<div class='evalkit-check' style='color:{_COLOUR[self.status]}'>"
                f"<b>{_MARK[self.status]} {html.escape(self.exercise_id)}</b>: "
                f"{html.escape(self.message)}{hint}</div>")


@lru_cache(maxsize=1)
def _key() -> dict[str, Any]:
    text = resources.files("evalkit").joinpath("exercise_data/answers.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def answer_key() -> dict[str, Any]:
    """The questions of the exercises and how they are checked; no answers.

    Returns
    -------
    dict
        ``exercises``: notebook and check ids per exercise; ``checks``: per
        check its ``kind``, ``question``, ``source`` (published figures),
        ``decimals`` or ``scale``, ``digits`` and ``max_width`` (truths), and
        ``sha256``, the salted hash that :func:`check` compares with. The
        expected values are not in the installed package (the module
        docstring says where they are); hints come from :func:`hint`.

    Examples
    --------
    >>> from evalkit.exercises import answer_key
    >>> spec = answer_key()["checks"]["ck_did"]
    >>> spec["kind"], spec["decimals"], "value" in spec
    ('value', 2, False)
    """
    key = _key()
    checks = {cid: {k: v for k, v in spec.items() if k in _PUBLIC} for cid, spec in key["checks"].items()}
    return {"exercises": copy.deepcopy(key["exercises"]), "checks": checks}


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
    key = _key()
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
    if name not in _DATA:
        raise InputError(f"no exercise data set named {name!r}; choose one of: {', '.join(_DATA)}")
    with resources.files("evalkit").joinpath(f"exercise_data/{_DATA[name]}").open("rb") as fh:
        return pd.read_csv(fh)


def hint(exercise_id: str, step: int = 1) -> str:
    """A hint to a check, in three steps: ask for the next when stuck.

    Parameters
    ----------
    exercise_id : str
        The id of the check (see :func:`list_exercises`).
    step : {1, 2, 3}
        1: the idea (what :func:`check` shows after a wrong answer);
        2: the evalkit function or module; 3: the call that computes it.
        No step contains the answer.

    Returns
    -------
    str

    Examples
    --------
    >>> from evalkit.exercises import hint
    >>> print(hint("lung_median", 2))
    evalkit.survival.median_survival, on time and status; the estimate column.
    """
    if isinstance(step, bool) or step not in (1, 2, 3):
        raise InputError(f"step must be 1 (the idea), 2 (the function) or 3 (the call), not {step!r}")
    return _spec(exercise_id)["hints"][step - 1]


def reveal(name: str, dataset: Any = None) -> pd.DataFrame:
    """The true effects built into an exercise's synthetic data: call it once you have answered.

    Parameters
    ----------
    name : {"capstone"}
        The capstone's truth is :class:`evalkit.synth.Effects`; the truths of
        ``costs_its`` and ``worker_survey`` are not in the package.
    dataset : evalkit.synth.SyntheticDataset, optional
        The capstone's data (its ``meta["true_effects"]``); default
        ``Effects()``, which the checks use.

    Returns
    -------
    pandas.DataFrame
        One row per effect: ``value`` and ``definition``.

    Examples
    --------
    >>> from evalkit.exercises import reveal
    >>> float(reveal("capstone").loc["hr_close", "value"])
    1.25
    """
    if name != "capstone":
        raise InputError(f"reveal() knows only 'capstone', not {name!r}: the truths of the generated data "
                         "of the other exercises are not in the package; check() says whether your CI covers them")
    effects = Effects().describe() if dataset is None else dataset.meta["true_effects"]
    return pd.DataFrame(effects).T


def check(exercise_id: str, value: Any) -> CheckResult:
    """Check a submitted answer against the (hashed) answer key.

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
        ✓ / ✗ / ○ with a message and the first hint (``hint(id, 2)`` gives
        the next); true when correct.

    Examples
    --------
    >>> from evalkit.exercises import check
    >>> check("ck_did", 1.0).status, check("ck_did", ...).status
    ('incorrect', 'not answered')
    >>> print(check("ck_did", ...).hint)
    The difference-in-differences, NJ change minus PA change, balanced sample.
    """
    spec = _spec(exercise_id)
    if value is None or value is Ellipsis:
        result = CheckResult(exercise_id, "not answered", "not answered yet: replace ... with your answer",
                             spec["question"])
    else:
        result = _JUDGES[spec["kind"]](exercise_id, spec, value)
    _log(result)
    return result


def _spec(exercise_id: str) -> dict[str, Any]:
    spec = _key()["checks"].get(exercise_id)
    if spec is None:
        raise InputError(f"no check named {exercise_id!r}; evalkit.exercises.list_exercises() lists them")
    return spec


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
    # text such as "1.23" is typed in, not computed: refuse it like any other non-number
    if arr.dtype.kind not in "iuf" or arr.size != n or not np.all(np.isfinite(arr)):
        return None
    return [float(v) for v in arr.ravel()]


# --- hashing ---------------------------------------------------------------------------------

def _hit(cid: str, spec: dict[str, Any], texts: Any) -> bool:
    """Whether one of ``texts`` is the expected value as answers.yaml hashed it."""
    salt = _key()["salt"]
    return any(hashlib.sha256(f"{salt}|{cid}|{t}".encode()).hexdigest() == spec["sha256"] for t in texts)


def _fixed(n: int, decimals: int) -> str:
    """``n * 10**-decimals`` printed exactly ("-123", 2: "-1.23"); zero has no sign."""
    digits = str(abs(n)).rjust(decimals + 1, "0")
    text = f"{digits[:-decimals]}.{digits[-decimals:]}" if decimals else digits
    return ("-" if n < 0 else "") + text


def _printed(v: float, decimals: int, spread: int = 0) -> list[str]:
    """``v`` printed to ``decimals``: both neighbours at a tie (within _SLACK), ``spread`` more each side."""
    scaled, slack = v * 10.0 ** decimals, 0.5 + _SLACK * 10.0 ** decimals
    if not abs(scaled) < 1e15:
        return []
    lo, hi = math.ceil(scaled - slack) - spread, math.floor(scaled + slack) + spread
    return [_fixed(n, decimals) for n in range(lo, hi + 1)]


def _grid(lo: float, hi: float, spec: dict[str, Any]):
    """The grid points of a truth check inside ``[lo, hi]``, as hashed."""
    d = spec["digits"]
    if spec["scale"] == "ratio":  # d significant digits: "1.23e-01"
        points: Iterator[str] = (f"{m / 10 ** (d - 1):.{d - 1}f}e{e:+03d}" for e in
                  range(math.floor(math.log10(lo)), math.floor(math.log10(hi)) + 1)
                  for m in range(10 ** (d - 1), 10 ** d))
    elif abs(lo) < 1e12 and abs(hi) < 1e12:  # d decimals: "0.123"
        points = (_fixed(n, d) for n in range(math.floor(lo * 10 ** d) - 1, math.ceil(hi * 10 ** d) + 2))
    else:
        points = iter(())
    return (p for p in points if lo <= float(p) <= hi)


# --- the judges ------------------------------------------------------------------------------

def _more(cid: str) -> str:
    return f' (exercises.hint("{cid}", 2) says more)'


def _judge_value(cid: str, spec: dict[str, Any], value: Any) -> CheckResult:
    got = _numbers(value, 1)
    if got is None:
        return CheckResult(cid, "incorrect", f"expected one finite number, got {_show(value)}",
                           "submit a single number, e.g. res.table.loc['row', 'column']")
    v, d = got[0], spec["decimals"]
    shown = f"{v:.{d}f}"
    if _hit(cid, spec, _printed(v, d)):
        return CheckResult(cid, "correct", f"{shown} matches {spec['source']} to {d} decimals")
    return CheckResult(cid, "incorrect", f"{shown} does not match {spec['source']}", _diagnose(cid, spec, v))


def _diagnose(cid: str, spec: dict[str, Any], v: float) -> str:
    """A diagnosis of common slips (sign, log scale, percent) before the exercise's first hint."""
    d = spec["decimals"]
    pct = "percent versus proportion: check the scale"
    slips = [(-v, "right size, wrong sign: which group is subtracted from which?"),
             (math.exp(min(v, 700)), "this is on the log scale: exponentiate it (np.exp) to get the ratio"),
             (math.log(v) if v > 0 else math.inf, "this is a ratio: the question asks for the log-scale coefficient"),
             (100 * v, pct), (v / 100, pct)]
    for candidate, text in slips:
        if _hit(cid, spec, _printed(candidate, d)):
            return text + _more(cid)
    if d > 0 and _hit(cid, spec, _printed(v, d, spread=10)):  # within 20 half-units
        return "close, but not to the published precision: " + spec["hints"][0] + _more(cid)
    return spec["hints"][0] + _more(cid)


def _judge_interval(cid: str, spec: dict[str, Any], value: Any) -> CheckResult:
    got = _numbers(value, 2)
    if got is None:
        return CheckResult(cid, "incorrect", f"expected two numbers (low, high), got {_show(value)}",
                           "submit a pair, e.g. (ci_low, ci_high)")
    (lo, hi), d = got, spec["decimals"]
    shown = f"({lo:.{d}f}, {hi:.{d}f})"
    if _hit(cid, spec, ("|".join(p) for p in itertools.product(_printed(lo, d), _printed(hi, d)))):
        return CheckResult(cid, "correct", f"{shown} matches {spec['source']} to {d} decimals")
    if lo > hi:
        return CheckResult(cid, "incorrect", f"{shown} is not (low, high)", "put the lower limit first")
    return CheckResult(cid, "incorrect", f"{shown} does not match {spec['source']}", spec["hints"][0] + _more(cid))


def _judge_truth(cid: str, spec: dict[str, Any], value: Any) -> CheckResult:
    got = _numbers(value, 3)
    if got is None:
        return CheckResult(cid, "incorrect", f"expected (estimate, ci_low, ci_high), got {_show(value)}",
                           "submit three numbers: the estimate and its 95% CI limits")
    est, lo, hi = got
    ratio = spec["scale"] == "ratio"
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
    if width > spec["max_width"]:  # checked first: it bounds the grid that _grid walks
        return CheckResult(cid, "incorrect", f"{shown}: too wide to be informative ({width_text})",
                           f"a suitable analysis of these data gives a 95% CI with {'hi/lo' if ratio else 'width'} "
                           f"under {spec['max_width']}: " + spec["hints"][0] + _more(cid))
    if not _hit(cid, spec, _grid(lo, hi, spec)):
        return CheckResult(cid, "incorrect", f"{shown}: the true value lies outside your 95% CI",
                           spec["hints"][0] + " (A correct 95% CI still misses the truth about 1 time in 20, more "
                           "often when the model fits only approximately.)" + _more(cid))
    return CheckResult(cid, "correct", f"the true value lies in your 95% CI {shown} ({width_text})")


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


_JUDGES = {"value": _judge_value, "interval": _judge_interval, "truth": _judge_truth}
