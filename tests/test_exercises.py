"""Tests of evalkit.exercises and the exercise notebooks.

Three parts: the check logic (tolerances at their edges, never raising on a
malformed answer); the answer key (published values cross-checked where an
independent computation exists, generated data recovering their truth); and
the notebooks, executed with papermill: every solution must pass every check,
every exercise must run unanswered with every check "not answered".
"""
from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import jupytext
import numpy as np
import pandas as pd
import pytest
import scipy.stats

from evalkit import InputError
from evalkit.exercises import answer_key, check, list_exercises, load
from evalkit.synth import Effects

ROOT = Path(__file__).resolve().parents[1]
NB_DIR = ROOT / "notebooks" / "exercises"
SOL_DIR = NB_DIR / "solutions"
DATA = Path(__file__).resolve().parent / "data"
NOTEBOOKS = sorted(p.stem for p in NB_DIR.glob("[0-9]*.py"))
CHECK_CALL = re.compile(r'(?m)^exercises\.check\("([^"]+)", answer\)')  # code lines, not prose


# --- check(): tolerances and verdicts --------------------------------------------------------

@pytest.mark.parametrize("value, status", [
    (2.75, "correct"), (2.7549, "correct"), (2.745, "correct"),  # 2.75 printed to 2 decimals: +-0.005
    (2.7551, "incorrect"), (2.7449, "incorrect"), (2.76, "incorrect"),
    (np.float64(2.7504), "correct"), (pd.Series([2.7504]), "correct"), (np.array([[2.75]]), "correct"),
])
def test_value_tolerance_is_half_the_last_printed_decimal(value, status):
    assert check("ck_did", value).status == status


def test_tolerance_follows_each_checks_precision():
    # 310 days printed as an integer: +-0.5; -0.37942 printed to 5 decimals: +-0.000005
    assert check("lung_median", 310.49).passed and not check("lung_median", 310.51).passed
    assert check("rossi_fin_coef", -0.379424).passed and not check("rossi_fin_coef", -0.379426).passed


@pytest.mark.parametrize("value", [None, ...])
def test_placeholders_report_not_answered(value):
    res = check("ck_did", value)
    assert res.status == "not answered" and not res
    assert "not answered" in repr(res) and "○" in repr(res)


@pytest.mark.parametrize("cid", ["ck_did", "lung_median_ci", "its_level_ratio"])
@pytest.mark.parametrize("value", ["2.75", [1, 2, 3, 4], float("nan"), {"a": 1}, object(), [], "", (1, None)])
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
    assert "close" in check("ck_did", 2.77).hint
    assert "log" in check("lung_median_ci", (284, 361)).hint  # lifelines' log(-log) CI instead of R's


@pytest.mark.parametrize("cid", sorted(c for c, s in answer_key()["checks"].items() if s["kind"] != "truth"))
def test_verdicts_never_show_an_unsolved_expected_value(cid):
    spec = answer_key()["checks"][cid]
    res = check(cid, 1234.5 if spec["kind"] == "value" else (1000, 2000))
    shown = res.message.replace(f"{1234.5:.{spec['decimals']}f}", "") + res.hint
    expected = [spec["value"]] if spec["kind"] == "value" else spec["value"]
    for v in expected:
        assert f"{v:.{spec['decimals']}f}" not in shown, (cid, shown)


def test_truth_check_misses_name_no_truth():
    res = check("its_level_ratio", (0.80, 0.78, 0.82))
    assert "0.85" not in res.message + res.hint


def test_interval_checks():
    assert check("lung_median_ci", (285, 363)).passed
    assert check("lung_median_ci", [285.4, 362.6]).passed
    assert not check("lung_median_ci", (285, 364)).passed
    assert "lower limit first" in check("lung_median_ci", (363, 285)).hint


@pytest.mark.parametrize("answer, status, words", [
    ((0.84, 0.82, 0.87), "correct", "lies in your 95% CI"),
    ((0.80, 0.78, 0.82), "incorrect", "outside"),          # misses the truth 0.85
    ((0.84, 0.78, 0.91), "incorrect", "too wide"),         # hi/lo 1.17 > 1.10
    ((0.84, 0.85, 0.87), "incorrect", "not inside"),       # estimate outside its own CI
    ((-0.17, -0.2, -0.14), "incorrect", "positive"),       # log scale submitted
])
def test_truth_checks_need_coverage_and_precision(answer, status, words):
    res = check("its_level_ratio", answer)
    assert res.status == status and words in res.message


