# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,-all
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Exercise 8. Capstone: evaluate a (synthetic) systemic practice model pilot, then its design
#
# **The study.** Finland's systemic practice model (*lastensuojelun systeeminen toimintamalli*)
# reorganises child-protection open care into multi-professional teams with low caseloads and
# a weekly case meeting. Pilot teams started at different times in 2018-2019; comparison teams
# in the same municipalities kept working as before. `evalkit.synth.synthesise` generates data
# in the shape of a real evaluation (the tables of `evalkit synth --out DIR`): sites, teams,
# cases, placements, staff, absences, purchased services, surveys. The data contain *known true
# effects* of the model, which this notebook does not show: `exercises.reveal("capstone", ds)`
# does, when you call it in step 5.
#
# **The questions.** Did the pilot (1) shorten cases (a higher hazard of a case closing),
# (2) reduce placements outside the home, (3) reduce sick leave, (4) lower the purchased-service
# costs? Then (5): the Finnish controlled study of the model (Aaltio 2023, *Children and Youth
# Services Review* 144) compared 9 systemic teams with 9 usual-service teams and 112 cases, and
# found no significant differences. What effect could a design of that size have detected?
#
# **Why the methods fit.** Case duration: a case still open at the extraction date is censored,
# and a case can also end by a placement, a competing end; the Cox model (exercises 2-3) on the
# hazard of closing, and a cause-specific Cox model for placements, compare pilot and comparison
# teams of the same site (stratified by site), adjusted for the legal basis of the case, with
# standard errors clustered by team, because cases of one team share its way of working. Sick
# leave: days per FTE-year of employment, a rate (exercise 4), compared before and after the
# start between the arms (difference-in-differences of rates, exercise 1). Costs: an interrupted
# time series per pilot team (exercise 6), pooled over the teams (exercise 5). Design: the
# minimum detectable effect of a cluster-randomised comparison.
#
# **How to work.** Run the cells from the top (JupyterLab, or `papermill 08_capstone.ipynb
# out.ipynb -p seed 11`). The cells that shape the raw tables into analysis data are given;
# you choose and call the estimators. The checks of steps 1-4 know the true effects: submit
# `(estimate, ci_low, ci_high)` as ratios. A check passes when the truth lies in your 95% CI
# and the CI is narrow enough to be informative (calibrated for `sites = 8`). A correct
# analysis still misses the truth now and then: one time in twenty in theory, more often when
# the model describes the data only approximately (try other seeds to see how often).

# %% tags=["parameters"]
sites = 8
seed = 11

# %%
import numpy as np
import pandas as pd

from evalkit import design, exercises, meta, rates, survival, synth, trends

ds = synth.synthesise(sites=sites, seed=seed)
tables = ds.tables
extracted = pd.Timestamp(ds.meta["extracted_on"])
follow_start = pd.Timestamp(ds.meta["follow_up"]["start"])
pd.Series({name: len(df) for name, df in tables.items()}, name="rows")

# %%
tables["teams"].head(8)

# %% [markdown]
# ## Shaping the cases
#
# A pilot team works in the model only from its `model_start`. To compare arms without
# time-varying exposure, keep the cases opened after *every* pilot team of their site had
# started. A case's time is from `opened` to `closed`, or to the extraction date if still open
# (censored). A case that ends because the child turns 18 (`age_limit`) ends for a reason the
# model cannot change: count it as censored, not as a closing. Half a day is added so that a
# case closed on the day it opened has positive time.

# %%
teams = tables["teams"]
last_start = teams.groupby("site_id")["model_start"].max()
cases = tables["cases"].merge(teams, on="team_id")
cases = cases[cases["opened"] >= cases["site_id"].map(last_start)].copy()
cases["days"] = (cases["closed"].fillna(extracted) - cases["opened"]).dt.days + 0.5
cases["closing"] = (cases["closed"].notna() & (cases["end_reason"] != "age_limit")).astype(int)
cases["placement"] = cases["end_reason"].eq("placement").fillna(False).astype(int)
cases["pilot"] = cases["arm"].eq("pilot").astype(int)
cases["lsl"] = cases["legal_basis"].eq("LSL").astype(int)
cases = pd.DataFrame(cases[["days", "closing", "placement", "pilot", "lsl", "site_id", "team_id"]])
cases.groupby("pilot")[["closing", "placement"]].agg(["size", "mean"])

# %% [markdown]
# ## Step 1. Case duration: the hazard of a case closing
#
# Fit a Cox model of `days` and `closing` on `pilot` and `lsl`, stratified by `site_id`, with
# standard errors clustered by `team_id` (`survival.cox(..., strata=..., cluster=...)`). Submit
# the hazard ratio of `pilot` with its 95% CI: `(ratio, ratio_ci_low, ratio_ci_high)`. Compare
# with the same model without `cluster`: why is its CI narrower, and which one is honest?

# %% tags=["answer"]
# Your code here: compute the answer with evalkit (see the step above), then replace ... with it.
answer = ...
exercises.check("cap_hr_close", answer)

# %% [markdown]
# ## Step 2. Placements
#
# A placement ends the case; so does closing for other reasons, which prevents a later
# placement in this case. The *cause-specific* hazard of placement treats the other ends as
# censored. Fit the same model with `placement` as the event and submit the pilot's hazard ratio
# with its CI.

# %% tags=["answer"]
# Your code here: compute the answer with evalkit (see the step above), then replace ... with it.
answer = ...
exercises.check("cap_hr_placement", answer)

