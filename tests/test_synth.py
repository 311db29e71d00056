"""Tests of evalkit.synth: DATA.md shape and rules, reproducibility, and recovery of the true effects."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import yaml

from evalkit import InputError
from evalkit.cli._synth import cli_synth
from evalkit.synth import Effects, Stress, synthesise

EXTRACTED = pd.Timestamp("2021-12-31")
FOLLOW_START = pd.Timestamp("2016-01-01")
COLUMNS = {
    "sites": ["site_id", "municipality", "region", "population"],
    "teams": ["team_id", "site_id", "arm", "model_start"],
    "cases": [
        "case_id",
        "child_id",
        "team_id",
        "opened",
        "closed",
        "end_reason",
        "legal_basis",
        "age_at_opening",
        "sex",
    ],
    "placements": ["case_id", "date", "kind"],
    "contacts": ["case_id", "date", "kind", "minutes"],
    "services": ["site_id", "team_id", "month", "service", "cost_eur", "units"],
    "staff": ["worker_id", "team_id", "role", "fte", "start", "end"],
    "absences": ["worker_id", "start", "end", "kind"],
    "surveys": ["respondent_id", "team_id", "respondent", "wave", "answered", "scale", "score"],
    "time_use": ["worker_id", "wave", "activity", "hours"],
}
ALLOWED = {
    ("teams", "arm"): {"pilot", "comparison"},
    ("cases", "end_reason"): {"no_need", "placement", "moved", "age_limit", "other"},
    ("cases", "legal_basis"): {"LSL", "SHL"},
    ("cases", "sex"): {"F", "M", "unknown"},
    ("placements", "kind"): {"urgent", "care_order", "voluntary"},
    ("contacts", "kind"): {"face_to_face", "phone", "team_meeting", "network_meeting"},
    ("services", "service"): {
        "family_work",
        "institutional_care",
        "foster_care",
        "substance_abuse",
        "therapy",
        "other",
    },
    ("staff", "role"): {
        "consultant_social_worker",
        "social_worker",
        "social_counsellor",
        "family_therapist",
        "coordinator",
        "family_worker",
        "other",
    },
    ("absences", "kind"): {"sick_leave", "other"},
    ("surveys", "respondent"): {"worker", "parent", "child"},
    ("time_use", "activity"): {"face_to_face", "documentation", "meetings", "travel", "other"},
}
# henkilötunnus: DDMMYY, century sign, three digits, check character
HETU = re.compile(r"\d{6}[-+A-FU-Y]\d{3}[0-9A-Y]")


@pytest.fixture(scope="module")
def ds():
    return synthesise(sites=8, seed=11)


@pytest.fixture(scope="module")
def big():
    """A large dataset (60 sites, about 50,000 cases) for recovering the true effects."""
    return synthesise(sites=60, seed=2024)


# --- shape -----------------------------------------------------------------------------------


def test_tables_have_data_md_columns_and_dtypes(ds):
    assert list(ds.tables) == list(COLUMNS)
    for name, cols in COLUMNS.items():
        df = ds.tables[name]
        assert list(df.columns) == cols, name
        assert len(df) > 0, name
        for col in df.columns:
            if col in {"model_start", "opened", "closed", "date", "start", "end", "answered"}:
                assert df[col].dtype == "datetime64[ns]", (name, col)
    assert ds.tables["services"]["month"].str.fullmatch(r"20(1[6-9]|2[01])-(0[1-9]|1[0-2])").all()
    assert ds.tables["services"]["team_id"].isna().any()  # site-level purchases: the nullable team_id
    for name, col in [("cases", "age_at_opening"), ("contacts", "minutes"), ("surveys", "score"), ("surveys", "wave")]:
        assert ds.tables[name][col].dtype == np.int64


def test_allowed_values_and_ranges(ds):
    t = ds.tables
    for (name, col), allowed in ALLOWED.items():
        assert set(t[name][col].dropna()) <= allowed, (name, col)
    assert t["cases"]["age_at_opening"].between(0, 17).all()
    assert ((t["staff"]["fte"] > 0) & (t["staff"]["fte"] <= 1)).all()
    assert t["surveys"]["score"].between(1, 5).all()
    assert (t["contacts"]["minutes"] > 0).all() and (t["services"]["cost_eur"] > 0).all()
    assert (t["time_use"]["hours"] >= 0).all()
    assert t["sites"]["population"].between(5_000, 635_000).all()
    assert set(t["time_use"]["wave"]) == {1, 2}


def test_ids_unique_and_pseudonymous(ds):
    t = ds.tables
    for name, key in [
        ("sites", ["site_id"]),
        ("teams", ["team_id"]),
        ("cases", ["case_id"]),
        ("staff", ["worker_id"]),
        ("placements", ["case_id"]),
        ("surveys", ["respondent_id", "wave", "scale"]),
        ("time_use", ["worker_id", "wave", "activity"]),
        ("services", ["site_id", "team_id", "month", "service"]),
    ]:
        assert not t[name].duplicated(key).any(), name
    assert t["cases"]["case_id"].str.fullmatch(r"C\d{6}").all()
    for name, df in t.items():
        for col in df.select_dtypes("string"):
            assert not df[col].dropna().str.contains(HETU).any(), (name, col)
    # a child may have several cases, each opened after the previous one closed
    c = t["cases"].sort_values(["child_id", "opened"])
    assert c["child_id"].duplicated().any()
    again = c["child_id"].eq(c["child_id"].shift())
    assert (c["opened"][again] > c["closed"].shift()[again]).all()


def test_referential_integrity(ds):
    t = ds.tables
    assert t["teams"]["site_id"].isin(t["sites"]["site_id"]).all()
    for name in ["cases", "staff", "surveys"]:
        assert t[name]["team_id"].isin(t["teams"]["team_id"]).all(), name
    for name in ["placements", "contacts"]:
        assert t[name]["case_id"].isin(t["cases"]["case_id"]).all(), name
    for name in ["absences", "time_use"]:
        assert t[name]["worker_id"].isin(t["staff"]["worker_id"]).all(), name
    s = t["services"].dropna(subset=["team_id"]).merge(t["teams"], on="team_id", suffixes=("", "_team"))
    assert (s["site_id"] == s["site_id_team"]).all()


def test_dates_follow_the_rules(ds):
    t = ds.tables
    for name, df in t.items():
        for col in df.select_dtypes("datetime"):
            assert (df[col].dropna() <= EXTRACTED).all(), (name, col)
    c = t["cases"]
    assert (c["opened"] >= FOLLOW_START).all()
    assert (c["closed"].dropna() >= c["opened"][c["closed"].notna()]).all()
    assert (c["closed"].isna() == c["end_reason"].isna()).all()
    assert c["closed"].isna().any()  # open cases are censored at extraction
    p = t["placements"].merge(c, on="case_id")
    assert (p["date"] == p["closed"]).all() and (p["end_reason"] == "placement").all()
    assert (c["end_reason"] == "placement").sum() == len(t["placements"])
    k = t["contacts"].merge(c, on="case_id")
    assert (k["date"] >= k["opened"]).all() and (k["date"] <= k["closed"].fillna(EXTRACTED)).all()
    st = t["staff"]
    assert (st["end"].dropna() >= st["start"][st["end"].notna()]).all()
    a = t["absences"].merge(st, on="worker_id", suffixes=("", "_job"))
    assert (a["end"] >= a["start"]).all()
    assert (a["start"] >= a["start_job"]).all() and (a["end"] <= a["end_job"].fillna(EXTRACTED)).all()
    a = t["absences"].sort_values(["worker_id", "start"])
    same = a["worker_id"].eq(a["worker_id"].shift())
    assert (a["start"][same] > a["end"].shift()[same]).all()  # absence spells do not overlap
    ws = t["surveys"].merge(st, left_on="respondent_id", right_on="worker_id", suffixes=("", "_job"))
    assert len(ws) == (t["surveys"]["respondent"] == "worker").sum()
    assert (ws["team_id"] == ws["team_id_job"]).all() and (ws["answered"] >= ws["start"]).all()
    assert (ws["answered"] <= ws["end"].fillna(EXTRACTED)).all()


def test_staggered_starts_and_kuopio(ds):
    teams = ds.tables["teams"]
    assert ((teams["arm"] == "comparison") == teams["model_start"].isna()).all()
    starts = teams["model_start"].dropna()
    assert starts.between(pd.Timestamp("2018-01-01"), pd.Timestamp("2019-12-01")).all()
    assert (starts.dt.day == 1).all() and starts.nunique() > 3
    per_site = teams.groupby("site_id")["arm"].agg(lambda a: {"pilot", "comparison"} <= set(a))
    assert per_site.all()
    kuopio = teams[teams["site_id"] == "kuopio"]
    assert kuopio["model_start"].min() == pd.Timestamp("2018-01-01")
    assert ds.tables["sites"]["site_id"].iloc[0] == "kuopio"
    # THL's Kuopio survey rounds: 23.1.-5.3.2018, 28.5.-30.6.2018 and 18.9.-31.10.2018
    sv = ds.tables["surveys"][ds.tables["surveys"]["team_id"].isin(kuopio["team_id"])]
    windows = {1: ("2018-01-23", "2018-03-05"), 2: ("2018-05-28", "2018-06-30"), 3: ("2018-09-18", "2018-10-31")}
    assert set(sv["wave"]) == {1, 2, 3}
    for wave, (lo, hi) in windows.items():
        assert sv.loc[sv["wave"] == wave, "answered"].between(lo, hi).all()


def test_caseloads_follow_the_arm(ds):
    """Open cases per social-worker FTE mid-2020: about 20-30 in pilot teams, 35-45 in comparison teams."""
    t, day = ds.tables, pd.Timestamp("2020-06-30")
    c = t["cases"]
    open_cases = c[(c["opened"] <= day) & (c["closed"].isna() | (c["closed"] > day))].groupby("team_id").size()
    st = t["staff"]
    sw = (
        st[
            (st["start"] <= day)
            & (st["end"].isna() | (st["end"] > day))
            & st["role"].isin(["social_worker", "consultant_social_worker"])
        ]
        .groupby("team_id")["fte"]
        .sum()
    )
    load = (open_cases / sw).dropna().rename("load").to_frame().join(t["teams"].set_index("team_id")["arm"])
    median = load.groupby("arm")["load"].median()
    assert 18 <= median["pilot"] <= 32 and 33 <= median["comparison"] <= 47


def test_validator_quarantines_nothing(ds, tmp_path):
    """evalkit.validation (written independently from DATA.md) accepts every generated row,
    in memory and after a round trip through CSV files."""
    from evalkit.validation import validate

    report = validate(ds.tables, ds.meta).report
    assert report.failures == [] and report.exit_code == 0
    assert all(c["quarantined"] == 0 and c["valid"] == len(ds.tables[t]) for t, c in report.counts.items())
    assert cli_synth(tmp_path, sites=2, seed=3, fmt="csv") == 0
    report = validate(tmp_path).report
    assert report.failures == [] and sum(c["quarantined"] for c in report.counts.values()) == 0


# --- reproducibility, manifest, errors ---------------------------------------------------------


def test_same_seed_same_tables_other_seed_differs(ds):
    again = synthesise(sites=8, seed=11)
    for name in ds.tables:
        pd.testing.assert_frame_equal(ds.tables[name], again.tables[name])
    other = synthesise(sites=8, seed=12)
    assert not ds.tables["cases"].equals(other.tables["cases"])
    assert not ds.tables["services"]["cost_eur"].equals(other.tables["services"]["cost_eur"])


def test_meta_records_true_effects():
    eff = Effects(hr_close=1.4, sick_leave_rr=0.6)
    meta = synthesise(sites=1, seed=5, effects=eff).meta
    assert {"name", "extracted_on", "source", "description", "seed", "generator", "true_effects"} <= set(meta)
    assert str(meta["extracted_on"]) == "2021-12-31" and meta["seed"] == 5
    assert meta["true_effects"]["hr_close"]["value"] == 1.4
    assert meta["true_effects"]["sick_leave_rr"]["value"] == 0.6
    assert meta["true_effects"]["hr_placement"]["value"] == 0.8
    assert all(v["definition"] for v in meta["true_effects"].values())


@pytest.mark.parametrize(
    "bad",
    [
        dict(hr_close=0),
        dict(cost_level_ratio=-1),
        dict(sick_leave_rr=float("nan")),
        dict(hr_placement=10, hr_close=1),
        dict(survey_change=2.5),
        dict(face_to_face_share_change=0.5),
    ],
)
def test_impossible_effects_are_refused(bad):
    with pytest.raises(InputError):
        Effects(**bad)


@pytest.mark.parametrize("sites", [0, -3, 2.5, True])
def test_bad_site_count_is_refused(sites):
    with pytest.raises(InputError, match="sites"):
        synthesise(sites=sites)


@pytest.mark.parametrize("seed", [-1, 1.5, None])
def test_bad_seed_is_refused(seed):
    with pytest.raises(InputError, match="seed"):
        synthesise(sites=1, seed=seed)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_cli_synth_writes_a_readable_dataset(tmp_path, fmt, capsys):
    assert cli_synth(tmp_path, sites=2, seed=4, fmt=fmt) == 0
    assert "cases" in capsys.readouterr().out
    meta = yaml.safe_load((tmp_path / "dataset.yaml").read_text(encoding="utf-8"))
    assert meta["true_effects"]["hr_close"]["value"] == 1.25 and meta["seed"] == 4
    ref = synthesise(sites=2, seed=4)
    for name in COLUMNS:
        path = tmp_path / f"{name}.{fmt}"
        back = pd.read_csv(path, dtype=str, keep_default_na=False) if fmt == "csv" else pd.read_parquet(path)
        assert list(back.columns) == COLUMNS[name] and len(back) == len(ref.tables[name])
    cases = pd.read_csv(tmp_path / "cases.csv") if fmt == "csv" else None
    if cases is not None:
        assert cases["opened"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()


def test_cli_synth_refuses_bad_arguments(tmp_path, capsys):
    assert cli_synth(tmp_path, sites=1, seed=1, fmt="json") == 2
    assert cli_synth(tmp_path, sites=0, seed=1, fmt="csv") == 2
    assert "error" in capsys.readouterr().out
    assert not (tmp_path / "dataset.yaml").exists()


@pytest.mark.slow
def test_national_scale():
    """309 sites: about 40,000 new open-care cases a year (THL 2023: about 38,500 clients)."""
    t = synthesise(sites=309, seed=1).tables
    per_year = t["cases"]["opened"].dt.year.value_counts()
    assert per_year.between(34_000, 46_000).all()
    assert 5.0e6 < t["sites"]["population"].sum() < 6.5e6  # Finland: about 5.5 million residents
    assert t["sites"]["site_id"].is_unique and len(t["sites"]) == 309


# --- the true effects are recoverable with simple estimators ------------------------------------
# Each estimate must lie within 3 standard errors of the configured truth (a two-sided 99.7 %
# interval); the SEs account for clustering by team where the data are clustered by team.


def _site_first_start(teams):
    return teams["site_id"].map(teams.groupby("site_id")["model_start"].min())


@pytest.mark.slow
def test_sick_leave_rate_ratio_recovered(big):
    """Crude DiD of sick-leave rates: (pilot after/before) / (comparison after/before), before/after
    split at the pilot team's start (comparison teams: their site's first start). SE by a cluster
    bootstrap over sites: site rates differ and starts are staggered, so the crude pooled rates mix
    sites differently before and after. Over 10 seeds of this design the log DiD had mean
    log(0.747) and SD 0.087; this seed's bootstrap SE is 0.069, so 3 SE is a strict check."""
    t = big.tables
    teams = t["teams"].assign(cut=lambda d: d["model_start"].fillna(_site_first_start(d)))
    st = t["staff"].merge(teams, on="team_id")
    lo, hi = st["start"].clip(lower=FOLLOW_START), st["end"].fillna(EXTRACTED)
    before = ((np.minimum(hi, st["cut"] - pd.Timedelta(days=1)) - lo).dt.days + 1).clip(lower=0)
    after = ((hi - np.maximum(lo, st["cut"])).dt.days + 1).clip(lower=0)
    cell = ["site_id", "arm", "period"]
    fte_years = pd.concat([st.assign(period=p, fte_years=x * st["fte"] / 365.25) for p, x in ((0, before), (1, after))])
    ab = t["absences"].query("kind == 'sick_leave'").merge(st[["worker_id", "site_id", "arm", "cut"]], on="worker_id")
    ab = ab[ab["start"] >= FOLLOW_START].assign(
        days=lambda d: (d["end"] - d["start"]).dt.days + 1, period=lambda d: (d["start"] >= d["cut"]).astype(int)
    )
    sums = pd.concat([fte_years.groupby(cell)["fte_years"].sum(), ab.groupby(cell)["days"].sum()], axis=1)
    full = pd.MultiIndex.from_product([sorted(teams["site_id"].unique()), ["comparison", "pilot"], [0, 1]], names=cell)
    cube = sums.reindex(full).fillna(0).to_numpy().reshape(-1, 2, 2, 2)
    arm = ["comparison", "pilot"]

    def log_did(c):  # c: sites x arm x period x (fte_years, days)
        rate = c[..., 1].sum(0) / c[..., 0].sum(0)
        change = np.log(rate[:, 1] / rate[:, 0])
        return change[arm.index("pilot")] - change[arm.index("comparison")]

    est = log_did(cube)
    rng = np.random.default_rng(0)
    se = np.std([log_did(cube[rng.integers(0, len(cube), len(cube))]) for _ in range(1000)], ddof=1)
    assert abs(est - np.log(0.75)) < 3 * se, (np.exp(est), se)
    assert se < 0.15  # precise enough to tell 0.75 from no effect


