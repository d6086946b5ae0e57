// bomf/gp/fit_gp.hpp — MAP fitting of an exact GP's hyperparameters (multi-start L-BFGS-B).
#pragma once

#include <LBFGSB.h>

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <exception>
#include <limits>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "bomf/core/checks.hpp"
#include "bomf/core/error.hpp"
#include "bomf/gp/exact_gp.hpp"
#include "bomf/gp/input_normalization.hpp"
#include "bomf/gp/marginal_likelihood.hpp"
#include "bomf/gp/outcome_standardization.hpp"
#include "bomf/gp/priors.hpp"

namespace bomf {

/// Options of `fit_gp`. Defaults reproduce BoTorch's current SingleTaskGP fitting (priors
/// `GpPriors::botorch_current(d)`, use with RbfKernel), with a few extra restarts.
struct GpFitOptions {
  /// Priors, bounds and initial values; empty = GpPriors::botorch_current(d). For the BOMF
  /// paper's setting (BoTorch ≤ 0.11) use GpPriors::botorch_legacy() with Matern52Kernel.
  std::optional<GpPriors> priors;
  /// Maps the user's inputs to the unit cube (default: identity, inputs already in [0, 1]^d).
  InputNormalization input_transform;
  /// Standardize the targets (BoTorch's Standardize); false = no outcome transform.
  bool standardize = true;
  /// A known observation-noise variance in the ORIGINAL outcome units (divided by std² for the
  /// model); the noise is then not fitted and has no prior. Empty = inferred.
  std::optional<double> fixed_noise;
  /// Number of L-BFGS-B starts: the first from the priors' initial values (BoTorch's default
  /// start), the others from hyperparameters drawn from the priors (as BoTorch's
  /// `sample_all_priors`), clamped into the bounds. ≥ 1.
  int num_starts = 3;
  /// Seed of the prior draws: the fit is deterministic given it.
  std::uint64_t seed = 0;
  /// L-BFGS-B iterations per start.
  int max_iterations = 200;
  /// Correction pairs L-BFGS-B keeps (the memory of its Hessian approximation). ≥ 1. The
  /// default, 6, is LBFGSpp's and what every bomf release so far used (journals record it when
  /// it differs). 10 is scipy's `maxcor` default, which BoTorch's fit_gpytorch_mll uses (the
  /// iteration benchmark sets it, like for like): on that benchmark's data (d = 15, n = 15…90)
  /// it reached the same optimum (mll/n within 1e-10) in 12–23 % fewer iterations at n ≥ 45.
  int lbfgs_memory = 6;
  /// Convergence: projected-gradient infinity norm of the objective (mll / n) below this …
  double gradient_tolerance = 1e-6;
  /// … or a relative decrease of the objective below this over one iteration.
  double relative_tolerance = 1e-10;
  /// Threads for `fit_model_list_gp`, which fits its outcomes' GPs independently (≥ 1; one
  /// outcome per thread at a time). The fitted models are bit-identical whatever the number.
  int num_threads = 1;

  /// Empty when valid, else the first invalid field, its value and what is expected (the
  /// priors' own checks included). The input transform's dimension is checked against the data
  /// by fit_gp.
  [[nodiscard]] std::string validate() const {
    if (num_starts < 1)
      return detail::concat("num_starts is ", num_starts, ", expected ≥ 1");
    if (max_iterations < 1)
      return detail::concat("max_iterations is ", max_iterations, ", expected ≥ 1");
    if (lbfgs_memory < 1)
      return detail::concat("lbfgs_memory is ", lbfgs_memory, ", expected ≥ 1");
    if (!(std::isfinite(gradient_tolerance) && gradient_tolerance >= 0.0))
      return detail::concat("gradient_tolerance is ", gradient_tolerance,
                            ", expected finite and ≥ 0");
    if (!(std::isfinite(relative_tolerance) && relative_tolerance >= 0.0))
      return detail::concat("relative_tolerance is ", relative_tolerance,
                            ", expected finite and ≥ 0");
    if (num_threads < 1)
      return detail::concat("num_threads is ", num_threads, ", expected ≥ 1");
    if (fixed_noise && !(std::isfinite(*fixed_noise) && *fixed_noise >= 0.0))
      return detail::concat("fixed_noise is ", *fixed_noise, ", expected finite and ≥ 0");
    if (priors) {
      try {
        priors->validate("priors");
      } catch (const std::exception& e) {
        return e.what();
      }
    }
    return {};
  }
};

/// What `fit_gp` did.
struct GpFitSummary {
  MllValue mll;                   ///< the objective at the returned hyperparameters
  int best_start = 0;             ///< which start produced them (0 = default initial values)
  std::vector<double> start_mll;  ///< final objective value (mll / n) of each start
  int iterations = 0;             ///< L-BFGS-B iterations, all starts
  int line_search_failures = 0;   ///< starts ended by a line-search exception (best point kept)
};

namespace detail {

// Wraps MarginalLogLikelihood as LBFGSpp's minimization functor f(θ, ∇) = −mll/n, remembering the
// best point evaluated (LBFGSpp throws on line-search failure; we then keep that point).
template <class Kernel>
class NegativeMllFunctor {
 public:
  explicit NegativeMllFunctor(const MarginalLogLikelihood<Kernel>& mll) : mll_(mll) {}

