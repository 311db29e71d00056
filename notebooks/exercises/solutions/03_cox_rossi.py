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
# # Exercise 3. Cox regression: financial aid and re-arrest (Rossi, Berk & Lenihan 1980)
#
# **The study.** 432 men released from Maryland state prisons were followed for one year
# (Rossi, Berk & Lenihan 1980, *Money, Work and Crime*). Half of them, at random, received
# financial aid after release (`fin` = 1). The outcome is the week of the first re-arrest
# (`week`; `arrest` = 1 if re-arrested, 0 if not re-arrested within 52 weeks, i.e. censored).
# Other covariates: `age` at release, `race` (1 = black), `wexp` (1 = full-time work
# experience), `mar` (1 = married), `paro` (1 = released on parole), `prio` (number of prior
# convictions). Fox & Weisberg's *R Companion to Applied Regression* uses these data in its
# appendix on Cox regression.
#
# **The question.** Did financial aid delay re-arrest, adjusting for the other covariates? You
# will reproduce R's `coxph(Surv(week, arrest) ~ fin + age + race + wexp + mar + paro + prio)`.
#
# **Why the method fits.** Most men (318 of 432) were not re-arrested within the year: their
# time is censored. The Cox model compares the hazard of re-arrest between men with and
# without aid at every week, adjusted for the covariates, without assuming how the hazard
# changes over time. Evaluations of the systemic practice model use the same model for the
# hazard of a child-protection case closing, or of a placement.
#
# **The data.** `exercises.load("rossi")`: one row per man.
#
# **How to work.** Run the cells from the top (JupyterLab, or `papermill 03_cox_rossi.ipynb
# out.ipynb`). The evalkit function is `evalkit.survival.cox` (`help(survival.cox)`): Efron's
# method for tied times, as R. Replace each `answer = ...` with an answer computed with evalkit.

# %% tags=["parameters"]
dataset = "rossi"

# %%
from evalkit import exercises, survival

rossi = exercises.load(dataset)
rossi.head()

# %%
rossi.groupby("fin")["arrest"].agg(["size", "sum", "mean"])

# %% [markdown]
# ## Step 1. The coefficient of financial aid
#
# Fit the Cox model with all seven covariates. What is the coefficient (log hazard ratio) of
# `fin`?

# %% tags=["solution"]
fit = survival.cox(rossi, "week", "arrest", ["fin", "age", "race", "wexp", "mar", "paro", "prio"])
display(fit)
answer = fit["fin"]["estimate"]
exercises.check("rossi_fin_coef", answer)

# %% [markdown]
# ## Step 2. The hazard ratio and its confidence interval
#
# The hazard ratio of financial aid, then its 95% CI as `(low, high)`.

# %% tags=["solution"]
fit = survival.cox(rossi, "week", "arrest", ["fin", "age", "race", "wexp", "mar", "paro", "prio"])
answer = fit["fin"]["ratio"]
exercises.check("rossi_fin_hr", answer)

# %% tags=["solution"]
fit = survival.cox(rossi, "week", "arrest", ["fin", "age", "race", "wexp", "mar", "paro", "prio"])
answer = (fit["fin"]["ratio_ci_low"], fit["fin"]["ratio_ci_high"])
exercises.check("rossi_fin_hr_ci", answer)

# %% [markdown]
# ## Step 3. The model as a whole
#
# The likelihood-ratio test compares the model with one without covariates. Its statistic?

# %% tags=["solution"]
fit = survival.cox(rossi, "week", "arrest", ["fin", "age", "race", "wexp", "mar", "paro", "prio"])
answer = fit.stats["lr_chi2"]
exercises.check("rossi_lr_chi2", answer)

# %% [markdown]
# ## To think about
#
# - Financial aid was randomised. Why adjust for the other covariates at all? Fit
#   `survival.cox(rossi, "week", "arrest", ["fin"])` and compare the hazard ratio and its CI.
# - The Cox model assumes proportional hazards: `survival.cox_zph` tests it. Which covariate is
#   suspect?

# %%
survival.cox(rossi, "week", "arrest", ["fin"])
