// supersense/random.hpp — seeded shuffles that give the same order on every platform.
//
// std::shuffle and std::uniform_int_distribution are implementation-defined; std::mt19937_64 is
// not (its output sequence is fixed by the standard). These helpers build on it alone, so a split
// or a batch order depends only on the seed. libtorch-free, header-only.
#pragma once

#include <cstdint>
#include <random>
#include <utility>
#include <vector>

namespace supersense {

/// A uniform integer in [0, bound) for bound ≥ 1, without modulo bias (rejection sampling).
inline std::uint64_t uniform_below(std::mt19937_64& rng, std::uint64_t bound) {
  // Values at or above `limit` would make some residues more likely than others.
  const std::uint64_t limit = std::uint64_t(0) - (std::uint64_t(0) - bound) % bound;
  for (;;) {
    const std::uint64_t x = rng();
    if (limit == 0 || x < limit) {
      return x % bound;
    }
  }
}

/// Fisher–Yates shuffle of `items` in place.
template <class T>
void shuffle_in_place(std::vector<T>& items, std::mt19937_64& rng) {
  for (std::size_t i = items.size(); i > 1; --i) {
    const auto j = static_cast<std::size_t>(uniform_below(rng, i));
    using std::swap;
    swap(items[i - 1], items[j]);
  }
}

}  // namespace supersense
