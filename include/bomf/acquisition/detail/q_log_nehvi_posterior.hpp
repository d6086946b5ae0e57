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
#include "bomf/gp/exact_gp.hpp"
#include "bomf/gp/kernel_traits.hpp"
#include "bomf/math/detail/dense_kernels.hpp"

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

/// Scaled points for the packed kernel rows: coordinate k of point i at k·stride + i, stride =
/// n + max_lanes, zero padded (a pack starting at any i < n stays inside).
struct QnehviPackedPoints {
  Eigen::Index n = 0;
  Eigen::Index d = 0;
  Eigen::Index stride = 0;
  Eigen::VectorXd data;

  /// From scaled points stored as the columns of z (d × n).
  void assign(const Eigen::MatrixXd& z) {
    d = z.rows();
    n = z.cols();
    stride = n + simd::max_lanes;
    data.setZero(d * stride);
    for (Eigen::Index k = 0; k < d; ++k) {
      for (Eigen::Index i = 0; i < n; ++i) {
        data(k * stride + i) = z(k, i);
      }
    }
  }
};

/// out[i] = s·κ(‖p_i − c‖²) for the packed points p (i < p.n; the writes run on to a multiple
/// of the pack width: out and dout need p.n + max_lanes entries), and with kDerivative
/// dout[i] = s·κ′. The squared distance of each pair is summed over coordinates in order, so
/// the value does not depend on the pack width.
template <class Kernel, class V, bool kDerivative>
BOMF_SIMD_INLINE void qnehvi_kernel_row(const QnehviPackedPoints& p, const double* c, double s,
                                        double* out, double* dout) {
  constexpr int L = simd::pack_traits<V>::lanes;
  for (Eigen::Index i = 0; i < p.n; i += L) {
    V r2{};
    for (Eigen::Index k = 0; k < p.d; ++k) {
      V x;
      simd::load(x, p.data.data() + k * p.stride + i);
      const V diff = x - c[k];
      r2 += diff * diff;
    }
    V derivative;
    kernel_value_and_derivative_packed<Kernel>(r2, derivative);
    const V value = s * r2;
    simd::store(out + i, value);
    if constexpr (kDerivative) {
      const V slope = s * derivative;
      simd::store(dout + i, slope);
    }
  }
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
  Eigen::MatrixXd train_x;   ///< n_t × d training inputs, original units
  Eigen::VectorXd y_train;   ///< n_t standardized training targets ỹ
  double noise = 0.0;        ///< σ² + jitter: the diagonal added to K_tt in `chol`
  Eigen::MatrixXd inv_chol;  ///< n_t × n_t: L_t⁻¹ (lower, zeros above)
  QnehviPackedPoints train;  ///< z_train in the packed kernels' layout
};

/// The pieces of `gp` (standardized space, see the file comment), L_t⁻¹ included (n_t³/6).
template <class Kernel>
QnehviGpPieces qnehvi_gp_pieces(const ExactGP<Kernel>& gp) {
  QnehviGpPieces p;
  const Eigen::Index d = gp.dim();
  const auto& h = gp.hyperparameters();
  p.lower = gp.input_transform().lower(d);
  p.dz_dx = gp.input_transform().inverse_range(d).cwiseQuotient(h.lengthscales);
  p.z_train =
      (gp.normalized_train_inputs() * h.lengthscales.cwiseInverse().asDiagonal()).transpose();
  p.chol = gp.cholesky_factor();
  p.alpha = gp.alpha();
  p.outputscale = h.outputscale;
  p.mean_constant = h.mean_constant;
  p.y_mean = gp.outcome_transform().mean;
  p.y_std = gp.outcome_transform().std;
  p.train_x = gp.train_inputs();
  p.y_train = gp.standardized_train_targets();
  p.noise = h.noise + gp.jitter();
  const Eigen::Index nt = p.chol.rows();
  p.inv_chol.resize(nt, nt);
  Eigen::VectorXd work(dense_inverse_scratch_size(nt));
  triangular_inverse(nt, p.chol.data(), nt, p.inv_chol.data(), work.data());
  p.train.assign(p.z_train);
  return p;
}

