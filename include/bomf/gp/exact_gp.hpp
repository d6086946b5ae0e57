// bomf/gp/exact_gp.hpp — exact Gaussian-process regression with an ARD kernel.
#pragma once

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <cmath>
#include <utility>

#include "bomf/core/checks.hpp"
#include "bomf/core/error.hpp"
#include "bomf/gp/gp_hyperparameters.hpp"
#include "bomf/gp/input_normalization.hpp"
#include "bomf/gp/kernel_traits.hpp"
#include "bomf/gp/outcome_standardization.hpp"

namespace bomf {

/// Posterior of the latent f at one point x, in the ORIGINAL outcome scale, with gradients with
/// respect to x in the ORIGINAL input units (length d).
struct PointPosterior {
  double mean = 0.0;                  ///< E[f(x)]
  double variance = 0.0;              ///< Var[f(x)] (latent, no observation noise), ≥ 0
  Eigen::VectorXd mean_gradient;      ///< ∂ mean / ∂x
  Eigen::VectorXd variance_gradient;  ///< ∂ variance / ∂x (0 where the variance is clamped at 0)
};

/// Joint posterior of the latent f at q points, in the ORIGINAL outcome scale.
struct Posterior {
  Eigen::VectorXd mean;        ///< length q
  Eigen::MatrixXd covariance;  ///< q × q, symmetric (no observation noise)
};

/// Scratch buffers of `ExactGP::posterior_at`; pass the same workspace to repeated calls and the
/// hot path does not allocate (tests/gp/test_no_allocation.cpp checks this). Not shareable
/// between threads.
struct PosteriorWorkspace {
  Eigen::VectorXd z;       ///< d: the scaled query point
  Eigen::VectorXd k;       ///< n: k(x, X_train)
  Eigen::VectorXd dk;      ///< n: s κ'(r²_j)
  Eigen::VectorXd v;       ///< n: L⁻¹ k, then (K + σ²I)⁻¹ k
  Eigen::VectorXd coef;    ///< n: gradient coefficients
  Eigen::VectorXd grad_z;  ///< d
};

/// Exact GP regression (Rasmussen & Williams 2006, Alg. 2.1) with a constant mean, a stationary
/// ARD kernel `Kernel` (Matern52Kernel, Matern32Kernel, RbfKernel or a user type satisfying
/// kernel_traits.hpp) with output scale, and a homoskedastic Gaussian likelihood — BoTorch's
/// `SingleTaskGP` with fixed hyperparameters.
///
/// Spaces: user inputs (n × d, original units) are mapped to the unit cube by an
/// InputNormalization; targets (length n) are standardized by an OutcomeStandardization; the
/// hyperparameters (GpHyperparameters) live in those transformed spaces, as in BoTorch. Every
/// posterior this class returns is in the ORIGINAL outcome scale, and every gradient is with
/// respect to the ORIGINAL inputs.
///
/// Internals (exposed for acquisition functions, e.g. qLogNEHVI's joint baseline + candidate
/// posterior): with K the n × n kernel matrix of the normalized training inputs, σ² the noise, c
/// the mean constant and ỹ the standardized targets, the model stores the lower Cholesky factor L
/// of A = K + (σ² + jitter) I and α = A⁻¹ (ỹ − c). Then, in the standardized space,
///   mean(x) = c + k(x)ᵀ α,   cov(x, x') = k(x, x') − (L⁻¹ k(x))ᵀ (L⁻¹ k(x')).
///
/// Construction costs O(n² d + n³/3); posterior_at O(n d + n²); posterior of q points
/// O(q n d + q n² + q² n); add_observation O(n² + n d). Const member functions have no hidden
/// mutable state: they may run concurrently (each thread with its own PosteriorWorkspace).
template <class Kernel>
class ExactGP {
  static_assert(check_kernel<Kernel>(), "see the message above");

 public:
  using kernel_type = Kernel;

