# Power of the two-sample t-test (R stats).
# Regenerates the values asserted in tests/test_design.py. Run from the
# repository root: Rscript tests/r/design.R
library(stats)
options(digits = 10)

# tests/test_design.py::test_power_matches_r_power_t_test
# power = 0.8014596
print(power.t.test(n = 64, delta = 0.5))

# tests/test_design.py::test_power_differs_from_r_default_only_by_the_far_tail
# power = 0.8689528 (R's ?power.t.test example)
print(power.t.test(n = 20, delta = 1))
