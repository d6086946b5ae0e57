// bomf/acquisition/log_ei.hpp — analytic log expected improvement (LogEI) with gradients.
#pragma once

#include <Eigen/Core>
#include <cmath>
#include <type_traits>
#include <utility>

#include "bomf/core/error.hpp"
#include "bomf/math/log_h.hpp"
#include "bomf/math/normal.hpp"

namespace bomf {

/// The smallest posterior variance LogEI uses: σ = √max(variance, 1e-12), as BoTorch's
/// `_mean_and_sigma(min_var=1e-12)`.
constexpr double log_ei_min_variance = 1e-12;

/// LogEI at one point with its partial derivatives with respect to the posterior mean and
/// variance (see log_expected_improvement).
struct LogEiValue {
  double value;       ///< log EI
  double d_mean;      ///< ∂ log EI / ∂ mean
  double d_variance;  ///< ∂ log EI / ∂ variance (0 where the variance is clamped)
  double z;           ///< the scaled improvement (mean − best_f)/σ
};

/// Analytic log expected improvement for a Gaussian posterior N(mean, variance) of the value to
/// maximize and the incumbent `best_f` (Ament et al. 2023, "Unexpected Improvements to Expected
/// Improvement", NeurIPS; BoTorch's `LogExpectedImprovement` with maximize=True):
///   σ = √max(variance, 1e-12),  z = (mean − best_f)/σ,  LogEI = log h(z) + log σ,
/// with log h(z) = log(φ(z) + zΦ(z)) from bomf/math/log_h.hpp, so LogEI stays finite, with a
/// finite and correct gradient, where EI itself underflows to 0 (z < −38) — down to |z| ≈ 1e154.
/// Derivatives: ∂/∂mean = (log h)′(z)/σ; ∂/∂variance = φ(z)/(2σ²·h(z)) (from
/// 1 − z·(log h)′(z) = φ/h, evaluated as exp(log φ − log h) so that it neither cancels nor
/// underflows) when variance ≥ 1e-12, and 0 below (the clamp, as torch's `clamp_min` backward).
/// Zero (or negative) variance is clamped as in BoTorch: σ = 1e-6, which gives a finite value —
/// ≈ log(mean − best_f) when mean > best_f, and a very negative but finite number (e.g. about
/// −5e9 for mean − best_f = −0.1) when mean < best_f. Cost: one log_h, one exp, two logs.
/// \throws bomf::invalid_argument when mean, variance or best_f is not finite.
inline LogEiValue log_expected_improvement(double mean, double variance, double best_f) {
  constexpr const char* where = "bomf::log_expected_improvement";
  detail::require(std::isfinite(mean), where, "argument 'mean' is ", mean, ", expected finite");
  detail::require(std::isfinite(variance), where, "argument 'variance' is ", variance,
                  ", expected finite");
  detail::require(std::isfinite(best_f), where, "argument 'best_f' is ", best_f,
                  ", expected finite");
  const bool clamped = !(variance >= log_ei_min_variance);
  const double var = clamped ? log_ei_min_variance : variance;
  const double sigma = std::sqrt(var);
  const double z = (mean - best_f) / sigma;
  const ValueAndDerivative lh = log_h_with_derivative(z);
  const double d_variance = clamped ? 0.0 : std::exp(normal_log_pdf(z) - lh.value) / (2.0 * var);
  return {lh.value + std::log(sigma), lh.derivative / sigma, d_variance, z};
}

// Declared by bomf/gp/exact_gp.hpp; named here only to detect ExactGP's allocation-free
// `posterior_at(x, workspace, out)` overload.
struct PosteriorWorkspace;
struct PointPosterior;

namespace detail {

template <class T, class Model>
struct dependent_on {
  using type = T;
};

template <class Model, class = void>
struct has_point_posterior : std::false_type {};
template <class Model>
struct has_point_posterior<Model, std::void_t<decltype(std::declval<const Model&>().posterior_at(
                                      std::declval<const Eigen::VectorXd&>()))>> : std::true_type {
};

template <class Model>
using point_posterior_t = std::decay_t<decltype(std::declval<const Model&>().posterior_at(
    std::declval<const Eigen::VectorXd&>()))>;

template <class P, class = void>
struct has_posterior_fields : std::false_type {};
template <class P>
struct has_posterior_fields<
    P, std::void_t<decltype(static_cast<double>(std::declval<const P&>().mean)),
                   decltype(static_cast<double>(std::declval<const P&>().variance)),
                   decltype(std::declval<const Eigen::VectorXd&>().dot(
                       std::declval<const P&>().mean_gradient)),
                   decltype(std::declval<const Eigen::VectorXd&>().dot(
                       std::declval<const P&>().variance_gradient))>> : std::true_type {};

template <class Model, class = void>
struct has_workspace_posterior : std::false_type {};
template <class Model>
struct has_workspace_posterior<
    Model, std::void_t<decltype(std::declval<const Model&>().posterior_at(
               std::declval<const Eigen::VectorXd&>(),
               std::declval<typename dependent_on<PosteriorWorkspace, Model>::type&>(),
               std::declval<typename dependent_on<PointPosterior, Model>::type&>()))>>
    : std::true_type {};

/// Readable compile-time checks of the model type of LogExpectedImprovement.
template <class Model>
constexpr bool check_log_ei_model() {
  constexpr bool has_posterior = has_point_posterior<Model>::value;
  static_assert(has_posterior,
                "bomf::LogExpectedImprovement<Model>: Model must provide a const member "
                "`posterior_at(const Eigen::Ref<const Eigen::VectorXd>& x)` returning the "
                "posterior at one point (e.g. bomf::ExactGP<Kernel>, bomf/gp/exact_gp.hpp)");
  if constexpr (has_posterior) {
    static_assert(has_posterior_fields<point_posterior_t<Model>>::value,
                  "bomf::LogExpectedImprovement<Model>: the result of Model::posterior_at(x) "
                  "must have fields `double mean`, `double variance` (latent, original scale) "
                  "and `Eigen::VectorXd mean_gradient`, `variance_gradient` (∂/∂x, length d), "
                  "like bomf::PointPosterior");
    return has_posterior_fields<point_posterior_t<Model>>::value;
  }
  return has_posterior;
}

/// Evaluates a model's point posterior into a reused result: through ExactGP's
/// `posterior_at(x, workspace, out)` (no allocation after the first call) when the model has it,
/// else through `posterior_at(x)`.
template <class Model, bool = has_workspace_posterior<Model>::value>
struct PointPosteriorEvaluator {
  point_posterior_t<Model> posterior;
  const point_posterior_t<Model>& operator()(const Model& model,
                                             const Eigen::Ref<const Eigen::VectorXd>& x) {
    posterior = model.posterior_at(x);
    return posterior;
  }
};

template <class Model>
struct PointPosteriorEvaluator<Model, true> {
  typename dependent_on<PosteriorWorkspace, Model>::type workspace;
  typename dependent_on<PointPosterior, Model>::type posterior;
  const typename dependent_on<PointPosterior, Model>::type& operator()(
      const Model& model, const Eigen::Ref<const Eigen::VectorXd>& x) {
    model.posterior_at(x, workspace, posterior);
    return posterior;
  }
};

}  // namespace detail

/// Analytic LogEI of a single-output model, LogEI(x) = log h((μ(x) − best_f)/σ(x)) + log σ(x)
/// with σ = √max(var(x), 1e-12) (Ament et al. 2023, NeurIPS; BoTorch's `LogExpectedImprovement`,
/// maximization), and its gradient with respect to x by the chain rule through the posterior mean
/// and variance (see log_expected_improvement for the formulas, the clamp and zero variance).
///
/// `Model` must have `posterior_at(const Eigen::Ref<const Eigen::VectorXd>& x) const` returning a
/// struct with `mean`, `variance` (latent f, no observation noise), `mean_gradient` and
/// `variance_gradient` (∂/∂x, length d) — e.g. bomf::ExactGP<Kernel>; a readable static_assert
/// says what is missing. When the model also has ExactGP's
/// `posterior_at(x, PosteriorWorkspace&, PointPosterior&)`, that overload is used with a workspace
/// held by this object, so evaluation does not allocate after the first call.
///
/// The acquisition holds a reference to the model, which must outlive it (updating the model,
/// e.g. ExactGP::add_observation, is seen by later evaluations). Evaluation reuses internal
/// buffers: one object must not be evaluated from two threads at once (copies may).
/// Cost: one posterior_at (O(n d + n²) for ExactGP) plus O(d).
template <class Model>
class LogExpectedImprovement {
  static_assert(detail::check_log_ei_model<Model>(), "see the message above");

