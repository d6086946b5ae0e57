// bomf/gp/marginal_likelihood.hpp — the MAP objective of GP fitting and its analytic gradient.
#pragma once

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <cmath>
#include <optional>

#include "bomf/core/checks.hpp"
#include "bomf/core/error.hpp"
#include "bomf/gp/ard_kernel.hpp"
#include "bomf/gp/detail/mll_kernels.hpp"
#include "bomf/gp/exact_gp.hpp"
#include "bomf/gp/gp_hyperparameters.hpp"
#include "bomf/gp/kernel_traits.hpp"
#include "bomf/gp/priors.hpp"
#include "bomf/math/detail/dense_kernels.hpp"

namespace bomf {

/// The marginal log likelihood in GPyTorch's `ExactMarginalLogLikelihood` convention, on the
/// standardized targets ỹ:  value = [log N(ỹ | c·1, K + σ² I) + Σ log priors] / n.
struct MllValue {
  double data_term = 0.0;  ///< log N(ỹ | c, K + σ²I) (not divided by n)
  double log_prior = 0.0;  ///< Σ log prior densities at the hyperparameter values
  double value = 0.0;      ///< (data_term + log_prior) / n
};

/// Position of each hyperparameter in the packed vector θ the optimizer sees:
/// θ = [log ℓ_0 … log ℓ_{d−1}, (log s), (log σ²), c]; log s is present when the output scale is
/// fitted, log σ² when the noise is inferred (not fixed).
struct GpParameterLayout {
  Eigen::Index dim = 0;
  bool has_outputscale = true;
  bool has_noise = true;
  Eigen::Index size() const noexcept {
    return dim + (has_outputscale ? 1 : 0) + (has_noise ? 1 : 0) + 1;
  }
  Eigen::Index outputscale_index() const noexcept { return dim; }
  Eigen::Index noise_index() const noexcept { return dim + (has_outputscale ? 1 : 0); }
  Eigen::Index mean_index() const noexcept { return size() - 1; }
};

/// Scratch memory of `MarginalLogLikelihood::value_and_gradient`: pass the same workspace to
/// repeated calls (the GP fit does) and its n × n matrices are allocated once instead of at
/// every call (for n = 320, the page faults of fresh allocations cost more than the arithmetic
/// they hold). Not shareable between threads.
struct MllWorkspace {
  detail::MllScaledInputs scaled;  ///< the scaled inputs in the pair passes' layout
  Eigen::MatrixXd a;               ///< n × n: K + σ²I (lower triangle)
  Eigen::MatrixXd chol;            ///< n × n: its lower Cholesky factor L
  Eigen::MatrixXd profile;         ///< n × n: κ′ below the diagonal (gradient only)
  Eigen::MatrixXd inverse;         ///< n × n: L⁻¹ (gradient only)
  Eigen::MatrixXd w;               ///< n × n: ααᵀ − A⁻¹ (lower triangle; gradient only)
  Eigen::VectorXd scratch;  ///< the dense kernels' scratch (bomf/math/detail/dense_kernels.hpp)
  Eigen::VectorXd r;        ///< n: ỹ − c
  Eigen::VectorXd alpha;    ///< n: A⁻¹ (ỹ − c)
  Eigen::VectorXd column;   ///< 2 (n + 16): one column of the kernel-matrix pass
  Eigen::VectorXd grad_ls;  ///< d: the lengthscale contraction
  Eigen::VectorXd lanes;    ///< n + 16 + 16 d: the contraction's scratch
};

/// MAP objective of a GP with kernel `Kernel` on fixed data: unit-cube inputs `x` (n × d) and
/// standardized targets (length n), under the priors `priors`, with the noise either inferred
/// (prior `priors.noise`) or fixed (`fixed_noise`, standardized space, no prior term). The output
/// scale is a free parameter iff `priors.use_outputscale`, else fixed at 1.
///
/// value_and_gradient() returns the `MllValue::value` of the hyperparameters packed in θ
/// (GpParameterLayout) and its gradient with respect to θ, analytically (Rasmussen & Williams
/// 2006, eq. 5.9): ∂/∂θ_i log N = ½ tr((ααᵀ − A⁻¹) ∂A/∂θ_i) with A = K + σ²I, α = A⁻¹(ỹ − c),
/// plus the priors' derivatives with respect to the log values. Cost per call O(n³ + n² d).
template <class Kernel>
class MarginalLogLikelihood {
  static_assert(check_kernel<Kernel>(), "see the message above");

