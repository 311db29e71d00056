# Staggered adoption: group-time ATTs and their aggregates (R did,
# Callaway & Sant'Anna 2021) on the package's mpdta example.
# Regenerates the point estimates asserted in tests/test_staggered.py. Run from
# the repository root: Rscript tests/r/staggered.R
library(did)
options(digits = 10)

data(mpdta, package = "did")

# tests/test_staggered.py::test_mpdta_group_time_atts_match_r
# ATT(g,t) as printed (4 decimals) in the did documentation
out <- att_gt(yname = "lemp", tname = "year", idname = "countyreal", gname = "first.treat",
              xformla = ~1, data = mpdta)
print(summary(out))

# tests/test_staggered.py::test_mpdta_simple_aggregate
# ATT -0.04 (printed to 2 decimals)
print(aggte(out, type = "simple"))

# tests/test_staggered.py::test_mpdta_event_aggregate
# event time 0 -> -0.0199
print(aggte(out, type = "dynamic"))
