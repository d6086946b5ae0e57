// Behaviour of ExactGP, fit_gp and ModelListGP: consistency between posterior forms, transforms,
// rank-one updates, robustness (jitter, duplicates, constant outputs, n = 1, NaN), determinism.
#include <gtest/gtest.h>

#include <Eigen/LU>
#include <cmath>
#include <functional>
#include <limits>
#include <random>
#include <string>

#include "bomf/gp/gp.hpp"
#include "support/error_message.hpp"

namespace {

using Gp = bomf::ExactGP<bomf::Matern52Kernel>;

std::string message_of(const std::function<void()>& f) {
  return bomf::test::error_message<bomf::invalid_argument>(f);
}

struct Data {
  Eigen::MatrixXd x;
  Eigen::VectorXd y;
};

Data make_data(int n, int d, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  Data data{Eigen::MatrixXd(n, d), Eigen::VectorXd(n)};
  for (int i = 0; i < n; ++i) {
    double s = 0.0;
    for (int k = 0; k < d; ++k) {
      data.x(i, k) = u(rng);
      s += std::cos(4.0 * data.x(i, k) + k);
    }
    data.y(i) = 3.0 * s + 0.05 * u(rng);
  }
  return data;
}

bomf::GpHyperparameters hyper(int d, double ls = 0.4, double s = 1.5, double noise = 1e-3,
                              double c = 0.2) {
  bomf::GpHyperparameters h;
  h.lengthscales = Eigen::VectorXd::Constant(d, ls);
  h.outputscale = s;
  h.noise = noise;
  h.mean_constant = c;
  return h;
}

// A direct, naive implementation of the GP posterior formulas (R&W Alg. 2.1) for comparison.
void naive_posterior(const Data& data, const bomf::GpHyperparameters& h, const Eigen::MatrixXd& xq,
                     double ymean, double ystd, Eigen::VectorXd& mean, Eigen::MatrixXd& cov) {
  const Eigen::MatrixXd kxx =
      bomf::ard_covariance<bomf::Matern52Kernel>(data.x, data.x, h.lengthscales, h.outputscale);
  const Eigen::MatrixXd kqx =
      bomf::ard_covariance<bomf::Matern52Kernel>(xq, data.x, h.lengthscales, h.outputscale);
  const Eigen::MatrixXd kqq =
      bomf::ard_covariance<bomf::Matern52Kernel>(xq, xq, h.lengthscales, h.outputscale);
  const Eigen::MatrixXd a = kxx + h.noise * Eigen::MatrixXd::Identity(data.x.rows(), data.x.rows());
  const Eigen::VectorXd r = (data.y.array() - ymean) / ystd - h.mean_constant;
  const Eigen::MatrixXd ainv = a.inverse();
  mean = ((kqx * ainv * r).array() + h.mean_constant) * ystd + ymean;
  cov = (kqq - kqx * ainv * kqx.transpose()) * ystd * ystd;
}

TEST(ExactGp, PosteriorFormsAgreeWithNaiveFormula) {
  const Data data = make_data(15, 3, 1);
  const auto h = hyper(3);
  const Gp gp(data.x, data.y, h);
  const Data q = make_data(5, 3, 2);
  Eigen::VectorXd mean;
  Eigen::MatrixXd cov;
  naive_posterior(data, h, q.x, gp.outcome_transform().mean, gp.outcome_transform().std, mean, cov);
  const bomf::Posterior post = gp.posterior(q.x);
  EXPECT_LT((post.mean - mean).cwiseAbs().maxCoeff(), 1e-9);
  EXPECT_LT((post.covariance - cov).cwiseAbs().maxCoeff(), 1e-9);
  EXPECT_EQ(post.covariance, post.covariance.transpose());
  EXPECT_LT((gp.posterior_variance(q.x) - cov.diagonal()).cwiseAbs().maxCoeff(), 1e-9);
  EXPECT_LT((gp.posterior_variance(q.x, true) - cov.diagonal()).cwiseAbs().maxCoeff() -
                gp.observation_noise_variance(),
            1e-9);
  for (Eigen::Index i = 0; i < q.x.rows(); ++i) {
    const auto p = gp.posterior_at(q.x.row(i).transpose());
    EXPECT_NEAR(p.mean, mean(i), 1e-9);
    EXPECT_NEAR(p.variance, cov(i, i), 1e-9);
  }
  // Low-level pieces: α and L reproduce the mean; L Lᵀ = K + σ²I.
  const Eigen::MatrixXd kxx =
      bomf::ard_covariance<bomf::Matern52Kernel>(data.x, data.x, h.lengthscales, h.outputscale);
  const Eigen::MatrixXd llt = gp.cholesky_factor() * gp.cholesky_factor().transpose();
  EXPECT_LT((llt - kxx - h.noise * Eigen::MatrixXd::Identity(15, 15)).cwiseAbs().maxCoeff(), 1e-12);
  Eigen::VectorXd k(15);
  gp.cross_covariance(q.x.row(0).transpose(), k);
  const double m0 = (h.mean_constant + k.dot(gp.alpha())) * gp.outcome_transform().std +
                    gp.outcome_transform().mean;
  EXPECT_NEAR(m0, mean(0), 1e-9);
  const Eigen::MatrixXd kqx = gp.kernel_matrix(q.x, gp.train_inputs());
  EXPECT_LT((kqx.row(0).transpose() - k).cwiseAbs().maxCoeff(), 1e-15);
  EXPECT_LT(
      (kqx - bomf::ard_covariance<bomf::Matern52Kernel>(q.x, data.x, h.lengthscales, h.outputscale))
          .cwiseAbs()
          .maxCoeff(),
      1e-15);
  EXPECT_NEAR(gp.kernel_matrix(q.x, q.x)(1, 1), gp.prior_variance(), 1e-15);
  EXPECT_EQ(gp.dim(), 3);
  EXPECT_EQ(gp.num_train(), 15);
}

TEST(ExactGp, InputNormalizationIsEquivalentToScaledData) {
  const Data unit = make_data(12, 2, 3);
  Eigen::MatrixXd bounds(2, 2);
  bounds << -1.0, 10.0, 3.0, 30.0;
  Data raw = unit;
  for (int k = 0; k < 2; ++k) {
    raw.x.col(k) = bounds(0, k) + unit.x.col(k).array() * (bounds(1, k) - bounds(0, k));
  }
  const Gp a(unit.x, unit.y, hyper(2));
  const Gp b(raw.x, raw.y, hyper(2), bomf::InputNormalization(bounds));
  EXPECT_LT((a.normalized_train_inputs() - b.normalized_train_inputs()).cwiseAbs().maxCoeff(),
            1e-15);
  const Eigen::Vector2d xu(0.3, 0.8);
  const Eigen::Vector2d xr(-1.0 + 0.3 * 4.0, 10.0 + 0.8 * 20.0);
  const auto pa = a.posterior_at(xu);
  const auto pb = b.posterior_at(xr);
  EXPECT_NEAR(pa.mean, pb.mean, 1e-12);
  EXPECT_NEAR(pa.variance, pb.variance, 1e-12);
  // Gradients in original units: chain rule through 1/(upper − lower).
  EXPECT_NEAR(pa.mean_gradient(0) / 4.0, pb.mean_gradient(0), 1e-10);
  EXPECT_NEAR(pa.mean_gradient(1) / 20.0, pb.mean_gradient(1), 1e-10);
  EXPECT_NEAR(pa.variance_gradient(1) / 20.0, pb.variance_gradient(1), 1e-10);
}

TEST(ExactGp, StandardizationFollowsBoTorchAndCanBeSwitchedOff) {
  const Data data = make_data(10, 2, 4);
  const Gp gp(data.x, data.y, hyper(2));
  const double mean = data.y.mean();
  const double std = std::sqrt((data.y.array() - mean).square().sum() / 9.0);
  EXPECT_NEAR(gp.outcome_transform().mean, mean, 1e-14);
  EXPECT_NEAR(gp.outcome_transform().std, std, 1e-14);
  EXPECT_LT(
      (gp.standardized_train_targets().array() - (data.y.array() - mean) / std).abs().maxCoeff(),
      1e-14);
  const Gp raw(data.x, data.y, hyper(2), bomf::InputNormalization(), false);
  EXPECT_EQ(raw.outcome_transform().mean, 0.0);
  EXPECT_EQ(raw.outcome_transform().std, 1.0);
  EXPECT_EQ(raw.standardized_train_targets(), data.y);
  // BoTorch: n = 1 gives std 1; constant outputs give std 1 (replaced, not clamped).
  const Eigen::VectorXd one = Eigen::VectorXd::Constant(1, 5.0);
  EXPECT_EQ(bomf::OutcomeStandardization::fit(one).std, 1.0);
  EXPECT_EQ(bomf::OutcomeStandardization::fit(one).mean, 5.0);
  EXPECT_EQ(bomf::OutcomeStandardization::fit(Eigen::VectorXd::Constant(4, -2.0)).std, 1.0);
}

TEST(ExactGp, RankOneUpdateEqualsRebuild) {
  for (int d : {1, 4}) {
    const Data data = make_data(30, d, 5 + d);
    Eigen::MatrixXd bounds(2, d);
    bounds.row(0).setConstant(-0.5);
    bounds.row(1).setConstant(1.5);
    const bomf::InputNormalization input(bounds);
    Gp updated(data.x.topRows(20), data.y.head(20), hyper(d), input);
    for (int i = 20; i < 30; ++i)
      updated.add_observation(data.x.row(i).transpose(), data.y(i));
    const Gp rebuilt(data.x, data.y, hyper(d), input, updated.outcome_transform());
    EXPECT_EQ(updated.num_train(), 30);
    // The standardization is kept from the first 20 points (documented behaviour).
    EXPECT_EQ(updated.outcome_transform().mean, data.y.head(20).mean());
    EXPECT_LT((updated.cholesky_factor() - rebuilt.cholesky_factor()).cwiseAbs().maxCoeff(), 1e-12);
    EXPECT_LT((updated.alpha() - rebuilt.alpha()).cwiseAbs().maxCoeff(), 1e-9);
    EXPECT_EQ(updated.train_inputs(), rebuilt.train_inputs());
    EXPECT_EQ(updated.normalized_train_inputs(), rebuilt.normalized_train_inputs());
    const Data q = make_data(6, d, 77);
    const auto pu = updated.posterior(q.x);
    const auto pr = rebuilt.posterior(q.x);
    EXPECT_LT((pu.mean - pr.mean).cwiseAbs().maxCoeff(), 1e-10);
    EXPECT_LT((pu.covariance - pr.covariance).cwiseAbs().maxCoeff(), 1e-10);
  }
}

TEST(ExactGp, RankOneUpdateWithDuplicateAndNoNoiseFallsBackToJitter) {
  const Data data = make_data(8, 2, 6);
  Gp gp(data.x, data.y, hyper(2, 0.4, 1.0, 0.0, 0.0));
  gp.add_observation(data.x.row(3).transpose(), data.y(3));  // exact duplicate, σ² = 0
  EXPECT_GT(gp.jitter(), 0.0);
  EXPECT_EQ(gp.num_train(), 9);
  const auto p = gp.posterior_at(data.x.row(3).transpose());
  EXPECT_NEAR(p.mean, data.y(3), 1e-3 * std::abs(data.y(3)) + 1e-3);
}

// An RBF profile that breaks (NaN) beyond r² = 1e6, to make a refactorization fail.
struct BreaksFarAwayKernel {
  static constexpr const char* name = "BreaksFarAwayKernel";
  static double value(double r2) noexcept {
    return r2 > 1e6 ? std::numeric_limits<double>::quiet_NaN() : std::exp(-0.5 * r2);
  }
  static double derivative(double r2) noexcept { return -0.5 * value(r2); }
};

TEST(ExactGp, FailedRankOneUpdateLeavesTheModelUnchanged) {
  const Data data = make_data(8, 2, 6);
  bomf::ExactGP<BreaksFarAwayKernel> gp(data.x, data.y, hyper(2));
  const Eigen::Vector2d query(0.3, 0.6);
  const auto before = gp.posterior_at(query);
  EXPECT_THROW(gp.add_observation(Eigen::Vector2d(1e4, 0.0), 1.0), bomf::numerical_error);
  EXPECT_EQ(gp.num_train(), 8);
  EXPECT_EQ(gp.jitter(), 0.0);
  const auto after = gp.posterior_at(query);
  EXPECT_EQ(after.mean, before.mean);
  EXPECT_EQ(after.variance, before.variance);
  gp.add_observation(Eigen::Vector2d(0.5, 0.5), 1.0);  // and it still takes good points
  EXPECT_EQ(gp.num_train(), 9);
}

TEST(ExactGp, DuplicateInputsWithoutNoiseNeedJitterWhichIsReportedAndBounded) {
  Data data = make_data(10, 2, 7);
  data.x.row(5) = data.x.row(2);
  data.x.row(6) = data.x.row(2);
  const Gp gp(data.x, data.y, hyper(2, 0.4, 1.0, 0.0, 0.0));
  EXPECT_GT(gp.jitter(), 0.0);
  EXPECT_LE(gp.jitter(), 1e-3 * 1.0 + 1e-15);
  const Eigen::MatrixXd llt = gp.cholesky_factor() * gp.cholesky_factor().transpose();
  const Eigen::MatrixXd k =
      bomf::ard_covariance<bomf::Matern52Kernel>(data.x, data.x, Eigen::Vector2d(0.4, 0.4), 1.0);
  EXPECT_LT((llt - k - gp.jitter() * Eigen::MatrixXd::Identity(10, 10)).cwiseAbs().maxCoeff(),
            1e-12);
  // With the usual noise floor duplicates need no jitter.
  const Gp noisy(data.x, data.y, hyper(2, 0.4, 1.0, 1e-4));
  EXPECT_EQ(noisy.jitter(), 0.0);
  // A duplicated point's posterior mean lies near the average of its observations.
  EXPECT_TRUE(std::isfinite(noisy.posterior_at(data.x.row(2).transpose()).mean));
}

TEST(ExactGp, ConstantOutputsAndSingleObservation) {
  const Data data = make_data(6, 3, 8);
  const Eigen::VectorXd constant = Eigen::VectorXd::Constant(6, 4.2);
  const Gp gp(data.x, constant, hyper(3, 0.4, 1.0, 1e-4, 0.0));
  EXPECT_EQ(gp.outcome_transform().std, 1.0);
  const auto p = gp.posterior_at(Eigen::Vector3d(0.5, 0.5, 0.5));
  EXPECT_NEAR(p.mean, 4.2, 1e-12);
  EXPECT_LT(p.mean_gradient.norm(), 1e-12);
  // The fit handles it too.
  bomf::GpFitOptions options;
  options.priors = bomf::GpPriors::botorch_legacy();
  const auto fitted = bomf::fit_gp<bomf::Matern52Kernel>(data.x, constant, options);
  EXPECT_NEAR(fitted.posterior_at(Eigen::Vector3d(0.1, 0.9, 0.4)).mean, 4.2, 1e-6);

  const Eigen::MatrixXd x1 = data.x.topRows(1);
  const Eigen::VectorXd y1 = Eigen::VectorXd::Constant(1, -3.0);
  const Gp single(x1, y1, hyper(3, 0.4, 1.0, 1e-2, 0.0));
  EXPECT_EQ(single.outcome_transform().std, 1.0);
  const auto at = single.posterior_at(x1.row(0).transpose());
  EXPECT_NEAR(at.mean, -3.0, 1e-12);  // standardized: ỹ = 0 = c
  EXPECT_NEAR(at.variance, 1.0 - 1.0 / 1.01, 1e-12);
  const Gp single_raw(x1, y1, hyper(3, 0.4, 1.0, 1e-2, 0.0), bomf::InputNormalization(), false);
  EXPECT_NEAR(single_raw.posterior_at(x1.row(0).transpose()).mean, -3.0 / 1.01, 1e-12);
  bomf::GpFitSummary summary;
  const auto fitted1 = bomf::fit_gp<bomf::RbfKernel>(x1, y1, bomf::GpFitOptions(), &summary);
  EXPECT_TRUE(std::isfinite(summary.mll.value));
  EXPECT_NEAR(fitted1.posterior_at(x1.row(0).transpose()).mean, -3.0, 0.1);
}

TEST(ExactGp, NonFiniteInputsAreRejectedNamingRowAndColumn) {
  Data data = make_data(5, 2, 9);
  data.x(3, 1) = std::numeric_limits<double>::quiet_NaN();
  std::string msg = message_of([&] { Gp(data.x, data.y, hyper(2)); });
  EXPECT_NE(msg.find("train_x"), std::string::npos) << msg;
  EXPECT_NE(msg.find("row 3, column 1"), std::string::npos) << msg;
  msg = message_of([&] { bomf::fit_gp<bomf::RbfKernel>(data.x, data.y); });
  EXPECT_NE(msg.find("bomf::fit_gp"), std::string::npos) << msg;
  EXPECT_NE(msg.find("row 3, column 1"), std::string::npos) << msg;
  data = make_data(5, 2, 9);
  data.y(4) = std::numeric_limits<double>::infinity();
  msg = message_of([&] { Gp(data.x, data.y, hyper(2)); });
  EXPECT_NE(msg.find("train_y"), std::string::npos) << msg;
  EXPECT_NE(msg.find("row 4, column 0"), std::string::npos) << msg;
  msg = message_of([&] { bomf::fit_gp<bomf::RbfKernel>(data.x, data.y); });
  EXPECT_NE(msg.find("row 4, column 0"), std::string::npos) << msg;
  data = make_data(5, 2, 9);
  const Gp gp(data.x, data.y, hyper(2));
  msg = message_of([&] { gp.posterior_at(Eigen::Vector2d(0.1, std::nan(""))); });
  EXPECT_NE(msg.find("row 1, column 0"), std::string::npos) << msg;
  msg = message_of([&] { gp.posterior_at(Eigen::Vector3d(0.1, 0.2, 0.3)); });
  EXPECT_NE(msg.find("expected 2×1"), std::string::npos) << msg;
  Gp copy = gp;
  msg = message_of([&] { copy.add_observation(Eigen::Vector2d(0.1, 0.2), std::nan("")); });
  EXPECT_NE(msg.find("'y'"), std::string::npos) << msg;
  EXPECT_EQ(copy.num_train(), 5);
  // Invalid hyperparameters.
  auto bad = hyper(2);
  bad.lengthscales(1) = -1.0;
  msg = message_of([&] { Gp(data.x, data.y, bad); });
  EXPECT_NE(msg.find("lengthscale 1"), std::string::npos) << msg;
  msg = message_of([&] { Gp(data.x, data.y, hyper(3)); });
  EXPECT_NE(msg.find("3 lengthscales, expected 2"), std::string::npos) << msg;
  Eigen::MatrixXd bounds(2, 2);
  bounds << 0.0, 1.0, 1.0, 1.0;
  msg = message_of([&] { bomf::InputNormalization{bounds}; });
  EXPECT_NE(msg.find("column 1"), std::string::npos) << msg;
}

TEST(ExactGp, ExtremeButFiniteInputsGiveFiniteAnswersOrClearErrors) {
  // Matérn profiles at r² = ∞ are 0 (not (1 + r + r²/3) · 0 = NaN), and so are their derivatives.
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(bomf::Matern52Kernel::value(inf), 0.0);
  EXPECT_EQ(bomf::Matern52Kernel::derivative(inf), 0.0);
  EXPECT_EQ(bomf::Matern52Kernel::value_and_derivative(inf).value, 0.0);
  EXPECT_EQ(bomf::Matern32Kernel::value(inf), 0.0);
  EXPECT_EQ(bomf::Matern32Kernel::value_and_derivative(inf).derivative, 0.0);
  // Far below the cut-off nothing changes: exp(−r) is still positive there.
  EXPECT_GT(bomf::Matern52Kernel::value(700.0 * 700.0 / 5.0), 0.0);
  // A query so far away that its scaled distance overflows: the prior (mean c, variance s).
  const Data data = make_data(6, 2, 4);
  const Gp gp(data.x, data.y, hyper(2, 0.4, 1.5, 1e-3, 0.0), bomf::InputNormalization(),
              bomf::OutcomeStandardization::identity());
  const auto far = gp.posterior_at(Eigen::Vector2d(1e155, 0.5));
  EXPECT_EQ(far.mean, 0.0);
  EXPECT_NEAR(far.variance, 1.5, 1e-12);
  // Lengthscales so short that every off-diagonal distance overflows: K = (s + σ²) I.
  const Gp tiny(data.x, data.y, hyper(2, 1e-160, 1.5, 1e-3, 0.0), bomf::InputNormalization(),
                bomf::OutcomeStandardization::identity());
  EXPECT_EQ(tiny.jitter(), 0.0);
  EXPECT_TRUE(std::isfinite(tiny.posterior_at(Eigen::Vector2d(0.3, 0.3)).mean));
  // Input bounds whose width or its inverse overflows are refused, naming the column.
  Eigen::MatrixXd bounds(2, 2);
  bounds << 0.0, -1e308, 1.0, 1e308;
  std::string msg = message_of([&] { bomf::InputNormalization{bounds}; });
  EXPECT_NE(msg.find("column 1 spans inf"), std::string::npos) << msg;
  bounds << 0.0, 0.0, 1.0, 1e-310;
  msg = message_of([&] { bomf::InputNormalization{bounds}; });
  EXPECT_NE(msg.find("column 1 spans"), std::string::npos) << msg;
  // Outcomes whose squares overflow still standardize; a spread beyond the double range is named.
  const Eigen::Vector3d wide(1e200, -1e200, 0.0);
  const auto s = bomf::OutcomeStandardization::fit(wide);
  EXPECT_EQ(s.mean, 0.0);
  EXPECT_NEAR(s.std / 1e200, 1.0, 1e-15);
  const double big = std::numeric_limits<double>::max();
  msg = message_of([&] { bomf::OutcomeStandardization::fit(Eigen::Vector3d(big, -big, big)); });
  EXPECT_NE(msg.find("standard deviation overflows"), std::string::npos) << msg;
  // Tolerances of the fit must be numbers ≥ 0.
  bomf::GpFitOptions options;
  options.gradient_tolerance = std::nan("");
  msg = message_of([&] { bomf::fit_gp<bomf::Matern52Kernel>(data.x, data.y, options); });
  EXPECT_NE(msg.find("options.gradient_tolerance is nan"), std::string::npos) << msg;
  options = bomf::GpFitOptions();
  options.relative_tolerance = -1.0;
  msg = message_of([&] { bomf::fit_gp<bomf::Matern52Kernel>(data.x, data.y, options); });
  EXPECT_NE(msg.find("options.relative_tolerance is -1"), std::string::npos) << msg;
  options = bomf::GpFitOptions();
  options.lbfgs_memory = 0;
  msg = message_of([&] { bomf::fit_gp<bomf::Matern52Kernel>(data.x, data.y, options); });
  EXPECT_NE(msg.find("options.lbfgs_memory is 0, expected ≥ 1"), std::string::npos) << msg;
}

TEST(FitGp, TheLbfgsMemoryChangesThePathNotTheOptimum) {
  // BoTorch's fit (scipy's L-BFGS-B) keeps 10 correction pairs, LBFGSpp's default and ours 6:
  // on data with 8 lengthscales both reach the same MAP point; the iterations differ.
  const Data data = make_data(40, 8, 3);
  bomf::GpFitOptions options;
  options.priors = bomf::GpPriors::botorch_legacy();
  options.num_starts = 1;
  EXPECT_EQ(options.lbfgs_memory, 6);
  bomf::GpFitSummary six;
  const auto a = bomf::fit_gp<bomf::Matern52Kernel>(data.x, data.y, options, &six);
  options.lbfgs_memory = 10;
  bomf::GpFitSummary ten;
  const auto b = bomf::fit_gp<bomf::Matern52Kernel>(data.x, data.y, options, &ten);
  EXPECT_NEAR(six.mll.value, ten.mll.value, 1e-8);
  EXPECT_LT((a.hyperparameters().lengthscales.array().log() -
             b.hyperparameters().lengthscales.array().log())
                .abs()
                .maxCoeff(),
            1e-3);
  EXPECT_NE(six.iterations, ten.iterations);
}

TEST(FitGp, DeterministicGivenSeedAndMultiStartNeverWorse) {
  const Data data = make_data(25, 3, 10);
  bomf::GpFitOptions options;
  options.seed = 42;
  options.num_starts = 4;
  bomf::GpFitSummary s1;
  bomf::GpFitSummary s2;
  const auto a = bomf::fit_gp<bomf::RbfKernel>(data.x, data.y, options, &s1);
  const auto b = bomf::fit_gp<bomf::RbfKernel>(data.x, data.y, options, &s2);
  EXPECT_EQ(a.hyperparameters().lengthscales, b.hyperparameters().lengthscales);
  EXPECT_EQ(a.hyperparameters().noise, b.hyperparameters().noise);
  EXPECT_EQ(s1.start_mll, s2.start_mll);
  ASSERT_EQ(s1.start_mll.size(), 4u);
  for (double v : s1.start_mll)
    EXPECT_LE(v, s1.mll.value + 1e-12);
  // Current BoTorch defaults: no output scale, lengthscale ≥ 0.025, noise ≥ 1e-4.
  EXPECT_EQ(a.hyperparameters().outputscale, 1.0);
  EXPECT_GE(a.hyperparameters().lengthscales.minCoeff(), 0.025);
  EXPECT_GE(a.hyperparameters().noise, 1e-4);
  // The fit improves on its initial point.
  const auto priors = bomf::GpPriors::botorch_current(3);
  bomf::GpHyperparameters init;
  init.lengthscales = Eigen::VectorXd::Constant(3, priors.lengthscale_initial);
  init.noise = priors.noise_initial;
  const bomf::ExactGP<bomf::RbfKernel> initial(data.x, data.y, init);
  EXPECT_GT(s1.mll.value, bomf::marginal_log_likelihood(initial, priors).value);
  EXPECT_NEAR(priors.lengthscale_initial, std::exp(std::sqrt(2.0) + 0.5 * std::log(3.0) - 3.0),
              1e-15);
  EXPECT_NEAR(priors.noise_initial, std::exp(-5.0), 1e-15);
  // A different seed changes only the random starts, not the default one.
  options.seed = 43;
  bomf::GpFitSummary s3;
  (void)bomf::fit_gp<bomf::RbfKernel>(data.x, data.y, options, &s3);
  EXPECT_EQ(s3.start_mll.front(), s1.start_mll.front());
}

TEST(FitGp, FixedNoiseIsKeptInOriginalUnits) {
  const Data data = make_data(20, 2, 11);
  bomf::GpFitOptions options;
  options.priors = bomf::GpPriors::botorch_legacy();
  options.fixed_noise = 0.01;
  const auto gp = bomf::fit_gp<bomf::Matern52Kernel>(data.x, data.y, options);
  EXPECT_NEAR(gp.observation_noise_variance(), 0.01, 1e-15);
  options.fixed_noise = -1.0;
  EXPECT_NE(message_of([&] {
              bomf::fit_gp<bomf::Matern52Kernel>(data.x, data.y, options);
            }).find("fixed_noise"),
            std::string::npos);
}

TEST(Priors, DensitiesModesAndSamples) {
  const auto g = bomf::Prior::gamma(3.0, 6.0);
  // Gamma(3, 6) at 0.5: 6³/2 · 0.25 · e^{-3}.
  EXPECT_NEAR(g.log_density(0.5), std::log(216.0 / 2.0 * 0.25) - 3.0, 1e-14);
  EXPECT_NEAR(g.mode(), 2.0 / 6.0, 1e-16);
  const auto ln = bomf::Prior::log_normal(-4.0, 1.0);
  const double x = 0.02;
  EXPECT_NEAR(ln.log_density(x),
              -std::log(x) - 0.5 * std::log(2.0 * 3.14159265358979323846) -
                  0.5 * std::pow(std::log(x) + 4.0, 2.0),
              1e-13);
  EXPECT_NEAR(ln.mode(), std::exp(-5.0), 1e-16);
  EXPECT_EQ(bomf::Prior().log_density(3.0), 0.0);
  // d log p / d log x against finite differences.
  for (const auto& p : {g, ln}) {
    for (double v : {0.05, 0.7, 3.0}) {
      const double h = 1e-6;
      const double fd =
          (p.log_density(v * std::exp(h)) - p.log_density(v * std::exp(-h))) / (2.0 * h);
      EXPECT_NEAR(p.d_log_density_d_log(v), fd, 1e-7);
    }
  }
  // Sample means: Gamma(3, 6) has mean 0.5; LogNormal(-4, 1) has mean e^{-3.5}.
  std::mt19937_64 rng(1);
  double sg = 0.0;
  double sl = 0.0;
  const int m = 20000;
  for (int i = 0; i < m; ++i) {
    sg += g.sample(rng);
    sl += ln.sample(rng);
  }
  EXPECT_NEAR(sg / m, 0.5, 0.01);
  EXPECT_NEAR(sl / m, std::exp(-3.5), 0.002);
  EXPECT_NE(message_of([] { bomf::Prior::gamma(-1.0, 1.0); }).find("concentration"),
            std::string::npos);
}

TEST(ModelListGp, FitsEachObjectiveIndependently) {
  const Data data = make_data(20, 2, 12);
  Eigen::MatrixXd y(20, 2);
  y.col(0) = data.y;
  y.col(1) = -2.0 * data.y.array().square() + 1.0;
  bomf::GpFitOptions options;
  options.priors = bomf::GpPriors::botorch_legacy();
  std::vector<bomf::GpFitSummary> summaries;
  auto list = bomf::fit_model_list_gp<bomf::Matern52Kernel>(data.x, y, options, &summaries);
  ASSERT_EQ(list.num_outputs(), 2);
  ASSERT_EQ(summaries.size(), 2u);
  EXPECT_EQ(list.dim(), 2);
  EXPECT_EQ(list.num_train(), 20);
  for (int i = 0; i < 2; ++i) {
    const auto single = bomf::fit_gp<bomf::Matern52Kernel>(data.x, y.col(i), options);
    EXPECT_EQ(single.hyperparameters().lengthscales, list.model(i).hyperparameters().lengthscales);
  }
  const Data q = make_data(4, 2, 13);
  const auto posts = list.posterior(q.x);
  ASSERT_EQ(posts.size(), 2u);
  const Eigen::MatrixXd means = list.posterior_mean(q.x);
  EXPECT_LT((posts[1].mean - means.col(1)).cwiseAbs().maxCoeff(), 1e-12);
  list.add_observation(q.x.row(0).transpose(), Eigen::Vector2d(1.0, 2.0));
  EXPECT_EQ(list.num_train(), 21);
  EXPECT_EQ(list.model(1).train_targets()(20), 2.0);
  EXPECT_NE(message_of([&] { list.model(2); }).find("out of range"), std::string::npos);
  EXPECT_NE(message_of([&] {
              list.add_observation(q.x.row(0).transpose(), Eigen::Vector3d::Zero());
            }).find("'y'"),
            std::string::npos);
  std::vector<Gp> mismatched{Gp(data.x, data.y, hyper(2)), Gp(q.x, q.y, hyper(2))};
  EXPECT_NE(
      message_of([&] { bomf::ModelListGP<bomf::Matern52Kernel>{mismatched}; }).find("different"),
      std::string::npos);
}

// Compile-time checks of the kernel requirements (the failure message itself is tested by the
// gp_kernel_static_assert compile-failure test).
struct NotAKernel {
  static double value(double r2) { return r2; }
};
static_assert(bomf::kernel_traits<bomf::Matern52Kernel>::is_kernel);
static_assert(bomf::kernel_traits<bomf::Matern32Kernel>::is_kernel);
static_assert(bomf::kernel_traits<bomf::RbfKernel>::is_kernel);
static_assert(bomf::kernel_traits<NotAKernel>::has_value);
static_assert(!bomf::kernel_traits<NotAKernel>::has_derivative);
static_assert(!bomf::kernel_traits<NotAKernel>::is_kernel);
static_assert(!bomf::kernel_traits<int>::is_kernel);

}  // namespace