  /// The GP on training inputs `train_x` (n × d, n ≥ 1, finite) and targets `train_y` (length
  /// n, finite) with the given hyperparameters (standardized space); the outcome standardization
  /// is fitted to `train_y` when `standardize` is true (BoTorch's Standardize), else the identity.
  /// Throws bomf::invalid_argument on bad shapes, non-finite values (naming row and column) or
  /// invalid hyperparameters; bomf::numerical_error if K + σ²I stays non-positive-definite after
  /// the bounded jitter escalation (see `jitter()`).
  ExactGP(const Eigen::Ref<const Eigen::MatrixXd>& train_x,
          const Eigen::Ref<const Eigen::VectorXd>& train_y,
          const GpHyperparameters& hyperparameters,
          const InputNormalization& input_transform = InputNormalization(), bool standardize = true)
      : ExactGP(train_x, train_y, hyperparameters, input_transform,
                standardize ? OutcomeStandardization::fit(checked_targets(train_y))
                            : OutcomeStandardization::identity()) {}

  /// As above with an explicitly given outcome standardization (e.g. the one of another model, to
  /// reproduce a model after `add_observation`). Requires `outcome.std` > 0 and finite values.
  ExactGP(const Eigen::Ref<const Eigen::MatrixXd>& train_x,
          const Eigen::Ref<const Eigen::VectorXd>& train_y,
          const GpHyperparameters& hyperparameters, const InputNormalization& input_transform,
          const OutcomeStandardization& outcome)
      : hyper_(hyperparameters), input_(input_transform), outcome_(outcome) {
    constexpr const char* where = "bomf::ExactGP";
    detail::require(train_x.rows() >= 1 && train_x.cols() >= 1, where, "argument 'train_x' is ",
                    train_x.rows(), "×", train_x.cols(), ", expected at least 1×1");
    detail::require_shape(train_y, train_x.rows(), 1, where, "train_y");
    detail::require_finite(train_x, where, "train_x");
    detail::require_finite(train_y, where, "train_y");
    detail::require(input_.is_identity() || input_.dim() == train_x.cols(), where,
                    "input transform has dimension ", input_.dim(), ", 'train_x' has ",
                    train_x.cols(), " columns");
    detail::require(std::isfinite(outcome_.mean) && std::isfinite(outcome_.std) && outcome_.std > 0,
                    where, "outcome standardization (mean ", outcome_.mean, ", std ", outcome_.std,
                    ") must be finite with std > 0");
    hyper_.validate(train_x.cols(), where);
    train_x_ = train_x;
    train_y_ = train_y;
    set_derived_quantities();
    train_x_unit_ = input_.apply(train_x_);
    train_y_std_ = (train_y_.array() - outcome_.mean) / outcome_.std;
    z_train_ = (train_x_unit_ * inv_ls_.asDiagonal()).transpose();
    factorize();
  }

  // ---------------------------------------------------------------- sizes and parameters

  /// Input dimension d.
  int dim() const noexcept { return static_cast<int>(train_x_.cols()); }
  /// Number of training points n.
  Eigen::Index num_train() const noexcept { return train_x_.rows(); }
  /// The hyperparameters (standardized space, unit-cube lengthscales).
  const GpHyperparameters& hyperparameters() const noexcept { return hyper_; }
  /// The input transform (original units → unit cube).
  const InputNormalization& input_transform() const noexcept { return input_; }
  /// The outcome standardization (original scale → standardized).
  const OutcomeStandardization& outcome_transform() const noexcept { return outcome_; }
  /// The diagonal jitter added to K + σ²I to make it positive definite (0 when none was needed).
  /// Escalates 1e-8·m, 1e-7·m, … up to 1e-3·m with m = max(1, mean diagonal of K + σ²I) while
  /// the factorization fails or has a pivot L_ii² < 1e-10·m; beyond that the constructor throws
  /// bomf::numerical_error. Never needed when σ² ≥ 1e-10·m (e.g. BoTorch's σ² ≥ 1e-4).
  double jitter() const noexcept { return jitter_; }

  // ---------------------------------------------------------------- training data and factors