 public:
  using model_type = Model;

  /// LogEI of `model` over the incumbent `best_f` (the best observed value, original scale).
  /// \throws bomf::invalid_argument when best_f is not finite.
  LogExpectedImprovement(const Model& model, double best_f) : model_(&model) { set_best_f(best_f); }

  /// LogEI at x (length d).
  double operator()(const Eigen::Ref<const Eigen::VectorXd>& x) const { return value(x); }

  /// LogEI at x (length d). Errors in x (length, non-finite entries) are reported by the model.
  double value(const Eigen::Ref<const Eigen::VectorXd>& x) const {
    const auto& p = evaluator_(*model_, x);
    return log_expected_improvement(p.mean, p.variance, best_f_).value;
  }

  /// LogEI at x, with ∂LogEI/∂x written into `gradient` (length d).
  /// \throws bomf::invalid_argument when gradient's length differs from the model's d.
  double value_and_gradient(const Eigen::Ref<const Eigen::VectorXd>& x,
                            Eigen::Ref<Eigen::VectorXd> gradient) const {
    const auto& p = evaluator_(*model_, x);
    detail::require(gradient.size() == p.mean_gradient.size(),
                    "bomf::LogExpectedImprovement::value_and_gradient",
                    "argument 'gradient' has length ", gradient.size(), ", expected ",
                    p.mean_gradient.size(), " (the input dimension)");
    const LogEiValue r = log_expected_improvement(p.mean, p.variance, best_f_);
    gradient.noalias() = r.d_mean * p.mean_gradient;
    if (r.d_variance != 0.0) {
      gradient.noalias() += r.d_variance * p.variance_gradient;
    }
    return r.value;
  }

  /// The incumbent.
  double best_f() const noexcept { return best_f_; }

  /// Replaces the incumbent (e.g. after a new observation).
  /// \throws bomf::invalid_argument when best_f is not finite.
  void set_best_f(double best_f) {
    detail::require(std::isfinite(best_f), "bomf::LogExpectedImprovement", "argument 'best_f' is ",
                    best_f, ", expected finite");
    best_f_ = best_f;
  }

  /// The model.
  const Model& model() const noexcept { return *model_; }

 private:
  const Model* model_;
  double best_f_ = 0.0;
  mutable detail::PointPosteriorEvaluator<Model> evaluator_;
};

}  // namespace bomf
