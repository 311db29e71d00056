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
# Test stand-in for `src/evalkit/templates/site_report.ipynb`, used by tests/test_render.py:
# same parameters, same outputs (a figure, a table, `results.json` as published, the data hash), a fraction of the
# content. `EVALKIT_STUB_FAIL=<site>` in the environment plants a failing estimator in that
# site's run.

# %% tags=["parameters"]
site = "kuopio"
data_dir = "data"
params_file = ""
lang = "en"
out_dir = "."
config_json = ""

# %%
import os
import sys

import matplotlib.pyplot as plt
from IPython.display import HTML, display

from evalkit import plots
from evalkit.config import SiteConfig, load_params
from evalkit.result import EstimationError
from evalkit.site import analyse
from evalkit.stamp import make_stamp, write_results
from evalkit.validation import validate

cfg = SiteConfig.model_validate_json(config_json) if config_json else load_params(params_file, lang=lang)
ds = validate(data_dir)
res = analyse(ds.tables, ds.meta, cfg)
print("working in", os.getcwd(), file=sys.stderr)  # stderr never reaches a report

# %% [markdown]
# # Site report (test stub)
# ## Key estimates

# %%
key = res.key_estimates()
display(HTML(key[["estimate", "ci_low", "ci_high"]].round(3).to_html()))

# %% [markdown]
# ## Figure

# %%
with plots.style():
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.errorbar(key["estimate"], range(len(key)), xerr=[key["estimate"] - key["ci_low"], key["ci_high"] - key["estimate"]],
                fmt="s", color=plots.PALETTE[0], capsize=4)
    ax.set_yticks(range(len(key)), key.index)
    ax.axvline(0, color="#555555")
    ax.set_title(f"Key estimates: {cfg.site}")
# as the real report embeds a figure: checked tick labels, alt text (what `evalkit audit` looks for)
display(HTML(f"<img alt='Key estimates' src='data:image/png;base64,{plots.to_base64_png(fig)}'>"))

# %% [markdown]
# ## Planted faults

# %%
if os.environ.get("EVALKIT_STUB_FAIL") == cfg.site:
    raise EstimationError("planted failure: the model for this site cannot be estimated")

# %%
stamp = make_stamp(ds.meta, ds.meta.get("source_sha256", ""), cfg.model_dump(mode="json"))
write_results(res, stamp, out_dir, threshold=cfg.disclosure_threshold)
display(HTML(f"<p>Data: {stamp['dataset']['sha256']}</p>"))
