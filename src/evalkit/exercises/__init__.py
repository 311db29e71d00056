"""Checked answers for the exercise notebooks in ``notebooks/exercises/``.

A student loads an exercise's data with :func:`load`, computes an answer with
evalkit and submits it with :func:`check`, which says whether it is right and,
if not, gives the first of three hints; :func:`hint` gives the others on
request (1 the idea, 2 the evalkit function, 3 the call).

The installed package holds no expected value. ``exercises/answers.yaml``
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
import json
import os
from importlib import resources
from typing import Any

import pandas as pd

from evalkit import datasets
from evalkit.core.result import InputError
from evalkit.exercises._judge import JUDGES, CheckResult
from evalkit.exercises._judge import key as _key
from evalkit.synth import Effects

__all__ = ["CheckResult", "check", "hint", "reveal", "load", "list_exercises", "answer_key"]

#: the exercises' data: published sets from evalkit.datasets, generated ones shipped beside this module
_PUBLISHED = {"card_krueger": "card_krueger_mhe", "lung": "lung", "rossi": "rossi", "ships": "ships", "bcg": "dat_bcg"}
_GENERATED = {"costs_its": "costs_its.csv", "worker_survey": "worker_survey.csv"}
_DATA = {**_PUBLISHED, **_GENERATED}
_PUBLIC = ("kind", "decimals", "scale", "digits", "max_width", "source", "question", "sha256")


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
    rows = [
        {
            "check": cid,
            "exercise": name,
            "notebook": ex["notebook"],
            "kind": key["checks"][cid]["kind"],
            "question": key["checks"][cid]["question"],
        }
        for name, ex in key["exercises"].items()
        for cid in ex["checks"]
    ]
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
        The published data as distributed (``evalkit/datasets/README.md`` names
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
    if name in _PUBLISHED:
        return datasets.load(_PUBLISHED[name])
    with resources.files(__name__).joinpath(_GENERATED[name]).open("rb") as fh:
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
        raise InputError(
            f"reveal() knows only 'capstone', not {name!r}: the truths of the generated data "
            "of the other exercises are not in the package; check() says whether your CI covers them"
        )
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
        result = CheckResult(
            exercise_id, "not answered", "not answered yet: replace ... with your answer", spec["question"]
        )
    else:
        result = JUDGES[spec["kind"]](exercise_id, spec, value)
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