def _later_cases(tables):
    """Cases opened after every pilot team of their site had started (so the arm does not vary in time)."""
    last = tables["teams"].groupby("site_id")["model_start"].max()
    c = tables["cases"].merge(tables["teams"], on="team_id")
    c = c[c["opened"] >= c["site_id"].map(last)]
    return pd.DataFrame(
        {
            "days": (c["closed"].fillna(EXTRACTED) - c["opened"]).dt.days + 0.5,
            "closing": (c["closed"].notna() & (c["end_reason"] != "age_limit")).astype(int),
            "placement": c["end_reason"].eq("placement").fillna(False).astype(int),
            "pilot": c["arm"].eq("pilot").astype(int),
            "lsl": c["legal_basis"].eq("LSL").astype(int),
            "site_id": c["site_id"],
            "team_id": c["team_id"],
        }
    )


def _cox_pilot(cases, event):
    """Cox PH stratified by site, adjusted for legal basis, robust SE clustered by team; age_limit
    ends are censored (independent of arm); placement is cause-specific (other ends censored)."""
    from lifelines import CoxPHFitter

    # R: coxph(Surv(days, closing) ~ pilot + lsl + strata(site_id), cluster = team_id)
    data = cases[["days", event, "pilot", "lsl", "site_id", "team_id"]]
    fit = CoxPHFitter().fit(data, "days", event, strata=["site_id"], cluster_col="team_id")
    return fit.params_["pilot"], fit.standard_errors_["pilot"]


