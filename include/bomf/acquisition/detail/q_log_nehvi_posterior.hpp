// bomf/acquisition/detail/q_log_nehvi_posterior.hpp — joint posterior sampling of one
// objective's latent f over [X_baseline; X] with a cached baseline Cholesky factor, and the
// reverse-mode pass from ∂/∂samples back to ∂/∂X.
//
// One exact GP per objective (standardized space: kernel k = s·κ(r²) on scaled inputs
// z = (x − lower) ⊙ dz_dx, L_t the Cholesky factor of K_tt + σ²I, α = (K_tt + σ²I)⁻¹(ỹ − c),
// outcome mean μ_y and std σ_y). With W = L_t⁻¹ K(X_t, X_b) cached:
//   μ(X)    = μ_y + σ_y (c + K(X, X_t) α)
//   K_nb    = σ_y² (K(X, X_b) − Vᵀ W),      V = L_t⁻¹ K(X_t, X)
//   K_nn    = σ_y² (K(X, X) − Vᵀ V)
//   L_nb    = K_nb L_bb⁻ᵀ,  L_nn = chol(K_nn − L_nb L_nbᵀ)          (BoTorch's cache_root)
//   f[s]    = μ + L_nb z_b[s] + L_nn z_n[s]
// where L_bb = chol(σ_y²(K(X_b, X_b) − Wᵀ W)) is computed once, as are the baseline samples
// μ_b + L_bb z_b[s] that define each sample's box decomposition.
// The backward pass differentiates the triangular solve, the q × q Cholesky (Murray 2016,
// "Differentiation of the Cholesky decomposition") and the kernel evaluations.
#pragma once

#include <Eigen/Core>
#include <cmath>
#include <limits>

#include "bomf/core/error.hpp"
#include "bomf/gp/kernel_traits.hpp"

namespace bomf::detail {

/// In-place lower Cholesky factor of the symmetric `a` (reads the lower triangle), with
/// linear_operator's `psd_safe_cholesky` jitter escalation: plain first, then absolute jitter
/// 1e-8, 1e-7, … on the diagonal for `max_tries` attempts. Returns false if all fail. The
/// strictly upper part of `a` is zeroed. `scratch` must be the size of `a`. No allocation.
template <class Derived, class Scratch>
bool qnehvi_safe_cholesky(Eigen::MatrixBase<Derived>& a, Eigen::MatrixBase<Scratch>& scratch,
                          int max_tries) {
  const Eigen::Index n = a.rows();
  scratch = a;
  double jitter = 0.0;
  for (int attempt = 0; attempt <= max_tries; ++attempt) {
    if (attempt > 0) {
      jitter = 1e-8 * std::pow(10.0, attempt - 1);
      a = scratch;
      a.diagonal().array() += jitter;
    }
    bool ok = true;
    for (Eigen::Index j = 0; j < n && ok; ++j) {
      double d = a(j, j);
      for (Eigen::Index k = 0; k < j; ++k) {
        d -= a(j, k) * a(j, k);
      }
      if (!(d > 0.0) || !std::isfinite(d)) {
        ok = false;
        break;
      }
      d = std::sqrt(d);
      a(j, j) = d;
      for (Eigen::Index i = j + 1; i < n; ++i) {
        double v = a(i, j);
        for (Eigen::Index k = 0; k < j; ++k) {
          v -= a(i, k) * a(j, k);
        }
        a(i, j) = v / d;
      }
    }
    if (ok) {
      for (Eigen::Index j = 1; j < n; ++j) {
        for (Eigen::Index i = 0; i < j; ++i) {
          a(i, j) = 0.0;
        }
      }
      return true;
    }
  }
  a = scratch;
  return false;
}

/// One objective's exact-GP pieces in the standardized space (see the file comment).
struct QnehviGpPieces {
  Eigen::MatrixXd z_train;  ///< d × n_t scaled training inputs
  Eigen::VectorXd lower;    ///< d input offset
  Eigen::VectorXd dz_dx;    ///< d: ∂z/∂x (inverse range ⊘ lengthscales)
  Eigen::MatrixXd chol;     ///< n_t × n_t lower factor of K_tt + σ²I
  Eigen::VectorXd alpha;    ///< n_t
  double outputscale = 1.0;
  double mean_constant = 0.0;
  double y_mean = 0.0;
  double y_std = 1.0;
};

/// The per-objective state of qLogNEHVI: GP pieces, the baseline's cached quantities, the
/// base samples, and q-dependent workspaces (sized by `resize`; no allocation afterwards).
template <class Kernel>
struct QnehviObjectiveState {
  QnehviGpPieces gp;
  Eigen::MatrixXd z_base;  ///< d × n_b scaled baseline inputs
  Eigen::MatrixXd W;       ///< n_t × n_b: L_t⁻¹ K(X_t, X_b)
  Eigen::MatrixXd L_bb;    ///< n_b × n_b lower Cholesky of the baseline posterior covariance
  Eigen::VectorXd mean_b;  ///< n_b baseline posterior mean (original scale)
  Eigen::MatrixXd Z_b;     ///< S × n_b baseline base samples
  Eigen::MatrixXd Z_n;     ///< S × q new-point base samples

