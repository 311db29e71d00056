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
# # Data quality and descriptives
#
# Checks the dataset against the data contract and describes one site's data: how many
# rows each table has for the site, how many rows of the whole dataset validation set
# aside and why, and the case durations and end reasons by arm.
#
# Run for one site: `papermill --cwd notebooks notebooks/10_data_quality.ipynb out.ipynb -p site kuopio -p lang en`
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
site_data = evalkit.site.site_data(dataset.tables, dataset.meta, cfg)

# %%
report.data_quality(dataset, site_data, cfg)

# %% [markdown]
# The validation report of the whole dataset: per table the rows read, kept and set
# aside (quarantined), and every rule broken with the first row numbers.

# %%
dataset.report

# %%
dataset.report.summary()

# %% [markdown]
# Cases of the duration analysis (opened from their team's start) by arm (`pilot` = 1):
# length in days, and how they ended (0 open or aged 18, 1 closed, 2 placement).

# %%
evalkit.site.duration_data(site_data).groupby("pilot")["days"].describe()

# %%
evalkit.site.duration_data(site_data).groupby("pilot")["event"].value_counts().unstack()
