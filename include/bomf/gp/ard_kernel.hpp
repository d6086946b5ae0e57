// bomf/gp/ard_kernel.hpp — covariance matrices of an ARD kernel and their hyperparameter
// gradients, generic over the radial profile (see kernel_traits.hpp).
//
// All inputs here are in the unit cube (after InputNormalization); k(x, x') = s · κ(r²) with
// r² = Σ_k (x_k − x'_k)²/ℓ_k².
#pragma once

#include <Eigen/Core>

#include "bomf/core/checks.hpp"
#include "bomf/gp/kernel_traits.hpp"

namespace bomf {

/// Covariance matrix K(X1, X2) = s · κ(r²(x1_i, x2_j)) of kernel `Kernel` with ARD lengthscales
/// `lengthscales` (length d) and output scale `outputscale`, for unit-cube inputs `x1` (n1 × d)
/// and `x2` (n2 × d). Returns n1 × n2. Cost O(n1 n2 d).
template <class Kernel>
Eigen::MatrixXd ard_covariance(const Eigen::Ref<const Eigen::MatrixXd>& x1,
                               const Eigen::Ref<const Eigen::MatrixXd>& x2,
                               const Eigen::Ref<const Eigen::VectorXd>& lengthscales,
                               double outputscale) {
  static_assert(check_kernel<Kernel>());
  constexpr const char* where = "bomf::ard_covariance";
  detail::require_shape(x1, -1, lengthscales.size(), where, "x1");
  detail::require_shape(x2, -1, lengthscales.size(), where, "x2");
  const Eigen::VectorXd inv_ls = lengthscales.cwiseInverse();
  const Eigen::MatrixXd z1 = (x1 * inv_ls.asDiagonal()).transpose();
  const Eigen::MatrixXd z2 = (x2 * inv_ls.asDiagonal()).transpose();
  Eigen::MatrixXd k(x1.rows(), x2.rows());
  for (Eigen::Index j = 0; j < x2.rows(); ++j) {
    for (Eigen::Index i = 0; i < x1.rows(); ++i) {
      k(i, j) = outputscale * Kernel::value((z1.col(i) - z2.col(j)).squaredNorm());
    }
  }
  return k;
}

/// ∂K/∂(log ℓ_dim) for the training covariance K(X, X) (n × n, unit-cube inputs `x`, n × d):
/// s · κ'(r²) · (−2) (x_i,dim − x_j,dim)²/ℓ_dim². Cost O(n² d). Provided for inspection and tests;
/// the fit uses the contracted form `ard_covariance_gradient_contraction`.
template <class Kernel>
Eigen::MatrixXd ard_covariance_log_lengthscale_gradient(
    const Eigen::Ref<const Eigen::MatrixXd>& x,
    const Eigen::Ref<const Eigen::VectorXd>& lengthscales, double outputscale, Eigen::Index dim) {
  static_assert(check_kernel<Kernel>());
  constexpr const char* where = "bomf::ard_covariance_log_lengthscale_gradient";
  detail::require_shape(x, -1, lengthscales.size(), where, "x");
  detail::require(dim >= 0 && dim < lengthscales.size(), where, "argument 'dim' is ", dim,
                  ", expected in [0, ", lengthscales.size(), ")");
  const Eigen::VectorXd inv_ls = lengthscales.cwiseInverse();
  const Eigen::MatrixXd z = (x * inv_ls.asDiagonal()).transpose();
  const Eigen::Index n = x.rows();
  Eigen::MatrixXd g(n, n);
  for (Eigen::Index j = 0; j < n; ++j) {
    for (Eigen::Index i = 0; i < n; ++i) {
      const double diff = z(dim, i) - z(dim, j);
      g(i, j) = outputscale * Kernel::derivative((z.col(i) - z.col(j)).squaredNorm()) * (-2.0) *
                diff * diff;
    }
  }
  return g;
}

namespace detail {

/// Σ_ij W_ij ∂K_ij/∂(log ℓ_k) for k = 0..d−1 (returned, length d), for the training covariance of
/// the scaled inputs `z` = (X ⊘ ℓ)ᵀ (d × n) and a symmetric weight matrix `w` (n × n, only its
/// lower triangle is read); also
/// returns Σ_ij W_ij K_ij (= the sum for ∂/∂ log s, noise excluded) in `weighted_k`. `profile`
/// (n × n) holds, for i > j, κ'(r²_ij) at (i, j) and κ(r²_ij) at (j, i), as the caller computed
/// them while building K (its diagonal is not read), so this pass needs no transcendental
/// function. Cost O(n² d): the hyperparameter-gradient kernel of the marginal-likelihood fit.
template <class Kernel>
Eigen::VectorXd ard_covariance_gradient_contraction(
    const Eigen::Ref<const Eigen::MatrixXd>& z, double outputscale,
    const Eigen::Ref<const Eigen::MatrixXd>& w, const Eigen::Ref<const Eigen::MatrixXd>& profile,
    double& weighted_k) {
  const Eigen::Index d = z.rows();
  const Eigen::Index n = z.cols();
  Eigen::VectorXd grad = Eigen::VectorXd::Zero(d);
  double wk = outputscale * Kernel::value(0.0) * w.diagonal().sum();
  for (Eigen::Index j = 0; j < n; ++j) {
    for (Eigen::Index i = j + 1; i < n; ++i) {
      const double wij = 2.0 * w(i, j);
      wk += wij * outputscale * profile(j, i);
      // ∂K_ij/∂log ℓ_k = s κ'(r²) · (−2) (z_ki − z_kj)²
      grad.noalias() +=
          (wij * outputscale * profile(i, j) * -2.0) * (z.col(i) - z.col(j)).cwiseAbs2();
    }
  }
  weighted_k = wk;
  return grad;
}

}  // namespace detail
}  // namespace bomf
