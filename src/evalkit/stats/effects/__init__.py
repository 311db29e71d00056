"""Pilot-vs-comparison effects: difference-in-differences, two-way fixed effects,
mixed ANOVA and two-group comparisons.

Conventions (R or Stata where Python and R differ):

- ``did`` OLS SEs: ``"iid"`` as R ``lm``; ``"hc1"`` as ``sandwich::vcovHC(type =
  "HC1")`` / Stata ``robust``; ``"cluster"`` CRV1 with G/(G-1) * (N-1)/(N-K)
  and t on G-1 df, as Stata ``vce(cluster)`` and ``fixest`` (statsmodels
  ``cov_type="cluster"`` computes exactly this).
- ``twfe``: within-unit demeaning plus period dummies; CRV1 with the ``fixest``
  default ``ssc(adj = TRUE, fixef.K = "nested", cluster.adj = TRUE)``: fixed
  effects nested in the cluster are not counted in K (if all are nested, one
  is counted for the intercept); t on G-1 df (``t.df = "min"``).  Written by
  hand because statsmodels has no absorbed fixed effects.
- ``se_type="cr2"``: the CR2 (Bell-McCaffrey) sandwich with a Satterthwaite t
  per coefficient (a ``df`` column), as R clubSandwich ``coef_test(fit, vcov =
  "CR2", test = "Satterthwaite")``; with absorbed unit effects nested in the
  clusters it equals the dummy-variable fit, as clubSandwich for ``plm``
  (``evalkit.stats._crve``). The choice with few clusters: CRV1 with t on G - 1 df
  is too narrow there.
- ``se_type="wild"``: wild cluster restricted bootstrap-t, written here rather
  than taken from the PyPI package ``wildboottest`` (``evalkit.stats.effects._wild`` says why).
- ``mixed_anova``: pingouin (checked against JASP and R ``afex``); with missing
  waves a random-intercept linear mixed model by REML instead (``evalkit.stats.effects._lmm``,
  checked against statsmodels MixedLM; profiled REML is ~20x faster here).
- ``compare_groups``: Welch t as R ``t.test``; Hedges' g and its variance as
  R ``metafor::escalc(measure = "SMD")`` with a normal CI; Mann-Whitney as R
  ``wilcox.test`` (exact when both groups < 50 and no ties).
"""

from __future__ import annotations

from evalkit.stats.effects._did import did, did_table
from evalkit.stats.effects._groups import compare_groups, mixed_anova
from evalkit.stats.effects._ols import ols
from evalkit.stats.effects._staggered import staggered_did
from evalkit.stats.effects._twfe import twfe

__all__ = ["did", "did_table", "twfe", "staggered_did", "mixed_anova", "compare_groups", "ols"]
