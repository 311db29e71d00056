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
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Start here: evalkit in one notebook
#
# A guided tour for researchers: load a dataset, read its validation report, and call one
# estimator of each family (survival, effects, rates, trends, meta-analysis, design) with
# its figure. Every estimator takes a DataFrame and column names and returns an
# `evalkit.Result`: `.table` (estimate, se, ci_low, ci_high, p), `.stats` and a one-line
# `.method`; in JupyterLab it shows as the tables below.
#
# By default the notebook synthesises a small two-site dataset with known true effects
# (`evalkit.synth`), so it runs anywhere. To use your own extract, put its folder in
# `data_dir` below (the tables of `data/README.md` plus `dataset.yaml`), and name two of its
# sites in `site` and `other_site`.
#
# Open it in JupyterLab (`source .venv/bin/activate && jupyter lab`) and run the cells, or run
# it from the `notebooks/` folder with papermill:
# `papermill 00_start_here.ipynb /tmp/start.ipynb -p data_dir ../data/synthetic`.
# Results here are not disclosure-controlled: do not publish them as they are.

# %% tags=["parameters"]
data_dir: str = ""
site: str = "kuopio"
other_site: str = "jyvaskyla"
seed: int = 1

# %%
# the inline backend chosen before evalkit.plots draws: its style context would otherwise
# undo the backend's interactive setting after the first figure, and later figures stay hidden
# %matplotlib inline
import tempfile

import pandas as pd

import evalkit

synthetic = None if data_dir else evalkit.synth.synthesise(sites=2, seed=seed)
folder = data_dir or evalkit.io.write_dataset(synthetic.tables, synthetic.meta, tempfile.mkdtemp(prefix="evalkit_"))
dataset = evalkit.validation.validate(folder)
dataset

# %% [markdown]
# ## 1. The validation report
#
# `validate` reads every table, checks it against the data contract and keeps each row
# either as valid (`dataset.tables`) or quarantined with the rules it broke
# (`dataset.quarantine`), so that `rows_in = valid + quarantined` in every table. Above are
# the counts per table; below, the failures grouped by table, column and rule (none for the
# synthetic data). Only valid rows are analysed from here on. The command line does the
# same: `evalkit validate DIR --quarantine QDIR --report report.json`.

# %%
dataset.report.summary()

# %% [markdown]
# The analyses below are for one site. `site_data` selects its rows of every table;
# `SiteConfig` holds the site's choices (confidence level, disclosure threshold, seed).

# %%
cfg = evalkit.config.SiteConfig(site=site, lang="en", seed=seed)
one_site = evalkit.site.site_data(dataset.tables, dataset.meta, cfg)
cfg

# %% [markdown]
# ## 2. Survival: how long cases last
#
# One row per case opened from its team's start: `days` until the case closed (or was
# censored at the extraction date or at age 18), `any_end` (1 = closed), `pilot` (1 = a pilot
# team), `lsl` (1 = a child-welfare-act case) and the team. Kaplan-Meier curves by arm, with
# R's log confidence intervals; the numbers at risk are shown under the plot and the curves
# stop where fewer than five cases remain at risk.

# %%
cases = evalkit.site.duration_data(one_site)
km = evalkit.survival.km(cases, "days", "any_end", group="pilot")
evalkit.plots.km_curves(km, risk_times=[0, 180, 365, 730],
                        labels={"0": "comparison", "1": "pilot", "title": "Cases still open, by arm",
                                "xlabel": "Days since the case opened", "ylabel": "Share of cases still open"});

# %% [markdown]
# Median duration by arm (`pilot` 0 = comparison, 1 = pilot), as R `survfit`:

# %%
evalkit.survival.median_survival(cases, "days", "any_end", group="pilot")

# %% [markdown]
# Cox regression of a case ending, pilot versus comparison, adjusted for legal basis, with
# standard errors clustered by team (cases of a team are not independent). `hr` above 1
# means cases end sooner in pilot teams. A site has few teams, so the clustered standard error
# rests on few clusters: read the warning under the table before the p-value.

# %%
evalkit.survival.cox(cases, "days", "any_end", ["pilot", "lsl"], cluster="team")