  /// Training inputs, original units (n × d).
  const Eigen::MatrixXd& train_inputs() const noexcept { return train_x_; }
  /// Training inputs mapped to the unit cube (n × d): what the kernel sees.
  const Eigen::MatrixXd& normalized_train_inputs() const noexcept { return train_x_unit_; }
  /// Training targets, original scale (length n).
  const Eigen::VectorXd& train_targets() const noexcept { return train_y_; }
  /// Training targets in the standardized space, ỹ (length n).
  const Eigen::VectorXd& standardized_train_targets() const noexcept { return train_y_std_; }
  /// Lower Cholesky factor L of K + (σ² + jitter) I, standardized space (n × n; the strictly upper
  /// part is zero).
  const Eigen::MatrixXd& cholesky_factor() const noexcept { return chol_; }
  /// α = (K + (σ² + jitter) I)⁻¹ (ỹ − c), standardized space (length n).
  const Eigen::VectorXd& alpha() const noexcept { return alpha_; }
  /// Prior variance k(x, x) = s · κ(0), standardized space.
  double prior_variance() const noexcept { return hyper_.outputscale * Kernel::value(0.0); }
  /// Observation-noise variance in the ORIGINAL outcome scale: σ² · std².
  double observation_noise_variance() const noexcept {
    return hyper_.noise * outcome_.std * outcome_.std;
  }

  // ---------------------------------------------------------------- kernel pieces

  /// k(x, X_train) in the standardized space (length n) for one point `x` (length d, original
  /// units), written into `out` (resized by the caller to n). Cost O(n d).
  void cross_covariance(const Eigen::Ref<const Eigen::VectorXd>& x,
                        Eigen::Ref<Eigen::VectorXd> out) const {
    check_point(x, "bomf::ExactGP::cross_covariance");
    detail::require_shape(out, num_train(), 1, "bomf::ExactGP::cross_covariance", "out");
    const Eigen::VectorXd z = scale_point(x);
    for (Eigen::Index j = 0; j < num_train(); ++j) {
      out(j) = hyper_.outputscale * Kernel::value((z - z_train_.col(j)).squaredNorm());
    }
  }

  /// ∂k(x, x_j)/∂x for every training point x_j (standardized outcome space, gradient in
  /// ORIGINAL input units), written as column j of `out` (d × n). Cost O(n d).
  void cross_covariance_gradient(const Eigen::Ref<const Eigen::VectorXd>& x,
                                 Eigen::Ref<Eigen::MatrixXd> out) const {
    check_point(x, "bomf::ExactGP::cross_covariance_gradient");
    detail::require_shape(out, dim(), num_train(), "bomf::ExactGP::cross_covariance_gradient",
                          "out");
    const Eigen::VectorXd z = scale_point(x);
    for (Eigen::Index j = 0; j < num_train(); ++j) {
      const auto diff = z - z_train_.col(j);
      const double dk = hyper_.outputscale * Kernel::derivative(diff.squaredNorm());
      out.col(j) = (2.0 * dk) * diff.cwiseProduct(dz_dx_);
    }
  }

  /// k(x1, x2) for two points in original units (standardized outcome space).
  double kernel(const Eigen::Ref<const Eigen::VectorXd>& x1,
                const Eigen::Ref<const Eigen::VectorXd>& x2) const {
    check_point(x1, "bomf::ExactGP::kernel");
    check_point(x2, "bomf::ExactGP::kernel");
    return hyper_.outputscale * Kernel::value((scale_point(x1) - scale_point(x2)).squaredNorm());
  }

  /// ∂k(x1, x2)/∂x1 (length d, original input units; standardized outcome space). For x1 = x2 it
  /// is 0. ∂k/∂x2 = −∂k/∂x1.
  Eigen::VectorXd kernel_gradient(const Eigen::Ref<const Eigen::VectorXd>& x1,
                                  const Eigen::Ref<const Eigen::VectorXd>& x2) const {
    check_point(x1, "bomf::ExactGP::kernel_gradient");
    check_point(x2, "bomf::ExactGP::kernel_gradient");
    const Eigen::VectorXd diff = scale_point(x1) - scale_point(x2);
    const double dk = hyper_.outputscale * Kernel::derivative(diff.squaredNorm());
    return (2.0 * dk) * diff.cwiseProduct(dz_dx_);
  }

