// Shared by the acquisition-optimization test and benchmarks: random qLogNEHVI problems on the
// simplex (fixed or fitted GP surrogates), BoTorch's MOBO timing data (tests/data/mobo_timing.json
// `settings`), and the "exhaustive" reference search (many quasi-random feasible points, the best
// refined by long local runs) that `maximize_on_simplex` / `maximize_in_box` are compared with.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include "bomf/acquisition/q_log_nehvi.hpp"
#include "bomf/gp/exact_gp.hpp"
#include "bomf/gp/fit_gp.hpp"
#include "bomf/gp/matern52_kernel.hpp"
#include "bomf/gp/model_list_gp.hpp"
#include "bomf/gp/priors.hpp"
#include "bomf/gp/rbf_kernel.hpp"
#include "bomf/optim/simplex.hpp"
#include "bomf/optim/simplex_candidates.hpp"
#include "bomf/optim/simplex_refine.hpp"
#include "bomf/sampling/sobol_sequence.hpp"

namespace bomf::test {

/// A Dirichlet(1, …, 1) point of dimension n (normalized Exp(1) draws).
inline Eigen::VectorXd dirichlet1(Eigen::Index n, std::mt19937_64& rng) {
  std::exponential_distribution<double> e(1.0);
  Eigen::VectorXd a(n);
  for (Eigen::Index i = 0; i < n; ++i) {
    a(i) = e(rng);
  }
  return a / a.sum();
}

/// BoTorch's MOBO timing objectives on the simplex: Y(i, k) = exp(−‖x_i − a_k‖² / 0.1) + ε,
/// ε ~ N(0, noise_sd²), a_k fixed Dirichlet(1) points drawn from `centre_seed`.
inline Eigen::MatrixXd bump_objectives(const Eigen::MatrixXd& X, Eigen::Index m,
                                       std::uint64_t centre_seed, std::uint64_t noise_seed,
                                       double noise_sd = 0.005) {
  std::mt19937_64 centre_rng(centre_seed);
  std::mt19937_64 noise_rng(noise_seed);
  std::normal_distribution<double> normal(0.0, noise_sd);
  std::vector<Eigen::VectorXd> centres;
  for (Eigen::Index k = 0; k < m; ++k) {
    centres.push_back(dirichlet1(X.cols(), centre_rng));
  }
  Eigen::MatrixXd Y(X.rows(), m);
  for (Eigen::Index i = 0; i < X.rows(); ++i) {
    for (Eigen::Index k = 0; k < m; ++k) {
      const double r2 = (X.row(i).transpose() - centres[static_cast<std::size_t>(k)]).squaredNorm();
      Y(i, k) = std::exp(-r2 / 0.1) + normal(noise_rng);
    }
  }
  return Y;
}

/// n training points on the N-simplex: scrambled Sobol mapped to the simplex.
inline Eigen::MatrixXd simplex_design(Eigen::Index N, Eigen::Index n, std::uint64_t seed) {
  return sobol_simplex_points(Simplex(N), n, seed);
}

/// m independent Matérn-5/2 GPs with fixed hyperparameters (lengthscale `ell` in every input,
/// outputscale 1, noise 1e-4) on (X, Y).
inline std::vector<ExactGP<Matern52Kernel>> fixed_gps(const Eigen::MatrixXd& X,
                                                      const Eigen::MatrixXd& Y, double ell) {
  std::vector<ExactGP<Matern52Kernel>> models;
  for (Eigen::Index k = 0; k < Y.cols(); ++k) {
    GpHyperparameters h;
    h.lengthscales = Eigen::VectorXd::Constant(X.cols(), ell);
    h.outputscale = 1.0;
    h.noise = 1e-4;
    h.mean_constant = Y.col(k).mean();
    models.emplace_back(X, Y.col(k), h);
  }
  return models;
}

/// Reference point slightly below the observed minimum of every objective.
inline Eigen::VectorXd reference_below(const Eigen::MatrixXd& Y) {
  const Eigen::VectorXd lo = Y.colwise().minCoeff().transpose();
  const Eigen::VectorXd hi = Y.colwise().maxCoeff().transpose();
  return lo - 0.1 * (hi - lo);
}

/// Outcome of an exhaustive reference search.
struct ExhaustiveResult {
  Eigen::VectorXd x;
  double value = -std::numeric_limits<double>::infinity();
};

/// Exhaustive search on `simplex`: `num_points` scrambled-Sobol simplex points plus the vertices
/// and the barycentre, evaluated in one batch; the `num_refined` best are refined by refine_spg
/// with a generous budget (2000 iterations). Returns the best point seen.
/// Indices of the min(count, n) largest entries of `values` (length n), largest first.
inline std::vector<Eigen::Index> best_first(const Eigen::VectorXd& values, int count) {
  std::vector<Eigen::Index> order(static_cast<std::size_t>(values.size()));
  std::iota(order.begin(), order.end(), Eigen::Index{0});
  const auto k = std::min<std::size_t>(static_cast<std::size_t>(count), order.size());
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end(),
                    [&](Eigen::Index a, Eigen::Index b) { return values(a) > values(b); });
  order.resize(k);
  return order;
}