/// The posterior of one objective at its own n training inputs, in the original outcome scale:
/// `mean` (n) and the lower triangle of `covariance` (n × n; zeros above). With A = K + σ²I =
/// L Lᵀ (σ² including the fit's jitter), K − K A⁻¹ K = σ²I − σ⁴ A⁻¹ and K α = ỹ − c − σ² α: no
/// kernel matrix and no n × n product of K is needed; A⁻¹ = L⁻ᵀ L⁻¹ from the cached L⁻¹ costs
/// n³/6 multiply-adds (qLogNEHVI's pruning samples this posterior). Agrees with ExactGP::posterior
/// at the training inputs to rounding (tests/acquisition).
inline void qnehvi_posterior_at_training_inputs(const QnehviGpPieces& gp, Eigen::VectorXd& mean,
                                                Eigen::MatrixXd& covariance) {
  const Eigen::Index n = gp.chol.rows();
  const double s2 = gp.noise;
  mean = ((gp.y_train - s2 * gp.alpha).array() * gp.y_std + gp.y_mean).matrix();
  covariance = Eigen::MatrixXd::Zero(n, n);
  covariance.diagonal().setConstant(s2 * gp.y_std * gp.y_std);
  Eigen::VectorXd scratch(dense_inverse_scratch_size(n));
  // (σ² y_std²) I − (σ² y_std)² A⁻¹.
  subtract_scaled_inverse(n, gp.inv_chol.data(), s2 * gp.y_std, covariance.data(), n,
                          scratch.data());
  covariance.triangularView<Eigen::StrictlyUpper>().setZero();  // the blocks wrote across it
}

/// psd_safe_cholesky (see qnehvi_safe_cholesky) of the n × n symmetric `a` (lower triangle read)
/// with the blocked kernels of bomf/math/detail/dense_kernels.hpp, for baselines of hundreds of
/// points: `a` becomes its lower factor (zeros above). `scratch` is resized as needed. Returns
/// false when every try fails (`a` is then unspecified).
inline bool qnehvi_safe_cholesky_blocked(Eigen::MatrixXd& a, Eigen::MatrixXd& copy,
                                         Eigen::VectorXd& scratch, int max_tries) {
  const Eigen::Index n = a.rows();
  copy = a;
  scratch.resize(dense_scratch_size(n));
  for (int attempt = 0; attempt <= max_tries; ++attempt) {
    if (attempt > 0) {
      a = copy;
      a.diagonal().array() += 1e-8 * std::pow(10.0, attempt - 1);
    }
    if (cholesky_in_place(n, a.data(), n, scratch.data()) && a.diagonal().allFinite()) {
      a.template triangularView<Eigen::StrictlyUpper>().setZero();
      return true;
    }
  }
  return false;
}

/// The per-objective state of qLogNEHVI: GP pieces, the baseline's cached quantities, the
/// base samples, and q-dependent workspaces (sized by `resize`; no allocation afterwards).
template <class Kernel>
struct QnehviObjectiveState {
  QnehviGpPieces gp;
  Eigen::MatrixXd z_base;    ///< d × n_b scaled baseline inputs
  Eigen::MatrixXd W;         ///< n_t × n_b: L_t⁻¹ K(X_t, X_b)
  Eigen::MatrixXd L_bb;      ///< n_b × n_b lower Cholesky of the baseline posterior covariance
  Eigen::VectorXd mean_b;    ///< n_b baseline posterior mean (original scale)
  Eigen::MatrixXd Z_b;       ///< S × n_b baseline base samples
  Eigen::MatrixXd Z_n;       ///< S × q new-point base samples
  Eigen::MatrixXd W_t;       ///< n_b × n_t: Wᵀ
  Eigen::MatrixXd inv_L_bb;  ///< n_b × n_b: L_bb⁻¹ (lower, zeros above)
  QnehviPackedPoints base;   ///< z_base in the packed kernels' layout

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

