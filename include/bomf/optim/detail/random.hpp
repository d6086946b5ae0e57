// bomf/optim/detail/random.hpp — platform-independent random numbers for the optimizers.
//
// std::uniform_real_distribution and std::normal_distribution are not specified bit for bit, so
// results would differ between standard libraries; these helpers build every draw from the raw
// output of std::mt19937_64 (which is specified exactly), making runs reproducible anywhere.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>

namespace bomf::detail {

/// Uniform double in [0, 1) with 53 random bits.
inline double uniform01(std::mt19937_64& rng) {
  return static_cast<double>(rng() >> 11) * 0x1.0p-53;
}

/// Uniform double in (0, 1): never 0, so log() of it is finite.
inline double uniform_open01(std::mt19937_64& rng) {
  return (static_cast<double>(rng() >> 11) + 0.5) * 0x1.0p-53;
}

/// Standard normal draw (Box–Muller, one of the pair is used).
inline double standard_normal(std::mt19937_64& rng) {
  const double u1 = uniform_open01(rng);
  const double u2 = uniform01(rng);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * 3.14159265358979323846 * u2);
}

/// Uniform integer in [0, n) (n > 0), by rejection so that it has no modulo bias.
inline std::uint64_t uniform_index(std::mt19937_64& rng, std::uint64_t n) {
  const std::uint64_t limit = (~std::uint64_t{0}) - ((~std::uint64_t{0}) % n);
  std::uint64_t r = rng();
  while (r >= limit) {
    r = rng();
  }
  return r % n;
}

}  // namespace bomf::detail
