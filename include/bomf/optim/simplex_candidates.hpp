// bomf/optim/simplex_candidates.hpp — raw candidate points on the (bounded) simplex for the
// multi-start acquisition optimizer: quasi-random points, vertices, the barycentre,
// perturbations of the best observed points, and random points on low-dimensional faces.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "bomf/core/checks.hpp"
#include "bomf/core/error.hpp"
#include "bomf/optim/detail/random.hpp"
#include "bomf/optim/simplex.hpp"
#include "bomf/sampling/sobol_sequence.hpp"

namespace bomf {

namespace detail {

/// Sorts the k − 1 numbers in `u` (in [0, 1]) and writes their k spacings 0 = v_0 ≤ v_1 ≤ … ≤
/// v_{k−1} ≤ v_k = 1, w_i = v_{i+1} − v_i, into `w` (k entries): uniform points of (0,1)^{k−1}
/// become uniform Dirichlet(1, …, 1) points (Devroye 1986, V.2). No allocation.
inline void sorted_spacings(std::vector<double>& u, double* w) {
  std::sort(u.begin(), u.end());
  double previous = 0.0;
  for (std::size_t i = 0; i < u.size(); ++i) {
    w[i] = u[i] - previous;
    previous = u[i];
  }
  w[u.size()] = 1.0 - previous;
}

}  // namespace detail

/// `n` quasi-random points on Δ (rows of the returned n × N matrix), low-discrepancy and
/// uniform in distribution on the plain simplex.
///
/// Construction: a scrambled Sobol sequence in (0,1)^{N−1} (`bomf::SobolSequence` seeded with
/// `seed`: Joe–Kuo directions, linear matrix scramble and digital shift, so that different seeds
/// give different point sets) mapped to the simplex by sorted-uniform spacings: sort the N−1
/// coordinates, 0 = v_0 ≤ v_1 ≤ … ≤ v_{N−1} ≤ v_N = 1, δ_i = v_{i+1} − v_i (Devroye 1986, V.2),
/// which maps uniform points to uniform Dirichlet(1, …, 1) points. With bounds, the lower bounds
/// are added first (δ = l + (1 − Σl) · spacing, uniform on the lower-bounded simplex) and the
/// point is then projected (`Simplex::project`) to meet the upper bounds.
/// \b Cost: O(n · N log N). Deterministic given `seed`.
inline Eigen::MatrixXd sobol_simplex_points(const Simplex& simplex, Eigen::Index n,
                                            std::uint64_t seed) {
  detail::require(n >= 0, "bomf::sobol_simplex_points", "argument 'n' is ", n, ", expected n >= 0");
  const Eigen::Index dim = simplex.dim();
  Eigen::MatrixXd points(n, dim);
  if (n == 0) {
    return points;
  }
  if (dim == 1) {
    points.setOnes();
    return points;
  }
  const Eigen::Index k = dim - 1;
  const Eigen::MatrixXd quasi_random = SobolSequence(static_cast<int>(k), seed).draw(n);  // n × k
  std::vector<double> u(static_cast<std::size_t>(k));
  const double lower_sum = simplex.lower().sum();
  const double free_mass = std::max(0.0, 1.0 - lower_sum);
  Eigen::VectorXd point(dim);
  for (Eigen::Index row = 0; row < n; ++row) {
    for (Eigen::Index j = 0; j < k; ++j) {
      u[static_cast<std::size_t>(j)] = quasi_random(row, j);
    }
    detail::sorted_spacings(u, point.data());
    if (simplex.has_bounds()) {
      point = (simplex.lower() + free_mass * point).eval();
    }
    points.row(row) = simplex.project(point).transpose();
  }
  return points;
}

/// `n` points near the rows of `centers` (m × N, each a point of Δ, m ≥ 1): center number
/// (r mod m) plus an isotropic Gaussian perturbation of standard deviation `sigma`, projected
/// back onto Δ. The projection sets small coordinates to exactly 0 (or to their lower bound), so
/// these candidates also land on faces near the centers — the analogue of BoTorch's
/// `sample_points_around_best` for the simplex. Rows are returned in an n × N matrix.
/// \b Cost: O(n · N log N). Throws bomf::invalid_argument for wrong shapes, non-finite centers, or
/// sigma not finite and ≥ 0.
inline Eigen::MatrixXd perturbed_simplex_points(const Simplex& simplex,
                                                const Eigen::Ref<const Eigen::MatrixXd>& centers,
                                                Eigen::Index n, double sigma,
                                                std::mt19937_64& rng) {
  constexpr const char* where = "bomf::perturbed_simplex_points";
  detail::require(n >= 0, where, "argument 'n' is ", n, ", expected n >= 0");
  detail::require(centers.rows() >= 1, where, "argument 'centers' has no rows, expected >= 1");
  detail::require_shape(centers, -1, simplex.dim(), where, "centers");
  detail::require_finite(centers, where, "centers");
  detail::require(std::isfinite(sigma) && sigma >= 0.0, where, "argument 'sigma' is ", sigma,
                  ", expected a finite value >= 0");
  Eigen::MatrixXd points(n, simplex.dim());
  Eigen::VectorXd y(simplex.dim());
  for (Eigen::Index row = 0; row < n; ++row) {
    y = centers.row(row % centers.rows()).transpose();
    for (Eigen::Index i = 0; i < y.size(); ++i) {
      y(i) += sigma * detail::standard_normal(rng);
    }
    points.row(row) = simplex.project(y).transpose();
  }
  return points;
}

/// `n` random points on low-dimensional faces of Δ: row r is supported on k = 2 + (r mod
/// (max_support − 1)) coordinates (so 2, 3, …, max_support in turn; k < N), a uniformly random
/// subset of them, with uniform (Dirichlet(1)) weights on it; with bounds the point is then
/// projected (`Simplex::project`), which moves it off the face as far as the lower bounds require.
/// Sobol points almost never fall on a face, and a local search from the interior reaches only
/// the faces its gradient path meets, so an optimum on an edge between two members (a fusion of
/// two checkpoints) can otherwise be missed. Returns an n × N matrix; none when N ≤ 2 (the
/// simplex is then its own edge).
/// \b Cost: O(n · N log N). Throws bomf::invalid_argument for n < 0 or max_support < 2.
inline Eigen::MatrixXd face_simplex_points(const Simplex& simplex, Eigen::Index n,
                                           Eigen::Index max_support, std::mt19937_64& rng) {
  constexpr const char* where = "bomf::face_simplex_points";
  detail::require(n >= 0, where, "argument 'n' is ", n, ", expected n >= 0");
  detail::require(max_support >= 2, where, "argument 'max_support' is ", max_support,
                  ", expected >= 2");
  const Eigen::Index dim = simplex.dim();
  if (dim <= 2) {
    return Eigen::MatrixXd(0, dim);
  }
  const Eigen::Index widest = std::min(max_support, dim - 1);
  Eigen::MatrixXd points = Eigen::MatrixXd::Zero(n, dim);
  std::vector<Eigen::Index> order(static_cast<std::size_t>(dim));
  std::vector<double> cuts;
  std::vector<double> weights;
  Eigen::VectorXd point(dim);
  for (Eigen::Index row = 0; row < n; ++row) {
    const Eigen::Index k = 2 + row % (widest - 1);
    for (Eigen::Index i = 0; i < dim; ++i) {
      order[static_cast<std::size_t>(i)] = i;
    }
    for (Eigen::Index i = 0; i < k; ++i) {  // partial Fisher–Yates: the first k are the subset
      const auto j = i + static_cast<Eigen::Index>(
                             detail::uniform_index(rng, static_cast<std::uint64_t>(dim - i)));
      std::swap(order[static_cast<std::size_t>(i)], order[static_cast<std::size_t>(j)]);
    }
    cuts.assign(static_cast<std::size_t>(k - 1), 0.0);
    for (double& c : cuts) {
      c = detail::uniform01(rng);
    }
    weights.resize(static_cast<std::size_t>(k));
    detail::sorted_spacings(cuts, weights.data());
    point.setZero();
    for (Eigen::Index i = 0; i < k; ++i) {
      point(order[static_cast<std::size_t>(i)]) = weights[static_cast<std::size_t>(i)];
    }
    points.row(row) = simplex.project(point).transpose();
  }
  return points;
}

}  // namespace bomf