def test_truth_check_width_bound_is_inclusive_and_additive_scale():
    assert check("survey_did", (0.4, 0.0, 0.8)).passed           # width 0.8 = max_width
    assert not check("survey_did", (0.4, 0.0, 0.81)).passed
    assert not check("survey_did", (0.1, -0.1, 0.3)).passed       # truth 0.4 outside


def test_unknown_check_id_is_a_clear_error():
    with pytest.raises(InputError, match="list_exercises"):
        check("no_such_check", 1.0)


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


# --- the answer key and the data -------------------------------------------------------------

def test_answer_key_is_complete_and_consistent():
    key = answer_key()
    listed = [cid for ex in key["exercises"].values() for cid in ex["checks"]]
    assert sorted(listed) == sorted(key["checks"]) and len(set(listed)) == len(listed)
    required = {"value": {"value", "decimals", "source"}, "interval": {"value", "decimals", "source"},
                "truth": {"truth", "scale", "max_width"}}
    for cid, spec in key["checks"].items():
        assert required[spec["kind"]] | {"question", "hint"} <= set(spec), cid
    assert set(list_exercises()["notebook"]) == set(NOTEBOOKS)


def test_generated_truths_agree_with_their_generators():
    key = answer_key()
    checks, gen = key["checks"], key["generated"]
    assert checks["its_level_ratio"]["truth"] == gen["costs_its"]["level_ratio"]
    assert checks["its_slope_ratio"]["truth"] == gen["costs_its"]["slope_ratio"]
    assert checks["survey_did"]["truth"] == gen["worker_survey"]["true_change"]
    truth = Effects()
    assert checks["cap_hr_close"]["truth"] == truth.hr_close
    assert checks["cap_hr_placement"]["truth"] == truth.hr_placement
    assert checks["cap_sick_leave_rr"]["truth"] == truth.sick_leave_rr
    assert checks["cap_cost_level"]["truth"] == truth.cost_level_ratio
    assert checks["cap_cost_slope"]["truth"] == truth.cost_slope_ratio


@pytest.mark.parametrize("name, test_copy, rows", [
    ("card_krueger", "card_krueger_mhe.csv", 820), ("lung", "lung.csv", 228), ("rossi", "rossi.csv", 432),
    ("ships", "ships.csv", 40), ("bcg", "dat_bcg.csv", 13),
])
def test_bundled_data_are_the_reference_copies(name, test_copy, rows):
    df = load(name)
    assert len(df) == rows
    pd.testing.assert_frame_equal(df, pd.read_csv(DATA / test_copy))


def test_load_unknown_name_lists_the_choices():
    with pytest.raises(InputError, match="costs_its"):
        load("iris")


def test_costs_series_recovers_its_truth_by_plain_least_squares():
    """Independent of evalkit.trends: OLS of log cost on the generating design; truth within 3 SE."""
    gen = answer_key()["generated"]["costs_its"]
    costs = load("costs_its")
    assert len(costs) == gen["months"] and costs["month"].iloc[0] == gen["first"]
    t = np.arange(1, len(costs) + 1)
    t0 = int((costs["month"] < gen["start"]).sum()) + 1
    post = (t >= t0).astype(float)
    X = np.column_stack([np.ones_like(t), t, post, (t - t0 + 1) * post, np.cos(2 * np.pi * t / 12),
                         np.sin(2 * np.pi * t / 12), np.cos(4 * np.pi * t / 12), np.sin(4 * np.pi * t / 12)])
    y = np.log(costs["cost_eur"].to_numpy())
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ beta
    se = np.sqrt(np.diag(resid @ resid / (len(y) - X.shape[1]) * np.linalg.inv(X.T @ X)))
    # R: lm(log(cost_eur) ~ t + post + since + harmonic(t, 2, 12))
    assert abs(beta[2] - np.log(gen["level_ratio"])) < 3 * se[2]
    assert abs(beta[3] - np.log(gen["slope_ratio"])) < 3 * se[3]
    pd.testing.assert_frame_equal(costs, load("costs_its"))  # deterministic