# %% [markdown]
# ## 3. Effects: pilot versus comparison, before and after
#
# `evalkit.site.analyse` runs the whole analysis plan of a site (the same function the
# batch reports use, so a number here is the number in the report). Its worker wellbeing
# survey contrast is a difference in differences of mean scores: the change from the first
# to the last round in pilot teams minus that in comparison teams, on the Likert scale.

# %%
results = evalkit.site.analyse(dataset.tables, dataset.meta, cfg)
results.results["survey"]["did"]

# %% [markdown]
# Over all survey rounds: mixed ANOVA with arm between workers and round within them (the
# interaction row is the question "did the arms change differently?").

# %%
results.results["survey"]["anova"]

# %% [markdown]
# ## 4. Rates: sick leave per FTE-year
#
# One row per employment spell and period (before / after the team's start): sick-leave days
# and FTE-years. Crude rates by arm and period with exact Poisson intervals, then the
# difference in differences on the rate scale (ratio of the pilot teams' rate ratio to the
# comparison teams', quasi-Poisson).

# %%
workers = evalkit.site.sick_leave_data(one_site)
rates = evalkit.rates.compare_rates(workers, "days", "fte_years", "arm", by="period", reference="comparison")
evalkit.plots.rates_by_arm(rates, labels={"ylabel": "Sick-leave days per FTE-year"});

# %%
rates

# %%
evalkit.rates.rate_did(workers, "days", "fte_years", "pilot", "post", family="quasipoisson")

# %% [markdown]
# ## 5. Trends: purchased-service costs
#
# The site's purchased-service euros per month, interrupted at its first pilot start:
# segmented quasi-Poisson regression with a level change, a slope change and two seasonal
# harmonics. `level_change`'s `ratio` is the immediate relative change in monthly costs.

# %%
monthly = evalkit.site.monthly_costs(one_site)
start = one_site.pilot_start.strftime("%Y-%m")
cost_its = evalkit.trends.its(monthly, "total", "month", start=start, family="quasipoisson", harmonics=2,
                              slope_change=True)
cost_its

# %%
line = cost_its.frames["fitted"]
evalkit.plots.its_plot(line, "time", "observed", start=start, fitted=line["fitted"],
                       counterfactual=line["counterfactual"], labels={"ylabel": "Euros per month"});

# %% [markdown]
# ## 6. Meta-analysis: pooling sites
#
# Each site's headline estimates (`key_estimates()`, ratios on the log scale) can be pooled
# by random-effects meta-analysis, as R `metafor::rma` (REML). Here the cost level change of
# two sites; two sites are far too few to estimate the between-site variance, so read this as
# the mechanics only. `evalkit render` pools every site of a dataset on its index page.

# %%
other = evalkit.site.analyse(dataset.tables, dataset.meta, cfg.model_copy(update={"site": other_site}))
by_site = pd.concat({site: results.key_estimates(), other_site: other.key_estimates()}).xs("cost_level", level=1)
evalkit.meta.pool(by_site, yi="estimate", vi=by_site["se"] ** 2)

# %%
evalkit.plots.forest(evalkit.meta.forest_data(by_site, yi="estimate", vi=by_site["se"] ** 2),
                     labels={"xlabel_ratio": "Ratio of monthly costs at the pilot start (log scale)"});

# %% [markdown]
# ## 7. Design: what could a study detect?
#
# Before trusting a null result, ask what effect the design could have found. The Finnish
# controlled study had 9 teams per arm and 112 cases: about 6 cases per team. With an
# intraclass correlation of 0.05, the minimum detectable standardised effect (80 % power,
# 5 % two-sided) is:

# %%
evalkit.design.mde(clusters_per_arm=9, cluster_size=112 / 18, icc=0.05)

# %% [markdown]
# And whether this site's case data carry enough events and teams for the Cox model above:

# %%
evalkit.design.estimable(cases, "cox", event="any_end", group="pilot", cluster="team")

# %% [markdown]
# ## Where next
#
# - The per-topic notebooks (`10_data_quality` to `60_workforce`) and the site report
#   (`evalkit/templates/site_report`) call the same `evalkit.site.analyse`.
# - The API reference (`python docs/build.py`, then open `docs/_build/index.html`) documents
#   every estimator's arguments, output columns and the R function it matches.
# - `notebooks/exercises/` reproduces published analyses with checked answers.
