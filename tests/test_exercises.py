"""Tests of evalkit.exercises and the exercise notebooks.

Four parts: the check logic (tolerances at their edges, never raising on a
malformed answer); the answer key, which the package keeps only as salted
hashes (each hash checked against the plain key in
``tests/data/exercise_answers.yaml``, which is not installed; no expected
value in plain text in the installed package; published values cross-checked
where an independent computation exists; the generated data regenerated from
their parameters, which live here); the hints in steps; and the notebooks,
executed with papermill: every solution must pass every check, every exercise
must run unanswered with every check "not answered" and show no answer.
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
from importlib import resources
from pathlib import Path

import jupytext
import numpy as np
import pandas as pd
import pytest
import scipy.stats
import yaml

import evalkit
from evalkit import datasets
from evalkit import InputError
from evalkit.exercises import answer_key, check, hint, list_exercises, load, reveal
from evalkit.synth import Effects

ROOT = Path(__file__).resolve().parents[1]
NB_DIR = ROOT / "notebooks" / "exercises"
SOL_DIR = NB_DIR / "solutions"
DATA = Path(__file__).resolve().parent / "data"
PACKAGE = Path(evalkit.__file__).resolve().parent
NOTEBOOKS = sorted(p.stem for p in NB_DIR.glob("[0-9]*.py"))
CHECK_CALL = re.compile(r'(?m)^exercises\.check\("([^"]+)", answer\)')  # code lines, not prose
#: the plain key: expected values, truths and the parameters of the generated data (never installed)
PLAIN = yaml.safe_load((DATA / "exercise_answers.yaml").read_text(encoding="utf-8"))
ANSWERS, GENERATED = PLAIN["answers"], PLAIN["generated"]
#: the key as installed: hashes, questions, hints
STORED = yaml.safe_load(resources.files("evalkit.exercises").joinpath("answers.yaml").read_text(encoding="utf-8"))
SPECS = STORED["checks"]
PUBLISHED = sorted(c for c, s in SPECS.items() if s["kind"] != "truth")
#: a call with arguments, as the first hint once gave it away
CALL = re.compile(r"evalkit\.\w+\.\w+\(|\w+\([^)]*=")


def _printed(spec: dict, v: float) -> str:
    """A value as answers.yaml hashes it: to its decimals, or on the truth's grid."""
    if spec["kind"] == "truth" and spec["scale"] == "ratio":
        return f"{v:.{spec['digits'] - 1}e}"
    text = f"{v:.{spec['decimals'] if spec['kind'] != 'truth' else spec['digits']}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def _forms(cid: str) -> list[str]:
    """The plain-text forms of a check's expected value(s) worth searching for, without sign.

    A form counts when it has three or more significant digits ("2.28", "310", "0.680"): one
    or two digits ("34", "0.49") occur by chance everywhere (constants, data, examples), so a hit
    would say nothing, while three or more rarely do, and a hit is a leak to look at."""
    spec, values = SPECS[cid], ANSWERS[cid] if isinstance(ANSWERS[cid], list) else [ANSWERS[cid]]
    forms = {f.lstrip("-") for v in values for f in (_printed(spec, v), repr(v), f"{v:g}")}
    return sorted(f for f in forms if len(f.split("e")[0].replace(".", "").lstrip("0")) >= 3)


def _pattern(form: str) -> re.Pattern:
    return re.compile(r"(?<![\d.])" + re.escape(form) + r"(?!\d)")


# --- check(): tolerances and verdicts --------------------------------------------------------


@pytest.mark.parametrize(
    "value, status",
    [
        (2.75, "correct"),
        (2.7549, "correct"),
        (2.745, "correct"),  # 2.75 printed to 2 decimals: +-0.005
        (2.755, "correct"),  # both ends included: a tie (within 1e-9) is rounded both ways
        (2.7551, "incorrect"),
        (2.7449, "incorrect"),
        (2.76, "incorrect"),
        (np.float64(2.7504), "correct"),
        (pd.Series([2.7504]), "correct"),
        (np.array([[2.75]]), "correct"),
    ],
)
def test_value_tolerance_is_half_the_last_printed_decimal(value, status):
    assert check("ck_did", value).status == status