  /// Prior covariance matrix k(X1, X2) between the rows of `x1` (q1 × d) and `x2` (q2 × d), both
  /// in original input units, in the standardized outcome space (× std² for the original scale).
  /// With `x2 = train_inputs()` it is the cross-covariance with the training data (q1 × n).
  /// Cost O(q1 q2 d).
  Eigen::MatrixXd kernel_matrix(const Eigen::Ref<const Eigen::MatrixXd>& x1,
                                const Eigen::Ref<const Eigen::MatrixXd>& x2) const {
    const Eigen::MatrixXd z1 = scale_points(x1, "bomf::ExactGP::kernel_matrix");
    const Eigen::MatrixXd z2 = scale_points(x2, "bomf::ExactGP::kernel_matrix");
    Eigen::MatrixXd k(z1.cols(), z2.cols());
    for (Eigen::Index j = 0; j < z2.cols(); ++j) {
      for (Eigen::Index i = 0; i < z1.cols(); ++i) {
        k(i, j) = hyper_.outputscale * Kernel::value((z1.col(i) - z2.col(j)).squaredNorm());
      }
    }
    return k;
  }

  // ---------------------------------------------------------------- posteriors

  /// Posterior of f at one point `x` (length d, original units) with the gradients of mean and
  /// variance with respect to x, written into `out`, using `workspace` as scratch: no heap
  /// allocation once `workspace` and `out` have been used with this model (or one of the same n,
  /// d). Original outcome scale. Cost O(n d + n²) (two triangular solves).
  void posterior_at(const Eigen::Ref<const Eigen::VectorXd>& x, PosteriorWorkspace& workspace,
                    PointPosterior& out) const {
    check_point(x, "bomf::ExactGP::posterior_at");
    const Eigen::Index n = num_train();
    const Eigen::Index d = train_x_.cols();
    PosteriorWorkspace& w = workspace;
    w.z.resize(d);
    w.k.resize(n);
    w.dk.resize(n);
    w.v.resize(n);
    w.coef.resize(n);
    w.grad_z.resize(d);
    out.mean_gradient.resize(d);
    out.variance_gradient.resize(d);

    w.z = (x - lower_).cwiseProduct(inv_range_).cwiseProduct(inv_ls_);
    const double s = hyper_.outputscale;
    for (Eigen::Index j = 0; j < n; ++j) {
      const double r2 = (w.z - z_train_.col(j)).squaredNorm();
      const ValueAndDerivative kappa = kernel_value_and_derivative<Kernel>(r2);
      w.k(j) = s * kappa.value;
      w.dk(j) = s * kappa.derivative;
    }
    const double mean_std = hyper_.mean_constant + w.k.dot(alpha_);
    w.v = w.k;
    chol_.template triangularView<Eigen::Lower>().solveInPlace(w.v);
    const double var_std = prior_variance() - w.v.squaredNorm();
    chol_.template triangularView<Eigen::Lower>().transpose().solveInPlace(w.v);  // A⁻¹ k

    // ∂k_j/∂z = 2 dk_j (z − z_j): ∂mean/∂z = Σ_j α_j ∂k_j/∂z, ∂var/∂z = −2 Σ_j (A⁻¹k)_j ∂k_j/∂z.
    const double sd = outcome_.std;
    w.coef = 2.0 * w.dk.cwiseProduct(alpha_);
    w.grad_z.noalias() = z_train_ * w.coef;
    out.mean_gradient = (sd * w.coef.sum()) * w.z - sd * w.grad_z;
    out.mean_gradient.array() *= dz_dx_.array();
    out.mean = outcome_.mean + sd * mean_std;
    if (var_std > 0.0) {
      w.coef = -4.0 * w.dk.cwiseProduct(w.v);
      w.grad_z.noalias() = z_train_ * w.coef;
      out.variance_gradient = (sd * sd * w.coef.sum()) * w.z - (sd * sd) * w.grad_z;
      out.variance_gradient.array() *= dz_dx_.array();
      out.variance = sd * sd * var_std;
    } else {
      out.variance = 0.0;
      out.variance_gradient.setZero();
    }
  }

