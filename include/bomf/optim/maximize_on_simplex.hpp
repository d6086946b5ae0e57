// bomf/optim/maximize_on_simplex.hpp — multi-start maximization of an acquisition function over
// the (bounded) probability simplex of fusion coefficients.
//
// Pipeline, as BoTorch's `optimize_acqf` (raw samples → `initialize_q_batch` → local search) but
// feasible by construction instead of through SLSQP equality constraints:
//   1. raw candidates (`simplex_raw_candidates`): the N vertices, the barycentre (SWA), the best
//      observed points and Gaussian perturbations of them projected back, random points on edges
//      and 2-faces, and scrambled-Sobol points mapped to the simplex, `raw_samples` in all;
//   2. their values (one batch call when the objective provides `batch_values`, or its
//      `screening_values` when it has them: bomf/optim/objective.hpp);
//   3. `num_restarts` starts chosen by Boltzmann sampling on standardized values (eta), always
//      including the best (`select_restarts`);
//   4. local refinement of each start (`refine_spg` by default);
//   5. the best point: refined, or raw when the screening values are f's own.
// Every point handed to f lies in Δ exactly: bounds hold exactly, the sum is 1 within 1e-12.
//
// The local method (SPG, exact and cheap on faces, by default; the active-set L-BFGS as an option
// for smooth interior optima) was chosen by measurement; the figures, and the quality against an
// exhaustive search, are in docs/math.md ("Choosing the simplex refiner", from
// bench/optim/refiner_study.cpp).
//
// Batches of q > 1 points: the joint q × N variable fits the same machinery (project each row;
// the projection is separable across rows); it is not implemented here — sequential greedy q = 1
// calls are the acquisition layer's choice.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "bomf/core/checks.hpp"
#include "bomf/core/error.hpp"
#include "bomf/optim/initialize_restarts.hpp"
#include "bomf/optim/objective.hpp"
#include "bomf/optim/parallel_objective.hpp"
#include "bomf/optim/simplex.hpp"
#include "bomf/optim/simplex_candidates.hpp"
#include "bomf/optim/simplex_refine.hpp"

namespace bomf {

/// Settings of `maximize_on_simplex`, with BoTorch-like defaults.
struct SimplexOptimizerOptions {
  Eigen::Index raw_samples = 512;  ///< raw candidates screened (≥ 1; vertices etc. count in).
  Eigen::Index num_restarts = 10;  ///< local refinements (≥ 1).
  double eta = 1.0;                ///< Boltzmann temperature of the restart choice (> 0).
  std::uint64_t seed = 0;          ///< seeds the Sobol scramble, perturbations, restarts.
  bool include_vertices = true;    ///< add the N (projected) vertices to the raw candidates.
  bool include_barycentre = true;  ///< add the (projected) barycentre, i.e. SWA.
  /// Best observed points (m × N rows in Δ, may be empty): they and `num_near_best`
  /// Gaussian perturbations of them (projected) join the raw candidates.
  Eigen::MatrixXd best_points;
  Eigen::Index num_near_best = 64;  ///< perturbations of `best_points` (≥ 0).
  double near_best_sigma = 0.05;    ///< their standard deviation (≥ 0).
  /// Random points on edges and 2-faces (`face_simplex_points`, support 2 and 3 in turn; none
  /// for N ≤ 2), in place of as many Sobol points (≥ 0).
  Eigen::Index num_face_points = 64;
  SimplexRefiner refiner = SimplexRefiner::spectral_projected_gradient;
  SimplexRefineOptions refine;  ///< settings of each local refinement.
  /// Threads for the raw screening and the restarts (≥ 1). With more than one, each extra thread
  /// works on its own copy of the objective (bomf/optim/parallel_objective.hpp: copies must be
  /// safe to call concurrently, as the acquisition functions' are); the result is bit-identical
  /// whatever the number.
  int num_threads = 1;