def test_tolerance_follows_each_checks_precision():
    # 310 days printed as an integer: +-0.5; -0.37942 printed to 5 decimals: +-0.000005
    assert check("lung_median", 310.49).passed and not check("lung_median", 310.51).passed
    assert check("rossi_fin_coef", -0.379424).passed and not check("rossi_fin_coef", -0.379426).passed
    assert check("lung_median", 309.5).passed and check("lung_median", 310.5).passed


@pytest.mark.parametrize("cid", PUBLISHED)
def test_every_published_answer_passes_and_a_wrong_one_fails(cid):
    want = ANSWERS[cid]
    assert check(cid, want).passed
    assert check(cid, np.asarray(want) + 3 * 10.0 ** -SPECS[cid]["decimals"]).status == "incorrect"


@pytest.mark.parametrize("value", [None, ...])
def test_placeholders_report_not_answered(value):
    res = check("ck_did", value)
    assert res.status == "not answered" and not res
    assert "not answered" in repr(res) and "○" in repr(res)


@pytest.mark.parametrize("cid", ["ck_did", "lung_median_ci", "its_level_ratio"])
@pytest.mark.parametrize(
    "value",
    [
        "2.75",
        [1, 2, 3, 4],
        float("nan"),
        {"a": 1},
        object(),
        [],
        "",
        (1, None),
        1e308,
        (1e308, 1e308),
        (1e300, 1e300, 1e300),
        -0.0,
    ],
)
def test_malformed_answers_are_incorrect_never_raise(cid, value):
    res = check(cid, value)
    assert res.status == "incorrect" and res.hint


def test_a_whole_result_instead_of_a_number_says_what_to_submit():
    from evalkit import effects

    res = effects.did(load("card_krueger"), "fte", "nj", "d", unit="id", balanced=True)
    for wrong in (res, res.table, res["did"]):
        verdict = check("ck_did", wrong)
        assert verdict.status == "incorrect" and "single number" in verdict.hint
    assert check("ck_did", res["did"]["estimate"]).passed


def test_hints_diagnose_common_slips():
    assert "sign" in check("ck_did", -2.75).hint
    assert "exponentiate" in check("lung_cox_hr_sex", np.log(0.588)).hint
    assert "log-scale" in check("rossi_fin_coef", np.exp(-0.37942)).hint
    assert "percent" in check("bcg_i2", 0.9222).hint
    assert "close" in check("ck_did", 2.77).hint and "close" in check("ck_did", 2.65).hint
    assert "close" not in check("ck_did", 2.86).hint  # 20 half-units away: just wrong
    assert "log" in check("lung_median_ci", (284, 361)).hint  # lifelines' log(-log) CI instead of R's


@pytest.mark.parametrize("cid", sorted(SPECS))
def test_verdicts_never_show_an_expected_value(cid):
    spec = SPECS[cid]
    wrong = {"value": 1234.5, "interval": (1000, 2000), "truth": (1234.5, 1000.0, 1001.0)}[spec["kind"]]
    res = check(cid, wrong)
    shown = re.sub(r"1234\.5\d*|1000\.?\d*|2000\.?\d*|1001\.?\d*", "", res.message) + res.hint
    for form in _forms(cid):
        assert not _pattern(form).search(shown), (cid, shown)


@pytest.mark.parametrize("answer", [(0.80, 0.78, 0.82), (0.84, 0.82, 0.87)])
def test_truth_checks_name_no_truth_hit_or_miss(answer):
    res = check("its_level_ratio", answer)
    assert "0.85" not in res.message + res.hint


def test_interval_checks():
    assert check("lung_median_ci", (285, 363)).passed
    assert check("lung_median_ci", [285.4, 362.6]).passed
    assert not check("lung_median_ci", (285, 364)).passed
    assert "lower limit first" in check("lung_median_ci", (363, 285)).hint