template <class F>
ExhaustiveResult exhaustive_on_simplex(F& f, const Simplex& simplex, Eigen::Index num_points,
                                       int num_refined, std::uint64_t seed) {
  const Eigen::Index N = simplex.dim();
  Eigen::MatrixXd X(num_points + N + 1, N);
  X.topRows(num_points) = sobol_simplex_points(simplex, num_points, seed);
  for (Eigen::Index i = 0; i < N; ++i) {
    X.row(num_points + i) = simplex.vertex(i).transpose();
  }
  X.row(num_points + N) = simplex.barycentre().transpose();
  const Eigen::VectorXd values = f.batch_values(X);
  const std::vector<Eigen::Index> order = best_first(values, num_refined);
  const std::size_t k = order.size();
  ExhaustiveResult best;
  best.x = X.row(order.front()).transpose();
  best.value = values(order.front());
  SimplexRefineOptions refine;
  refine.max_iterations = 2000;
  refine.max_evaluations = 10000;
  for (std::size_t i = 0; i < k; ++i) {
    const SimplexRefineResult r = refine_spg(f, simplex, X.row(order[i]).transpose(), refine);
    if (r.value > best.value) {
      best.value = r.value;
      best.x = r.x;
    }
  }
  return best;
}

/// Projected-gradient ascent with Armijo backtracking in [0,1]^d (the box reference's local
/// refinement; clamping is the exact projection onto the box).
template <class F>
ExhaustiveResult refine_in_unit_box(F& f, Eigen::VectorXd x, int max_iterations) {
  const Eigen::Index d = x.size();
  Eigen::VectorXd g(d), g_trial(d);
  double fx = f(x, g);
  double step = 1.0;
  for (int it = 0; it < max_iterations; ++it) {
    bool accepted = false;
    for (int ls = 0; ls < 40; ++ls) {
      const Eigen::VectorXd trial = (x + step * g).cwiseMax(0.0).cwiseMin(1.0);
      const double move = (trial - x).squaredNorm();
      if (move == 0.0) {
        break;
      }
      const double ft = f(trial, g_trial);
      if (ft >= fx + 1e-4 * g.dot(trial - x)) {
        x = trial;
        fx = ft;
        g = g_trial;
        accepted = true;
        step *= 2.0;
        break;
      }
      step *= 0.5;
    }
    if (!accepted) {
      break;
    }
  }
  return {x, fx};
}

/// Exhaustive search in [0,1]^d: `num_points` scrambled-Sobol points, the `num_refined` best
/// refined by projected-gradient ascent (500 iterations).
template <class F>
ExhaustiveResult exhaustive_in_unit_box(F& f, int d, Eigen::Index num_points, int num_refined,
                                        std::uint64_t seed) {
  SobolSequence sobol(d, seed);
  const Eigen::MatrixXd X = sobol.draw(num_points);
  const Eigen::VectorXd values = f.batch_values(X);
  const std::vector<Eigen::Index> order = best_first(values, num_refined);
  const std::size_t k = order.size();
  ExhaustiveResult best;
  best.x = X.row(order.front()).transpose();
  best.value = values(order.front());
  for (std::size_t i = 0; i < k; ++i) {
    const ExhaustiveResult r = refine_in_unit_box(f, X.row(order[i]).transpose(), 500);
    if (r.value > best.value) {
      best = r;
    }
  }
  return best;
}

/// Win/tie/loss of ours against the exhaustive search at an absolute tolerance.
struct WinTieLoss {
  int win = 0;
  int tie = 0;
  int loss = 0;
  double worst_gap = -std::numeric_limits<double>::infinity();  ///< max (exhaustive − ours).
  void add(double ours, double exhaustive, double tol) {
    worst_gap = std::max(worst_gap, exhaustive - ours);
    if (ours > exhaustive + tol) {
      ++win;
    } else if (ours >= exhaustive - tol) {
      ++tie;
    } else {
      ++loss;
    }
  }
};

}  // namespace bomf::test