  /// Empty when valid for the simplex `simplex`, else the first problem found.
  [[nodiscard]] std::string validate(const Simplex& simplex) const {
    std::string error = detail::validate_multistart_options(raw_samples, num_restarts, eta);
    if (!error.empty())
      return error;
    if (num_near_best < 0)
      return detail::concat("num_near_best is ", num_near_best, ", expected >= 0");
    if (num_face_points < 0)
      return detail::concat("num_face_points is ", num_face_points, ", expected >= 0");
    if (num_threads < 1)
      return detail::concat("num_threads is ", num_threads, ", expected >= 1");
    if (!(std::isfinite(near_best_sigma) && near_best_sigma >= 0.0))
      return detail::concat("near_best_sigma is ", near_best_sigma,
                            ", expected a finite value >= 0");
    if (best_points.size() > 0) {
      if (best_points.cols() != simplex.dim())
        return detail::concat("best_points has ", best_points.cols(),
                              " columns, expected N = ", simplex.dim());
      if (!best_points.allFinite())
        return "best_points has a non-finite entry";
    }
    std::string refine_error = refine.validate();
    if (!refine_error.empty())
      return "refine." + refine_error;
    return {};
  }
};

/// Outcome of `maximize_on_simplex`.
struct SimplexOptimizerResult {
  Eigen::VectorXd x;  ///< best point found (length N, in Δ exactly).
  double value = -std::numeric_limits<double>::infinity();  ///< f(x).
  long evaluations = 0;                       ///< value-and-gradient calls during refinement.
  long value_evaluations = 0;                 ///< values computed while screening raw candidates.
  Eigen::MatrixXd raw_candidates;             ///< the screened points (raw × N).
  Eigen::VectorXd raw_values;                 ///< their screening values (f's own if exact).
  bool raw_values_exact = true;               ///< false: approximations that only rank.
  std::vector<Eigen::Index> restart_indices;  ///< rows of raw_candidates that were refined.
  std::vector<SimplexRefineResult> restarts;  ///< one per restart, same order.
};

/// The raw candidates of `maximize_on_simplex` (rows of a raw × N matrix, all in Δ): vertices,
/// barycentre, best points and their perturbations, face points (as enabled in `options`), then
/// scrambled-Sobol points up to `options.raw_samples` rows (more rows when the fixed points alone
/// exceed it).
/// \b Cost: O(raw · N log N). Deterministic given options.seed.
inline Eigen::MatrixXd simplex_raw_candidates(const Simplex& simplex,
                                              const SimplexOptimizerOptions& options) {
  const std::string error = options.validate(simplex);
  detail::require(error.empty(), "bomf::simplex_raw_candidates", "invalid options: ", error);
  const Eigen::Index dim = simplex.dim();
  std::mt19937_64 rng(options.seed ^ 0x9e3779b97f4a7c15ULL);
  std::vector<Eigen::MatrixXd> blocks;
  if (options.include_vertices) {
    Eigen::MatrixXd vertices(dim, dim);
    for (Eigen::Index i = 0; i < dim; ++i) {
      vertices.row(i) = simplex.vertex(i).transpose();
    }
    blocks.push_back(vertices);
  }
  if (options.include_barycentre) {
    blocks.emplace_back(simplex.barycentre().transpose());
  }
  if (options.best_points.rows() > 0) {
    Eigen::MatrixXd best(options.best_points.rows(), dim);
    for (Eigen::Index i = 0; i < best.rows(); ++i) {
      best.row(i) = simplex.project(options.best_points.row(i).transpose()).transpose();
    }
    blocks.push_back(best);
    blocks.push_back(perturbed_simplex_points(simplex, best, options.num_near_best,
                                              options.near_best_sigma, rng));
  }
  blocks.push_back(face_simplex_points(simplex, options.num_face_points, 3, rng));
  Eigen::Index fixed = 0;
  for (const auto& b : blocks) {
    fixed += b.rows();
  }
  blocks.push_back(sobol_simplex_points(
      simplex, std::max<Eigen::Index>(0, options.raw_samples - fixed), options.seed));
  Eigen::Index rows = 0;
  for (const auto& b : blocks) {
    rows += b.rows();
  }
  Eigen::MatrixXd out(rows, dim);
  Eigen::Index at = 0;
  for (const auto& b : blocks) {
    out.middleRows(at, b.rows()) = b;
    at += b.rows();
  }
  return out;
}

/// Maximizes f over Δ = `simplex` from multiple starts (see the file comment for the pipeline);
/// f is a differentiable objective (bomf/optim/objective.hpp) of x ∈ R^N.
/// \b Cost: raw_samples value evaluations + num_restarts · (typically 20–200) gradient
/// evaluations, and O(N log N) per projection. Deterministic given options.seed.
/// Throws bomf::invalid_argument for invalid options; non-finite values of f are tolerated
/// (such points are never chosen) — if every value is non-finite, the first raw candidate is
/// returned with value −∞ (with approximate screening values, the best screened one).
template <class F>
SimplexOptimizerResult maximize_on_simplex(F& f, const Simplex& simplex,
                                           const SimplexOptimizerOptions& options = {}) {
  detail::check_differentiable_objective<F>();
  const std::string error = options.validate(simplex);
  detail::require(error.empty(), "bomf::maximize_on_simplex", "invalid options: ", error);
  SimplexOptimizerResult result;
  result.raw_candidates = simplex_raw_candidates(simplex, options);
  const int workers = detail::parallel_workers(
      options.num_threads, std::max(result.raw_candidates.rows(), options.num_restarts));
  detail::ObjectivePerWorker<F> fs(f, workers, "bomf::maximize_on_simplex");
  ScreeningValues screened = detail::screen_values_parallel(
      fs, result.raw_candidates, result.value_evaluations, workers, "bomf::maximize_on_simplex");
  result.raw_values = std::move(screened.values);
  result.raw_values_exact = screened.exact;
  std::mt19937_64 rng(options.seed ^ 0xd1b54a32d192ed03ULL);
  result.restart_indices =
      select_restarts(result.raw_values, options.num_restarts, options.eta, rng);
  // The best raw candidate is a result only when its value is f's own; approximate screening
  // values only rank (the refinement evaluates each start exactly, the best raw one among them).
  result.x = result.raw_candidates.row(0).transpose();
  double best_raw = -std::numeric_limits<double>::infinity();
  for (Eigen::Index i = 0; i < result.raw_values.size(); ++i) {
    if (std::isfinite(result.raw_values(i)) && result.raw_values(i) > best_raw) {
      best_raw = result.raw_values(i);
      result.x = result.raw_candidates.row(i).transpose();
    }
  }
  if (result.raw_values_exact) {
    result.value = best_raw;
  }
  result.restarts.resize(result.restart_indices.size());
  detail::parallel_for(
      workers, static_cast<Eigen::Index>(result.restart_indices.size()),
      [&](int worker, Eigen::Index r) {
        const Eigen::VectorXd start =
            result.raw_candidates.row(result.restart_indices[static_cast<std::size_t>(r)])
                .transpose();
        F& g = fs(worker);
        SimplexRefineResult& local = result.restarts[static_cast<std::size_t>(r)];
        switch (options.refiner) {
          case SimplexRefiner::spectral_projected_gradient:
            local = refine_spg(g, simplex, start, options.refine);
            break;
          case SimplexRefiner::exponentiated_gradient:
            local = refine_exponentiated_gradient(g, simplex, start, options.refine);
            break;
          case SimplexRefiner::active_set_lbfgs:
            local = refine_active_set_lbfgs(g, simplex, start, options.refine);
            break;
        }
      });
  for (const SimplexRefineResult& local : result.restarts) {  // in restart order: deterministic
    result.evaluations += local.evaluations;
    if (std::isfinite(local.value) && local.value > result.value) {
      result.value = local.value;
      result.x = local.x;
    }
  }
  return result;
}

}  // namespace bomf