@pytest.mark.parametrize(
    "answer, status, words",
    [
        ((0.84, 0.82, 0.87), "correct", "lies in your 95% CI"),
        ((0.85, 0.85, 0.86), "correct", "lies in your 95% CI"),  # the truth on a limit is inside
        ((0.84, 0.80, 0.85), "correct", "lies in your 95% CI"),
        ((0.80, 0.78, 0.82), "incorrect", "outside"),  # misses the truth 0.85
        ((0.86, 0.8501, 0.87), "incorrect", "outside"),
        ((0.84, 0.78, 0.91), "incorrect", "too wide"),  # hi/lo 1.17 > 1.10
        ((0.84, 0.85, 0.87), "incorrect", "not inside"),  # estimate outside its own CI
        ((-0.17, -0.2, -0.14), "incorrect", "positive"),  # log scale submitted
    ],
)
def test_truth_checks_need_coverage_and_precision(answer, status, words):
    res = check("its_level_ratio", answer)
    assert res.status == status and words in res.message


def test_truth_check_width_bound_is_inclusive_and_additive_scale():
    assert check("survey_did", (0.4, 0.0, 0.8)).passed  # width 0.8 = max_width
    assert check("survey_did", (0.4, 0.4, 0.5)).passed  # truth on the lower limit
    assert not check("survey_did", (0.4, 0.0, 0.81)).passed
    assert not check("survey_did", (0.1, -0.1, 0.3)).passed  # truth 0.4 outside
    assert not check("survey_did", (0.45, 0.4001, 0.5)).passed


def test_unknown_check_id_is_a_clear_error():
    with pytest.raises(InputError, match="list_exercises"):
        check("no_such_check", 1.0)
    with pytest.raises(InputError, match="list_exercises"):
        hint("no_such_check")


def test_result_renders_in_notebooks():
    ok, bad = check("ck_did", 2.75), check("ck_did", 1.0)
    assert repr(ok).startswith("✓ ck_did") and repr(bad).startswith("✗ ck_did")
    assert "✓" in ok._repr_html_() and "hint" in bad._repr_html_() and "<script" not in bad._repr_html_()


def test_checks_are_logged_when_asked(tmp_path, monkeypatch):
    log = tmp_path / "checks.jsonl"
    monkeypatch.setenv("EVALKIT_CHECK_LOG", str(log))
    check("ck_did", 2.75)
    check("ck_did", ...)
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    assert lines == [{"id": "ck_did", "status": "correct"}, {"id": "ck_did", "status": "not answered"}]


# --- the answer key: hashes in the package, plain values only here ---------------------------


def test_answer_key_is_complete_and_consistent():
    key = answer_key()
    listed = [cid for ex in key["exercises"].values() for cid in ex["checks"]]
    assert sorted(listed) == sorted(key["checks"]) == sorted(ANSWERS) and len(set(listed)) == len(listed)
    required = {
        "value": {"decimals", "source"},
        "interval": {"decimals", "source"},
        "truth": {"scale", "digits", "max_width"},
    }
    for cid, spec in SPECS.items():
        assert required[spec["kind"]] | {"question", "hints", "sha256"} <= set(spec), cid
    assert set(list_exercises()["notebook"]) == set(NOTEBOOKS)


@pytest.mark.parametrize("cid", sorted(SPECS))
def test_every_stored_hash_is_the_plain_answers(cid):
    spec, want = SPECS[cid], ANSWERS[cid]
    text = "|".join(_printed(spec, v) for v in want) if spec["kind"] == "interval" else _printed(spec, want)
    assert hashlib.sha256(f"{STORED['salt']}|{cid}|{text}".encode()).hexdigest() == spec["sha256"]
    if spec["kind"] == "truth":  # the truth lies exactly on the grid it is hashed on
        assert float(text) == want


def test_answer_key_reveals_questions_and_hashes_only():
    key = answer_key()
    assert {k for spec in key["checks"].values() for k in spec} <= {
        "kind",
        "decimals",
        "scale",
        "digits",
        "max_width",
        "source",
        "question",
        "sha256",
    }
    key["checks"]["ck_did"]["sha256"] = "changed"  # a copy: the checks are not affected
    assert check("ck_did", 2.75).passed


def _package_files() -> list[Path]:
    """The installed package's text files, without the exercises' input data.

    The CSVs are left out: they are the data the answers are computed from, and an answer can
    coincide with a data value (a Kaplan-Meier median is an observed death time)."""
    suffixes = {".py", ".yaml", ".yml", ".md", ".txt", ".json", ".ipynb", ".html", ".css", ".js", ".toml"}
    return [p for p in PACKAGE.rglob("*") if p.suffix in suffixes and "__pycache__" not in p.parts]


