// Smooth objectives on the simplex with known maximizers, shared by the optim tests
// (tests/optim/) and the optim benchmarks and refiner study (bench/optim/).
#pragma once

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <Eigen/QR>
#include <cmath>
#include <random>

#include "bomf/optim/simplex.hpp"

namespace bomf::test {

/// Size of the randomized sweeps: full in optimized builds, reduced in unoptimized (Debug,
/// sanitizer) builds where Eigen runs ~100× slower; the properties checked are the same.
#ifdef NDEBUG
inline constexpr int kSweep = 10;
#else
inline constexpr int kSweep = 1;
#endif

/// f(x) = −½ (x − c)ᵀ A (x − c) with SPD A of condition number `condition`, built so that a
/// chosen x* ∈ Δ (plain simplex) is the unique maximizer: c = x* + A⁻¹(ν1 − μ) with μ_i > 0
/// exactly where x*_i = 0 (strict complementarity), so the KKT conditions ∇f(x*) = ν1 − μ,
/// μ ≥ 0, μᵀx* = 0 hold.
struct KnownQuadratic {
  Eigen::MatrixXd A;
  Eigen::VectorXd c;
  Eigen::VectorXd optimum;
  double optimum_value = 0.0;  ///< f(optimum).

  /// kind 0: vertex, 1: face (about half the coordinates zero), 2: interior point.
  KnownQuadratic(Eigen::Index n, int kind, std::mt19937_64& rng, double condition = 30.0) {
    std::uniform_real_distribution<double> unif(0.0, 1.0);
    std::normal_distribution<double> normal(0.0, 1.0);
    Eigen::MatrixXd G(n, n);
    for (Eigen::Index i = 0; i < n; ++i)
      for (Eigen::Index j = 0; j < n; ++j)
        G(i, j) = normal(rng);
    Eigen::HouseholderQR<Eigen::MatrixXd> qr(G);
    const Eigen::MatrixXd Q = qr.householderQ();
    Eigen::VectorXd eig(n);
    for (Eigen::Index i = 0; i < n; ++i)
      eig(i) =
          std::pow(condition, n > 1 ? static_cast<double>(i) / static_cast<double>(n - 1) : 0.0);
    A = Q * eig.asDiagonal() * Q.transpose();
    A = 0.5 * (A + A.transpose());
    optimum = Eigen::VectorXd::Zero(n);
    if (kind == 0) {
      optimum(static_cast<Eigen::Index>(unif(rng) * static_cast<double>(n)) % n) = 1.0;
    } else {
      for (Eigen::Index i = 0; i < n; ++i) {
        const bool active = kind == 2 || (i % 2 == 0) || n == 2;
        optimum(i) = active ? 0.2 + unif(rng) : 0.0;
      }
      if (kind == 1 && n == 2)
        optimum(1) = 0.0;
      optimum /= optimum.sum();
    }
    Eigen::VectorXd mu(n);
    for (Eigen::Index i = 0; i < n; ++i)
      mu(i) = optimum(i) > 0.0 ? 0.0 : 0.5 + unif(rng);
    const double nu = normal(rng);
    c = optimum + A.llt().solve(Eigen::VectorXd::Constant(n, nu) - mu);
    Eigen::VectorXd g(n);
    optimum_value = (*this)(optimum, g);
  }

  double operator()(const Eigen::Ref<const Eigen::VectorXd>& x,
                    Eigen::Ref<Eigen::VectorXd> grad) const {
    const Eigen::VectorXd r = x - c;
    const Eigen::VectorXd Ar = A * r;
    grad = -Ar;
    return -0.5 * r.dot(Ar);
  }
};

/// −log Σ_k exp(b_kᵀx) with K = 2N random rows b_k ~ N(0, 3²): concave, log-sum-exp-like, with
/// its maximizer usually on a face.
struct NegLogSumExp {
  Eigen::MatrixXd B;

  NegLogSumExp(Eigen::Index n, std::mt19937_64& rng) : B(2 * n, n) {
    std::normal_distribution<double> normal(0.0, 3.0);
    for (Eigen::Index i = 0; i < B.rows(); ++i)
      for (Eigen::Index j = 0; j < n; ++j)
        B(i, j) = normal(rng);
  }

  double operator()(const Eigen::Ref<const Eigen::VectorXd>& x,
                    Eigen::Ref<Eigen::VectorXd> grad) const {
    const Eigen::VectorXd z = B * x;
    const double m = z.maxCoeff();
    const Eigen::VectorXd w = (z.array() - m).exp().matrix();
    const double s = w.sum();
    grad = -(B.transpose() * w) / s;
    return -(m + std::log(s));
  }
};

/// A smooth multimodal function Σ_k w_k exp(−‖x − m_k‖² / (2 s²)) with K bumps centred at
/// uniform-Dirichlet points m_k (a stand-in for a multimodal acquisition surface), weights
/// w_k ~ U(0.5, 1.5) and width s.
struct GaussianBumps {
  Eigen::MatrixXd centers;  // K × N
  Eigen::VectorXd weights;
  double width;

  /// Centres on the plain simplex of dimension n.
  GaussianBumps(Eigen::Index n, Eigen::Index k, std::mt19937_64& rng, double w = 0.15)
      : centers(k, n), weights(k), width(w) {
    std::uniform_real_distribution<double> unif(0.0, 1.0);
    for (Eigen::Index i = 0; i < k; ++i) {
      Eigen::VectorXd e(n);
      for (Eigen::Index j = 0; j < n; ++j)
        e(j) = -std::log(1.0 - unif(rng));
      centers.row(i) = (e / e.sum()).transpose();
      weights(i) = 0.5 + unif(rng);
    }
  }

  /// Centres projected onto `simplex` (same random draws as the plain-simplex constructor).
  GaussianBumps(const Simplex& simplex, Eigen::Index k, std::mt19937_64& rng, double w = 0.15)
      : GaussianBumps(simplex.dim(), k, rng, w) {
    for (Eigen::Index i = 0; i < k; ++i)
      centers.row(i) = simplex.project(centers.row(i).transpose()).transpose();
  }

  double operator()(const Eigen::Ref<const Eigen::VectorXd>& x,
                    Eigen::Ref<Eigen::VectorXd> grad) const {
    grad.setZero();
    double value = 0.0;
    for (Eigen::Index k = 0; k < centers.rows(); ++k) {
      const Eigen::VectorXd r = x - centers.row(k).transpose();
      const double e = weights(k) * std::exp(-r.squaredNorm() / (2.0 * width * width));
      value += e;
      grad -= e / (width * width) * r;
    }
    return value;
  }
};

}  // namespace bomf::test