# Cases cluster in teams (a team frailty), so the SE must come from many teams: the 60-site data
# (about 150 teams) rather than 8 sites (about 26 teams, where the sandwich SE is itself unstable).
# lifelines' Cox is slow on 90,000 cases, so a 20 % random sample of cases (all teams kept) is used.
@pytest.mark.slow
@pytest.mark.parametrize("event, truth", [("closing", 1.25), ("placement", 0.8)])
def test_case_hazard_ratios_recovered(big, event, truth):
    coef, se = _cox_pilot(_later_cases(big.tables).sample(frac=0.2, random_state=1), event)
    assert abs(coef - np.log(truth)) < 3 * se, (np.exp(coef), se)
    assert se < 0.08


@pytest.mark.slow
def test_cost_level_and_slope_recovered(big):
    """Log-linear segmented regression on pilot teams' monthly costs: series fixed effects (by
    within-series demeaning), linear time, month-of-year, post and months since start (start = 1).
    The generator's noise is iid normal on the log scale, so OLS SEs are right."""
    t = big.tables
    s = t["services"].dropna(subset=["team_id"]).merge(t["teams"], on="team_id", suffixes=("", "_t"))
    s = s[s["arm"] == "pilot"]
    month = pd.to_datetime(s["month"] + "-01")
    time = (month.dt.year - 2016) * 12 + month.dt.month - 1
    start = (s["model_start"].dt.year - 2016) * 12 + s["model_start"].dt.month - 1
    x = pd.get_dummies(month.dt.month, prefix="moy", drop_first=True).astype(float)
    x["time"] = time
    x["post"] = (time >= start).astype(float)
    x["since"] = (time - start + 1) * x["post"]
    y = np.log(s["cost_eur"])
    series = (s["team_id"] + "/" + s["service"]).to_numpy()
    x = x - x.groupby(series).transform("mean")
    y = y - y.groupby(series).transform("mean")
    beta, *_ = np.linalg.lstsq(x.to_numpy(), y.to_numpy(), rcond=None)
    resid = y.to_numpy() - x.to_numpy() @ beta
    dof = len(y) - x.shape[1] - len(set(series))
    cov = resid @ resid / dof * np.linalg.inv(x.to_numpy().T @ x.to_numpy())
    se = np.sqrt(np.diag(cov))
    est = dict(zip(x.columns, zip(beta, se)))
    # R: lm(log(cost_eur) ~ factor(series) + time + factor(moy) + post + since)
    for term, truth in [("post", np.log(0.9)), ("since", np.log(0.995))]:
        b, sd = est[term]
        assert abs(b - truth) < 3 * sd, (term, b, sd)