  /// The q = 1 forward pass for B candidates at once, the rows of X (B × d, original units):
  /// column c of F (S × B, resized here) holds f[s] at candidate c, computed as `sample` does
  /// but with the packed kernels of bomf/math (a candidate's column does not depend on B or on
  /// the other candidates, and is the same on every pack width). `ok` (B) says which candidates'
  /// conditional variance was positive (with psd_safe_cholesky's jitter up to 1e-3); F is
  /// unspecified for the others. For B = 1, zq … L_nn hold what `backward` needs.
  /// With `samples` in [1, S) only the first `samples` rows of F are computed (F is samples × B):
  /// the first base samples, for the screening of QLogNehviOptions::screening_samples.
  /// Cost O(B (n_t d + n_t²/2 + n_b n_t + S n_b)) in packs, plus the kernel rows' profiles.
  template <bool kDerivative, class DerivedX>
  void sample_q1(const Eigen::MatrixBase<DerivedX>& X, Eigen::MatrixXd& F, std::vector<char>& ok,
                 Eigen::VectorXd& scratch, Eigen::Index samples = -1) {
    const Eigen::Index B = X.rows();
    const Eigen::Index nt = gp.z_train.cols();
    const Eigen::Index nb = z_base.cols();
    const Eigen::Index S = samples >= 1 && samples < Z_b.rows() ? samples : Z_b.rows();
    const double sy = gp.y_std;
    zq.resize(gp.z_train.rows(), B);
    k_t.resize(nt, B);
    k_b.resize(nb, B);
    if constexpr (kDerivative) {
      dk_t.resize(nt, B);
      dk_b.resize(nb, B);
    }
    mu.resize(B);
    const Eigen::Index row = std::max(nt, nb) + simd::max_lanes;
    scratch.resize(std::max(4 * row, detail::dense_scratch_size(std::max(nt, nb))));
    for (Eigen::Index c = 0; c < B; ++c) {
      zq.col(c) = (X.row(c).transpose() - gp.lower).cwiseProduct(gp.dz_dx);
      qnehvi_kernel_rows<kDerivative>(gp.train, zq.col(c).data(), scratch.data(),
                                      scratch.data() + row);
      k_t.col(c) = Eigen::Map<const Eigen::VectorXd>(scratch.data(), nt);
      if constexpr (kDerivative) {
        dk_t.col(c) = Eigen::Map<const Eigen::VectorXd>(scratch.data() + row, nt);
      }
      qnehvi_kernel_rows<kDerivative>(base, zq.col(c).data(), scratch.data(), scratch.data() + row);
      k_b.col(c) = Eigen::Map<const Eigen::VectorXd>(scratch.data(), nb);
      if constexpr (kDerivative) {
        dk_b.col(c) = Eigen::Map<const Eigen::VectorXd>(scratch.data() + row, nb);
      }
      double m = 0.0;
      for (Eigen::Index t = 0; t < nt; ++t) {
        m = m + k_t(t, c) * gp.alpha(t);
      }
      mu(c) = (m + gp.mean_constant) * sy + gp.y_mean;
    }
    // V = L_t⁻¹ K(X_t, X) as the triangular product L_t⁻¹ · k_t.
    V.setZero(nt, B);
    matrix_update<kDenseAdd | kDenseLowerA>(nt, B, nt, gp.inv_chol.data(), nt, k_t.data(), nt,
                                            V.data(), nt, scratch.data());
    // L_nbᵀ = L_bb⁻¹ σ_y² (K(X_b, X) − Wᵀ V).
    Eigen::MatrixXd& tmp = Lbar_nbT;  // scratch here; backward overwrites it
    tmp = k_b;
    matrix_update<0>(nb, B, nt, W_t.data(), nb, V.data(), nt, tmp.data(), nb, scratch.data());
    tmp *= sy * sy;
    L_nbT.setZero(nb, B);
    matrix_update<kDenseAdd | kDenseLowerA>(nb, B, nb, inv_L_bb.data(), nb, tmp.data(), nb,
                                            L_nbT.data(), nb, scratch.data());
    // K_nn = σ_y² (s κ(0) − VᵀV) and L_nn = √(K_nn − L_nb L_nbᵀ), psd_safe_cholesky's jitter.
    K_nn.resize(1, B);
    L_nn.resize(1, B);
    ok.assign(static_cast<std::size_t>(B), 1);
    const double prior = gp.outputscale * Kernel::value(0.0);
    for (Eigen::Index c = 0; c < B; ++c) {
      double vv = 0.0;
      for (Eigen::Index t = 0; t < nt; ++t) {
        vv = vv + V(t, c) * V(t, c);
      }
      K_nn(0, c) = (prior - vv) * (sy * sy);
      double ll = 0.0;
      for (Eigen::Index j = 0; j < nb; ++j) {
        ll = ll + L_nbT(j, c) * L_nbT(j, c);
      }
      const double schur = K_nn(0, c) - ll;
      bool found = false;
      for (int attempt = 0; attempt <= 6 && !found; ++attempt) {
        const double v = attempt == 0 ? schur : schur + 1e-8 * std::pow(10.0, attempt - 1);
        if (v > 0.0 && std::isfinite(v)) {
          L_nn(0, c) = std::sqrt(v);
          found = true;
        }
      }
      ok[static_cast<std::size_t>(c)] = found ? 1 : 0;
      if (!found) {
        L_nn(0, c) = 0.0;
      }
    }
    // f = μ + Z_b L_nbᵀ + Z_n L_nn.
    F.resize(S, B);
    for (Eigen::Index c = 0; c < B; ++c) {
      F.col(c).setConstant(mu(c));
    }
    matrix_update<kDenseAdd>(S, B, nb, Z_b.data(), Z_b.rows(), L_nbT.data(), nb, F.data(), S,
                             scratch.data());
    for (Eigen::Index c = 0; c < B; ++c) {
      F.col(c) += Z_n.col(0).head(S) * L_nn(0, c);
    }
  }

