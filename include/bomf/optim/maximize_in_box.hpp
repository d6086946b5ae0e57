// bomf/optim/maximize_in_box.hpp — multi-start L-BFGS-B maximization of an acquisition function
// over a hyperparameter `SearchSpace` (unit-cube encoding), returning only valid settings.
//
// Discrete dimensions (integers, categoricals) are handled in one of two ways:
//  * enumeration, when the number C of discrete combinations is at most
//    `max_enumerated_combinations` (default 64; batch size {8, 16} × scheduler {linear, cosine}
//    is C = 4): raw candidates cycle through all C combinations (each with quasi-random
//    continuous values), restarts are chosen among them by value, and L-BFGS-B moves only the
//    continuous columns with the discrete columns held at their exact encoding. The objective is
//    therefore never evaluated at an invalid discrete value. If the space has no continuous
//    dimension the raw candidates are all C combinations and no local search is needed.
//  * relaxation, when C is larger: L-BFGS-B moves every column in [0,1] (integers relaxed on
//    their equal-width bins, one-hot blocks relaxed to [0,1]^k), the result is rounded (`snap`:
//    integer bin, arg-max choice), the rounded point is evaluated, and the continuous columns are
//    polished by a second L-BFGS-B with the discrete columns fixed. Only the relaxed local search
//    evaluates relaxed (invalid) discrete values; every candidate compared for the result, and
//    the returned point, is a valid setting evaluated as such.
// This is the strategy of BoTorch's `optimize_acqf_mixed` (enumerate fixed features) for small C
// and of its rounding heuristics for large C, with the restart choice of `initialize_q_batch`.
#pragma once

#include <LBFGSB.h>
#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "bomf/core/error.hpp"
#include "bomf/optim/initialize_restarts.hpp"
#include "bomf/optim/objective.hpp"
#include "bomf/optim/parallel_objective.hpp"
#include "bomf/optim/search_space.hpp"
#include "bomf/sampling/sobol_sequence.hpp"

namespace bomf {

/// Settings of `maximize_in_box`, with BoTorch-like defaults (scipy L-BFGS-B, maxiter 200).
struct BoxOptimizerOptions {
  Eigen::Index raw_samples = 512;  ///< raw candidates screened (≥ 1).
  Eigen::Index num_restarts = 10;  ///< L-BFGS-B runs (≥ 1).
  double eta = 1.0;                ///< Boltzmann temperature of the restart choice (> 0).
  std::uint64_t seed = 0;          ///< seeds the Sobol scramble and the restart choice.
  long long max_enumerated_combinations = 64;  ///< enumerate discrete values up to this many.
  int max_iterations = 200;                    ///< L-BFGS-B iterations per run (≥ 1).
  int memory = 10;                             ///< L-BFGS-B history size m (≥ 1).
  double gradient_tolerance = 1e-6;  ///< stop when the projected gradient's ∞-norm is below (> 0).
  double value_tolerance = 1e-10;  ///< stop when |Δf| ≤ this · max(|f|, 1) between iterations.
  /// Threads for the raw screening and the restarts (≥ 1); see SimplexOptimizerOptions::
  /// num_threads (one copy of the objective per extra thread; bit-identical results).
  int num_threads = 1;