 public:
  MarginalLogLikelihood(const Eigen::Ref<const Eigen::MatrixXd>& x,
                        const Eigen::Ref<const Eigen::VectorXd>& y, const GpPriors& priors,
                        std::optional<double> fixed_noise = std::nullopt)
      : x_(x), y_(y), priors_(priors), fixed_noise_(fixed_noise) {
    constexpr const char* where = "bomf::MarginalLogLikelihood";
    detail::require(x.rows() >= 1 && x.cols() >= 1, where, "argument 'x' is ", x.rows(), "×",
                    x.cols(), ", expected at least 1×1");
    detail::require_shape(y, x.rows(), 1, where, "y");
    detail::require_finite(x, where, "x");
    detail::require_finite(y, where, "y");
    detail::require(!fixed_noise || (std::isfinite(*fixed_noise) && *fixed_noise >= 0.0), where,
                    "fixed noise ", fixed_noise.value_or(0.0), " must be finite and ≥ 0");
    layout_.dim = x.cols();
    layout_.has_outputscale = priors.use_outputscale;
    layout_.has_noise = !fixed_noise.has_value();
  }

  const GpParameterLayout& layout() const noexcept { return layout_; }
  const GpPriors& priors() const noexcept { return priors_; }

  /// θ for the given hyperparameters (see GpParameterLayout).
  Eigen::VectorXd pack(const GpHyperparameters& h) const {
    Eigen::VectorXd theta(layout_.size());
    theta.head(layout_.dim) = h.lengthscales.array().log();
    if (layout_.has_outputscale)
      theta(layout_.outputscale_index()) = std::log(h.outputscale);
    if (layout_.has_noise)
      theta(layout_.noise_index()) = std::log(h.noise);
    theta(layout_.mean_index()) = h.mean_constant;
    return theta;
  }

  /// Hyperparameters from θ (outputscale 1 when not fitted, the fixed noise when fixed).
  GpHyperparameters unpack(const Eigen::Ref<const Eigen::VectorXd>& theta) const {
    GpHyperparameters h;
    h.lengthscales = theta.head(layout_.dim).array().exp();
    h.outputscale = layout_.has_outputscale ? std::exp(theta(layout_.outputscale_index())) : 1.0;
    h.noise = layout_.has_noise ? std::exp(theta(layout_.noise_index())) : *fixed_noise_;
    h.mean_constant = theta(layout_.mean_index());
    return h;
  }

  /// The objective's parts at hyperparameters `h` (their outputscale/noise are used as given).
  MllValue evaluate(const GpHyperparameters& h) const {
    h.validate(layout_.dim, "bomf::MarginalLogLikelihood::evaluate");
    MllWorkspace workspace;
    return compute(h, nullptr, workspace);
  }

  /// `MllValue::value` at θ; when `gradient` is non-null it receives ∂value/∂θ (length |θ|).
  double value_and_gradient(const Eigen::Ref<const Eigen::VectorXd>& theta,
                            Eigen::VectorXd* gradient) const {
    MllWorkspace workspace;
    return value_and_gradient(theta, gradient, workspace);
  }

  /// As above with caller-owned scratch memory (see MllWorkspace); the results are identical.
  double value_and_gradient(const Eigen::Ref<const Eigen::VectorXd>& theta,
                            Eigen::VectorXd* gradient, MllWorkspace& workspace) const {
    detail::require_shape(theta, layout_.size(), 1, "bomf::MarginalLogLikelihood", "theta");
    return compute(unpack(theta), gradient, workspace).value;
  }

 private:
  double log_prior(const GpHyperparameters& h) const {
    double lp = 0.0;
    for (Eigen::Index k = 0; k < layout_.dim; ++k)
      lp += priors_.lengthscale.log_density(h.lengthscales(k));
    if (layout_.has_outputscale)
      lp += priors_.outputscale.log_density(h.outputscale);
    if (layout_.has_noise)
      lp += priors_.noise.log_density(h.noise);
    return lp;
  }