@pytest.mark.slow
@pytest.mark.parametrize(
    "respondent, scale, sign", [("parent", "felt_heard", 1), ("parent", "got_help", 1), ("worker", "workload", -1)]
)
def test_survey_change_recovered(big, respondent, scale, sign):
    """Difference of mean changes (wave 2+ minus wave 1, pilot minus comparison); SE from the four
    independent group means (workers answer in several waves, which only makes this SE conservative
    since their answers correlate positively)."""
    t = big.tables
    sv = t["surveys"].merge(t["teams"], on="team_id")
    sv = sv[(sv["respondent"] == respondent) & (sv["scale"] == scale)]
    g = sv.groupby([sv["arm"], sv["wave"] > 1])["score"].agg(["mean", "var", "size"])
    est = (
        g.loc[("pilot", True), "mean"]
        - g.loc[("pilot", False), "mean"]
        - g.loc[("comparison", True), "mean"]
        + g.loc[("comparison", False), "mean"]
    )
    se = np.sqrt((g["var"] / g["size"]).sum())
    assert abs(est - sign * 0.3) < 3 * se, (est, se)
    assert se < 0.1


@pytest.mark.slow
def test_face_to_face_share_change_recovered(big):
    """Difference of mean changes in the face-to-face share of tracked hours; SE from group means."""
    t = big.tables
    tu = t["time_use"].merge(t["staff"][["worker_id", "team_id"]], on="worker_id").merge(t["teams"], on="team_id")
    tu["share"] = tu["hours"] / tu.groupby(["worker_id", "wave"])["hours"].transform("sum")
    f = tu[tu["activity"] == "face_to_face"]
    g = f.groupby(["arm", "wave"])["share"].agg(["mean", "var", "size"])
    est = (
        g.loc[("pilot", 2), "mean"]
        - g.loc[("pilot", 1), "mean"]
        - g.loc[("comparison", 2), "mean"]
        + g.loc[("comparison", 1), "mean"]
    )
    se = np.sqrt((g["var"] / g["size"]).sum())
    assert abs(est - 0.10) < 3 * se, (est, se)


