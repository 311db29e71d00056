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
# The site's monthly purchased-service euros, interrupted at the first pilot start
# (quasi-Poisson segmented regression with level and slope change and two seasonal
# harmonics), and pilot-team against comparison-team costs (controlled ITS).
#
# Run for one site: `papermill notebooks/40_costs.ipynb out.ipynb -p site kuopio -p lang en`
# (from the repository root, after `evalkit synth --out data/synthetic`), or open it in
# JupyterLab and edit the parameters cell. This is a researcher's notebook: the Result
# objects below show every row and figure of the estimators, without the disclosure
# control of the site report (`90_site_report`), so do not publish it as it is.

# %% tags=["parameters"]
site: str = "kuopio"
data_dir: str = "../data/synthetic"
params_file: str = ""
lang: str = ""
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
results.results["costs"]["its"]

# %%
results.results["costs"]["controlled_its"]

# %% [markdown]
# The monthly series the models were fitted to (`site`: services not booked to a team).

# %%
results.tables["costs"]["monthly"]
