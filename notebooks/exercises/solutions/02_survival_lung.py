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
# # Exercise 2. Survival: Kaplan-Meier, log-rank and Cox on the NCCTG lung cancer data
#
# **The study.** The North Central Cancer Treatment Group followed 228 patients with advanced
# lung cancer (Loprinzi et al. 1994, *Journal of Clinical Oncology* 12:601-607); the data are
# R survival's `lung`. For each patient we know the days from enrolment to death or to the end
# of follow-up (`time`) and whether the patient died (`status`: 1 = died, 0 = censored, still
# alive when last seen), with `sex` (1 = male, 2 = female).
#
# **The question.** How long did the patients survive, and did women survive longer than men?
# You will reproduce R's printed output: `survfit`, `survdiff` and `coxph`.
#
# **Why the method fits.** 63 patients were still alive at the end of their follow-up: their
# survival time is only known to exceed `time`. Dropping them or counting their time as a death
# biases the answer; Kaplan-Meier, the log-rank test and Cox regression use each patient's
# time at risk as far as it is known (*censoring*). The length of a child-protection case is
# the same kind of outcome: cases still open at the data extraction are censored.
#
# **The data.** `exercises.load("lung")`: one row per patient.
#
# **How to work.** Run the cells from the top (JupyterLab, or `papermill 02_survival_lung.ipynb
# out.ipynb`). The evalkit functions are in `evalkit.survival`: `median_survival`,
# `survival_at`, `km`, `logrank`, `cox` (`help(survival.median_survival)` ...). Replace each
# `answer = ...` with an answer computed with evalkit and run `exercises.check`.

# %% tags=["parameters"]
dataset = "lung"

# %%
from evalkit import exercises, survival

lung = exercises.load(dataset)
lung[["time", "status", "sex"]].describe()

# %% [markdown]
# ## Step 1. The median survival time
#
# The Kaplan-Meier median is the first time the estimated survival curve falls to 0.5 or below.
# What is the median survival (in days) of all 228 patients?

# %% tags=["solution"]
med = survival.median_survival(lung, "time", "status")
display(med)
answer = med.table["estimate"].iloc[0]
exercises.check("lung_median", answer)

# %% [markdown]
# ## Step 2. Its confidence interval, as R prints it
#
# R's `survfit` draws the 95% band of the curve on the log scale (`conf.type = "log"`, R's
# default; other programs differ, lifelines uses log(-log)). The median's CI runs from the
# first time the lower band falls to 0.5 or below to the first time the upper band does.
# Submit `(low, high)`.

# %% tags=["solution"]
med = survival.median_survival(lung, "time", "status", conf_type="log")
answer = (med.table["ci_low"].iloc[0], med.table["ci_high"].iloc[0])
exercises.check("lung_median_ci", answer)

# %% [markdown]
# ## Step 3. Survival at 200 days
#
# What share of patients does the Kaplan-Meier curve estimate to be alive at 200 days?

# %% tags=["solution"]
at = survival.survival_at(lung, "time", "status", [200])
display(at)
answer = at.table["survival"].iloc[0]
exercises.check("lung_surv200", answer)

# %% [markdown]
# ## Step 4. Women and men
#
# The median survival of the women (`sex` = 2)?

# %% tags=["solution"]
by_sex = survival.median_survival(lung, "time", "status", group="sex")
display(by_sex)
answer = by_sex.table.loc[2, "estimate"]
exercises.check("lung_median_sex2", answer)

# %% [markdown]
# ## Step 5. The log-rank test
#
# The log-rank test compares the observed deaths in each group with those expected if both
# groups shared one survival curve. What is its chi-square?

# %% tags=["solution"]
lr = survival.logrank(lung, "time", "status", "sex")
display(lr)
answer = lr.stats["chi2"]
exercises.check("lung_logrank_chi2", answer)

# %% [markdown]
# ## Step 6. The Cox model
#
# A Cox model summarises the difference as one hazard ratio: the women's risk of death at any
# time relative to the men's. With `sex` coded 1 and 2, its coefficient is per one unit of
# `sex`, i.e. women vs men. What is the hazard ratio?

# %% tags=["solution"]
fit = survival.cox(lung, "time", "status", ["sex"])
display(fit)
answer = fit["sex"]["ratio"]
exercises.check("lung_cox_hr_sex", answer)

# %% [markdown]
# ## To think about
#
# - The hazard ratio and the difference in medians both say the women lived longer. Are they
#   the same claim? What does the Cox model assume that the medians do not?
# - Plot the curves with `survival.km(lung, "time", "status", group="sex").table`: do they cross?
