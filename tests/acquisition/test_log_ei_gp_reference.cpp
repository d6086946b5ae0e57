// LogEI of bomf::ExactGP against BoTorch 0.11.3 (tests/data/log_ei.json `cases`): the GP is
// rebuilt from each case's recorded fixed hyperparameters and Standardize, and LogEI values
// (1e-9 relative) and ∂LogEI/∂x (1e-7 relative) are compared with BoTorch's.
#include <gtest/gtest.h>

#include <string>

#include "bomf/acquisition/log_ei.hpp"
#include "bomf/gp/exact_gp.hpp"
#include "bomf/gp/matern52_kernel.hpp"
#include "support/reference.hpp"

namespace {

using bomf::test::close;
using bomf::test::to_matrix;
using bomf::test::to_vector;
using Gp = bomf::ExactGP<bomf::Matern52Kernel>;

Gp model_of(const nlohmann::json& c) {
  const nlohmann::json& model = c.at("model");
  bomf::GpHyperparameters h;
  h.lengthscales = to_vector(model.at("lengthscale"));
  h.outputscale = model.at("outputscale").get<double>();
  h.noise = model.at("noise").get<double>();
  h.mean_constant = model.at("mean_constant").get<double>();
  const nlohmann::json& y = c.at("train_Y");
  const Eigen::VectorXd train_y =
      y.at(0).is_array() ? Eigen::VectorXd(to_matrix(y).col(0)) : to_vector(y);
  const bool standardize = !model.at("outcome_transform").is_null();
  return Gp(to_matrix(c.at("train_X")), train_y, h, bomf::InputNormalization(), standardize);
}

TEST(LogEiGpReference, ValuesAndGradientsMatchBoTorch) {
  const auto ref = bomf::test::load_reference("log_ei.json");
  double worst_value = 0.0;
  double worst_gradient = 0.0;
  double worst_coordinate = 0.0;
  int points = 0;
  for (const auto& c : ref.at("cases")) {
    SCOPED_TRACE("case d=" + std::to_string(c.at("d").get<int>()) +
                 " n=" + std::to_string(c.at("n").get<int>()));
    const Gp gp = model_of(c);
    const Eigen::MatrixXd test_x = to_matrix(c.at("test_X"));
    for (const auto& incumbent : c.at("log_ei")) {
      const bomf::LogExpectedImprovement<Gp> acq(gp, incumbent.at("best_f").get<double>());
      const Eigen::VectorXd log_ei = to_vector(incumbent.at("log_ei"));
      const Eigen::MatrixXd grad = to_matrix(incumbent.at("log_ei_grad_x"));
      for (Eigen::Index i = 0; i < test_x.rows(); ++i) {
        SCOPED_TRACE("test point " + std::to_string(i));
        Eigen::VectorXd g(test_x.cols());
        const double v = acq.value_and_gradient(test_x.row(i).transpose(), g);
        EXPECT_TRUE(close(v, log_ei(i), 1e-9)) << v << " vs " << log_ei(i);
        worst_value = std::max(worst_value, std::abs(v - log_ei(i)) / std::abs(log_ei(i)));
        const double scale = grad.row(i).norm();
        for (Eigen::Index k = 0; k < test_x.cols(); ++k) {
          EXPECT_TRUE(close(g(k), grad(i, k), 1e-7))
              << "coordinate " << k << ": " << g(k) << " vs " << grad(i, k);
          worst_gradient =
              std::max(worst_gradient, std::abs(g(k) - grad(i, k)) / std::max(scale, 1e-300));
          worst_coordinate =
              std::max(worst_coordinate, std::abs(g(k) - grad(i, k)) / std::abs(grad(i, k)));
        }
        ++points;
      }
    }
  }
  EXPECT_EQ(points, 60);
  std::printf(
      "[log_ei gp] %d points: max value rel err %.2e, max gradient err / |grad| %.2e, max "
      "per-coordinate rel err %.2e\n",
      points, worst_value, worst_gradient, worst_coordinate);
}

}  // namespace
