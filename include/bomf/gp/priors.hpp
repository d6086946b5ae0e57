// bomf/gp/priors.hpp — prior densities on GP hyperparameters and BoTorch's two default presets.
#pragma once

#include <boost/math/special_functions/gamma.hpp>
#include <boost/random/gamma_distribution.hpp>
#include <boost/random/normal_distribution.hpp>
#include <cmath>
#include <limits>

#include "bomf/core/error.hpp"

namespace bomf {

/// A prior density on one positive hyperparameter: none (flat), Gamma(concentration, rate) or
/// LogNormal(loc, scale), as GPyTorch's `GammaPrior` and `LogNormalPrior`. Densities are over
/// the constrained (positive) value itself, without any change-of-variables term for the
/// parameterization used by the optimizer — the convention of GPyTorch's
/// `ExactMarginalLogLikelihood`, so MAP estimates match BoTorch's.
class Prior {
 public:
  enum class Kind { none, gamma, log_normal };

  /// No prior (log density 0 everywhere).
  Prior() = default;

  /// Gamma(concentration a > 0, rate b > 0): log p(x) = a log b − lgamma(a) + (a−1) log x − b x.
  static Prior gamma(double concentration, double rate) {
    detail::require(
        concentration > 0.0 && rate > 0.0 && std::isfinite(concentration) && std::isfinite(rate),
        "bomf::Prior::gamma", "concentration ", concentration, " and rate ", rate,
        " must be positive and finite");
    return Prior(Kind::gamma, concentration, rate);
  }

  /// LogNormal(loc, scale > 0): log x ~ N(loc, scale²).
  static Prior log_normal(double loc, double scale) {
    detail::require(scale > 0.0 && std::isfinite(loc) && std::isfinite(scale),
                    "bomf::Prior::log_normal", "loc ", loc, " must be finite and scale ", scale,
                    " positive");
    return Prior(Kind::log_normal, loc, scale);
  }

  Kind kind() const noexcept { return kind_; }
  bool is_none() const noexcept { return kind_ == Kind::none; }
  /// Gamma: concentration; LogNormal: loc.
  double first() const noexcept { return a_; }
  /// Gamma: rate; LogNormal: scale.
  double second() const noexcept { return b_; }

  /// log p(x) for x > 0 (−∞ for x ≤ 0 under a proper prior).
  double log_density(double x) const {
    switch (kind_) {
      case Kind::gamma:
        if (x <= 0.0)
          return -std::numeric_limits<double>::infinity();
        return a_ * std::log(b_) - boost::math::lgamma(a_) + (a_ - 1.0) * std::log(x) - b_ * x;
      case Kind::log_normal: {
        if (x <= 0.0)
          return -std::numeric_limits<double>::infinity();
        const double u = (std::log(x) - a_) / b_;
        return -std::log(x) - std::log(b_) - 0.5 * kLog2Pi - 0.5 * u * u;
      }
      case Kind::none:
        break;
    }
    return 0.0;
  }

  /// x · d log p(x)/dx, the derivative of log p with respect to log x (what the optimizer, which
  /// works in log space, needs).
  double d_log_density_d_log(double x) const noexcept {
    switch (kind_) {
      case Kind::gamma:
        return (a_ - 1.0) - b_ * x;
      case Kind::log_normal:
        return -1.0 - (std::log(x) - a_) / (b_ * b_);
      case Kind::none:
        break;
    }
    return 0.0;
  }

  /// The mode: (a−1)/b for Gamma with a ≥ 1 (0 below), exp(loc − scale²) for LogNormal;
  /// NaN for no prior.
  double mode() const noexcept {
    switch (kind_) {
      case Kind::gamma:
        return a_ >= 1.0 ? (a_ - 1.0) / b_ : 0.0;
      case Kind::log_normal:
        return std::exp(a_ - b_ * b_);
      case Kind::none:
        break;
    }
    return std::numeric_limits<double>::quiet_NaN();
  }

  /// One draw from the prior (Boost.Random distributions: identical across platforms for a given
  /// engine state). Returns NaN for no prior.
  template <class Engine>
  double sample(Engine& engine) const {
    switch (kind_) {
      case Kind::gamma:
        return boost::random::gamma_distribution<double>(a_, 1.0 / b_)(engine);
      case Kind::log_normal:
        return std::exp(boost::random::normal_distribution<double>(a_, b_)(engine));
      case Kind::none:
        break;
    }
    return std::numeric_limits<double>::quiet_NaN();
  }

