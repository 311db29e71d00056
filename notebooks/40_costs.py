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
# # Purchased-service costs
#
# Each pilot team's monthly purchased-service euros, interrupted at its own start, against
# the comparison teams over the same months: a team-month panel with team and month
# effects and errors that persist from month to month (`evalkit.trends.staggered_its`), and
# a check that pilot and comparison teams moved alike before the starts
# (`evalkit.trends.pretrend_test`). Purchases booked to no team are the site's own budget
# trend, not part of the estimate.
#
# Run for one site: `papermill --cwd notebooks notebooks/40_costs.ipynb out.ipynb -p site kuopio -p lang en`
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
report.costs(results, cfg)

# %%
results.results["costs"]["panel"]

# %%
results.results["costs"]["pretrend"]

# %% [markdown]
# The monthly euros by arm (`site`: services not booked to a team).

# %%
results.tables["costs"]["monthly"]
