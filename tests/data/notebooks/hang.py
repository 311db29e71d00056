# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# Test notebook for the renderer's per-cell timeout: the site report's parameters, then a
# cell that never finishes in time.

# %% tags=["parameters"]
site = "kuopio"
data_dir = "data"
params_file = ""
lang = "en"
out_dir = "."
config_json = ""

# %% [markdown]
# ## A slow analysis

# %%
import time

time.sleep(300)
