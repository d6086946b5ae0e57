// bomf/drivers/detail/seeds.hpp — the one seed scheme of both search stages.
//
// Every random step of a search (its quasi-random design, each GP fit's restarts, each QMC base
// sample, each acquisition optimization, the surrogate fitted to choose the final result) draws a
// seed derived from (the user's seed, the number of points observed, failed or pending when the
// step runs, the step's stream), never from time or a global generator. Replaying a journal's
// observations in the same order therefore reproduces exactly the proposals of an uninterrupted
// run.
#pragma once

#include <cstdint>

namespace bomf::detail {

/// SplitMix64 finalizer (Steele, Lea & Flood, "Fast splittable pseudorandom number generators",
/// OOPSLA 2014): a bijective 64-bit mix.
constexpr std::uint64_t splitmix64(std::uint64_t x) noexcept {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

/// The random steps of a search, one stream of seeds each.
enum class SeedStream : std::uint64_t {
  design = 1,       ///< the quasi-random (scrambled Sobol) design and fallback points
  fit = 2,          ///< restarts of the GP hyperparameter fits
  acquisition = 3,  ///< QMC base samples of the acquisition function
  optimizer = 4,    ///< raw candidates and restarts of the acquisition optimizer
  selection = 6,    ///< the surrogate fitted to choose the final result (model-based rules)
};

/// The seed of random step `stream` when `count` points have been observed or are pending: a
/// function of (seed, count, stream) only.
constexpr std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t count,
                                    SeedStream stream) noexcept {
  return splitmix64(splitmix64(seed ^ splitmix64(static_cast<std::uint64_t>(stream))) + count);
}

}  // namespace bomf::detail
