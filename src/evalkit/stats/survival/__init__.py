"""Time-to-event estimators: case durations, closings and placements.

Kaplan-Meier curves, medians and log-rank tests follow R ``survival``
(``survfit``, ``quantile.survfit``, ``survdiff``); the arithmetic is in
``evalkit.stats.survival._km``, written by hand because lifelines' KM uses a log(-log) band,
reports the SE of log S and has no R-style median CI. Cox models are fitted by
``evalkit.stats.survival._coxph``: Efron ties and R ``coxph``'s Newton-Raphson and
convergence rule, vectorised (a site report fits four Cox models and a
national run over a thousand; lifelines' ``CoxPHFitter`` took most of the
analysis time). With ``cluster`` the robust variance is R's
``coxph(cluster = )``: t(D) %*% D with D the dfbeta residuals summed by
cluster, the residuals following the Efron ties method, no small-sample
factor. lifelines' ``cluster_col`` gives the same sandwich when no event
times are tied, but with tied times its residuals are not Efron's and its
SEs differ (Rossi, ``fin + age + prio``, one cluster per row, SE of fin:
lifelines 0.187, Efron residuals 0.191). The fits match R on Rossi and lung
to the printed digits and lifelines to its own convergence; the Efron
residuals are checked against leave-one-out refits (the infinitesimal
jackknife that the sandwich rests on) on Rossi's tied weeks.
:func:`cox_zph` still uses lifelines' fit and test.

Competing risks (a case ends by closing or by a placement) follow R
``cmprsk``: ``cif`` is ``cuminc`` (Aalen-Johansen estimate, Aalen's variance
with cmprsk's tie correction) and ``gray_test`` is cuminc's Gray (1988) test
(``crstm``, rho = 0). Libraries evaluated and rejected: lifelines'
``AalenJohansenFitter`` breaks tied times with random jitter and uses a
Greenwood-type variance (Collett), not cmprsk's Aalen-type one; PyPI
``comprisk`` (0.8, alpha) gives cmprsk's numbers with two causes but pulls
in numba, scikit-learn and joblib for two short functions, and with three
or more causes its variance handles each competing cause's tied events
separately where cmprsk pools them. ``evalkit.stats.survival._cmprsk`` implements cmprsk's
formulas instead and reproduces cmprsk's published output on the BMT data
(Scrucca et al. 2007) to the printed 7-8 digits.
"""

from __future__ import annotations

from evalkit.stats.survival._competing import cif, finegray, gray_test
from evalkit.stats.survival._cox import cox, cox_zph
from evalkit.stats.survival._curves import km, logrank, median_survival, quantile_survival, rmst, survival_at

__all__ = [
    "km",
    "median_survival",
    "quantile_survival",
    "survival_at",
    "rmst",
    "logrank",
    "cox",
    "cox_zph",
    "cif",
    "finegray",
    "gray_test",
]
