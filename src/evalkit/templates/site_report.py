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

# %% [markdown] tags=["remove"]
# # Site report
#
# The report for one pilot site, for managers: a one-page summary of the findings
# (what changed, by how much, how sure), then data quality, the worker survey, case
# duration and placements, purchased services, sick leave and the workforce, and a
# reproducibility stamp. Text, tables and figures are in the language of the site's
# parameters (fi, sv or en); small counts are suppressed. This cell is not shown in
# the rendered report.
#
# Rendered for every site by `evalkit render --data data/synthetic --params params --out reports`,
# which finds this notebook where evalkit is installed (package data, `evalkit.render.REPORT_NOTEBOOK`).
# For one site, from a clone: `papermill src/evalkit/templates/site_report.ipynb out.ipynb -p site kuopio -p lang en`
# (first `evalkit synth --out data/synthetic`).

# %% tags=["parameters"]
site: str = "kuopio"
data_dir: str = "data/synthetic"
params_file: str = ""
lang: str = ""
out_dir: str = ""
researcher_dir: str = ""
config_json: str = ""

# %%
import evalkit
from evalkit import report

cfg = report.load_config(site=site, params_file=params_file, lang=lang, config_json=config_json)

# %%
dataset = report.load_dataset(data_dir)
results = evalkit.site.analyse(dataset.tables, dataset.meta, cfg)

# %%
report.title(dataset, cfg)

# %%
report.summary(results, cfg)

# %%
report.data_quality(dataset, evalkit.site.site_data(dataset.tables, dataset.meta, cfg), cfg)

# %%
report.survey(results, cfg)

# %%
report.duration(results, cfg)

# %%
report.costs(results, cfg)

# %%
report.sick_leave(results, cfg)

# %%
report.workforce(results, cfg)

# %%
report.save_results(results, dataset, data_dir, cfg, out_dir, researcher_dir)
