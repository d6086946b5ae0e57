// bomf/optim/initialize_restarts.hpp — choosing restart points among raw candidates by their
// acquisition values, as BoTorch's `initialize_q_batch` (botorch/optim/initializers.py) does.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "bomf/core/error.hpp"
#include "bomf/optim/detail/random.hpp"

namespace bomf {

namespace detail {

/// The settings every multi-start optimizer shares (`maximize_in_box`, `maximize_on_simplex`):
/// empty when raw_samples ≥ 1, num_restarts ≥ 1 and eta is finite and > 0, else a description of
/// the first invalid one.
inline std::string validate_multistart_options(Eigen::Index raw_samples, Eigen::Index num_restarts,
                                               double eta) {
  if (raw_samples < 1)
    return concat("raw_samples is ", raw_samples, ", expected >= 1");
  if (num_restarts < 1)
    return concat("num_restarts is ", num_restarts, ", expected >= 1");
  if (!(std::isfinite(eta) && eta > 0.0))
    return concat("eta is ", eta, ", expected a finite value > 0");
  return {};
}

}  // namespace detail

/// Indices of `n` restart points chosen among `values.size()` raw candidates by Boltzmann
/// sampling without replacement, always including the best candidate.
///
/// Follows BoTorch 0.11's `initialize_q_batch(X, Y, n, eta)`: Z = (Y − mean Y) / std Y (unbiased
/// std), weights exp(eta · Z) (eta halved while a weight overflows), `n` indices drawn without
/// replacement with probability ∝ weight, and the last one replaced by argmax Y if the maximum was
/// not drawn. If all values are equal the indices are a random permutation's first `n`; if
/// n ≥ values.size() every index is returned. Departure from BoTorch, for robustness: non-finite
/// values (NaN, ±∞ from a log-acquisition) get weight 0 and are excluded from the mean/std; they
/// are drawn only when fewer than `n` finite values exist (then at random).
/// \b Cost: O(n · values.size()). Deterministic given the state of `rng`.
/// Throws bomf::invalid_argument when n < 1, values is empty, or eta is not finite and > 0.
inline std::vector<Eigen::Index> select_restarts(const Eigen::Ref<const Eigen::VectorXd>& values,
                                                 Eigen::Index n, double eta, std::mt19937_64& rng) {
  constexpr const char* where = "bomf::select_restarts";
  detail::require(values.size() >= 1, where, "argument 'values' is empty, expected >= 1 entry");
  detail::require(n >= 1, where, "argument 'n' is ", n, ", expected n >= 1");
  detail::require(std::isfinite(eta) && eta > 0.0, where, "argument 'eta' is ", eta,
                  ", expected a finite value > 0");
  const Eigen::Index total = values.size();
  std::vector<Eigen::Index> chosen;
  if (n >= total) {
    chosen.resize(static_cast<std::size_t>(total));
    std::iota(chosen.begin(), chosen.end(), Eigen::Index{0});
    return chosen;
  }
  // Statistics of the finite values.
  Eigen::Index finite = 0;
  double mean = 0.0;
  Eigen::Index best = -1;
  for (Eigen::Index i = 0; i < total; ++i) {
    if (std::isfinite(values(i))) {
      ++finite;
      mean += values(i);
      if (best < 0 || values(i) > values(best)) {
        best = i;
      }
    }
  }
  std::vector<double> weights(static_cast<std::size_t>(total), 0.0);
  double sd = 0.0;
  if (finite > 0) {
    mean /= static_cast<double>(finite);
    double ss = 0.0;
    for (Eigen::Index i = 0; i < total; ++i) {
      if (std::isfinite(values(i))) {
        ss += (values(i) - mean) * (values(i) - mean);
      }
    }
    sd = finite > 1 ? std::sqrt(ss / static_cast<double>(finite - 1)) : 0.0;
  }
  if (finite > 0 && sd > 0.0) {
    double scale = eta;
    for (int attempt = 0; attempt < 64; ++attempt) {
      bool overflow = false;
      for (Eigen::Index i = 0; i < total; ++i) {
        if (std::isfinite(values(i))) {
          const double w = std::exp(scale * (values(i) - mean) / sd);
          overflow = overflow || !std::isfinite(w);
          weights[static_cast<std::size_t>(i)] = w;
        }
      }
      if (!overflow) {
        break;
      }
      scale *= 0.5;
    }
  } else {
    // All finite values equal (or none finite): uniform choice, as BoTorch's random permutation.
    for (Eigen::Index i = 0; i < total; ++i) {
      weights[static_cast<std::size_t>(i)] = std::isfinite(values(i)) || finite == 0 ? 1.0 : 0.0;
    }
  }
  // Sequential weighted sampling without replacement (torch.multinomial semantics).
  double remaining = std::accumulate(weights.begin(), weights.end(), 0.0);
  while (static_cast<Eigen::Index>(chosen.size()) < n && remaining > 0.0) {
    double r = detail::uniform01(rng) * remaining;
    Eigen::Index pick = -1;
    for (Eigen::Index i = 0; i < total; ++i) {
      const double w = weights[static_cast<std::size_t>(i)];
      if (w <= 0.0) {
        continue;
      }
      pick = i;  // the last positive weight absorbs rounding at the end of the scan
      if (r < w) {
        break;
      }
      r -= w;
    }
    chosen.push_back(pick);
    weights[static_cast<std::size_t>(pick)] = 0.0;
    remaining = std::accumulate(weights.begin(), weights.end(), 0.0);
  }
  // Fewer than n candidates with positive weight: fill at random among the others.
  if (static_cast<Eigen::Index>(chosen.size()) < n) {
    std::vector<Eigen::Index> others;
    for (Eigen::Index i = 0; i < total; ++i) {
      if (std::find(chosen.begin(), chosen.end(), i) == chosen.end()) {
        others.push_back(i);
      }
    }
    while (static_cast<Eigen::Index>(chosen.size()) < n && !others.empty()) {
      const auto k = static_cast<std::size_t>(detail::uniform_index(rng, others.size()));
      chosen.push_back(others[k]);
      others.erase(others.begin() + static_cast<std::ptrdiff_t>(k));
    }
  }
  if (best >= 0 && std::find(chosen.begin(), chosen.end(), best) == chosen.end()) {
    chosen.back() = best;
  }
  return chosen;
}

}  // namespace bomf