#: expected values found in plain text elsewhere in the package, each for a reason unrelated to
#: the exercises (the list may only shrink)
KNOWN = {
    ("bcg_tau2", "stats/meta.py"),
    ("bcg_i2", "stats/meta.py"),  # meta's notes compare evalkit with metafor on dat.bcg
    ("lung_median", "synth/_sites.py"),  # 310.0 care days of an institutional placement
}


def test_no_expected_value_in_plain_text_in_the_installed_package():
    """Every published figure and every truth of the exercises' generated data (the capstone's
    truths are evalkit.synth.Effects, public by design), in each printed form, is searched for in
    every text file of the package."""
    texts = {p: p.read_text(encoding="utf-8", errors="ignore") for p in _package_files()}
    assert PACKAGE / "exercises" / "__init__.py" in texts and PACKAGE / "exercises" / "answers.yaml" in texts
    found = {
        (cid, str(p.relative_to(PACKAGE)))
        for cid in SPECS
        if not cid.startswith("cap_") or cid == "cap_mde"
        for form in _forms(cid)
        for p, text in texts.items()
        if _pattern(form).search(text)
    }
    assert found <= KNOWN, sorted(found - KNOWN)
    # the search finds what it looks for
    assert _pattern(_forms("ck_did")[0]).search("NJ - PA = 2.75 FTE") and _forms("ck_did") == ["2.75"]
    assert "0.680" in _forms("lung_surv200") and _forms("ships_n") == []


def test_the_generated_data_ship_without_their_parameters():
    shipped = {p.name for p in (PACKAGE / "exercises").iterdir()}
    assert {"costs_its.csv", "worker_survey.csv"} <= shipped
    stored = (PACKAGE / "exercises" / "answers.yaml").read_text(encoding="utf-8")
    for params in GENERATED.values():
        assert str(params["seed"]) not in stored
    assert "generated" not in STORED and list(load("costs_its")) == ["month", "cost_eur"]
    assert list(load("worker_survey")) == ["worker_id", "arm", "wave", "score"]


# --- hints in steps --------------------------------------------------------------------------


@pytest.mark.parametrize("cid", sorted(SPECS))
def test_every_check_has_three_hint_steps_that_name_no_answer(cid):
    steps = [hint(cid, step) for step in (1, 2, 3)]
    assert hint(cid) == steps[0] and len(set(steps)) == 3 and all(len(s) > 20 for s in steps)
    assert "evalkit." not in steps[0] and "evalkit." in steps[1] and "(" in steps[2]  # idea, function, call
    for form in _forms(cid):
        assert not any(_pattern(form).search(s) for s in steps), (cid, form)


@pytest.mark.parametrize("step", [0, 4, "2", 1.5, None])
def test_hint_steps_are_one_to_three(step):
    with pytest.raises(InputError, match="step"):
        hint("ck_did", step)


@pytest.mark.parametrize("cid", sorted(SPECS))
def test_what_check_shows_by_itself_never_hands_over_the_call(cid):
    # the first wrong answer once showed the exact call: check() shows the idea, hint(id, 3) the call
    spec = SPECS[cid]
    wrongs = {
        "value": [1234.5, -1234.5, 0.5, "x"],
        "interval": [(1000, 2000), (2000, 1000), 1.0],
        "truth": [(1.0, 0.99, 1.01), (1.0, 0.1, 9.0), (1.0, 1.1, 1.2), (-1.0, -2.0, -0.5), 1.0],
    }[spec["kind"]]
    for wrong in wrongs:
        res = check(cid, wrong)
        shown = res.message + " " + res.hint.replace(f'exercises.hint("{cid}", 2)', "")
        assert not CALL.search(shown), (cid, shown)
        assert (
            res.hint.endswith(f'(exercises.hint("{cid}", 2) says more)')
            or "submit" in res.hint
            or ("lower limit" in res.hint)
        ), res.hint
    assert not CALL.search(hint(cid, 1))


