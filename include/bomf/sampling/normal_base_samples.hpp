// bomf/sampling/normal_base_samples.hpp — quasi-Monte-Carlo N(0, I) base samples.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "bomf/core/error.hpp"
#include "bomf/math/normal.hpp"
#include "bomf/sampling/sobol_sequence.hpp"

namespace bomf {

namespace detail {

/// The memo behind sobol_normal_samples. Φ⁻¹ dominates the cost of a draw (Sobol points are
/// cheap), and a BO loop draws the same sequence again and again with a growing dimension
/// (qLogNEHVI's pruning draws 2048 × n·m coordinates per iteration, n growing by one); by the
/// prefix property a wider draw of (num_samples, seed) contains every narrower one, so one
/// matrix per (num_samples, seed) serves all of them and a wider request transforms only its new
/// columns. Results are bit-identical to a fresh draw. At most 4 entries and 2²² doubles (32 MiB)
/// are kept, the least recently used going first; a larger draw is not kept. Entries are shared
/// and immutable, so a caller may keep reading one after it was evicted. Thread-safe.
class SobolNormalMemo {
 public:
  /// The samples of (num_samples, seed) with at least `dim` columns (possibly more: a wider
  /// draw made earlier), shared and never modified afterwards.
  std::shared_ptr<const Eigen::MatrixXd> get(Eigen::Index num_samples, int dim,
                                             std::uint64_t seed) {
    const std::lock_guard<std::mutex> lock(mutex_);
    ++clock_;
    auto entry = std::find_if(entries_.begin(), entries_.end(), [&](const Entry& e) {
      return e.num_samples == num_samples && e.seed == seed;
    });
    if (entry != entries_.end() && entry->z->cols() >= dim) {
      entry->last_use = clock_;
      return entry->z;
    }
    SobolSequence sobol(dim, seed, true);
    auto z = std::make_shared<Eigen::MatrixXd>(sobol.draw(num_samples));
    Eigen::Index known = 0;
    if (entry != entries_.end()) {
      known = entry->z->cols();
      z->leftCols(known) = *entry->z;
      entries_.erase(entry);
    }
    for (Eigen::Index j = known; j < z->cols(); ++j) {
      for (Eigen::Index i = 0; i < z->rows(); ++i) {
        (*z)(i, j) = normal_quantile((*z)(i, j));
      }
    }
    std::shared_ptr<const Eigen::MatrixXd> shared = std::move(z);
    if (shared->size() <= kMaxDoubles) {
      entries_.push_back({num_samples, seed, shared, clock_});
      Eigen::Index held = 0;
      for (const Entry& e : entries_) {
        held += e.z->size();
      }
      while (entries_.size() > kMaxEntries || held > kMaxDoubles) {
        const auto oldest = std::min_element(
            entries_.begin(), entries_.end(),
            [](const Entry& a, const Entry& b) { return a.last_use < b.last_use; });
        held -= oldest->z->size();
        entries_.erase(oldest);
      }
    }
    return shared;
  }

 private:
  struct Entry {
    Eigen::Index num_samples;
    std::uint64_t seed;
    std::shared_ptr<const Eigen::MatrixXd> z;
    std::uint64_t last_use;
  };
  static constexpr std::size_t kMaxEntries = 4;
  static constexpr Eigen::Index kMaxDoubles = Eigen::Index{1} << 22;
  std::mutex mutex_;
  std::vector<Entry> entries_;
  std::uint64_t clock_ = 0;
};

inline SobolNormalMemo& sobol_normal_memo() {
  static SobolNormalMemo memo;
  return memo;
}

}  // namespace detail

/// Quasi-Monte-Carlo standard normal samples: the first `num_samples` points of the scrambled
/// Sobol sequence in `dim` dimensions (SobolSequence, seeded with `seed`) mapped coordinate-wise
/// through the normal quantile Φ⁻¹ (the inverse-transform method of BoTorch's
/// `draw_sobol_normal_samples` / `SobolQMCNormalSampler`). Returns a num_samples × dim matrix,
/// row s being sample s. Fixed base samples make a Monte-Carlo acquisition function a
/// deterministic, smooth function of the candidates (sample average approximation; Balandat et
/// al. 2020, "BoTorch", NeurIPS). For qLogNEHVI with q candidates, n baseline points and m
/// outcomes, draw dim = (n + q)·m and view each row as an (n + q) × m array, as BoTorch's sampler
/// does. Column j depends on (seed, j) only (SobolSequence's prefix property): the first d′
/// columns for dimension d equal the samples for dimension d′, so qLogNEHVI's baseline columns
/// (n·m) are the same whatever q. The uniform points lie strictly inside (0, 1), so every sample
/// is finite (|z| ≤ 6.3).
/// Use a power of two for num_samples to keep the Sobol balance properties.
/// Cost: O(num_samples · dim) quantiles (Boost.Math erfc⁻¹) for a new (num_samples, seed), and
/// only the new columns' for a wider draw of a known one (see detail::SobolNormalMemo); a
/// narrower or equal draw of a known one is a copy.
/// \throws bomf::invalid_argument when num_samples < 0 or dim is outside [1, 3667].
inline Eigen::MatrixXd sobol_normal_samples(Eigen::Index num_samples, int dim, std::uint64_t seed) {
  constexpr const char* where = "bomf::sobol_normal_samples";
  detail::require(num_samples >= 0, where, "argument 'num_samples' is ", num_samples,
                  ", expected ≥ 0");
  detail::require(dim >= 1 && dim <= SobolSequence::max_dimension, where, "argument 'dim' is ", dim,
                  ", expected in [1, ", SobolSequence::max_dimension, "]");
  return detail::sobol_normal_memo().get(num_samples, dim, seed)->leftCols(dim);
}

/// The samples of sobol_normal_samples(num_samples, dim, seed) without a copy: a shared,
/// immutable matrix whose first `dim` columns are those samples (it may have more columns, from
/// a wider draw of the same (num_samples, seed)). For callers that read a large draw once
/// (qLogNEHVI's pruning: 2048 × n·m). Same cost and errors as sobol_normal_samples.
inline std::shared_ptr<const Eigen::MatrixXd> sobol_normal_samples_shared(Eigen::Index num_samples,
                                                                          int dim,
                                                                          std::uint64_t seed) {
  constexpr const char* where = "bomf::sobol_normal_samples_shared";
  detail::require(num_samples >= 0, where, "argument 'num_samples' is ", num_samples,
                  ", expected ≥ 0");
  detail::require(dim >= 1 && dim <= SobolSequence::max_dimension, where, "argument 'dim' is ", dim,
                  ", expected in [1, ", SobolSequence::max_dimension, "]");
  return detail::sobol_normal_memo().get(num_samples, dim, seed);
}

}  // namespace bomf