 private:
  static constexpr double kLog2Pi = 1.8378770664093454836;  // log(2π)
  Prior(Kind kind, double a, double b) : kind_(kind), a_(a), b_(b) {}
  Kind kind_ = Kind::none;
  double a_ = 0.0;
  double b_ = 0.0;
};

/// The hyperparameter model fitted by `fit_gp`: priors, box bounds and initial values of the
/// lengthscales (in unit-cube input units), the output scale and the noise variance (both in
/// the standardized outcome space). The fit optimizes log ℓ, log s and log σ² inside
/// [log lower, log upper] and the mean constant freely (within a wide box).
struct GpPriors {
  Prior lengthscale;            ///< on every ARD lengthscale
  Prior outputscale;            ///< on the output scale (ignored when `use_outputscale` is false)
  Prior noise;                  ///< on the noise variance (ignored when the noise is fixed)
  bool use_outputscale = true;  ///< false: s ≡ 1, not fitted ("kernel without output scale")
  double lengthscale_lower = 1e-4;
  double lengthscale_upper = 1e4;
  double outputscale_lower = 1e-4;
  double outputscale_upper = 1e4;
  double noise_lower = 1e-4;  ///< BoTorch's MIN_INFERRED_NOISE_LEVEL
  double noise_upper = 1e4;
  double lengthscale_initial = std::log(2.0);  ///< start of the first (default) restart
  double outputscale_initial = std::log(2.0);
  double noise_initial = 1.0;

  /// BoTorch's current `SingleTaskGP` defaults (≥ 0.12; Hvarfner et al. 2024): use with
  /// RbfKernel and no output scale; lengthscale ~ LogNormal(√2 + ½ log d, √3) with ℓ ≥ 0.025,
  /// initialised at the prior's mode exp(√2 + ½ log d − 3); noise ~ LogNormal(−4, 1) with
  /// σ² ≥ 1e-4, initialised at its mode exp(−5).
  static GpPriors botorch_current(int dim) {
    detail::require(dim >= 1, "bomf::GpPriors::botorch_current", "argument 'dim' is ", dim,
                    ", expected ≥ 1");
    GpPriors p;
    p.lengthscale = Prior::log_normal(std::sqrt(2.0) + 0.5 * std::log(static_cast<double>(dim)),
                                      std::sqrt(3.0));
    p.noise = Prior::log_normal(-4.0, 1.0);
    p.use_outputscale = false;
    p.lengthscale_lower = 0.025;
    p.lengthscale_initial = p.lengthscale.mode();
    p.outputscale_initial = 1.0;
    p.noise_initial = p.noise.mode();
    return p;
  }

  /// BoTorch ≤ 0.11 defaults (the version used by the BOMF paper, Jang et al. 2024): use with
  /// Matern52Kernel and an output scale; lengthscale ~ Gamma(3, rate 6), outputscale ~ Gamma(2,
  /// rate 0.15), noise ~ Gamma(1.1, rate 0.05) with σ² ≥ 1e-4. Initial values as BoTorch 0.11:
  /// lengthscale and outputscale softplus(0) = log 2 (GPyTorch's raw-parameter default), noise at
  /// the prior's mode (1.1 − 1)/0.05 = 2.
  static GpPriors botorch_legacy() {
    GpPriors p;
    p.lengthscale = Prior::gamma(3.0, 6.0);
    p.outputscale = Prior::gamma(2.0, 0.15);
    p.noise = Prior::gamma(1.1, 0.05);
    p.use_outputscale = true;
    p.lengthscale_initial = std::log(2.0);
    p.outputscale_initial = std::log(2.0);
    p.noise_initial = (1.1 - 1.0) / 0.05;
    return p;
  }

  /// Throws bomf::invalid_argument unless every bound is positive and finite, lower < upper and
  /// every initial value is positive.
  void validate(const char* where) const {
    auto check = [&](const char* what, double lo, double hi, double init) {
      detail::require(lo > 0.0 && hi > lo && std::isfinite(hi), where, "GpPriors: ", what,
                      " bounds [", lo, ", ", hi, "] must satisfy 0 < lower < upper < ∞");
      detail::require(init > 0.0 && std::isfinite(init), where, "GpPriors: initial ", what, " ",
                      init, " must be positive and finite");
    };
    check("lengthscale", lengthscale_lower, lengthscale_upper, lengthscale_initial);
    check("outputscale", outputscale_lower, outputscale_upper, outputscale_initial);
    check("noise", noise_lower, noise_upper, noise_initial);
  }
};

}  // namespace bomf