def test_slip_diagnoses_name_no_call():
    for wrong, cid in [(-2.75, "ck_did"), (np.log(0.588), "lung_cox_hr_sex"), (0.9222, "bcg_i2"), (2.77, "ck_did")]:
        assert not CALL.search(check(cid, wrong).hint.replace(f'exercises.hint("{cid}", 2)', ""))


# --- the capstone's truth, on request --------------------------------------------------------


def test_reveal_shows_the_capstones_true_effects_that_the_checks_use():
    from evalkit import synth

    truth = reveal("capstone")
    assert truth.loc["hr_close", "value"] == Effects().hr_close == ANSWERS["cap_hr_close"]
    ds = synth.synthesise(sites=2, seed=1)
    pd.testing.assert_frame_equal(reveal("capstone", ds), pd.DataFrame(ds.meta["true_effects"]).T)
    with pytest.raises(InputError, match="capstone"):
        reveal("its_costs")


# --- the data: published copies, and generated data regenerated from their parameters ----------


def _costs_its(
    *,
    seed: int,
    months: int,
    first: str,
    start: str,
    base_eur: float,
    growth_per_year: float,
    level_ratio: float,
    slope_ratio: float,
    noise_sd: float,
) -> pd.DataFrame:
    """Monthly purchased-service costs: log-linear trend, two seasonal harmonics, a level and a
    slope change from ``start`` (start month = month 1 of the slope, as evalkit.trends.its),
    log-normal noise. Pure sinusoids, so ``harmonics=2`` is the true seasonal model."""
    rng = np.random.default_rng(seed)
    period = pd.period_range(first, periods=months, freq="M")
    t = np.arange(1, months + 1)
    since = t - (period.get_loc(pd.Period(start, "M")) + 1) + 1
    post = since >= 1
    season = 0.08 * np.cos(2 * np.pi * t / 12) + 0.04 * np.sin(4 * np.pi * t / 12)
    log_mu = (
        np.log(base_eur)
        + np.log(growth_per_year) / 12 * t
        + season
        + post * (np.log(level_ratio) + np.log(slope_ratio) * since)
    )
    cost = np.round(np.exp(log_mu + rng.normal(0.0, noise_sd, months)))
    return pd.DataFrame({"month": period.astype(str), "cost_eur": cost})