  /// Kernel row of the packed points against one scaled candidate (see qnehvi_kernel_row).
  template <bool kDerivative>
  void qnehvi_kernel_rows(const QnehviPackedPoints& p, const double* c, double* out,
                          double* dout) const {
#if BOMF_SIMD_X86
    if (simd::path() == simd::Path::avx2) {
      kernel_row_avx2<kDerivative>(p, c, out, dout);
      return;
    }
#endif
    qnehvi_kernel_row<Kernel, simd::pack2, kDerivative>(p, c, gp.outputscale, out, dout);
  }

#if BOMF_SIMD_X86
  template <bool kDerivative>
  __attribute__((target("avx2"))) void kernel_row_avx2(const QnehviPackedPoints& p, const double* c,
                                                       double* out, double* dout) const {
    qnehvi_kernel_row<Kernel, simd::pack4, kDerivative>(p, c, gp.outputscale, out, dout);
  }
#endif

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
    if (Lbar_nbT.rows() > 0 && q == 1) {
      Eigen::Map<Eigen::VectorXd> lbar(Lbar_nbT.data(), Lbar_nbT.rows());
      L_bb.template triangularView<Eigen::Lower>().transpose().solveInPlace(lbar);
    } else if (Lbar_nbT.rows() > 0) {
      L_bb.template triangularView<Eigen::Lower>().transpose().solveInPlace(Lbar_nbT);
    }
    // Now Lbar_nbT = K̄_nbᵀ. V̄ = −σ_y² (W K̄_nbᵀ + 2 V K̄_nn).
    Vbar.noalias() = W * Lbar_nbT;
    Vbar.noalias() += 2.0 * V * Sbar;
    Vbar *= -sy2;
    if (q == 1) {  // a vector: Eigen's triangular matrix-vector solve, not its packed matrix one
      Eigen::Map<Eigen::VectorXd> vbar(Vbar.data(), Vbar.rows());
      gp.chol.template triangularView<Eigen::Lower>().transpose().solveInPlace(vbar);
    } else {
      gp.chol.template triangularView<Eigen::Lower>().transpose().solveInPlace(Vbar);
    }
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
