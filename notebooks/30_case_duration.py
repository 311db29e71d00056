# ---
# jupyter:
#   jupytext:
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
# # Case duration and placements
#
# How long cases last in pilot and comparison teams (Kaplan-Meier), the change in the
# hazard of a case ending when a pilot team starts the model (a Cox model on
# counting-process rows with team strata and calendar periods: a difference in
# differences), and placement outside the home as a competing end of a case (cumulative
# incidence, cause-specific Cox, Gray's test).
#
# Run for one site: `papermill --cwd notebooks notebooks/30_case_duration.ipynb out.ipynb -p site kuopio -p lang en`
# (from the repository root, after `evalkit synth --out data/synthetic`), or open it in
# JupyterLab and edit the parameters cell. This is a researcher's notebook: the Result
# objects below show every row and figure of the estimators, without the disclosure
# control of the site report (`evalkit/templates/site_report`), so do not publish it as it is.

# %% tags=["parameters"]
site: str = "kuopio"
data_dir: str = "../data/synthetic"
params_file: str = ""
lang: str = "en"  # the prose of this notebook is English; fi or sv translates its sections only
out_dir: str = ""
config_json: str = ""

# %%
import evalkit
from evalkit import report

cfg = report.load_config(site=site, params_file=params_file, lang=lang, config_json=config_json)

# %%
dataset = report.load_dataset(data_dir)
results = evalkit.site.analyse(dataset.tables, dataset.meta, cfg)
site_data = evalkit.site.site_data(dataset.tables, dataset.meta, cfg)

# %%
report.duration(results, cfg)

# %% [markdown]
# Median duration by arm (cases opened after the start: a description), and the
# difference-in-differences Cox models of any end and of placement (each pilot team
# against itself before its start, net of the comparison teams' change).

# %%
results.results["duration"]["median"]

# %%
results.results["duration"]["cox_end"]

# %%
results.results["duration"]["cox_placement"]

# %% [markdown]
# Gray's test of equal cumulative incidence of placement in the two arms.

# %%
results.results["duration"]["gray_placement"]

# %% [markdown]
# Proportional hazards check of the Cox model of any end (scaled Schoenfeld residuals,
# as R `cox.zph`): a small p suggests the hazard ratio changes over time.

# %%
evalkit.survival.cox_zph(evalkit.site.duration_data(site_data), "days", "any_end", ["pilot", "lsl"])
