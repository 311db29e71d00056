# Effect sizes and random-effects pooling (R metafor; data sets from metadat).
# Regenerates the values asserted in tests/test_meta.py and tests/test_index.py.
# Run from the repository root: Rscript tests/r/meta.R
library(metafor)
library(metadat)
options(digits = 10)

# tests/test_meta.py::_es (the escalc call of every BCG test)
# tests/test_meta.py::test_bcg_reml_matches_metafor_printout
# tests/test_plots.py::bcg_forest (the same log risk ratios)
# estimate -0.7145 (0.1798), z -3.9744, CI -1.0669 to -0.3622; tau2 0.3132 (0.1664), I2 92.22, H2 12.86,
# Q 152.2330 on 12 df
dat <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
print(dat)
res <- rma(yi, vi, data = dat)
print(res)

# tests/test_meta.py::test_bcg_prediction_interval
# prediction interval for the RR 0.15-1.55 (z), 0.14-1.76 with pi.type = "t"
print(predict(res, transf = exp))
print(predict(res, transf = exp, pi.type = "t"))

# tests/test_meta.py::test_bcg_pooled_rr_line_of_reference_is_knapp_hartung
# tests/test_index.py::test_index_states_the_pooled_result_with_decimal_commas
# RR 0.49 (0.33-0.73), prediction interval 0.14-1.76
print(predict(rma(yi, vi, data = dat, test = "knha"), transf = exp))

# tests/test_meta.py::test_adhoc_equals_knapp_hartung_when_its_factor_exceeds_one
# tests/test_index.py::test_pooled_estimate_matches_metafor_on_the_bcg_trials
# estimate -0.7145, se 0.1808 on t(12); pi 0.14-1.76
res_adhoc <- rma(yi, vi, data = escalc("RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg),
                 test = "adhoc")
print(res_adhoc)
print(predict(res_adhoc, transf = exp, pi.type = "t"))

# tests/test_index.py::test_a_batch_rendered_at_90_percent_is_pooled_and_labelled_at_90_percent
print(rma(yi, vi, data = dat, method = "REML", test = "adhoc", level = 90))

# tests/test_meta.py::test_bcg_against_metafor_tests
# tests/test_meta.py::test_bcg_exponentiated_predictions
# metafor tests/testthat/test_misc_metan_vs_rma.uni_with_dat.bcg.r (checked there against Stata metan);
# "FE" is what the test passes; metafor's current test file writes the same model as "EE".
for (measure in c("RR", "OR", "RD")) {
  dat_m <- escalc(measure = measure, ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
  for (method in c("FE", "DL")) {
    fit <- rma(yi, vi, data = dat_m, method = method)
    cat("\nmeasure", measure, "method", method, "\n")
    print(fit)
    if (measure == "RR") print(predict(fit, transf = exp))
  }
}

# tests/test_meta.py::test_bcg_log_odds_ratios
# printed on metafor-project.org/doku.php/analyses:vanhouwelingen2002 (the same 13 trials)
print(escalc(measure = "OR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.colditz1994))

# tests/test_meta.py::test_pm_solves_generalised_q_and_matches_iterated_dl
# tau2 0.3181 for both (metafor tests/testthat/test_misc_rma_uni.r)
print(rma(yi, vi, data = dat, method = "DLIT")$tau2)
print(rma(yi, vi, data = dat, method = "SJIT")$tau2)

# tests/test_meta.py::test_hine1989_risk_differences_normand_tables
# metafor tests/testthat/test_analysis_example_normand1999.r (Normand 1999, Tables III and VII)
dat_hine <- escalc(measure = "RD", n1i = n1i, n2i = n2i, ai = ai, ci = ci, data = dat.hine1989)
dat_hine$yi <- dat_hine$yi * 100
dat_hine$vi <- dat_hine$vi * 100^2
print(dat_hine)
print(rma(yi, vi, data = dat_hine, method = "EE", digits = 2))
print(rma(yi, vi, data = dat_hine, digits = 2))
print(rma(yi, vi, data = dat_hine, method = "DL", digits = 2))

# tests/test_meta.py::test_normand1999_mean_differences_tables
# the same metafor test file (Normand 1999, Tables VIII and IX)
dat.normand1999$sdpi <- with(dat.normand1999, sqrt(((n1i - 1) * sd1i^2 + (n2i - 1) * sd2i^2) / (n1i + n2i - 2)))
dat_md <- escalc(m1i = m1i, sd1i = sdpi, n1i = n1i, m2i = m2i, sd2i = sdpi, n2i = n2i, measure = "MD",
                 data = dat.normand1999, digits = 2)
print(dat_md)
print(rma(yi, vi, data = dat_md, method = "EE", digits = 2))
print(rma(yi, vi, data = dat_md, method = "DL", digits = 2))
print(rma(yi, vi, data = dat_md, digits = 2))

# tests/test_meta.py::test_smd_reml_normand_subset
# tau2 1.0090 (metafor tests/testthat/test_misc_rma_uni.r)
dat_smd <- escalc(measure = "SMD", m1i = m1i, sd1i = sd1i, n1i = n1i, m2i = m2i, sd2i = sd2i, n2i = n2i,
                  data = dat.normand1999, subset = 1:4)
print(rma(yi, vi, data = dat_smd))
