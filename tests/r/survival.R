# Kaplan-Meier, survival quantiles, log-rank tests and Cox models (R survival).
# Regenerates the values asserted in tests/test_survival.py. Run from the
# repository root: Rscript tests/r/survival.R
library(survival)
library(carData)
options(digits = 10)

# lung: R's own copy (status 1 = censored, 2 = dead); tests/data/lung.csv is
# lifelines' copy with status 0/1, which Surv() reads the same way.

# tests/test_survival.py::test_lung_overall_median_and_log_ci
# n 228, events 165, median 310 (285, 363)
print(survfit(Surv(time, status) ~ 1, data = lung))

# tests/test_survival.py::test_lung_median_by_sex
print(survfit(Surv(time, status) ~ sex, data = lung))

# tests/test_survival.py::test_lung_survival_at_200
# survival 0.680, std.err 0.0311, lower 0.622, upper 0.744
print(summary(survfit(Surv(time, status) ~ 1, lung), times = 200))

# tests/test_survival.py::test_median_on_a_flat_at_one_half_is_the_midpoint
# median 2.5
print(survfit(Surv(1:4) ~ 1))

# tests/test_survival.py::test_quantile_survival_matches_quantile_survfit_on_lung_by_ecog
# (survival package examples, tests/Examples/survival-Ex.Rout.save)
fit <- survfit(Surv(time, status) ~ ph.ecog, data = lung)
print(quantile(fit))

# tests/test_survival.py::test_logrank_lung_sex
# observed 112 / 53, expected 91.6 / 73.4, chisq 10.3 on 1 df, p 0.00131
print(survdiff(Surv(time, status) ~ sex, data = lung))

# tests/test_survival.py::test_stratified_logrank_matches_survdiff_on_lung_by_institution
# chisq 21.4 on 7 df, p 0.00326 (the test took them from broom's glance() and tidy())
# N, Observed and Expected per pat.karno level as the printed table gives them
print(survdiff(Surv(time, status) ~ pat.karno + strata(inst), data = lung))

# tests/test_survival.py::test_cox_rossi
# Fox & Weisberg's appendix on Cox regression: fin -0.37942 (0.19138), LR 33.27 on 7 df
fit_rossi <- coxph(Surv(week, arrest) ~ fin + age + race + wexp + mar + paro + prio, data = Rossi)
print(summary(fit_rossi))

# tests/test_survival.py::test_cox_lung_sex_and_formula
print(summary(coxph(Surv(time, status) ~ sex, data = lung)))

# tests/test_survival.py::test_cox_with_breslow_ties_matches_r_on_veteran
# celltype releveled to "large", as in the test; karno -0.030904 (0.005179), LR 58.77
veteran$celltype <- relevel(veteran$celltype, ref = "large")
print(summary(coxph(Surv(time, status) ~ celltype + karno, data = veteran, method = "breslow")))

# tests/test_survival.py::test_counting_process_cox_matches_r_on_stanford_heart
# age 0.02717 (0.01371), year -0.14635 (0.07047), surgery -0.63721 (0.36723),
# transplant -0.01025 (0.31375); n = 172, 75 events
print(summary(coxph(Surv(start, stop, event) ~ age + year + surgery + transplant, data = heart)))
