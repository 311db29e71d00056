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
# # Exercise 4. Rates with exposure: damage incidents of cargo ships (McCullagh & Nelder 1989)
#
# **The study.** Lloyd's Register recorded wave damage to the hulls of cargo ships of five types
# (`type` A-E), built in four periods (`year` 1960-64, 65-69, 70-74, 75-79) and operated in two
# periods (`period` 1960-74, 1975-79). Each row is one type x construction period x operation
# period cell with its `incidents` (number of damage incidents) and `service` (aggregate
# months of service). McCullagh & Nelder, *Generalized Linear Models* (1989), section 6.3; R
# MASS's `ships`.
#
# **The question.** Was the rate of damage incidents per month of service higher in 1975-79
# than in 1960-74, for ships of the same type and age? You will reproduce their Poisson model
# `glm(incidents ~ type + year + period + offset(log(service)), family = poisson)` and its
# dispersion.
#
# **Why the method fits.** Counts of events come from different amounts of exposure: a cell
# with 20,000 months of service has more incidents than one with 60 months, without being more
# dangerous. A Poisson model of the counts with log(exposure) as an *offset* models the *rate*
# (incidents per month of service), and its coefficients are log rate ratios. If the counts
# vary more than a Poisson model allows (*overdispersion*), the quasi-Poisson model widens the
# standard errors by the square root of the Pearson dispersion. Sick leave in a team evaluation
# has this shape: sick-leave days (events) per FTE-year of employment (exposure).
#
# **The data.** `exercises.load("ships")`: 40 cells; some have no months of service (those
# ship types were not built, or not yet in service, in those years).
#
# **How to work.** Run the cells from the top (JupyterLab, or `papermill 04_rates_ships.ipynb
# out.ipynb`). The evalkit function is `evalkit.rates.rate_model(data, formula, exposure=...,
# family=...)` (`help(rates.rate_model)`); in the formula, `C(type)` makes a column a
# categorical factor. Replace each `answer = ...` with an answer computed with evalkit.

# %% tags=["parameters"]
dataset = "ships"

# %%
from evalkit import exercises, rates

ships = exercises.load(dataset)
ships.head(8)

# %% [markdown]
# ## Step 1. Which cells carry information?
#
# Fit the Poisson rate model with type, construction year and operation period as categorical
# factors and `service` as the exposure. How many cells enter the model?

# %% tags=["answer"]
# Your code here: compute the answer with evalkit (see the step above), then replace ... with it.
answer = ...
exercises.check("ships_n", answer)

# %% [markdown]
# ## Step 2. The period effect
#
# The coefficient of operation in 1975-79 (log rate ratio), then the same as a rate ratio.

# %% tags=["answer"]
# Your code here: compute the answer with evalkit (see the step above), then replace ... with it.
answer = ...
exercises.check("ships_period75", answer)

# %% tags=["answer"]
# Your code here: compute the answer with evalkit (see the step above), then replace ... with it.
answer = ...
exercises.check("ships_period75_rr", answer)

# %% [markdown]
# ## Step 3. Overdispersion
#
# The Pearson dispersion is the Pearson chi-square divided by the residual degrees of freedom;
# a Poisson model assumes it is 1. What is it here?

# %% tags=["answer"]
# Your code here: compute the answer with evalkit (see the step above), then replace ... with it.
answer = ...
exercises.check("ships_dispersion", answer)

# %% [markdown]
# ## Step 4. The quasi-Poisson standard error
#
# Refit as quasi-Poisson. What is the standard error of the period coefficient now?

# %% tags=["answer"]
# Your code here: compute the answer with evalkit (see the step above), then replace ... with it.
answer = ...
exercises.check("ships_period75_qp_se", answer)

# %% [markdown]
# ## To think about
#
# - A dispersion of 1.7 widens every CI by a factor sqrt(1.7) = 1.3. Does the period effect stay
#   significant?
# - In a sick-leave analysis, what plays the part of `service`? What would be the "cells"?
