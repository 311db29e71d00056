# Two-group comparisons, cluster-robust (CR2) inference with Satterthwaite
# degrees of freedom, fixest's small-sample K, and the mixed ANOVA.
# Regenerates the values asserted in tests/test_effects.py. Run from the
# repository root: Rscript tests/r/effects.R
library(clubSandwich)
library(AER)
library(plm)
library(dfadjust)
library(fixest)
library(afex)
options(digits = 10)
root <- getwd()

# tests/test_effects.py::test_compare_groups_sleep
# t = -1.8608, df = 17.776, p-value = 0.07939, 95 percent CI -3.3654832 0.2054832
print(t.test(extra ~ group, data = sleep))
# W = 25.5, p-value = 0.06933
print(wilcox.test(extra ~ group, data = sleep))

# tests/test_effects.py::test_balanced_did_is_welch_test_on_change_scores
# The test compares with scipy's Welch test; this is the same test in R on the balanced change scores
# (stores with fte in both waves).
ck <- read.csv(file.path(root, "src/evalkit/datasets", "card_krueger_mhe.csv"))
wide <- reshape(ck[, c("id", "nj", "d", "fte")], idvar = c("id", "nj"), timevar = "d", direction = "wide")
wide <- wide[!is.na(wide$fte.0) & !is.na(wide$fte.1), ]
wide$change <- wide$fte.1 - wide$fte.0
print(t.test(change ~ nj, data = wide))

# tests/test_effects.py::test_cr2_lm_chickweight_matches_clubsandwich
# clubSandwich reference pages coef_test.html / conf_int.html (pkgdown 0.6.0):
# Diet2:Time 1.77 (1.49) df 18.8 p 0.2497; Diet3:Time 4.58 (1.35) 18.8 0.0031; Diet4:Time 2.87 (1.01) 18.3 0.0105
data("ChickWeight", package = "datasets")
lm_fit <- lm(weight ~ Diet * Time, data = ChickWeight)
diet_index <- grepl("Diet.:Time", names(coef(lm_fit)))
print(coef_test(lm_fit, vcov = "CR2", cluster = ChickWeight$Chick, coefs = diet_index))
print(conf_int(lm_fit, vcov = "CR2", cluster = ChickWeight$Chick, coefs = diet_index))

# tests/test_effects.py::test_cr2_lm_star_extreme_satterthwaite_df
# clubSandwich vignette "Wald-tests-in-clubSandwich": ethnicityhispanic 39.23 (20.62) t 1.9028 df 1.01
# p 0.3067; ethnicityother t 0.4720 df 3.02 p 0.6690; starksmall 9.42 (4.56) df 17.10;
# lunchkfree t -9.4848 df 57.38
data(STAR, package = "AER")
levels(STAR$stark)[3] <- "aide"
levels(STAR$schoolk)[1] <- "urban"
STAR <- subset(STAR, !is.na(schoolidk),
               select = c(schoolidk, schoolk, stark, gender, ethnicity, math1, lunchk))
lm_urbanicity <- lm(math1 ~ schoolk * stark + gender + ethnicity + lunchk, data = STAR)
V_urbanicity <- vcovCR(lm_urbanicity, cluster = STAR$schoolidk, type = "CR2")
print(coef_test(lm_urbanicity, vcov = V_urbanicity))

# tests/test_effects.py::test_cr2_nine_region_clusters_matches_clubsandwich_vcov
# clubSandwich vcovCR.plm reference page; diagonal 6.973505e-03 0.0054359010 0.0108260634 1.170089e-05
data("Produc", package = "plm")
plm_FE <- plm(log(gsp) ~ log(pcap) + log(pc) + log(emp) + unemp,
              data = Produc, index = c("state", "year", "region"),
              effect = "individual", model = "within")
V_region <- vcovCR(plm_FE, type = "CR2", cluster = Produc$region)
print(V_region)
print(diag(as.matrix(V_region)))

# tests/test_effects.py::test_cr2_five_unequal_clusters_as_dfadjust
# dfadjust tests/testthat/test_clustervar.R: coefficient x -1.955355241, HC2 (CR2) se 2.460094992
x <- sin(1:100)
y <- 1:100
fm <- lm(y ~ x + I(x^2))
clustervar <- as.factor(c(rep(1, 40), rep(5, 20), rep(2, 20), rep(3, 10), rep(4, 10)))
print(dfadjustSE(fm, clustervar, ell = 2))

# tests/test_effects.py::test_cr2_twfe_absorbed_equals_clubsandwich_on_mortality_rates
# clubSandwich vignette "panel-data-CRVE": legal 7.59 SE 2.51 t 3.019 df 24.58 p 0.00583
data(MortalityRates, package = "clubSandwich")
MV_deaths <- subset(MortalityRates, cause == "Motor Vehicle" & year <= 1983 & !is.na(beertaxa))
plm_unweighted <- plm(mrate ~ legal + beertaxa, data = MV_deaths,
                      effect = "twoways", index = c("state", "year"))
print(coef_test(plm_unweighted, vcov = "CR2", cluster = "individual", test = "Satterthwaite"))

# tests/test_effects.py::test_twfe_k_as_fixest_documentation_example
# fixest ?ssc example: clustered by fe1, "adjustment K = 1 + 5 (i.e. x + fe2)"; the data are random
# there and in the test, and K does not depend on them
base <- data.frame(x = rnorm(10))
base$y <- base$x + rnorm(10)
base$fe1 <- rep(1:3, c(4, 3, 3))
base$fe2 <- rep(1:5, each = 2)
est <- feols(y ~ x | fe1 + fe2, base)
print(attributes(vcov(est, attr = TRUE))[c("ssc", "dof.K")])

# tests/test_effects.py::test_mixed_anova_reference
# The test's values are pingouin's (its mixed_anova data set, pingouin 0.7.0), which pingouin's authors
# checked against JASP and this afex call: F 5.05171, 4.02739, 2.72800; GG epsilon 0.99812.
mixed_anova <- read.csv(file.path(root, "src/evalkit/datasets", "mixed_anova.csv"))
print(summary(aov_ez("Subject", "Scores", mixed_anova, between = "Group", within = "Time")))
