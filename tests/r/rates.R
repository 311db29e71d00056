# Poisson, quasi-Poisson and negative binomial rate models, exact rate tests,
# and CR2 for a count model (R stats, MASS, clubSandwich).
# Regenerates the values asserted in tests/test_rates.py. Run from the
# repository root: Rscript tests/r/rates.R
library(MASS)
library(clubSandwich)
library(geepack)
options(digits = 10)

# tests/test_rates.py::test_ships_poisson_matches_r
# tests/test_rates.py::test_zero_exposure_rows_excluded_with_warning
# McCullagh & Nelder (1989) 6.3, year and period as factors: residual deviance 38.695 on 25 df,
# sum of squared Pearson residuals / 25 = 1.691
ships$year <- factor(ships$year)
ships$period <- factor(ships$period)
fit <- glm(incidents ~ type + year + period + offset(log(service)), family = poisson,
           data = ships, subset = service > 0)
print(coef(summary(fit)))
print(c(deviance = deviance(fit), df.residual = df.residual(fit)))
print(sum(residuals(fit, "pearson")^2) / 25)

# tests/test_rates.py::test_ships_quasipoisson_scales_se_and_uses_t
# dispersion 1.691; AIC is NA for quasi families
fit_q <- glm(incidents ~ type + year + period + offset(log(service)), family = quasipoisson,
             data = ships, subset = service > 0)
print(summary(fit_q)$dispersion)
print(AIC(fit_q))

# tests/test_rates.py::test_quine_negbin_matches_glm_nb
# as printed in Crawley, The R Book, "Negative binomial errors": theta 1.928 (0.269),
# 2 x log-likelihood -1039.324, residual deviance 167.45 on 118 df, null deviance 272.29, AIC 1097.3
fit_nb <- glm.nb(Days ~ Eth*Sex*Age*Lrn, data = quine)
print(summary(fit_nb))
print(fit_nb$theta, digits = 15)

# tests/test_rates.py::test_compare_rates_matches_poisson_test
# rate 5.661407, 95% CI 4.753125 6.692709
print(poisson.test(137, 24.19893))
# rate ratio 1.971488, 95% CI 0.8584264 4.2772659, p-value 0.07966863
print(poisson.test(c(11, 6+8+7), c(800, 1083+1050+878)))

# tests/test_rates.py::test_cr2_quasipoisson_matches_clubsandwich_dietox
# clubSandwich reference page vcovCR.glm: (Intercept) 4.0124 (0.0190) df 22.0, ...
data(dietox, package = "geepack")
dietox$Cu <- as.factor(dietox$Cu)
weight_fit <- glm(Weight ~ Cu * poly(Time, 3), data = dietox, family = "quasipoisson")
V_CR <- vcovCR(weight_fit, cluster = dietox$Pig, type = "CR2")
print(coef_test(weight_fit, vcov = V_CR, test = "Satterthwaite"))