  /// Posterior of f at one point `x` (length d, original units), with gradients; allocating
  /// convenience form of the overload above.
  PointPosterior posterior_at(const Eigen::Ref<const Eigen::VectorXd>& x) const {
    PosteriorWorkspace workspace;
    PointPosterior out;
    posterior_at(x, workspace, out);
    return out;
  }

  /// Joint posterior of f at the q rows of `x` (q × d, original units): mean (q) and covariance
  /// (q × q, symmetric, not clamped: a Cholesky of it may need jitter when points nearly
  /// coincide), original outcome scale, no observation noise. Cost O(q n d + q n² + q² n + q² d).
  Posterior posterior(const Eigen::Ref<const Eigen::MatrixXd>& x) const {
    const Eigen::MatrixXd zq = scale_points(x, "bomf::ExactGP::posterior");
    const Eigen::MatrixXd kxq = cross_covariance_scaled(zq);  // n × q
    Posterior post;
    const double sd = outcome_.std;
    post.mean =
        (kxq.transpose() * alpha_).array() * sd + (outcome_.mean + sd * hyper_.mean_constant);
    Eigen::MatrixXd v = kxq;
    chol_.template triangularView<Eigen::Lower>().solveInPlace(v);
    const Eigen::Index q = x.rows();
    Eigen::MatrixXd cov(q, q);
    for (Eigen::Index j = 0; j < q; ++j) {
      for (Eigen::Index i = j; i < q; ++i) {
        cov(i, j) = hyper_.outputscale * Kernel::value((zq.col(i) - zq.col(j)).squaredNorm());
      }
    }
    cov.template triangularView<Eigen::Lower>() -= v.transpose() * v;
    cov.template triangularView<Eigen::StrictlyUpper>() = cov.transpose();
    post.covariance = (sd * sd) * cov;
    return post;
  }

  /// Posterior mean of f at the q rows of `x` (q × d, original units), original scale.
  /// Cost O(q n d).
  Eigen::VectorXd posterior_mean(const Eigen::Ref<const Eigen::MatrixXd>& x) const {
    const Eigen::MatrixXd zq = scale_points(x, "bomf::ExactGP::posterior_mean");
    const Eigen::MatrixXd kxq = cross_covariance_scaled(zq);
    return (kxq.transpose() * alpha_).array() * outcome_.std +
           (outcome_.mean + outcome_.std * hyper_.mean_constant);
  }

  /// Marginal posterior variances at the q rows of `x` (q × d, original units), original scale,
  /// clamped at 0 from below; with `observation_noise` the noise variance σ²·std² is added (the
  /// predictive variance of a new observation y). Cost O(q n d + q n²).
  Eigen::VectorXd posterior_variance(const Eigen::Ref<const Eigen::MatrixXd>& x,
                                     bool observation_noise = false) const {
    const Eigen::MatrixXd zq = scale_points(x, "bomf::ExactGP::posterior_variance");
    Eigen::MatrixXd v = cross_covariance_scaled(zq);
    chol_.template triangularView<Eigen::Lower>().solveInPlace(v);
    const double sd2 = outcome_.std * outcome_.std;
    Eigen::VectorXd var =
        ((prior_variance() - v.colwise().squaredNorm().transpose().array()).max(0.0) * sd2)
            .matrix();
    if (observation_noise)
      var.array() += observation_noise_variance();
    return var;
  }

  // ---------------------------------------------------------------- updates

