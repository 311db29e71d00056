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
# # Workforce: caseload, face-to-face work and turnover
#
# Open cases per social-worker FTE by month and arm against the recommended 20 and the
# legal caps (35 in 2022-23, 30 from 2024), the face-to-face share of working time by
# time-use round and arm, and staff turnover (leavers per FTE-year).
#
# Run for one site: `papermill --cwd notebooks notebooks/60_workforce.ipynb out.ipynb -p site kuopio -p lang en`
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
report.workforce(results, cfg)

# %%
results.results["workforce"]["turnover"]

# %%
results.tables["workforce"]["face_to_face"]

# %% [markdown]
# Caseload in the last twelve months of data.

# %%
results.tables["workforce"]["caseload"].tail(24)