@pytest.mark.slow
def test_no_effect_means_no_difference():
    """With null effects the pilot's closing and placement hazards equal the comparison's."""
    t = synthesise(sites=60, seed=8, effects=Effects(hr_close=1.0, hr_placement=1.0)).tables
    cases = _later_cases(t).sample(frac=0.2, random_state=1)
    for event in ("closing", "placement"):
        coef, se = _cox_pilot(cases, event)
        assert abs(coef) < 3 * se, (event, coef, se)


# --- departures from the easy case (Stress) ----------------------------------------------------


def test_plain_stress_changes_nothing_and_null_effects_are_recorded():
    plain = synthesise(sites=2, seed=4)
    same = synthesise(sites=2, seed=4, stress=Stress())
    for name, table in plain.tables.items():
        pd.testing.assert_frame_equal(table, same.tables[name])
    null = synthesise(sites=2, seed=4, effects=Effects.null())
    assert {k: v["value"] for k, v in null.meta["true_effects"].items()} == {
        "hr_close": 1.0,
        "hr_placement": 1.0,
        "cost_level_ratio": 1.0,
        "cost_slope_ratio": 1.0,
        "sick_leave_rr": 1.0,
        "survey_change": 0.0,
        "face_to_face_share_change": 0.0,
    }
    assert plain.meta["stress"]["team_sd"] == 0 and plain.meta["stress"]["pretrend_site"] is None


