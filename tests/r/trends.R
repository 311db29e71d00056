# Interrupted time series (Lopez Bernal, Cummins & Gasparrini 2017) and GLS
# with AR(1) errors (R stats, tsModel, sandwich, nlme).
# Regenerates the values asserted in tests/test_trends.py. Run from the
# repository root: Rscript tests/r/trends.R
library(tsModel)
library(sandwich)
library(nlme)
options(digits = 10)
root <- getwd()

# sicily.csv is the tutorial's own file (github.com/gasparrini/2017_lopezbernal_IJE_codedata); no R
# package ships it.
sicily <- read.csv(file.path(root, "src/evalkit/datasets", "sicily.csv"))

# tests/test_trends.py::test_sicily_matches_hand_built_quasipoisson_glm
# the tutorial's model 3 (Rcode.R); the test checks against a hand-built statsmodels fit
model3 <- glm(aces ~ offset(log(stdpop)) + smokban + time + harmonic(month, 2, 12),
              family = quasipoisson, data = sicily)
print(coef(summary(model3)))
print(summary(model3)$dispersion)

# tests/test_trends.py::test_slope_change_term
# Rcode.R's model 4 without the harmonics, Poisson, as the test states it
model4 <- glm(aces ~ offset(log(stdpop)) + smokban + time + I(time - 36):smokban,
              family = poisson, data = sicily)
print(coef(summary(model4)))

# tests/test_trends.py::test_gaussian_newey_west_by_hand
# The test builds the design by hand (intercept, time, smokban, two harmonics of month) for the rate per
# 100,000; this lm is that design.
sicily$rate <- sicily$aces / sicily$stdpop * 1e5
fit <- lm(rate ~ time + smokban + harmonic(month, 2, 12), data = sicily)
print(sqrt(diag(NeweyWest(fit, lag = 3, prewhite = FALSE, adjust = FALSE))))

# tests/test_trends.py::test_gls_ar1_reml_matches_nlme_on_ovary
# nlme's ?gls example (nlme-Ex.Rout, R 4.3.3): Phi 0.7532079; (Intercept) 12.216398 (0.6646437),
# sin -2.774712 (0.6450478), cos -0.899605 (0.6975383); logLik -780.7273; residual SE 4.616172
fm1 <- gls(follicles ~ sin(2*pi*Time) + cos(2*pi*Time), Ovary,
           correlation = corAR1(form = ~ 1 | Mare))
print(summary(fm1))
print(summary(fm1)$tTable, digits = 15)