  /// Adds one observation (x, y) (x of length d in original units, y original scale) keeping the
  /// hyperparameters AND the outcome standardization fixed (so the model equals
  /// `ExactGP(X', y', hyperparameters(), input_transform(), outcome_transform())` on the extended
  /// data; the standardization is re-estimated only by the next fit). The Cholesky factor is
  /// extended by one row (rank-one extension: l = L⁻¹ k(X, x), diagonal √(k(x,x) + σ² + jitter −
  /// ‖l‖²)) and α re-solved: O(n² + n d) instead of O(n³). If the new diagonal is not safely
  /// positive (e.g. x duplicates a training point with σ² + jitter ≈ 0), it refactorizes from
  /// scratch with jitter escalation (O(n³)); when that fails too (bomf::numerical_error), the
  /// model is left unchanged.
  void add_observation(const Eigen::Ref<const Eigen::VectorXd>& x, double y) {
    constexpr const char* where = "bomf::ExactGP::add_observation";
    check_point(x, where);
    detail::require(std::isfinite(y), where, "argument 'y' is ", y, ", expected finite");
    const Eigen::Index n = num_train();
    const Eigen::VectorXd z = scale_point(x);
    Eigen::VectorXd l(n);
    for (Eigen::Index j = 0; j < n; ++j) {
      l(j) = hyper_.outputscale * Kernel::value((z - z_train_.col(j)).squaredNorm());
    }
    chol_.template triangularView<Eigen::Lower>().solveInPlace(l);
    const double diag2 = prior_variance() + hyper_.noise + jitter_ - l.squaredNorm();

    train_x_.conservativeResize(n + 1, Eigen::NoChange);
    train_x_.row(n) = x.transpose();
    train_x_unit_.conservativeResize(n + 1, Eigen::NoChange);
    train_x_unit_.row(n) = (x - lower_).cwiseProduct(inv_range_).transpose();
    z_train_.conservativeResize(Eigen::NoChange, n + 1);
    z_train_.col(n) = z;
    train_y_.conservativeResize(n + 1);
    train_y_(n) = y;
    train_y_std_.conservativeResize(n + 1);
    train_y_std_(n) = outcome_.transform(y);

    if (diag2 > kMinPivot * std::max(1.0, prior_variance() + hyper_.noise)) {
      chol_.conservativeResize(n + 1, n + 1);
      chol_.col(n).setZero();
      chol_.row(n).head(n) = l.transpose();
      chol_(n, n) = std::sqrt(diag2);
      solve_alpha();
    } else {
      const double previous_jitter = jitter_;
      try {
        factorize();
      } catch (...) {  // leave the model as it was: n points, their factor and jitter
        train_x_.conservativeResize(n, Eigen::NoChange);
        train_x_unit_.conservativeResize(n, Eigen::NoChange);
        z_train_.conservativeResize(Eigen::NoChange, n);
        train_y_.conservativeResize(n);
        train_y_std_.conservativeResize(n);
        jitter_ = previous_jitter;
        throw;
      }
    }
  }

 private:
  static const Eigen::Ref<const Eigen::VectorXd>& checked_targets(
      const Eigen::Ref<const Eigen::VectorXd>& y) {
    detail::require(y.size() >= 1, "bomf::ExactGP", "argument 'train_y' is empty");
    detail::require_finite(y, "bomf::ExactGP", "train_y");
    return y;
  }

  void set_derived_quantities() {
    const Eigen::Index d = train_x_.cols();
    lower_ = input_.lower(d);
    inv_range_ = input_.inverse_range(d);
    inv_ls_ = hyper_.lengthscales.cwiseInverse();
    dz_dx_ = inv_range_.cwiseProduct(inv_ls_);
  }

  void check_point(const Eigen::Ref<const Eigen::VectorXd>& x, const char* where) const {
    detail::require_shape(x, train_x_.cols(), 1, where, "x");
    detail::require_finite(x, where, "x");
  }

  Eigen::VectorXd scale_point(const Eigen::Ref<const Eigen::VectorXd>& x) const {
    return (x - lower_).cwiseProduct(dz_dx_);
  }

