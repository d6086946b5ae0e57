// Reference tests against BoTorch 0.11.3 (tests/data/log_ei.json `cases`, tests/data/gp_fit.json).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <string>

#include "bomf/gp/gp.hpp"
#include "support/reference.hpp"

namespace {

using bomf::test::close;
using bomf::test::to_matrix;
using bomf::test::to_vector;

// Largest |actual − expected| / max(|expected|, 1e-12) seen, printed for the report.
double relative_error(double actual, double expected) {
  return std::abs(actual - expected) / std::max(std::abs(expected), 1e-12);
}

bomf::GpHyperparameters hyperparameters_of(const nlohmann::json& model) {
  bomf::GpHyperparameters h;
  h.lengthscales = to_vector(model.at("lengthscale"));
  h.outputscale = model.at("outputscale").get<double>();
  h.noise = model.at("noise").get<double>();
  h.mean_constant = model.at("mean_constant").get<double>();
  return h;
}

Eigen::VectorXd train_y_column(const nlohmann::json& c) {
  const nlohmann::json& y = c.at("train_Y");
  return y.at(0).is_array() ? Eigen::VectorXd(to_matrix(y).col(0)) : to_vector(y);
}

// Builds the GP of a reference `model` block exactly: fixed hyperparameters, and the recorded
// Standardize (or none when `outcome_transform` is null).
bomf::ExactGP<bomf::Matern52Kernel> model_of(const nlohmann::json& c, const nlohmann::json& model) {
  const Eigen::MatrixXd x = to_matrix(c.at("train_X"));
  const Eigen::VectorXd y = train_y_column(c);
  const auto& ot = model.at("outcome_transform");
  const bool standardize = !ot.is_null();
  bomf::ExactGP<bomf::Matern52Kernel> gp(x, y, hyperparameters_of(model),
                                         bomf::InputNormalization(), standardize);
  if (standardize) {
    // Our Standardize must agree with BoTorch's recorded one.
    EXPECT_TRUE(close(gp.outcome_transform().mean, ot.at("mean").get<double>(), 1e-14, 1e-14));
    EXPECT_TRUE(close(gp.outcome_transform().std, ot.at("std").get<double>(), 1e-14));
  } else {
    EXPECT_EQ(gp.outcome_transform().mean, 0.0);
    EXPECT_EQ(gp.outcome_transform().std, 1.0);
  }
  return gp;
}

TEST(GpReference, LogEiCasesPosteriorMeanAndVariance) {
  const auto ref = bomf::test::load_reference("log_ei.json");
  const auto& cases = ref.at("cases");
  ASSERT_GE(cases.size(), 5u);
  int unstandardized = 0;
  double worst = 0.0;
  for (const auto& c : cases) {
    SCOPED_TRACE("case d=" + std::to_string(c.at("d").get<int>()) +
                 " n=" + std::to_string(c.at("n").get<int>()));
    const auto gp = model_of(c, c.at("model"));
    if (c.at("model").at("outcome_transform").is_null())
      ++unstandardized;
    EXPECT_EQ(gp.jitter(), 0.0);
    const Eigen::MatrixXd test_x = to_matrix(c.at("test_X"));
    const Eigen::VectorXd mean = to_vector(c.at("posterior_mean"));
    const Eigen::VectorXd var = to_vector(c.at("posterior_variance"));
    const Eigen::VectorXd var_noise = to_vector(c.at("posterior_variance_with_observation_noise"));
    const Eigen::VectorXd our_mean = gp.posterior_mean(test_x);
    const Eigen::VectorXd our_var = gp.posterior_variance(test_x);
    const Eigen::VectorXd our_var_noise = gp.posterior_variance(test_x, true);
    const bomf::Posterior joint = gp.posterior(test_x);
    for (Eigen::Index i = 0; i < test_x.rows(); ++i) {
      SCOPED_TRACE("test point " + std::to_string(i));
      worst =
          std::max({worst, relative_error(our_mean(i), mean(i)), relative_error(our_var(i), var(i)),
                    relative_error(our_var_noise(i), var_noise(i)),
                    relative_error(joint.covariance(i, i), var(i))});
      EXPECT_PRED4(close, our_mean(i), mean(i), 1e-9, 1e-12);
      EXPECT_PRED4(close, our_var(i), var(i), 1e-9, 1e-12);
      EXPECT_PRED4(close, our_var_noise(i), var_noise(i), 1e-9, 1e-12);
      EXPECT_PRED4(close, joint.mean(i), mean(i), 1e-9, 1e-12);
      EXPECT_PRED4(close, joint.covariance(i, i), var(i), 1e-9, 1e-12);
      const bomf::PointPosterior p = gp.posterior_at(test_x.row(i).transpose());
      EXPECT_PRED4(close, p.mean, mean(i), 1e-9, 1e-12);
      EXPECT_PRED4(close, p.variance, var(i), 1e-9, 1e-12);
    }
  }
  EXPECT_EQ(unstandardized, 1);  // the case without outcome transform is exercised
  std::printf("largest relative error, posterior mean/variance: %.3g\n", worst);
}

TEST(GpReference, MarginalLikelihoodAtRecordedHyperparameters) {
  const auto ref = bomf::test::load_reference("gp_fit.json");
  const bomf::GpPriors priors = bomf::GpPriors::botorch_legacy();
  for (const auto& c : ref.at("cases")) {
    SCOPED_TRACE(c.at("name").get<std::string>());
    for (const char* which : {"initial", "fitted"}) {
      SCOPED_TRACE(which);
      const auto& model = c.at(std::string(which) + "_model");
      const auto& expected = c.at(std::string(which) + "_mll");
      const auto gp = model_of(c, model);
      const bomf::MllValue mll = bomf::marginal_log_likelihood(gp, priors);
      std::printf("%s %s mll relative error %.3g\n", c.at("name").get<std::string>().c_str(), which,
                  relative_error(mll.value, expected.at("mll_gpytorch").get<double>()));
      EXPECT_PRED4(close, mll.value, expected.at("mll_gpytorch").get<double>(), 1e-10, 1e-12);
      EXPECT_PRED4(close, mll.data_term, expected.at("log_marginal_likelihood_data").get<double>(),
                   1e-10, 1e-12);
      EXPECT_PRED4(close, mll.log_prior, expected.at("log_prior_sum").get<double>(), 1e-12, 1e-12);
    }
  }
}

TEST(GpReference, DefaultInitialValuesMatchBoTorch011) {
  const auto ref = bomf::test::load_reference("gp_fit.json");
  const bomf::GpPriors priors = bomf::GpPriors::botorch_legacy();
  for (const auto& c : ref.at("cases")) {
    const auto& init = c.at("initial_model");
    for (const auto& l : init.at("lengthscale"))
      EXPECT_EQ(priors.lengthscale_initial, l.get<double>());
    EXPECT_EQ(priors.outputscale_initial, init.at("outputscale").get<double>());
    EXPECT_EQ(priors.noise_initial, init.at("noise").get<double>());
  }
}

TEST(GpReference, FitReachesBoTorchOptimum) {
  const auto ref = bomf::test::load_reference("gp_fit.json");
  for (const auto& c : ref.at("cases")) {
    SCOPED_TRACE(c.at("name").get<std::string>());
    const Eigen::MatrixXd x = to_matrix(c.at("train_X"));
    const Eigen::VectorXd y = train_y_column(c);
    bomf::GpFitOptions options;
    options.priors = bomf::GpPriors::botorch_legacy();
    options.seed = 7;
    bomf::GpFitSummary summary;
    const auto gp = bomf::fit_gp<bomf::Matern52Kernel>(x, y, options, &summary);
    const double fitted = c.at("fitted_mll").at("mll_gpytorch").get<double>();
    EXPECT_GE(summary.mll.value, fitted - 1e-3);
    std::printf("%s: fitted mll %.12f vs BoTorch %.12f (%d iterations, start %d)\n",
                c.at("name").get<std::string>().c_str(), summary.mll.value, fitted,
                summary.iterations, summary.best_start);
    // The reported value is the model's own objective.
    const bomf::MllValue again = bomf::marginal_log_likelihood(gp, *options.priors);
    EXPECT_NEAR(again.value, summary.mll.value, 1e-12);
    EXPECT_GE(gp.hyperparameters().noise, 1e-4);
    EXPECT_EQ(summary.start_mll.size(), 3u);
    // The default start alone (BoTorch's start) reaches it too.
    options.num_starts = 1;
    bomf::GpFitSummary single;
    (void)bomf::fit_gp<bomf::Matern52Kernel>(x, y, options, &single);
    EXPECT_GE(single.mll.value, fitted - 1e-3);
    // Fitted hyperparameters close to BoTorch's (same optimum).
    const Eigen::VectorXd ls = to_vector(c.at("fitted_model").at("lengthscale"));
    EXPECT_LT((gp.hyperparameters().lengthscales - ls).cwiseAbs().maxCoeff(), 0.05);
  }
}

}  // namespace
