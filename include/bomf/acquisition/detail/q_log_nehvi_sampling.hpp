// bomf/acquisition/detail/q_log_nehvi_sampling.hpp — quasi-Monte-Carlo normal base samples
// for qLogNEHVI: Sobol points (Boost's Joe–Kuo tables) randomized by a linear matrix scramble
// and a digital shift drawn from the seed (as torch's SobolEngine(scramble=True)), mapped
// through the normal quantile. A randomized Sobol net keeps the
// low-discrepancy structure, so sample averages of smooth integrands converge faster than with
// i.i.d. normals (as BoTorch's SobolQMCNormalSampler). Beyond Boost's 3667 dimensions the
// samples fall back to pseudo-random normals (BoTorch does so beyond 21201).
//
// bomf/sampling/ is meant to own the public QMC samplers; this private copy keeps the
// acquisition self-contained (the lead may route it through bomf/sampling later).
#pragma once

#include <Eigen/Core>
#include <boost/math/policies/policy.hpp>
#include <boost/math/special_functions/erf.hpp>
#include <boost/random/sobol.hpp>
#include <cstdint>
#include <random>
#include <vector>

namespace bomf::detail {

/// Φ⁻¹(u) for u ∈ (0, 1).
inline double qnehvi_normal_quantile(double u) {
  using namespace boost::math::policies;
  return -1.4142135623730951 * boost::math::erfc_inv(2.0 * u, make_policy(promote_double<false>()));
}

/// SplitMix64 (Steele, Lea & Flood 2014): a well-mixed 64-bit value for each input.
inline std::uint64_t qnehvi_splitmix64(std::uint64_t x) noexcept {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

/// Standard-normal base samples, deterministic given `seed`: row s is the s-th point of a
/// scrambled Sobol sequence in dimension `dim` mapped through Φ⁻¹; only columns
/// first_col … dim−1 are returned (S × (dim − first_col)). Coordinate i's scramble depends on
/// (seed, i) alone, so the columns of a prefix do not depend on `dim`: qLogNEHVI draws the
/// baseline's n_b·m columns once and later the q·m columns that follow them, and the pairs
/// (baseline, new) are points of one joint Sobol sequence (as BoTorch's sampler extends its
/// base samples). Cost O(S · dim) plus the Sobol engine's O(dim) setup.
inline Eigen::MatrixXd qnehvi_normal_base_samples(Eigen::Index S, Eigen::Index dim,
                                                  std::uint64_t seed, Eigen::Index first_col = 0) {
  Eigen::MatrixXd out(S, dim - first_col);
  if (dim == first_col || S == 0) {
    return out;
  }
  constexpr double kScale = 1.0 / 9007199254740992.0;  // 2⁻⁵³
  constexpr Eigen::Index kMaxSobolDim = 3667;
  const std::uint64_t key = qnehvi_splitmix64(seed);
  if (dim > kMaxSobolDim) {
    for (Eigen::Index i = first_col; i < dim; ++i) {
      std::mt19937_64 rng(qnehvi_splitmix64(key + static_cast<std::uint64_t>(i)));
      for (Eigen::Index s = 0; s < S; ++s) {
        const double u = (static_cast<double>(rng() >> 11) + 0.5) * kScale;
        out(s, i - first_col) = qnehvi_normal_quantile(u);
      }
    }
    return out;
  }
  // Linear matrix scramble + digital shift (Matoušek 1998) per coordinate: y = M x ⊕ e over
  // GF(2), M random lower triangular (most significant bit first) with unit diagonal.
  const Eigen::Index cols = dim - first_col;
  std::vector<std::uint64_t> rows(static_cast<std::size_t>(cols) * 64);
  std::vector<std::uint64_t> shift(static_cast<std::size_t>(cols));
  for (Eigen::Index i = first_col; i < dim; ++i) {
    std::uint64_t state = qnehvi_splitmix64(key + static_cast<std::uint64_t>(i));
    shift[static_cast<std::size_t>(i - first_col)] = qnehvi_splitmix64(state);
    for (int b = 0; b < 64; ++b) {
      state = qnehvi_splitmix64(state + 0x632BE59BD9B4E019ULL);
      const std::uint64_t higher = b == 0 ? 0 : ~std::uint64_t{0} << (64 - b);
      rows[static_cast<std::size_t>(i - first_col) * 64 + static_cast<std::size_t>(b)] =
          (state & higher) | (std::uint64_t{1} << (63 - b));
    }
  }
  boost::random::sobol engine(static_cast<std::size_t>(dim));
  for (Eigen::Index s = 0; s < S; ++s) {
    for (Eigen::Index i = 0; i < dim; ++i) {
      const auto x = static_cast<std::uint64_t>(engine());
      if (i < first_col) {
        continue;
      }
      const std::uint64_t* row = rows.data() + static_cast<std::size_t>(i - first_col) * 64;
      std::uint64_t y = 0;
      for (int b = 0; b < 64; ++b) {
        y |= static_cast<std::uint64_t>(__builtin_parityll(row[b] & x)) << (63 - b);
      }
      y ^= shift[static_cast<std::size_t>(i - first_col)];
      const double u = (static_cast<double>(y >> 11) + 0.5) * kScale;
      out(s, i - first_col) = qnehvi_normal_quantile(u);
    }
  }
  return out;
}

}  // namespace bomf::detail