  /// Empty when valid, else the first invalid setting.
  [[nodiscard]] std::string validate() const {
    std::string error = detail::validate_multistart_options(raw_samples, num_restarts, eta);
    if (!error.empty())
      return error;
    if (max_enumerated_combinations < 0)
      return detail::concat("max_enumerated_combinations is ", max_enumerated_combinations,
                            ", expected >= 0");
    if (max_iterations < 1)
      return detail::concat("max_iterations is ", max_iterations, ", expected >= 1");
    if (num_threads < 1)
      return detail::concat("num_threads is ", num_threads, ", expected >= 1");
    if (memory < 1)
      return detail::concat("memory is ", memory, ", expected >= 1");
    if (!(gradient_tolerance > 0.0))
      return detail::concat("gradient_tolerance is ", gradient_tolerance, ", expected > 0");
    if (!(value_tolerance >= 0.0))
      return detail::concat("value_tolerance is ", value_tolerance, ", expected >= 0");
    return {};
  }
};

/// Outcome of `maximize_in_box`.
struct BoxOptimizerResult {
  Eigen::VectorXd u;            ///< encoding of the best valid setting (length D).
  std::vector<double> setting;  ///< the setting itself (natural values, see SearchSpace).
  double value = -std::numeric_limits<double>::infinity();  ///< f(u).
  long evaluations = 0;            ///< value-and-gradient calls during local search.
  long value_evaluations = 0;      ///< values computed while screening raw candidates.
  bool enumerated = false;         ///< true when discrete values were enumerated, not relaxed.
  Eigen::MatrixXd raw_candidates;  ///< screened points (raw × D), valid encodings.
  bool raw_values_exact = true;    ///< false: the screening values only ranked (objective.hpp).
  std::vector<Eigen::Index> restart_indices;  ///< rows of raw_candidates refined.
  std::vector<double> restart_values;         ///< best valid value reached from each restart.
};

namespace detail {

/// Maximizes f over the columns `free` of u ∈ [0,1]^D (others fixed) with LBFGSpp's L-BFGS-B on
/// −f, from `u`. Returns the best point evaluated (kept even if the solver throws on line-search
/// trouble) and its value; `calls` counts evaluations.
template <class F>
std::pair<Eigen::VectorXd, double> lbfgsb_on_columns(F& f, const Eigen::VectorXd& u,
                                                     const std::vector<Eigen::Index>& free,
                                                     const BoxOptimizerOptions& options,
                                                     long& calls) {
  Eigen::VectorXd best_u = u;
  double best_value = -std::numeric_limits<double>::infinity();
  if (free.empty()) {
    return {best_u, best_value};
  }
  const auto k = static_cast<Eigen::Index>(free.size());
  Eigen::VectorXd full = u;
  Eigen::VectorXd full_grad(u.size());
  auto negated = [&](const Eigen::VectorXd& z, Eigen::VectorXd& grad) -> double {
    for (Eigen::Index j = 0; j < k; ++j) {
      full(free[static_cast<std::size_t>(j)]) = std::clamp(z(j), 0.0, 1.0);
    }
    ++calls;
    const double value = f(full, full_grad);
    grad.resize(k);
    if (!std::isfinite(value) || !full_grad.allFinite()) {
      grad.setZero();
      return std::numeric_limits<double>::infinity();
    }
    if (value > best_value) {
      best_value = value;
      best_u = full;
    }
    for (Eigen::Index j = 0; j < k; ++j) {
      grad(j) = -full_grad(free[static_cast<std::size_t>(j)]);
    }
    return -value;
  };
  LBFGSpp::LBFGSBParam<double> param;
  param.m = options.memory;
  param.epsilon = options.gradient_tolerance;
  param.epsilon_rel = 0.0;
  param.past = 1;
  param.delta = options.value_tolerance;
  param.max_iterations = options.max_iterations;
  LBFGSpp::LBFGSBSolver<double> solver(param);
  Eigen::VectorXd z(k);
  for (Eigen::Index j = 0; j < k; ++j) {
    z(j) = std::clamp(u(free[static_cast<std::size_t>(j)]), 0.0, 1.0);
  }
  const Eigen::VectorXd lb = Eigen::VectorXd::Zero(k);
  const Eigen::VectorXd ub = Eigen::VectorXd::Ones(k);
  double fz = 0.0;
  try {
    solver.minimize(negated, z, fz, lb, ub);
  } catch (const bomf::invalid_argument&) {
    throw;  // raised by the objective itself: a caller's error, not line-search trouble
  } catch (const std::exception&) {
    // LBFGSpp throws on line-search failure (std::runtime_error / std::logic_error); the best
    // point evaluated so far is kept.
  }
  return {best_u, best_value};
}

}  // namespace detail

/// Maximizes f(u) over the valid settings of `space`, u being the unit-cube encoding (length D =
/// space.encoded_dim()); f is a differentiable objective (bomf/optim/objective.hpp). See the file
/// comment for the treatment of discrete dimensions. The returned `u` is the exact encoding of
/// the returned `setting`, and `value` = f(u).
/// \b Cost: raw_samples values + num_restarts L-BFGS-B runs (each ≤ max_iterations iterations,
/// ~1.1 evaluations per iteration), doubled in relaxation mode by the polishing run.
/// Deterministic given options.seed. Throws bomf::invalid_argument for an empty space or invalid
/// options.
template <class F>
BoxOptimizerResult maximize_in_box(F& f, const SearchSpace& space,
                                   const BoxOptimizerOptions& options = {}) {
  detail::check_differentiable_objective<F>();
  constexpr const char* where = "bomf::maximize_in_box";
  space.require_nonempty(where);
  const std::string error = options.validate();
  detail::require(error.empty(), where, "invalid options: ", error);
  BoxOptimizerResult result;
  const long long combos = space.discrete_combinations();
  result.enumerated = combos <= options.max_enumerated_combinations;
  const auto& dims = space.dimensions();
  std::vector<Eigen::Index> continuous_cols;
  std::vector<Eigen::Index> all_cols;
  for (const Dimension& d : dims) {
    for (Eigen::Index c = 0; c < d.width; ++c) {
      all_cols.push_back(d.offset + c);
    }
    if (d.kind == DimensionKind::continuous) {
      continuous_cols.push_back(d.offset);
    }
  }
  // Raw candidates: scrambled Sobol (bomf::SobolSequence seeded with options.seed), one
  // coordinate per dimension, mapped to valid encodings; in enumeration mode the discrete values
  // cycle through every combination.
  Eigen::Index raw = options.raw_samples;
  if (result.enumerated && continuous_cols.empty()) {
    raw = static_cast<Eigen::Index>(combos);
  } else if (result.enumerated) {
    raw = std::max<Eigen::Index>(raw, static_cast<Eigen::Index>(combos));
  }
  const Eigen::MatrixXd quasi_random =
      SobolSequence(static_cast<int>(dims.size()), options.seed).draw(raw);  // raw × dims, (0,1)
  result.raw_candidates.resize(raw, space.encoded_dim());
  std::vector<double> setting(dims.size());
  for (Eigen::Index r = 0; r < raw; ++r) {
    long long combo = r % std::max(1LL, combos);
    for (std::size_t i = 0; i < dims.size(); ++i) {
      const double s = quasi_random(r, static_cast<Eigen::Index>(i));
      const Dimension& d = dims[i];
      if (d.kind == DimensionKind::continuous) {
        const double v =
            d.scale == Scale::log
                ? std::exp(std::log(d.lower) + s * (std::log(d.upper) - std::log(d.lower)))
                : d.lower + s * (d.upper - d.lower);
        setting[i] = std::clamp(v, d.lower, d.upper);
      } else {
        const long long k = d.cardinality();
        long long index = std::min(static_cast<long long>(s * static_cast<double>(k)), k - 1);
        if (result.enumerated) {
          index = combo % k;
          combo /= k;
        }
        setting[i] = d.kind == DimensionKind::integer ? d.lower + static_cast<double>(index)
                                                      : static_cast<double>(index);
      }
    }
    result.raw_candidates.row(r) = space.encode(setting).transpose();
  }
  const int workers =
      detail::parallel_workers(options.num_threads, std::max(raw, options.num_restarts));
  detail::ObjectivePerWorker<F> fs(f, workers, where);
  const ScreeningValues screened = detail::screen_values_parallel(
      fs, result.raw_candidates, result.value_evaluations, workers, where);
  const Eigen::VectorXd& values = screened.values;
  result.raw_values_exact = screened.exact;
  // The best raw candidate is a result only when its value is f's own; approximate screening
  // values only rank (each restart's start is then evaluated exactly below).
  result.u = result.raw_candidates.row(0).transpose();
  double best_raw = -std::numeric_limits<double>::infinity();
  for (Eigen::Index r = 0; r < raw; ++r) {
    if (std::isfinite(values(r)) && values(r) > best_raw) {
      best_raw = values(r);
      result.u = result.raw_candidates.row(r).transpose();
    }
  }
  if (screened.exact) {
    result.value = best_raw;
  }
  std::mt19937_64 restart_rng(options.seed ^ 0xd1b54a32d192ed03ULL);
  result.restart_indices = select_restarts(values, options.num_restarts, options.eta, restart_rng);
  const auto num_runs = static_cast<Eigen::Index>(result.restart_indices.size());
  std::vector<Eigen::VectorXd> candidates(static_cast<std::size_t>(num_runs));
  result.restart_values.assign(static_cast<std::size_t>(num_runs), 0.0);
  std::vector<long> run_evaluations(static_cast<std::size_t>(num_runs), 0);
  detail::parallel_for(workers, num_runs, [&](int worker, Eigen::Index run) {
    F& g = fs(worker);
    const auto slot = static_cast<std::size_t>(run);
    const Eigen::Index index = result.restart_indices[slot];
    long& evaluations = run_evaluations[slot];
    const Eigen::VectorXd start = result.raw_candidates.row(index).transpose();
    Eigen::VectorXd candidate = start;
    double candidate_value = values(index);
    if (!screened.exact) {
      Eigen::VectorXd grad(space.encoded_dim());
      ++evaluations;
      candidate_value = g(start, grad);
      if (!std::isfinite(candidate_value)) {
        candidate_value = -std::numeric_limits<double>::infinity();
      }
    }
    if (result.enumerated) {
      auto [u, value] = detail::lbfgsb_on_columns(g, start, continuous_cols, options, evaluations);
      if (std::isfinite(value) && value > candidate_value) {
        candidate = u;
        candidate_value = value;
      }
    } else {
      auto relaxed = detail::lbfgsb_on_columns(g, start, all_cols, options, evaluations);
      Eigen::VectorXd snapped = space.snap(relaxed.first);
      Eigen::VectorXd grad(space.encoded_dim());
      ++evaluations;
      double snapped_value = g(snapped, grad);
      if (!std::isfinite(snapped_value)) {
        snapped_value = -std::numeric_limits<double>::infinity();
      }
      auto polished = detail::lbfgsb_on_columns(g, snapped, continuous_cols, options, evaluations);
      if (std::isfinite(polished.second) && polished.second > snapped_value) {
        snapped = polished.first;
        snapped_value = polished.second;
      }
      if (snapped_value > candidate_value) {
        candidate = snapped;
        candidate_value = snapped_value;
      }
    }
    candidates[slot] = std::move(candidate);
    result.restart_values[slot] = candidate_value;
  });
  for (std::size_t run = 0; run < candidates.size(); ++run) {  // in restart order: deterministic
    result.evaluations += run_evaluations[run];
    if (result.restart_values[run] > result.value) {
      result.value = result.restart_values[run];
      result.u = candidates[run];
    }
  }
  result.setting = space.decode(result.u);
  return result;
}

}  // namespace bomf