def _log_costs(ds):
    s = ds.tables["services"].dropna(subset=["team_id"])
    m = s.groupby(["team_id", "month"])["cost_eur"].sum().rename("cost").reset_index()
    return m.assign(log=np.log(m["cost"]))


def test_calendar_shock_raises_every_teams_costs_and_sick_leave_in_its_window():
    plain, shocked = (synthesise(sites=3, seed=9, stress=Stress(calendar_shock=s)) for s in (0.0, 0.4))
    inside = lambda m: ("2020-04" <= m) & (m <= "2021-03")  # noqa: E731
    diff = _log_costs(shocked)["log"] - _log_costs(plain)["log"]
    months = _log_costs(plain)["month"]
    assert diff[inside(months)].mean() == pytest.approx(0.4, abs=0.03)
    assert abs(diff[~inside(months)].mean()) < 0.02
    assert shocked.meta["stress"]["calendar_shock_window"] == ["2020-04-01", "2021-03-31"]
    sick = lambda ds: ds.tables["absences"].query("kind == 'sick_leave'")["start"]  # noqa: E731
    in_window = lambda s: ((s >= "2020-04-01") & (s < "2021-04-01")).sum()  # noqa: E731
    assert in_window(sick(shocked)) > 1.3 * in_window(sick(plain))