def test_survey_answers_match_the_independent_t_test():
    """Interaction F of a 2 x 2 mixed ANOVA = t^2 of the pooled two-sample t-test on change scores."""
    spec = answer_key()["checks"]
    survey = load("worker_survey")
    assert survey.groupby(["arm", "wave"]).size().eq(36).all() and survey["score"].between(1, 5).all()
    change = survey.pivot(index="worker_id", columns="wave", values="score").diff(axis=1)[2]
    arm = survey.drop_duplicates("worker_id").set_index("worker_id")["arm"]
    res = scipy.stats.ttest_ind(change[arm == "pilot"], change[arm == "comparison"])
    for cid, value in [("survey_interaction_f", res.statistic ** 2), ("survey_interaction_p", res.pvalue)]:
        assert abs(value - spec[cid]["value"]) <= 0.5 * 10.0 ** -spec[cid]["decimals"], cid
    # the generated difference of changes is recovered (truth within 3 SE)
    diff = change[arm == "pilot"].mean() - change[arm == "comparison"].mean()
    se = np.sqrt(change[arm == "pilot"].var() / 36 + change[arm == "comparison"].var() / 36)
    assert abs(diff - spec["survey_did"]["truth"]) < 3 * se


def test_design_answer_matches_blooms_formula():
    """MDE = (t(0.975, df) + t(0.8, df)) * sqrt(4 * DE / N), df = 2J - 2 (Bloom 1995)."""
    m, n = 112 / 18, 112
    de = 1 + (m - 1) * 0.05
    mde = (scipy.stats.t.ppf(0.975, 16) + scipy.stats.t.ppf(0.8, 16)) * np.sqrt(4 * de / n)
    spec = answer_key()["checks"]["cap_mde"]
    assert abs(mde - spec["value"]) <= 0.005


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
    assert [i for c in ids for i in c] == answer_key()["exercises"][list_exercises().query(
        "notebook == @name")["exercise"].iloc[0]]["checks"]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_exercise_text_does_not_give_the_answers_away(name):
    text = (NB_DIR / f"{name}.py").read_text(encoding="utf-8")
    checks = answer_key()["checks"]
    for cid in CHECK_CALL.findall(text):
        spec = checks[cid]
        if spec["kind"] == "value":
            assert f"{spec['value']:.{spec['decimals']}f}" not in text, cid
        elif spec["kind"] == "interval":
            assert not all(f"{v:.{spec['decimals']}f}" in text for v in spec["value"]), cid


@pytest.mark.parametrize("folder", [NB_DIR, SOL_DIR], ids=["exercise", "solution"])
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_ipynb_is_in_sync_with_its_py(folder, name):
    py, nb = jupytext.read(folder / f"{name}.py"), jupytext.read(folder / f"{name}.ipynb")
    assert [(c.cell_type, c.source) for c in py.cells] == [(c.cell_type, c.source) for c in nb.cells]
    assert nb.metadata["kernelspec"]["name"] == "python3"


# --- the notebooks: executed ----------------------------------------------------------------

def _run(folder: Path, name: str, tmp_path: Path, monkeypatch) -> list[dict]:
    import papermill

    log = tmp_path / "checks.jsonl"
    monkeypatch.setenv("EVALKIT_CHECK_LOG", str(log))
    papermill.execute_notebook(str(folder / f"{name}.ipynb"), str(tmp_path / "out.ipynb"), kernel_name="python3",
                               cwd=str(folder), progress_bar=False)
    logged = [json.loads(x) for x in log.read_text(encoding="utf-8").splitlines()]
    expected = CHECK_CALL.findall((folder / f"{name}.py").read_text(encoding="utf-8"))
    assert [x["id"] for x in logged] == expected
    return logged




@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_solution_passes_every_check(name, tmp_path, monkeypatch):
    logged = _run(SOL_DIR, name, tmp_path, monkeypatch)
    failed = [x["id"] for x in logged if x["status"] != "correct"]
    assert failed == []


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_exercise_runs_unanswered(name, tmp_path, monkeypatch):
    logged = _run(NB_DIR, name, tmp_path, monkeypatch)
    assert {x["status"] for x in logged} == {"not answered"}


def test_no_hint_hands_over_the_call_that_answers_the_question():
    # a hint points to the idea and the module; the first wrong answer once showed the exact call
    import re

    calls = {cid: spec["hint"] for cid, spec in answer_key()["checks"].items()
             if re.search(r"evalkit\.\w+\.\w+\(|\w+\([^)]*=", spec.get("hint", ""))}
    assert calls == {}
