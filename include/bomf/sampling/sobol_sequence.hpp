// bomf/sampling/sobol_sequence.hpp — scrambled Sobol quasi-random points in the unit cube.
#pragma once

#include <Eigen/Core>
#include <array>
#include <boost/random/sobol.hpp>
#include <cstdint>
#include <random>
#include <vector>

#include "bomf/core/error.hpp"

namespace bomf {

/// The Sobol sequence in [0, 1)^d (Sobol 1967; direction numbers of Joe & Kuo 2008, "Constructing
/// Sobol sequences with better two-dimensional projections", SIAM J. Sci. Comput. 30, via
/// Boost.Random's `sobol_engine`, up to 3667 dimensions), optionally randomized as PyTorch's
/// `SobolEngine(scramble=True)` does in spirit (and BoTorch's QMC samplers through it):
///
/// - a random linear matrix scramble (LMS, Matoušek 1998, "On the L2-discrepancy for anchored
///   boxes", J. Complexity 14): per dimension, a random lower-triangular binary matrix with unit
///   diagonal acts on the 32 binary digits of each coordinate (digit k of the result depends on
///   digits 1..k of the input only, bijectively). LMS is linear over GF(2), so applying it to the
///   generated digits equals scrambling the generator matrices;
/// - a random digital shift (XOR with a random 32-bit word per dimension).
///
/// Both preserve the (t, m, s)-net structure: every 1-D projection of the first 2^k points has
/// exactly one point in each interval [j/2^k, (j+1)/2^k), and every 2-D projection keeps the
/// t-value of the unscrambled sequence. The randomness comes from std::mt19937_64 seeded with
/// `seed` (raw 64-bit outputs only, so the points are identical on every platform), consumed
/// coordinate by coordinate: coordinate j's matrix and then its shift take outputs
/// 33j … 33j + 32, so they depend on (seed, j) only, never on the dimension. Hence the first
/// d′ coordinates of a d-dimensional sequence (d′ ≤ d, same seed) are exactly the points of the
/// d′-dimensional sequence: a prefix of coordinates can be extended by more coordinates later
/// (qLogNEHVI draws its baseline's n_b·m coordinates, then the q·m that follow them, as one
/// joint sequence, as BoTorch's sampler extends its base samples).
///
/// Point order: the standard sequence starting at the origin (point 0), in Gray-code order
/// (Antonov & Saleev 1979) as Boost and PyTorch. Boost's engine (which skips the origin) is used
/// only at construction, to read the direction numbers v_c (the XOR of points 2^c − 1 and 2^c);
/// like PyTorch, the scramble is then applied once to the direction numbers and the shift to the
/// origin, and point n is point n − 1 XOR (scrambled) v_{ctz(n)}.
/// Unscrambled coordinates are the exact dyadic values y/2^32; scrambled ones are centred in
/// their finest cell, (y + 1/2)/2^32, so they lie strictly inside (0, 1) — as the normal quantile
/// needs — without leaving the cell, so the stratification above is unaffected.
/// At most 2^32 points. Cost: construction O(32² d); each point O(d) (one XOR per coordinate).
class SobolSequence {
 public:
  /// Number of binary digits per coordinate.
  static constexpr int bits = 32;
  /// The largest supported dimension (Boost's default direction-number table).
  static constexpr int max_dimension =
      static_cast<int>(boost::random::default_sobol_table::max_dimension);

  /// A sequence in `dim` dimensions (1 ≤ dim ≤ max_dimension); scrambled (LMS + digital shift)
  /// from `seed` when `scramble` is true (the seed is unused otherwise).
  /// \throws bomf::invalid_argument when dim is out of range.
  explicit SobolSequence(int dim, std::uint64_t seed = 0, bool scramble = true)
      : dim_(checked_dim(dim)), scramble_(scramble) {
    const auto d = static_cast<std::size_t>(dim);
    directions_.assign(bits * d, 0u);
    shift_.assign(d, 0u);
    read_direction_numbers();
    if (scramble_) {
      std::mt19937_64 rng(seed);
      std::array<std::uint32_t, bits> columns{};
      for (std::size_t j = 0; j < d; ++j) {
        // Column p of the matrix (the image of the input digit at bit position p): the unit
        // diagonal bit p plus random bits at the less significant positions below it.
        for (int p = 0; p < bits; ++p) {
          const std::uint32_t below = p == 0 ? 0u : ((std::uint32_t{1} << p) - 1u);
          columns[static_cast<std::size_t>(p)] =
              (std::uint32_t{1} << p) | (static_cast<std::uint32_t>(rng()) & below);
        }
        for (std::size_t c = 0; c < bits; ++c) {
          std::uint32_t& v = directions_[c * d + j];
          v = linear_scramble(v, columns);
        }
        shift_[j] = static_cast<std::uint32_t>(rng());
      }
    }
    state_ = shift_;
  }

  /// The dimension d.
  int dim() const noexcept { return dim_; }

  /// Whether the sequence is scrambled.
  bool scrambled() const noexcept { return scramble_; }

  /// The index of the next point (the number of points drawn or skipped so far).
  std::uint64_t position() const noexcept { return position_; }