def test_autocorrelated_costs_and_a_pretrend_at_one_site():
    ds = synthesise(sites=3, seed=9, stress=Stress(cost_ar=0.8, pretrend_site="jyvaskyla", pretrend=0.02))
    m = _log_costs(ds)
    # the within-team month-to-month residual correlation is clearly positive with AR(1) disturbances
    detrended = m["log"] - m.groupby("team_id")["log"].transform(
        lambda v: v.rolling(13, center=True, min_periods=1).mean()
    )
    lag = detrended.groupby(m["team_id"]).shift()
    assert np.corrcoef(detrended[lag.notna()], lag[lag.notna()])[0, 1] > 0.3
    teams = ds.tables["teams"].set_index("team_id")
    slope = (
        m.assign(t=pd.PeriodIndex(m["month"], freq="M").astype("int64"))
        .groupby("team_id")
        .apply(lambda g: np.polyfit(g["t"], g["log"], 1)[0], include_groups=False)
    )
    drifting = [t for t in slope.index if teams.loc[t, "site_id"] == "jyvaskyla" and teams.loc[t, "arm"] == "pilot"]
    others = [t for t in slope.index if teams.loc[t, "site_id"] == "jyvaskyla" and teams.loc[t, "arm"] != "pilot"]
    assert slope[drifting].mean() - slope[others].mean() > 0.01  # the pilot teams drift upwards
    with pytest.raises(InputError, match="not one of the 3 site"):
        synthesise(sites=3, seed=9, stress=Stress(pretrend_site="helsinki"))


@pytest.mark.parametrize(
    "bad", [dict(team_sd=-0.1), dict(cost_ar=1.0), dict(calendar_shock="big"), dict(pretrend_site=3)]
)
def test_impossible_stress_is_refused(bad):
    with pytest.raises(InputError, match="Stress"):
        Stress(**bad)


def test_cli_synth_null_and_stress_options_reach_dataset_yaml(tmp_path):
    from typer.testing import CliRunner

    from evalkit.cli import app

    res = CliRunner().invoke(
        app,
        [
            "synth",
            "--out",
            str(tmp_path / "d"),
            "--sites",
            "1",
            "--null",
            "--team-sd",
            "0.2",
            "--calendar-shock",
            "0.3",
            "--cost-ar",
            "0.5",
        ],
    )
    assert res.exit_code == 0, res.output
    meta = yaml.safe_load((tmp_path / "d" / "dataset.yaml").read_text(encoding="utf-8"))
    assert meta["true_effects"]["hr_close"]["value"] == 1.0
    assert meta["stress"]["team_sd"] == 0.2 and meta["stress"]["cost_ar"] == 0.5
    assert "no true effects" in res.output