  // Workspaces (q-dependent).
  Eigen::MatrixXd zq, k_t, dk_t, k_b, dk_b, V, L_nbT, K_nn, L_nn, chol_scratch;
  Eigen::VectorXd mu;
  Eigen::MatrixXd Lbar_nbT, Lbar_nn, Sbar, Vbar, grad_z, tmp_qq, coef_t, coef_b;
  Eigen::VectorXd colsum;

  void resize(Eigen::Index q) {
    const Eigen::Index d = gp.z_train.rows();
    const Eigen::Index nt = gp.z_train.cols();
    const Eigen::Index nb = z_base.cols();
    zq.resize(d, q);
    k_t.resize(nt, q);
    dk_t.resize(nt, q);
    k_b.resize(nb, q);
    dk_b.resize(nb, q);
    V.resize(nt, q);
    L_nbT.resize(nb, q);
    K_nn.resize(q, q);
    L_nn.resize(q, q);
    chol_scratch.resize(q, q);
    mu.resize(q);
    Lbar_nbT.resize(nb, q);
    Lbar_nn.resize(q, q);
    Sbar.resize(q, q);
    Vbar.resize(nt, q);
    grad_z.resize(d, q);
    tmp_qq.resize(q, q);
    coef_t.resize(nt, q);
    coef_b.resize(nb, q);
    colsum.resize(q);
  }

  /// Kernel values s·κ(‖a_i − b_j‖²) (and s·κ' when `dk` is non-null) between columns.
  template <class A, class B>
  void kernel_block(const Eigen::MatrixBase<A>& a, const Eigen::MatrixBase<B>& b,
                    Eigen::MatrixXd& k, Eigen::MatrixXd* dk) const {
    const double s = gp.outputscale;
    for (Eigen::Index j = 0; j < b.cols(); ++j) {
      for (Eigen::Index i = 0; i < a.cols(); ++i) {
        const double r2 = (a.col(i) - b.col(j)).squaredNorm();
        if (dk != nullptr) {
          const ValueAndDerivative kappa = kernel_value_and_derivative<Kernel>(r2);
          k(i, j) = s * kappa.value;
          (*dk)(i, j) = s * kappa.derivative;
        } else {
          k(i, j) = s * Kernel::value(r2);
        }
      }
    }
  }

  /// Forward pass: fills F (S × q) with f[s] at the rows of X (q × d). Returns false when the
  /// q × q Cholesky fails even with jitter (then F is unspecified).
  template <bool kGradient, class DerivedX>
  bool sample(const Eigen::MatrixBase<DerivedX>& X, Eigen::MatrixXd& F) {
    const Eigen::Index q = X.rows();
    const double sy = gp.y_std;
    for (Eigen::Index j = 0; j < q; ++j) {
      zq.col(j) = (X.row(j).transpose() - gp.lower).cwiseProduct(gp.dz_dx);
    }
    kernel_block(gp.z_train, zq, k_t, kGradient ? &dk_t : nullptr);
    kernel_block(z_base, zq, k_b, kGradient ? &dk_b : nullptr);
    mu.noalias() = k_t.transpose() * gp.alpha;
    mu = (mu.array() + gp.mean_constant) * sy + gp.y_mean;
    V = k_t;
    gp.chol.template triangularView<Eigen::Lower>().solveInPlace(V);
    // L_nbᵀ = L_bb⁻¹ K_nbᵀ, K_nbᵀ = σ_y² (K(X_b, X) − Wᵀ V).
    L_nbT = k_b;
    L_nbT.noalias() -= W.transpose() * V;
    L_nbT *= sy * sy;
    if (L_nbT.rows() > 0) {  // no baseline: nothing to condition on
      L_bb.template triangularView<Eigen::Lower>().solveInPlace(L_nbT);
    }
    kernel_block(zq, zq, K_nn, nullptr);
    K_nn.noalias() -= V.transpose() * V;
    K_nn *= sy * sy;
    L_nn = K_nn;
    L_nn.noalias() -= L_nbT.transpose() * L_nbT;
    if (!qnehvi_safe_cholesky(L_nn, chol_scratch, 6)) {
      return false;
    }
    F.noalias() = Z_b * L_nbT;
    F.noalias() += Z_n * L_nn.transpose();
    F.rowwise() += mu.transpose();
    return true;
  }

