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
# # Exercise 1. Difference-in-differences: the New Jersey minimum wage (Card & Krueger 1994)
#
# **The study.** On 1 April 1992 New Jersey raised its minimum wage from \$4.25 to \$5.05 an
# hour; neighbouring eastern Pennsylvania did not. Card and Krueger (1994, *American Economic
# Review* 84(4)) interviewed 410 fast-food restaurants in both states in February-March 1992
# (wave 1, before) and again in November-December 1992 (wave 2, after) and counted full-time
# equivalent (FTE) employment.
#
# **The question.** Did employment in New Jersey's restaurants fall, relative to Pennsylvania's,
# after the rise? You will reproduce row 4 of their Table 3: the change in mean FTE employment
# per restaurant, in each state and New Jersey minus Pennsylvania, in the *balanced sample*
# (restaurants with FTE counts in both waves).
#
# **Why the method fits.** Pennsylvania shows what would have happened in New Jersey without
# the rise: if both states would have followed the same trend (*parallel trends*), then New
# Jersey's change minus Pennsylvania's change is the effect of the rise. Each restaurant's own
# before-after change removes its fixed characteristics. An evaluation of the systemic practice
# model has the same shape: pilot teams (New Jersey) and comparison teams (Pennsylvania), before
# and after the model start.
#
# **The data.** `exercises.load("card_krueger")`: one row per restaurant and wave (Angrist &
# Pischke's long version of the data). Columns used here: `id` (restaurant), `nj` (1 = New
# Jersey, 0 = Pennsylvania), `d` (1 = wave 2, after), `fte` (full-time employees + managers +
# half the part-timers; empty where a restaurant did not answer).
#
# **How to work.** Run the cells from the top (in JupyterLab, or from a shell:
# `papermill 01_did_card_krueger.ipynb out.ipynb`). The evalkit functions are
# `evalkit.effects.did_table` and `evalkit.effects.did`; `help(effects.did)` explains their
# arguments. Each step ends with `answer = ...` and `exercises.check("<id>", answer)`: replace
# the `...` with your answer (a number you compute with evalkit, not one you type in). ✓ means
# correct to the published precision; ✗ comes with a hint; ○ means not answered yet.

# %% tags=["parameters"]
dataset = "card_krueger"

# %%
from evalkit import effects, exercises

ck = exercises.load(dataset)
ck[["id", "nj", "d", "fte"]].head()

# %% [markdown]
# How many restaurants per state and wave, and how many FTE counts are missing?

# %%
ck.groupby(["nj", "d"])["fte"].agg(["size", "count", "mean"])

# %% [markdown]
# ## Step 1. The change in Pennsylvania
#
# `effects.did_table(data, outcome, treated, post, unit=...)` gives the four group-by-period
# means and, with `unit`, the mean *change* of the restaurants seen in both waves. What is the
# mean change in FTE employment in Pennsylvania (the control group)?

# %% tags=["solution"]
table = effects.did_table(ck, "fte", "nj", "d", unit="id")
display(table)
answer = table["change:control"]["estimate"]
exercises.check("ck_change_pa", answer)

# %% [markdown]
# ## Step 2. The change in New Jersey
#
# And the mean change in New Jersey (the treated group)?

# %% tags=["solution"]
table = effects.did_table(ck, "fte", "nj", "d", unit="id")
answer = table["change:treated"]["estimate"]
exercises.check("ck_change_nj", answer)

# %% [markdown]
# ## Step 3. The difference-in-differences and its standard error
#
# `effects.did(data, outcome, treated, post, unit=..., balanced=True)` estimates New Jersey's
# change minus Pennsylvania's from the restaurants seen in both waves; its standard error
# combines the two states' change variances (the two samples are independent). Submit the
# estimate, then its standard error.

# %% tags=["solution"]
res = effects.did(ck, "fte", "nj", "d", unit="id", balanced=True)
display(res)
answer = res["did"]["estimate"]
exercises.check("ck_did", answer)

# %% tags=["solution"]
res = effects.did(ck, "fte", "nj", "d", unit="id", balanced=True)
answer = res["did"]["se"]
exercises.check("ck_did_se", answer)

# %% [markdown]
# ## To think about
#
# - Once you have answered: the regression form `fte ~ nj + d + nj:d` on all available rows
#   (`effects.did(ck, "fte", "nj", "d")`) gives almost the same estimate but a larger standard
#   error. Why? (It ignores that the same restaurant is measured twice; try adding
#   `cluster="id", se_type="cluster"`.)
# - What would break the parallel-trends assumption in a pilot-vs-comparison team evaluation?
