// Synthetic smooth objectives on the simplex for the optim benchmarks and the refiner study.
#pragma once

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <Eigen/QR>
#include <cmath>
#include <random>

#include "bomf/optim/simplex.hpp"

namespace bomf::bench {

/// −½(x − c)ᵀA(x − c), SPD A with condition `condition`, maximizer x* chosen in advance (a
/// vertex, a face point with about half the coordinates 0, or an interior point) through the
/// KKT conditions: c = x* + A⁻¹(ν1 − μ), μ_i > 0 exactly where x*_i = 0.
struct KnownQuadratic {
  Eigen::MatrixXd A;
  Eigen::VectorXd c;
  Eigen::VectorXd optimum;
  double optimum_value = 0.0;

  KnownQuadratic(Eigen::Index n, int kind, std::mt19937_64& rng, double condition = 100.0) {
    std::uniform_real_distribution<double> unif(0.0, 1.0);
    std::normal_distribution<double> normal(0.0, 1.0);
    Eigen::MatrixXd G(n, n);
    for (Eigen::Index i = 0; i < n; ++i)
      for (Eigen::Index j = 0; j < n; ++j)
        G(i, j) = normal(rng);
    const Eigen::MatrixXd Q = Eigen::HouseholderQR<Eigen::MatrixXd>(G).householderQ();
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
      for (Eigen::Index i = 0; i < n; ++i)
        optimum(i) = (kind == 2 || i % 2 == 0) ? 0.2 + unif(rng) : 0.0;
      optimum /= optimum.sum();
    }
    Eigen::VectorXd mu(n);
    for (Eigen::Index i = 0; i < n; ++i)
      mu(i) = optimum(i) > 0.0 ? 0.0 : 0.5 + unif(rng);
    c = optimum + A.llt().solve(Eigen::VectorXd::Constant(n, normal(rng)) - mu);
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

/// Σ_k w_k exp(−‖x − m_k‖² / (2 s²)): a smooth multimodal function with K bumps centred at
/// uniform-Dirichlet points (a stand-in for a multimodal acquisition surface).
struct GaussianBumps {
  Eigen::MatrixXd centers;
  Eigen::VectorXd weights;
  double width;

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

}  // namespace bomf::bench