# %% [markdown]
# ## Shaping sick leave
#
# Each worker's employment spell gives person-time, weighted by the FTE share, split at the
# team's model start (for a comparison team: the first start in its site), from the start of
# follow-up to the end of employment or the extraction date. Sick-leave days are counted in the
# period in which the absence began. The result: one row per team and period with `days`,
# `fte_years`, `pilot` and `after`.

# %%
teams_cut = teams.assign(cut=teams["model_start"].fillna(teams["site_id"].map(teams.groupby("site_id")["model_start"].min())))
staff = tables["staff"].merge(teams_cut, on="team_id")
begin, end = staff["start"].clip(lower=follow_start), staff["end"].fillna(extracted)
days_before = ((np.minimum(end, staff["cut"] - pd.Timedelta(days=1)) - begin).dt.days + 1).clip(lower=0)
days_after = ((end - np.maximum(begin, staff["cut"])).dt.days + 1).clip(lower=0)
person_time = pd.concat([
    pd.DataFrame({"team_id": staff["team_id"], "after": 0, "fte_years": days_before * staff["fte"] / 365.25}),
    pd.DataFrame({"team_id": staff["team_id"], "after": 1, "fte_years": days_after * staff["fte"] / 365.25}),
]).groupby(["team_id", "after"], as_index=False)["fte_years"].sum()
sick = tables["absences"].query("kind == 'sick_leave'").merge(staff[["worker_id", "team_id", "cut"]], on="worker_id")
sick = sick[sick["start"] >= follow_start]
sick = sick.assign(days=(sick["end"] - sick["start"]).dt.days + 1, after=(sick["start"] >= sick["cut"]).astype(int))
sick_days = sick.groupby(["team_id", "after"], as_index=False)["days"].sum()
panel = person_time.merge(sick_days, on=["team_id", "after"], how="left").fillna({"days": 0})
panel = panel.merge(teams[["team_id", "arm"]], on="team_id")
panel["pilot"] = panel["arm"].eq("pilot").astype(int)
crude = panel.groupby(["pilot", "after"])[["days", "fte_years"]].sum()
crude["per_fte_year"] = crude["days"] / crude["fte_years"]
crude

# %% [markdown]
# ## Step 3. Sick leave
#
# The difference-in-differences of rates is the ratio of rate ratios: (pilot after / pilot
# before) / (comparison after / comparison before), `rates.rate_did`. Sick-leave days are
# overdispersed and clustered (a few long absences; workers share a team), so cluster the
# standard errors by team. Submit the ratio with its CI.

# %% tags=["answer"]
# Your code here: compute the answer with evalkit (see the step above), then replace ... with it.
answer = ...
exercises.check("cap_sick_leave_rr", answer)

# %% [markdown]
# ## Shaping costs
#
# Purchased services booked to a pilot team, summed over service types per month, with the
# team's start month.

# %%
services = tables["services"].dropna(subset=["team_id"])
team_costs = services.groupby(["team_id", "month"], as_index=False)["cost_eur"].sum().merge(teams, on="team_id")
team_costs = team_costs[team_costs["arm"] == "pilot"]
team_costs["start"] = team_costs["model_start"].dt.strftime("%Y-%m")
team_costs.groupby("team_id")["start"].first().value_counts().sort_index()

# %% [markdown]
# ## Step 4. Costs: level and slope change, pooled over pilot teams
#
# Fit an interrupted time series to each pilot team's monthly costs at the team's own start
# (`trends.its`, quasi-Poisson, with a slope change and two harmonics), collect each team's
# `level_change` and `slope_change` estimates and their variances (SE squared), and pool them
# with `meta.pool` (random effects, REML). Submit the pooled level change as a ratio with its CI
# (exponentiate), then the pooled slope change. One way: a `for team_id, series in
# team_costs.groupby("team_id"):` loop that appends one dict per team to a list, then
# `pd.DataFrame(that_list)`; each team's start is `series["start"].iloc[0]`.

# %% tags=["answer"]
# Your code here: compute the answer with evalkit (see the step above), then replace ... with it.
answer = ...
exercises.check("cap_cost_level", answer)

# %% tags=["answer"]
# Your code here: compute the answer with evalkit (see the step above), then replace ... with it.
answer = ...
exercises.check("cap_cost_slope", answer)

# %% [markdown]
# ## Step 5. The truth
#
# Now compare your estimates with the effects built into the data: once you have submitted
# steps 1-4, remove the `#` below and run the cell (`exercises.reveal` shows the true effects of
# `ds`, as recorded in `ds.meta["true_effects"]`, the `dataset.yaml` of `evalkit synth`). Which
# of your intervals were wide, and why?

# %%
# exercises.reveal("capstone", ds)

# %% [markdown]
# ## Step 6. What could a small controlled study detect?
#
# Aaltio (2023) had 9 teams per arm and 112 cases, about 112 / 18 = 6.2 cases per team.
# Outcomes of cases in one team are correlated; with an intra-cluster correlation (ICC) of 0.05
# the design effect is 1 + (m - 1) x ICC. What is the minimum detectable standardised effect
# (Cohen's d) at a two-sided alpha of 0.05 and 80% power? (`design.mde`)

# %% tags=["answer"]
# Your code here: compute the answer with evalkit (see the step above), then replace ... with it.
answer = ...
exercises.check("cap_mde", answer)

# %% [markdown]
# ## To think about
#
# - A minimum detectable effect of that size is large for a social intervention. With what power could
#   such a study detect an effect of d = 0.3 (`design.power(effect=0.3, ...)`, below)? What does
#   "no significant differences" tell us then?
# - How many teams per arm would detect d = 0.3 with 80% power? Try `design.mde` with more teams.

# %%
design.power(effect=0.3, clusters_per_arm=9, cluster_size=112 / 18, icc=0.05)
