// bomf/optim/simplex_candidates.hpp — raw candidate points on the (bounded) simplex for the
// multi-start acquisition optimizer: quasi-random points, vertices, the barycentre, and
// perturbations of the best observed points.
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
    std::sort(u.begin(), u.end());
    double previous = 0.0;
    for (Eigen::Index i = 0; i < k; ++i) {
      point(i) = u[static_cast<std::size_t>(i)] - previous;
      previous = u[static_cast<std::size_t>(i)];
    }
    point(k) = 1.0 - previous;
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

}  // namespace bomf