def _worker_survey(
    *,
    seed: int,
    workers_per_arm: int,
    baseline: float,
    person_sd: float,
    noise_sd: float,
    comparison_change: float,
    true_change: float,
) -> pd.DataFrame:
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
        rows.append(
            pd.DataFrame(
                {
                    "worker_id": [f"W{i + 1:03d}" for i in range(n)],
                    "arm": np.where(pilot == 1, "pilot", "comparison"),
                    "wave": wave,
                    "score": score,
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


@pytest.mark.parametrize("name, generate", [("costs_its", _costs_its), ("worker_survey", _worker_survey)])
def test_shipped_generated_data_are_regenerated_from_the_plain_parameters(name, generate):
    # to change a data set: change its parameters in tests/data/exercise_answers.yaml, write
    # generate(**params).to_csv(f"src/evalkit/exercises/{name}.csv", index=False) and rehash
    pd.testing.assert_frame_equal(load(name), generate(**GENERATED[name]))


def test_generated_truths_agree_with_their_generators():
    gen = GENERATED
    assert ANSWERS["its_level_ratio"] == gen["costs_its"]["level_ratio"]
    assert ANSWERS["its_slope_ratio"] == gen["costs_its"]["slope_ratio"]
    assert ANSWERS["survey_did"] == gen["worker_survey"]["true_change"]
    truth = Effects()
    assert ANSWERS["cap_hr_close"] == truth.hr_close
    assert ANSWERS["cap_hr_placement"] == truth.hr_placement
    assert ANSWERS["cap_sick_leave_rr"] == truth.sick_leave_rr
    assert ANSWERS["cap_cost_level"] == truth.cost_level_ratio
    assert ANSWERS["cap_cost_slope"] == truth.cost_slope_ratio


@pytest.mark.parametrize(
    "name, bundled, rows",
    [
        ("card_krueger", "card_krueger_mhe", 820),
        ("lung", "lung", 228),
        ("rossi", "rossi", 432),
        ("ships", "ships", 40),
        ("bcg", "dat_bcg", 13),
    ],
)
def test_the_published_data_are_the_one_bundled_copy(name, bundled, rows):
    df = load(name)
    assert len(df) == rows
    pd.testing.assert_frame_equal(df, datasets.load(bundled))
    assert not list((PACKAGE / "exercises").glob(f"{bundled}.csv"))  # no second copy


def test_load_unknown_name_lists_the_choices():
    with pytest.raises(InputError, match="costs_its"):
        load("iris")


def test_costs_series_recovers_its_truth_by_plain_least_squares():
    """Independent of evalkit.trends: OLS of log cost on the generating design; truth within 3 SE."""
    gen = GENERATED["costs_its"]
    costs = load("costs_its")
    assert len(costs) == gen["months"] and costs["month"].iloc[0] == gen["first"]
    assert int((costs["month"] < gen["start"]).sum()) == ANSWERS["its_n_pre"]
    t = np.arange(1, len(costs) + 1)
    t0 = int((costs["month"] < gen["start"]).sum()) + 1
    post = (t >= t0).astype(float)
    X = np.column_stack(
        [
            np.ones_like(t),
            t,
            post,
            (t - t0 + 1) * post,
            np.cos(2 * np.pi * t / 12),
            np.sin(2 * np.pi * t / 12),
            np.cos(4 * np.pi * t / 12),
            np.sin(4 * np.pi * t / 12),
        ]
    )
    y = np.log(costs["cost_eur"].to_numpy())
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ beta
    se = np.sqrt(np.diag(resid @ resid / (len(y) - X.shape[1]) * np.linalg.inv(X.T @ X)))
    # R: lm(log(cost_eur) ~ t + post + since + harmonic(t, 2, 12))
    assert abs(beta[2] - np.log(gen["level_ratio"])) < 3 * se[2]
    assert abs(beta[3] - np.log(gen["slope_ratio"])) < 3 * se[3]


def test_survey_answers_match_the_independent_t_test():
    """Interaction F of a 2 x 2 mixed ANOVA = t^2 of the pooled two-sample t-test on change scores."""
    survey = load("worker_survey")
    assert survey.groupby(["arm", "wave"]).size().eq(36).all() and survey["score"].between(1, 5).all()
    change = survey.pivot(index="worker_id", columns="wave", values="score").diff(axis=1)[2]
    arm = survey.drop_duplicates("worker_id").set_index("worker_id")["arm"]
    res = scipy.stats.ttest_ind(change[arm == "pilot"], change[arm == "comparison"])
    for cid, value in [("survey_interaction_f", res.statistic**2), ("survey_interaction_p", res.pvalue)]:
        assert abs(value - ANSWERS[cid]) <= 0.5 * 10.0 ** -SPECS[cid]["decimals"], cid
        assert check(cid, value).passed
    # the generated difference of changes is recovered (truth within 3 SE)
    diff = change[arm == "pilot"].mean() - change[arm == "comparison"].mean()
    se = np.sqrt(change[arm == "pilot"].var() / 36 + change[arm == "comparison"].var() / 36)
    assert abs(diff - ANSWERS["survey_did"]) < 3 * se


def test_design_answer_matches_blooms_formula():
    """MDE = (t(0.975, df) + t(0.8, df)) * sqrt(4 * DE / N), df = 2J - 2 (Bloom 1995)."""
    m, n = 112 / 18, 112
    de = 1 + (m - 1) * 0.05
    mde = (scipy.stats.t.ppf(0.975, 16) + scipy.stats.t.ppf(0.8, 16)) * np.sqrt(4 * de / n)
    assert abs(mde - ANSWERS["cap_mde"]) <= 0.005 and check("cap_mde", mde).passed


# --- the notebooks: structure --------------------------------------------------------------


def _cells(path: Path):
    return jupytext.read(path).cells


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_structure(name):
    ex, sol = _cells(NB_DIR / f"{name}.py"), _cells(SOL_DIR / f"{name}.py")
    for cells in (ex, sol):
        assert cells[0].cell_type == "markdown" and cells[0].source.startswith("# Exercise")
        params = cells[1]
        assert "parameters" in params.metadata.get("tags", [])
        for stmt in ast.parse(params.source).body:  # literals only
            assert isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Constant), params.source
        for cell in cells:
            if cell.cell_type == "code":
                tree = ast.parse(cell.source)
                assert not any(isinstance(n, (ast.FunctionDef, ast.ClassDef, ast.Lambda)) for n in ast.walk(tree)), name
    # same text and given code; only the answer cells differ
    assert len(ex) == len(sol)
    for e, s in zip(ex, sol):
        if "answer" in e.metadata.get("tags", []):
            assert "solution" in s.metadata.get("tags", [])
            assert e.source.splitlines()[-2:] == ["answer = ...", s.source.splitlines()[-1]]
        else:
            assert e.source == s.source and e.cell_type == s.cell_type
    ids = [CHECK_CALL.findall(c.source) for c in ex]
    assert [i for c in ids for i in c] == STORED["exercises"][
        list_exercises().query("notebook == @name")["exercise"].iloc[0]
    ]["checks"]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_exercise_text_does_not_give_the_answers_away(name):
    text = (NB_DIR / f"{name}.py").read_text(encoding="utf-8")
    for cid in CHECK_CALL.findall(text):
        spec = SPECS[cid]
        if spec["kind"] == "value":
            assert _printed(spec, ANSWERS[cid]) not in text, cid
        elif spec["kind"] == "interval":
            assert not all(_printed(spec, v) in text for v in ANSWERS[cid]), cid


def test_capstone_shows_its_truth_only_on_an_explicit_call():
    code = "\n".join(c.source for c in _cells(NB_DIR / "08_capstone.py") if c.cell_type == "code")
    live = "\n".join(line for line in code.splitlines() if not line.lstrip().startswith("#"))
    assert "true_effects" not in live and "reveal(" not in live
    assert 'exercises.reveal("capstone", ds)' in code  # the call is given, commented out


@pytest.mark.parametrize("folder", [NB_DIR, SOL_DIR], ids=["exercise", "solution"])
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_ipynb_is_in_sync_with_its_py(folder, name):
    py, nb = jupytext.read(folder / f"{name}.py"), jupytext.read(folder / f"{name}.ipynb")
    assert [(c.cell_type, c.source) for c in py.cells] == [(c.cell_type, c.source) for c in nb.cells]
    assert nb.metadata["kernelspec"]["name"] == "python3"


# --- the notebooks: executed ----------------------------------------------------------------


def _run(folder: Path, name: str, tmp_path: Path, monkeypatch) -> tuple[list[dict], str]:
    """The logged checks, and the text of every output of the executed notebook."""
    import papermill

    log = tmp_path / "checks.jsonl"
    monkeypatch.setenv("EVALKIT_CHECK_LOG", str(log))
    out = tmp_path / "out.ipynb"
    papermill.execute_notebook(
        str(folder / f"{name}.ipynb"), str(out), kernel_name="python3", cwd=str(folder), progress_bar=False
    )
    logged = [json.loads(x) for x in log.read_text(encoding="utf-8").splitlines()]
    expected = CHECK_CALL.findall((folder / f"{name}.py").read_text(encoding="utf-8"))
    assert [x["id"] for x in logged] == expected
    outputs = [o for c in json.loads(out.read_text(encoding="utf-8"))["cells"] for o in c.get("outputs", [])]
    shown = "\n".join("".join(o.get("text", "")) + "".join(o.get("data", {}).get("text/plain", "")) for o in outputs)
    return logged, shown


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_solution_passes_every_check(name, tmp_path, monkeypatch):
    logged, _ = _run(SOL_DIR, name, tmp_path, monkeypatch)
    failed = [x["id"] for x in logged if x["status"] != "correct"]
    assert failed == []


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_exercise_runs_unanswered_and_shows_no_answer(name, tmp_path, monkeypatch):
    logged, shown = _run(NB_DIR, name, tmp_path, monkeypatch)
    assert {x["status"] for x in logged} == {"not answered"}
    for cid in {x["id"] for x in logged}:
        for form in _forms(cid):
            assert not _pattern(form).search(shown), (cid, form)
    assert not any(d.split(" (")[0] in shown for d in reveal("capstone")["definition"])  # no truth table
