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
# # Exercise 5. Pooling: random-effects meta-analysis of the BCG vaccine trials
#
# **The study.** Thirteen trials from 1933 to 1968 tested the BCG vaccine against tuberculosis
# (Colditz et al. 1994, *JAMA* 271:698-702; R metafor's `dat.bcg`). For each trial: `tpos` and
# `tneg`, the vaccinated people who did and did not get tuberculosis; `cpos` and `cneg`, the same
# for the unvaccinated; and the trial's latitude (`ablat`).
#
# **The question.** By how much does the vaccine reduce the risk of tuberculosis, over all
# trials, and how much does the effect vary between trials? You will reproduce metafor's
# `rma(yi, vi)` (REML) on the log risk ratios and its `predict(..., transf = exp)`.
#
# **Why the method fits.** Each trial estimates the effect with its own precision. A
# random-effects model pools the trials' log risk ratios, weighting each by the inverse of its
# variance plus a between-trial variance tau^2: the trials are allowed to have different true
# effects (vaccine strains, climates, populations), and the pooled estimate is their mean. The
# prediction interval says where a new trial's true effect is likely to fall. evalkit pools the
# sites of a multi-site pilot the same way: each municipality is one "trial".
#
# **The data.** `exercises.load("bcg")`: one row per trial.
#
# **How to work.** Run the cells from the top (JupyterLab, or `papermill 05_pooling_bcg.ipynb
# out.ipynb`). The evalkit functions are `evalkit.meta.effect_sizes` (as metafor's `escalc`)
# and `evalkit.meta.pool` (as `rma`). Replace each `answer = ...` with an answer computed with
# evalkit.

# %% tags=["parameters"]
dataset = "bcg"

# %%
import numpy as np

from evalkit import exercises, meta

bcg = exercises.load(dataset)
bcg

# %% [markdown]
# ## Step 1. Between-trial variance
#
# Compute each trial's log risk ratio and its variance with `meta.effect_sizes(bcg, "RR",
# ai=..., bi=..., ci=..., di=...)` (`ai`/`bi`: vaccinated with/without tuberculosis, `ci`/`di`:
# unvaccinated with/without); its `.table` has them in columns `yi` and `vi`. Pool them by
# REML with `meta.pool(data, yi="yi", vi="vi", method="REML")` and submit tau^2 (in `.stats`).

# %% tags=["solution"]
es = meta.effect_sizes(bcg, "RR", ai="tpos", bi="tneg", ci="cpos", di="cneg")
pooled = meta.pool(es.table, yi="yi", vi="vi", method="REML")
display(pooled)
answer = pooled.stats["tau2"]
exercises.check("bcg_tau2", answer)

# %% [markdown]
# ## Step 2. How much of the variation is heterogeneity?
#
# I^2 (in percent).

# %% tags=["solution"]
es = meta.effect_sizes(bcg, "RR", ai="tpos", bi="tneg", ci="cpos", di="cneg")
pooled = meta.pool(es.table, yi="yi", vi="vi", method="REML")
answer = pooled.stats["i2"]
exercises.check("bcg_i2", answer)

# %% [markdown]
# ## Step 3. The pooled risk ratio
#
# The pooled estimate is a mean log risk ratio. Submit the pooled risk ratio, then its 95% CI
# `(low, high)`.

# %% tags=["solution"]
es = meta.effect_sizes(bcg, "RR", ai="tpos", bi="tneg", ci="cpos", di="cneg")
pooled = meta.pool(es.table, yi="yi", vi="vi", method="REML")
answer = np.exp(pooled["pooled"]["estimate"])
exercises.check("bcg_rr", answer)

# %% tags=["solution"]
es = meta.effect_sizes(bcg, "RR", ai="tpos", bi="tneg", ci="cpos", di="cneg")
pooled = meta.pool(es.table, yi="yi", vi="vi", method="REML")
answer = np.exp((pooled["pooled"]["ci_low"], pooled["pooled"]["ci_high"]))
exercises.check("bcg_rr_ci", answer)

# %% [markdown]
# ## Step 4. Few studies: the Knapp-Hartung adjustment
#
# The z-based CI treats tau^2 as known. With few studies (or few pilot sites) that is
# optimistic; the Knapp-Hartung method (`test="knha"`) rescales the SE and uses a t
# distribution on k - 1 degrees of freedom. Submit the pooled risk ratio's 95% CI from that fit,
# then its 95% prediction interval for the risk ratio of a new trial (`pi_low`, `pi_high`).

# %% tags=["solution"]
es = meta.effect_sizes(bcg, "RR", ai="tpos", bi="tneg", ci="cpos", di="cneg")
pooled = meta.pool(es.table, yi="yi", vi="vi", method="REML", test="knha")
display(pooled)
answer = np.exp((pooled["pooled"]["ci_low"], pooled["pooled"]["ci_high"]))
exercises.check("bcg_rr_ci_knha", answer)

# %% tags=["solution"]
es = meta.effect_sizes(bcg, "RR", ai="tpos", bi="tneg", ci="cpos", di="cneg")
pooled = meta.pool(es.table, yi="yi", vi="vi", method="REML", test="knha")
answer = np.exp((pooled["pooled"]["pi_low"], pooled["pooled"]["pi_high"]))
exercises.check("bcg_rr_pi", answer)

# %% [markdown]
# ## To think about
#
# - The CI says the vaccine works on average; the prediction interval includes 1. What does
#   that mean for a new trial, or for a new pilot municipality?
# - Trials far from the equator found larger effects (`ablat`). How would you look at that?