  double operator()(const Eigen::VectorXd& theta, Eigen::VectorXd& grad) {
    double value = 0.0;
    try {
      value = mll_.value_and_gradient(theta, &grad, workspace_);
    } catch (const numerical_error&) {
      grad.setZero();
      return kPenalty;
    }
    if (!std::isfinite(value) || !grad.allFinite()) {
      grad.setZero();
      return kPenalty;
    }
    if (-value < best_value_) {
      best_value_ = -value;
      best_theta_ = theta;
    }
    grad = -grad;
    return -value;
  }

  bool has_best() const noexcept { return best_theta_.size() > 0; }
  double best_value() const noexcept { return best_value_; }
  const Eigen::VectorXd& best_theta() const noexcept { return best_theta_; }

 private:
  static constexpr double kPenalty = 1e100;
  const MarginalLogLikelihood<Kernel>& mll_;
  MllWorkspace workspace_;
  double best_value_ = std::numeric_limits<double>::infinity();
  Eigen::VectorXd best_theta_;
};

}  // namespace detail

/// Fits the hyperparameters of `ExactGP<Kernel>` to inputs `train_x` (n × d, original units) and
/// targets `train_y` (length n) by maximizing the log marginal likelihood plus log priors
/// (MAP; GPyTorch's ExactMarginalLogLikelihood divided by n, see MllValue) with the analytic
/// gradient, by L-BFGS-B (LBFGSpp's LBFGSBSolver) over θ = log-hyperparameters inside the box of
/// `GpPriors` (mean constant within ±(1e3 + 10·max|ỹ|)), from `options.num_starts` starts; returns
/// the model at the best optimum. Deterministic given `options.seed`. Each start costs
/// O(iterations · (n³ + n² d)). Reproduces BoTorch's `fit_gpytorch_mll(ExactMarginalLogLikelihood)`
/// on `SingleTaskGP` (tests/gp: reaches BoTorch 0.11.3's optimum on the reference data).
/// Throws bomf::invalid_argument on bad data (non-finite entries named by row and column).
template <class Kernel>
ExactGP<Kernel> fit_gp(const Eigen::Ref<const Eigen::MatrixXd>& train_x,
                       const Eigen::Ref<const Eigen::VectorXd>& train_y,
                       const GpFitOptions& options = GpFitOptions(),
                       GpFitSummary* summary = nullptr) {
  static_assert(check_kernel<Kernel>(), "see the message above");
  constexpr const char* where = "bomf::fit_gp";
  detail::require(train_x.rows() >= 1 && train_x.cols() >= 1, where, "argument 'train_x' is ",
                  train_x.rows(), "×", train_x.cols(), ", expected at least 1×1");
  detail::require_shape(train_y, train_x.rows(), 1, where, "train_y");
  detail::require_finite(train_x, where, "train_x");
  detail::require_finite(train_y, where, "train_y");
  const std::string invalid = options.validate();
  detail::require(invalid.empty(), where, "options.", invalid);
  detail::require(
      options.input_transform.is_identity() || options.input_transform.dim() == train_x.cols(),
      where, "input transform has dimension ", options.input_transform.dim(), ", 'train_x' has ",
      train_x.cols(), " columns");
  const Eigen::Index d = train_x.cols();
  const GpPriors priors =
      options.priors ? *options.priors : GpPriors::botorch_current(static_cast<int>(d));
  priors.validate(where);

  const OutcomeStandardization outcome = options.standardize ? OutcomeStandardization::fit(train_y)
                                                             : OutcomeStandardization::identity();
  std::optional<double> fixed_noise;
  if (options.fixed_noise)
    fixed_noise = *options.fixed_noise / (outcome.std * outcome.std);
  const Eigen::MatrixXd x_unit = options.input_transform.apply(train_x);
  const Eigen::VectorXd y_std = (train_y.array() - outcome.mean) / outcome.std;
  const MarginalLogLikelihood<Kernel> mll(x_unit, y_std, priors, fixed_noise);
  const GpParameterLayout& layout = mll.layout();

  // Box bounds in θ.
  Eigen::VectorXd lb(layout.size());
  Eigen::VectorXd ub(layout.size());
  lb.head(d).setConstant(std::log(priors.lengthscale_lower));
  ub.head(d).setConstant(std::log(priors.lengthscale_upper));
  if (layout.has_outputscale) {
    lb(layout.outputscale_index()) = std::log(priors.outputscale_lower);
    ub(layout.outputscale_index()) = std::log(priors.outputscale_upper);
  }
  if (layout.has_noise) {
    lb(layout.noise_index()) = std::log(priors.noise_lower);
    ub(layout.noise_index()) = std::log(priors.noise_upper);
  }
  const double mean_box = 1e3 + 10.0 * y_std.cwiseAbs().maxCoeff();
  lb(layout.mean_index()) = -mean_box;
  ub(layout.mean_index()) = mean_box;

  // Starting points: the default initial values, then draws from the priors.
  std::mt19937_64 engine(options.seed);
  auto draw = [&engine](const Prior& prior, double fallback) {
    return prior.is_none() ? fallback : prior.sample(engine);
  };
  std::vector<Eigen::VectorXd> starts;
  for (int s = 0; s < options.num_starts; ++s) {
    GpHyperparameters h;
    h.lengthscales = Eigen::VectorXd::Constant(d, priors.lengthscale_initial);
    h.outputscale = layout.has_outputscale ? priors.outputscale_initial : 1.0;
    h.noise = layout.has_noise ? priors.noise_initial : *fixed_noise;
    h.mean_constant = 0.0;
    if (s > 0) {
      for (Eigen::Index k = 0; k < d; ++k)
        h.lengthscales(k) = draw(priors.lengthscale, h.lengthscales(k));
      if (layout.has_outputscale)
        h.outputscale = draw(priors.outputscale, h.outputscale);
      if (layout.has_noise)
        h.noise = draw(priors.noise, h.noise);
    }
    // Draws of exactly 0 (possible in floating point) would give −∞ logs: clamp in θ.
    h.lengthscales = h.lengthscales.cwiseMax(1e-300);
    h.outputscale = std::max(h.outputscale, 1e-300);
    h.noise = std::max(h.noise, 1e-300);
    starts.push_back(mll.pack(h).cwiseMax(lb).cwiseMin(ub));
  }

  LBFGSpp::LBFGSBParam<double> param;
  param.epsilon = options.gradient_tolerance;
  param.epsilon_rel = 0.0;
  param.past = 1;
  param.delta = options.relative_tolerance;
  param.max_iterations = options.max_iterations;
  param.max_linesearch = 50;
  param.m = options.lbfgs_memory;

  GpFitSummary result;
  double best = std::numeric_limits<double>::infinity();
  Eigen::VectorXd best_theta = starts.front();
  for (int s = 0; s < options.num_starts; ++s) {
    detail::NegativeMllFunctor<Kernel> functor(mll);
    LBFGSpp::LBFGSBSolver<double> solver(param);
    Eigen::VectorXd theta = starts[static_cast<std::size_t>(s)];
    double f = 0.0;
    try {
      result.iterations += solver.minimize(functor, theta, f, lb, ub);
    } catch (const bomf::invalid_argument&) {
      throw;  // a programming error (e.g. in a user kernel), not a failed step
    } catch (const std::runtime_error&) {
      // Line-search failures (std::runtime_error / std::logic_error from LBFGSpp) and steps to
      // hyperparameters where K is not positive definite (bomf::numerical_error): keep the best
      // point evaluated so far. Anything else (std::bad_alloc, ...) propagates.
      ++result.line_search_failures;
    } catch (const std::logic_error&) {
      ++result.line_search_failures;
    }
    const double start_best =
        functor.has_best() ? functor.best_value() : std::numeric_limits<double>::infinity();
    result.start_mll.push_back(-start_best);
    if (start_best < best) {
      best = start_best;
      best_theta = functor.best_theta();
      result.best_start = s;
    }
  }
  if (!std::isfinite(best)) {
    throw numerical_error(
        "bomf::fit_gp: the marginal likelihood could not be evaluated at any start (the kernel "
        "matrix stayed non-positive-definite)");
  }
  // LBFGSpp's subspace step can overshoot a bound by rounding: report a point inside the box.
  const GpHyperparameters h = mll.unpack(best_theta.cwiseMax(lb).cwiseMin(ub));
  result.mll = mll.evaluate(h);
  if (summary != nullptr)
    *summary = result;
  return ExactGP<Kernel>(train_x, train_y, h, options.input_transform, outcome);
}

}  // namespace bomf
