# Restricted mean survival time (R survRM2), as in the survRM2 1.0-4 vignette.
# Regenerates the values asserted in tests/test_survival.py. Run from the
# repository root: Rscript tests/r/rmst.R
library(survRM2)
options(digits = 10)

# tests/test_survival.py::test_rmst_matches_survrm2_vignette
# RMST (arm=1) 7.146 0.283 6.592 7.701; RMST (arm=0) 7.283 0.295 6.704 7.863
# RMST (arm=1)-(arm=0) -0.137 -0.939 0.665 p 0.738; RMST (arm=1)/(arm=0) 0.981 0.878 1.096 p 0.738
D <- rmst2.sample.data()
print(rmst2(D$time, D$status, D$arm, tau = 10))
