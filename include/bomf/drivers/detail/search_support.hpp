// bomf/drivers/detail/search_support.hpp — small pieces shared by the drivers: seed derivation,
// exact-equality keys for points, quasi-random settings of a SearchSpace, a stopwatch.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <vector>

#include "bomf/optim/search_space.hpp"
#include "bomf/sampling/sobol_sequence.hpp"

namespace bomf::detail {

/// SplitMix64 finalizer (Steele, Lea & Flood, "Fast splittable pseudorandom number generators",
/// OOPSLA 2014): a bijective 64-bit mix.
constexpr std::uint64_t splitmix64(std::uint64_t x) noexcept {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

/// Streams of derived seeds (one per random step of a BO iteration).
enum class SeedStream : std::uint64_t {
  design = 1,
  fit = 2,
  acquisition = 3,
  optimizer = 4,
  fallback = 5,
  selection = 6,  ///< the surrogate fitted to choose the final result (model-based rules)
};

/// The seed of random step `stream` when `count` points have been observed or are pending:
/// a function of (seed, count, stream) only, so a run resumed from its journal draws exactly what
/// an uninterrupted run draws.
constexpr std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t count,
                                    SeedStream stream) noexcept {
  return splitmix64(splitmix64(seed ^ splitmix64(static_cast<std::uint64_t>(stream))) + count);
}

/// A point as a key for exact (bitwise up to ±0) comparison.
inline std::vector<double> point_key(const Eigen::Ref<const Eigen::VectorXd>& x) {
  return std::vector<double>(x.data(), x.data() + x.size());
}

/// True when a and b have the same length and equal entries.
inline bool same_point(const Eigen::Ref<const Eigen::VectorXd>& a,
                       const Eigen::Ref<const Eigen::VectorXd>& b) {
  return a.size() == b.size() && (a.array() == b.array()).all();
}

/// Maps a point s ∈ (0, 1)^{space.size()} (one coordinate per dimension) to a valid setting:
/// continuous dimensions linearly or logarithmically between their bounds, discrete ones by
/// equal-width bins (index ⌊s·k⌋). Returns the natural values.
inline Eigen::VectorXd setting_from_unit(const SearchSpace& space,
                                         const Eigen::Ref<const Eigen::VectorXd>& s) {
  Eigen::VectorXd setting(space.size());
  for (Eigen::Index i = 0; i < space.size(); ++i) {
    const Dimension& d = space.dimension(i);
    const double t = std::clamp(s(i), 0.0, 1.0);
    if (d.kind == DimensionKind::continuous) {
      const double v =
          d.scale == Scale::log
              ? std::exp(std::log(d.lower) + t * (std::log(d.upper) - std::log(d.lower)))
              : d.lower + t * (d.upper - d.lower);
      setting(i) = std::clamp(v, d.lower, d.upper);
    } else {
      const long long k = d.cardinality();
      const long long index = std::min(static_cast<long long>(t * static_cast<double>(k)), k - 1);
      setting(i) = d.kind == DimensionKind::integer ? d.lower + static_cast<double>(index)
                                                    : static_cast<double>(index);
    }
  }
  return setting;
}

/// Rows [first, first + n) of the scrambled Sobol sequence in space.size() dimensions (seed
/// `seed`), mapped to valid settings (n × space.size(), natural values).
inline Eigen::MatrixXd quasi_random_settings(const SearchSpace& space, Eigen::Index first,
                                             Eigen::Index n, std::uint64_t seed) {
  SobolSequence sobol(static_cast<int>(space.size()), seed);
  sobol.fast_forward(static_cast<std::uint64_t>(first));
  const Eigen::MatrixXd unit = sobol.draw(n);
  Eigen::MatrixXd out(n, space.size());
  for (Eigen::Index r = 0; r < n; ++r) {
    out.row(r) = setting_from_unit(space, unit.row(r).transpose()).transpose();
  }
  return out;
}

/// Seconds since construction (steady clock).
class Stopwatch {
 public:
  Stopwatch() : start_(std::chrono::steady_clock::now()) {}
  [[nodiscard]] double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  std::chrono::steady_clock::time_point start_;
};

}  // namespace bomf::detail
