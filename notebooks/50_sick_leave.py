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
# # Sick leave
#
# Sick-leave days per FTE-year by arm, before and after each team's start (exact Poisson
# CIs), and the difference in differences on rates: worker x half-year rows with team and
# half-year effects, each pilot team switching at its own start (quasi-Poisson,
# worker-clustered jackknife SEs with Satterthwaite df).
#
# Run for one site: `papermill --cwd notebooks notebooks/50_sick_leave.ipynb out.ipynb -p site kuopio -p lang en`
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

# %%
report.sick_leave(results, cfg)

# %%
results.results["sick_leave"]["rates"]

# %%
results.results["sick_leave"]["rate_twfe"]

# %% [markdown]
# Days and FTE-years by arm and period, before and after each team's start (the crude rates above).

# %%
results.tables["sick_leave"]["by_worker"].groupby(["arm", "period"])[["days", "fte_years"]].sum()