  /// Backward pass after `sample<true>`: adds ∂value/∂X (q × d) to `grad` given
  /// dF = ∂value/∂F (S × q).
  template <class DerivedG>
  void backward(const Eigen::MatrixXd& dF, Eigen::MatrixBase<DerivedG>& grad) {
    const Eigen::Index q = dF.cols();
    const double sy = gp.y_std;
    const double sy2 = sy * sy;
    colsum = dF.colwise().sum().transpose();  // μ̄
    Lbar_nbT.noalias() = Z_b.transpose() * dF;
    Lbar_nn.noalias() = dF.transpose() * Z_n;
    Lbar_nn.template triangularView<Eigen::StrictlyUpper>().setZero();
    // Cholesky backward: S̄ = sym(L⁻ᵀ Φ(Lᵀ L̄) L⁻¹), Φ = lower triangle with half diagonal.
    tmp_qq.noalias() = L_nn.transpose() * Lbar_nn;
    tmp_qq.template triangularView<Eigen::StrictlyUpper>().setZero();
    tmp_qq.diagonal() *= 0.5;
    L_nn.template triangularView<Eigen::Lower>().transpose().solveInPlace(tmp_qq);
    Sbar = tmp_qq.transpose();
    L_nn.template triangularView<Eigen::Lower>().transpose().solveInPlace(Sbar);
    // Sbar now holds (L⁻ᵀ P L⁻¹)ᵀ; symmetrize.
    tmp_qq = Sbar.transpose();
    Sbar += tmp_qq;
    Sbar *= 0.5;
    // Schur complement K_nn − L_nb L_nbᵀ: K̄_nn = S̄, L̄_nbᵀ −= 2 L_nbᵀ S̄.
    Lbar_nbT.noalias() -= 2.0 * L_nbT * Sbar;
    // L_nbᵀ = L_bb⁻¹ K_nbᵀ  ⇒  K̄_nbᵀ = L_bb⁻ᵀ L̄_nbᵀ.
    if (Lbar_nbT.rows() > 0) {
      L_bb.template triangularView<Eigen::Lower>().transpose().solveInPlace(Lbar_nbT);
    }
    // Now Lbar_nbT = K̄_nbᵀ. V̄ = −σ_y² (W K̄_nbᵀ + 2 V K̄_nn).
    Vbar.noalias() = W * Lbar_nbT;
    Vbar.noalias() += 2.0 * V * Sbar;
    Vbar *= -sy2;
    gp.chol.template triangularView<Eigen::Lower>().transpose().solveInPlace(Vbar);
    // k̄_t = L_t⁻ᵀ V̄ + σ_y α μ̄ᵀ; k̄_b = σ_y² K̄_nbᵀ; k̄_qq = σ_y² K̄_nn.
    Vbar.noalias() += sy * gp.alpha * colsum.transpose();
    coef_t = Vbar.cwiseProduct(dk_t);
    coef_b = (sy2 * Lbar_nbT).cwiseProduct(dk_b);
    // ∂k(x_j, y)/∂z_j = 2 s κ'(r²) (z_j − z_y).
    grad_z.noalias() = -2.0 * gp.z_train * coef_t;
    grad_z.noalias() -= 2.0 * z_base * coef_b;
    for (Eigen::Index j = 0; j < q; ++j) {
      grad_z.col(j) += (2.0 * (coef_t.col(j).sum() + coef_b.col(j).sum())) * zq.col(j);
      for (Eigen::Index l = 0; l < q; ++l) {
        if (l == j) {
          continue;
        }
        const double r2 = (zq.col(j) - zq.col(l)).squaredNorm();
        const double dk = gp.outputscale * Kernel::derivative(r2);
        // K_nn(j,l) and K_nn(l,j) both depend on k(x_j, x_l): weight 2 σ_y² S̄(j,l).
        grad_z.col(j) += (4.0 * sy2 * Sbar(j, l) * dk) * (zq.col(j) - zq.col(l));
      }
      grad.row(j) += grad_z.col(j).cwiseProduct(gp.dz_dx).transpose();
    }
  }
};

}  // namespace bomf::detail
