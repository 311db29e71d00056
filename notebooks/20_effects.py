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
# # Pilot versus comparison teams: the key estimates and the worker survey
#
# The site's headline estimates side by side, then the worker wellbeing survey: change
# from the first to the last round in pilot teams minus that in comparison teams (DiD of
# means), and the mixed ANOVA (or mixed model) over all rounds.
#
# Run for one site: `papermill --cwd notebooks notebooks/20_effects.ipynb out.ipynb -p site kuopio -p lang en`
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
report.summary(results, cfg)

# %% [markdown]
# The key estimates on the model scale (log ratios; `ratio` exponentiated), as pooled
# across sites in the index page.

# %%
results.key_estimates()

# %%
report.survey(results, cfg)

# %% [markdown]
# The DiD of mean wellbeing scores (first and last round).

# %%
results.results["survey"]["did"]

# %% [markdown]
# All rounds: arm, round and their interaction.

# %%
results.results["survey"]["anova"]

# %%
results.tables["survey"]["means"]