  MllValue compute(const GpHyperparameters& h, Eigen::VectorXd* gradient, MllWorkspace& ws) const {
    const Eigen::Index n = x_.rows();
    const Eigen::Index d = layout_.dim;
    ws.scaled.assign(x_, h.lengthscales);
    Eigen::MatrixXd& a = ws.a;
    a.resize(n, n);
    // With a gradient, κ'(r²_ij) of every pair is kept for the contraction below (the same
    // exponential as κ).
    Eigen::MatrixXd& profile = ws.profile;
    if (gradient != nullptr) {
      profile.resize(n, n);
    }
    ws.column.resize(2 * (n + detail::kMllBlock));
    detail::mll_kernel_matrix<Kernel>(ws.scaled, h.outputscale, a.data(),
                                      gradient != nullptr ? profile.data() : nullptr,
                                      ws.column.data());
    a.diagonal().array() += h.noise;
    if (!detail::lower_triangle_is_finite(a)) {
      throw numerical_error(detail::concat(
          "bomf::MarginalLogLikelihood: K + σ²I has a non-finite entry (noise ", h.noise,
          ", outputscale ", h.outputscale, "; a kernel returned inf or NaN)"));
    }
    // Same bounded jitter escalation as ExactGP (normally not needed: σ² ≥ 1e-4).
    Eigen::MatrixXd& chol = ws.chol;
    chol.resize(n, n);
    ws.scratch.resize(detail::dense_inverse_scratch_size(n));
    const double scale = std::max(1.0, a.diagonal().mean());
    double jitter = 0.0;
    for (int attempt = 0;; ++attempt) {
      chol = a;
      if (detail::cholesky_in_place(n, chol.data(), n, ws.scratch.data()))
        break;
      if (attempt == 6) {
        throw numerical_error(
            detail::concat("bomf::MarginalLogLikelihood: K + σ²I is not positive definite (noise ",
                           h.noise, ", outputscale ", h.outputscale, ")"));
      }
      const double next = scale * 1e-8 * std::pow(10.0, attempt);
      a.diagonal().array() += next - jitter;
      jitter = next;
    }
    ws.r = y_.array() - h.mean_constant;
    ws.alpha = ws.r;
    chol.triangularView<Eigen::Lower>().solveInPlace(ws.alpha);
    chol.triangularView<Eigen::Lower>().transpose().solveInPlace(ws.alpha);
    const Eigen::VectorXd& r = ws.r;
    const Eigen::VectorXd& alpha = ws.alpha;
    constexpr double kLog2Pi = 1.8378770664093454836;
    MllValue out;
    out.data_term = -0.5 * r.dot(alpha) - chol.diagonal().array().log().sum() -
                    0.5 * static_cast<double>(n) * kLog2Pi;
    out.log_prior = log_prior(h);
    out.value = (out.data_term + out.log_prior) / static_cast<double>(n);
    if (gradient != nullptr) {
      gradient->resize(layout_.size());
      // W = ααᵀ − A⁻¹ (lower triangle): A⁻¹ = L⁻ᵀ L⁻¹ from the factor (n³/3 multiply-adds, a
      // third of solving against the identity), subtracted from ααᵀ in place.
      Eigen::MatrixXd& w = ws.w;
      w.resize(n, n);
      for (Eigen::Index j = 0; j < n; ++j) {
        w.col(j).tail(n - j) = alpha.tail(n - j) * alpha(j);
      }
      ws.inverse.resize(n, n);
      detail::triangular_inverse(n, chol.data(), n, ws.inverse.data(), ws.scratch.data());
      detail::subtract_scaled_inverse(n, ws.inverse.data(), 1.0, w.data(), n, ws.scratch.data());
      double weighted_k = 0.0;
      ws.grad_ls.resize(d);
      ws.lanes.resize(ws.scaled.stride + detail::kMllBlock * d);
      detail::mll_contraction<Kernel>(ws.scaled, h.outputscale, w.data(), a.data(), profile.data(),
                                      ws.grad_ls.data(), weighted_k, ws.lanes.data());
      const Eigen::VectorXd& g_ls = ws.grad_ls;
      const double inv_n = 1.0 / static_cast<double>(n);
      for (Eigen::Index k = 0; k < d; ++k) {
        (*gradient)(k) =
            (0.5 * g_ls(k) + priors_.lengthscale.d_log_density_d_log(h.lengthscales(k))) * inv_n;
      }
      if (layout_.has_outputscale) {
        (*gradient)(layout_.outputscale_index()) =
            (0.5 * weighted_k + priors_.outputscale.d_log_density_d_log(h.outputscale)) * inv_n;
      }
      if (layout_.has_noise) {
        (*gradient)(layout_.noise_index()) =
            (0.5 * h.noise * w.trace() + priors_.noise.d_log_density_d_log(h.noise)) * inv_n;
      }
      (*gradient)(layout_.mean_index()) = alpha.sum() * inv_n;
    }
    return out;
  }

  Eigen::MatrixXd x_;
  Eigen::VectorXd y_;
  GpPriors priors_;
  std::optional<double> fixed_noise_;
  GpParameterLayout layout_;
};

/// The MAP objective (GPyTorch convention, see MllValue) of the model `gp` at its own
/// hyperparameters, under `priors`; `noise_is_fixed` drops the noise prior term (a model whose
/// noise was given, not inferred). The output-scale prior counts iff `priors.use_outputscale`.
/// Cost O(n³ + n² d).
template <class Kernel>
MllValue marginal_log_likelihood(const ExactGP<Kernel>& gp, const GpPriors& priors,
                                 bool noise_is_fixed = false) {
  const MarginalLogLikelihood<Kernel> mll(
      gp.normalized_train_inputs(), gp.standardized_train_targets(), priors,
      noise_is_fixed ? std::optional<double>(gp.hyperparameters().noise) : std::nullopt);
  return mll.evaluate(gp.hyperparameters());
}

}  // namespace bomf