  /// The next `n` points as the rows of an n × d matrix.
  /// \throws bomf::invalid_argument when n < 0 or the sequence would pass 2^32 points.
  Eigen::MatrixXd draw(Eigen::Index n) {
    detail::require(n >= 0, "bomf::SobolSequence::draw", "argument 'n' is ", n, ", expected ≥ 0");
    Eigen::MatrixXd out(n, dim_);
    draw_into(out);
    return out;
  }

  /// Fills the rows of `out` (n × d) with the next n points.
  /// \throws bomf::invalid_argument when out does not have d columns or the sequence would pass
  /// 2^32 points.
  void draw_into(Eigen::Ref<Eigen::MatrixXd> out) {
    constexpr const char* where = "bomf::SobolSequence::draw_into";
    detail::require(out.cols() == dim_, where, "argument 'out' has ", out.cols(),
                    " columns, expected ", dim_);
    require_capacity(static_cast<std::uint64_t>(out.rows()), where);
    constexpr double scale = 1.0 / 4294967296.0;  // 2^−32
    const double offset = scramble_ ? 0.5 : 0.0;
    const auto d = static_cast<std::size_t>(dim_);
    for (Eigen::Index i = 0; i < out.rows(); ++i) {
      for (std::size_t j = 0; j < d; ++j) {
        out(i, static_cast<Eigen::Index>(j)) = (static_cast<double>(state_[j]) + offset) * scale;
      }
      ++position_;
      if (position_ < limit) {
        const std::uint32_t* v = &directions_[trailing_zeros(position_) * d];
        for (std::size_t j = 0; j < d; ++j) {
          state_[j] ^= v[j];
        }
      }
    }
  }

  /// Skips the next `n` points (as if drawn). Cost O(32·d).
  /// \throws bomf::invalid_argument when the sequence would pass 2^32 points.
  void fast_forward(std::uint64_t n) {
    require_capacity(n, "bomf::SobolSequence::fast_forward");
    position_ += n;
    if (position_ < limit) {
      set_state_to_position();
    }
  }

  /// Restarts at point 0 (the scramble is kept).
  void reset() {
    position_ = 0;
    state_ = shift_;
  }

 private:
  static constexpr std::uint64_t limit = std::uint64_t{1} << bits;

  static int checked_dim(int dim) {
    detail::require(dim >= 1 && dim <= max_dimension, "bomf::SobolSequence", "argument 'dim' is ",
                    dim, ", expected 1 ≤ dim ≤ ", max_dimension);
    return dim;
  }

  void require_capacity(std::uint64_t n, const char* where) const {
    detail::require(n <= limit - position_, where, "drawing ", n, " points from position ",
                    position_, " would pass the 2^32 points of a 32-bit Sobol sequence");
  }

  static std::size_t trailing_zeros(std::uint64_t n) noexcept {
    std::size_t c = 0;
    while ((n & 1u) == 0u) {
      n >>= 1;
      ++c;
    }
    return c;
  }

  /// L·raw over GF(2): the XOR of the columns at the set bits of `raw`.
  static std::uint32_t linear_scramble(std::uint32_t raw,
                                       const std::array<std::uint32_t, bits>& columns) noexcept {
    std::uint32_t y = 0;
    for (std::size_t p = 0; raw != 0; ++p, raw >>= 1) {
      if ((raw & 1u) != 0u) {
        y ^= columns[p];
      }
    }
    return y;
  }

  /// v_c = point(2^c − 1) XOR point(2^c) of the unscrambled sequence, read from Boost's engine
  /// (whose first output is point 1).
  void read_direction_numbers() {
    const auto d = static_cast<std::size_t>(dim_);
    boost::random::sobol_engine<std::uint32_t, bits> engine(d);
    std::vector<std::uint32_t> previous(d);
    for (std::size_t c = 0; c < bits; ++c) {
      const std::uint64_t n = std::uint64_t{1} << c;  // point 2^c; point 2^c − 1 before it
      engine.seed();
      if (n >= 2) {
        engine.discard(static_cast<boost::uintmax_t>(n - 2) * d);
      }
      for (std::size_t j = 0; j < d; ++j) {
        previous[j] = n >= 2 ? static_cast<std::uint32_t>(engine()) : 0u;
      }
      for (std::size_t j = 0; j < d; ++j) {
        directions_[c * d + j] = previous[j] ^ static_cast<std::uint32_t>(engine());
      }
    }
  }

  /// state = shift XOR the scrambled direction numbers at the set bits of gray(position).
  void set_state_to_position() {
    const auto d = static_cast<std::size_t>(dim_);
    state_ = shift_;
    std::uint64_t gray = position_ ^ (position_ >> 1);
    for (std::size_t c = 0; gray != 0; ++c, gray >>= 1) {
      if ((gray & 1u) != 0u) {
        for (std::size_t j = 0; j < d; ++j) {
          state_[j] ^= directions_[c * d + j];
        }
      }
    }
  }

  int dim_;
  bool scramble_;
  std::uint64_t position_ = 0;
  std::vector<std::uint32_t> directions_;  ///< 32 × d, row c = (scrambled) v_c
  std::vector<std::uint32_t> shift_;       ///< d: the digital shift (0 when unscrambled)
  std::vector<std::uint32_t> state_;       ///< d: point `position_`, as 32-bit integers
};

}  // namespace bomf