  // d × q scaled test points.
  Eigen::MatrixXd scale_points(const Eigen::Ref<const Eigen::MatrixXd>& x,
                               const char* where) const {
    detail::require_shape(x, -1, train_x_.cols(), where, "x");
    detail::require_finite(x, where, "x");
    return ((x.rowwise() - lower_.transpose()) * dz_dx_.asDiagonal()).transpose();
  }

  // n × q cross covariance in the standardized space.
  Eigen::MatrixXd cross_covariance_scaled(const Eigen::MatrixXd& zq) const {
    Eigen::MatrixXd k(num_train(), zq.cols());
    for (Eigen::Index i = 0; i < zq.cols(); ++i) {
      for (Eigen::Index j = 0; j < num_train(); ++j) {
        k(j, i) = hyper_.outputscale * Kernel::value((zq.col(i) - z_train_.col(j)).squaredNorm());
      }
    }
    return k;
  }

  void factorize() {
    const Eigen::Index n = num_train();
    Eigen::MatrixXd a(n, n);
    for (Eigen::Index j = 0; j < n; ++j) {
      for (Eigen::Index i = j; i < n; ++i) {
        a(i, j) =
            hyper_.outputscale * Kernel::value((z_train_.col(i) - z_train_.col(j)).squaredNorm());
      }
    }
    a.diagonal().array() += hyper_.noise;
    if (!detail::lower_triangle_is_finite(a)) {
      throw numerical_error(detail::concat(
          "bomf::ExactGP: K + σ²I has a non-finite entry (n = ", n, ", noise = ", hyper_.noise,
          ", outputscale = ", hyper_.outputscale, "; a kernel returned inf or NaN)"));
    }
    const double scale = std::max(1.0, a.diagonal().mean());
    jitter_ = 0.0;
    Eigen::LLT<Eigen::MatrixXd> llt;
    for (int attempt = 0; attempt <= 6; ++attempt) {
      if (attempt > 0) {
        const double next = scale * 1e-8 * std::pow(10.0, attempt - 1);
        a.diagonal().array() += next - jitter_;
        jitter_ = next;
      }
      llt.compute(a);  // reads the lower triangle only
      if (llt.info() == Eigen::Success &&
          llt.matrixLLT().diagonal().minCoeff() > std::sqrt(kMinPivot * scale)) {
        chol_ = llt.matrixL();
        solve_alpha();
        return;
      }
    }
    throw numerical_error(detail::concat(
        "bomf::ExactGP: K + σ²I is not positive definite even with jitter ", jitter_, " (n = ", n,
        ", noise = ", hyper_.noise, ", outputscale = ", hyper_.outputscale, ")"));
  }

  void solve_alpha() {
    alpha_ = train_y_std_.array() - hyper_.mean_constant;
    chol_.template triangularView<Eigen::Lower>().solveInPlace(alpha_);
    chol_.template triangularView<Eigen::Lower>().transpose().solveInPlace(alpha_);
  }

  // A Cholesky pivot L_ii² below kMinPivot · max(1, mean diagonal) counts as a failure (it
  // only happens for (near-)duplicate inputs with σ² + jitter ≈ 0; with σ² ≥ 1e-4 every L_ii² ≥
  // σ²).
  static constexpr double kMinPivot = 1e-10;

  GpHyperparameters hyper_;
  InputNormalization input_;
  OutcomeStandardization outcome_;
  Eigen::MatrixXd train_x_;       // n × d, original units
  Eigen::MatrixXd train_x_unit_;  // n × d, unit cube
  Eigen::MatrixXd z_train_;       // d × n, unit cube ⊘ lengthscales
  Eigen::VectorXd train_y_;       // n, original scale
  Eigen::VectorXd train_y_std_;   // n, standardized
  Eigen::VectorXd lower_;         // d
  Eigen::VectorXd inv_range_;     // d
  Eigen::VectorXd inv_ls_;        // d
  Eigen::VectorXd dz_dx_;         // d: inv_range ⊙ inv_ls
  Eigen::MatrixXd chol_;          // n × n lower
  Eigen::VectorXd alpha_;         // n
  double jitter_ = 0.0;
};

}  // namespace bomf
