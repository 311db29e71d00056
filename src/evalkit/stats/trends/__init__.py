"""Interrupted time series (segmented regression), single and controlled.

Monthly series such as purchased-service costs or placements are modelled as
a pre-existing trend plus a level change at the start of the intervention
(and optionally a slope change), with Fourier terms for seasonality, as in
Lopez Bernal, Cummins & Gasparrini (2017). The GLM conventions are those of
:mod:`evalkit.stats._glm` (shared with :mod:`evalkit.rates`).

Time may be an integer index or monthly: ``YYYY-MM`` strings, pandas
Periods or datetimes (the day is ignored). Monthly times become a month index
1, 2, ... from the first month, so ``trend`` is per month; ``start`` is given
in the same form as the time column.
"""

from __future__ import annotations

from evalkit.stats.trends._panel import gls, pretrend_test, staggered_its
from evalkit.stats.trends._series import controlled_its, its

__all__ = ["its", "controlled_its", "staggered_its", "pretrend_test", "gls"]
