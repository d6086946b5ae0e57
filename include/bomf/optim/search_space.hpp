// bomf/optim/search_space.hpp — hyperparameter search spaces (continuous linear/log, integer,
// categorical) and their unit-cube encoding for the GP and the acquisition optimizer.
//
// Encoding (one or more columns of u ∈ [0,1]^D per dimension, in the order of definition):
//  * continuous, linear:  u = (v − lo) / (hi − lo).
//  * continuous, log:     u = (log v − log lo) / (log hi − log lo)  (learning rate in [1e-6,
//  1e-4]).
//  * integer in [a, b]:   K = b − a + 1 equal-width bins; v ↦ bin centre (v − a + ½) / K, and
//                         u ↦ a + min(⌊u K⌋, K − 1). Equal widths give every integer the same
//                         share of the relaxed axis (rounding to the nearest of (v − a)/(b − a)
//                         would give the end points half-width bins).
//  * categorical, k choices: one-hot, k columns. One-hot imposes no artificial order between
//                         choices (an index relaxation would claim "cosine" lies between "linear"
//                         and "constant"), at the price of k columns; decoding takes the arg-max.
//                         This is the encoding Ax and BoTorch's mixed optimizers use.
// Decoding then encoding snaps any u to the encoding of a valid setting (`snap`).
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "bomf/core/checks.hpp"
#include "bomf/core/error.hpp"

namespace bomf {

/// What a search-space dimension holds.
enum class DimensionKind { continuous, integer, categorical };

/// Scale of a continuous dimension.
enum class Scale { linear, log };

/// One dimension of a `SearchSpace` (read access; built through SearchSpace::add_*).
struct Dimension {
  std::string name;
  DimensionKind kind = DimensionKind::continuous;
  Scale scale = Scale::linear;
  double lower = 0.0;                ///< continuous/integer: lower bound (integers stored exactly).
  double upper = 1.0;                ///< continuous/integer: upper bound.
  std::vector<std::string> choices;  ///< categorical labels.
  Eigen::Index offset = 0;           ///< first encoded column.
  Eigen::Index width = 1;            ///< number of encoded columns (k for categoricals).

  /// Number of valid values: integer b − a + 1, categorical k, continuous 0 (infinite).
  [[nodiscard]] long long cardinality() const {
    if (kind == DimensionKind::integer)
      return static_cast<long long>(upper - lower) + 1;
    if (kind == DimensionKind::categorical)
      return static_cast<long long>(choices.size());
    return 0;
  }
  [[nodiscard]] bool is_discrete() const { return kind != DimensionKind::continuous; }
};

/// A box of hyperparameters: continuous (linear or log scale), integer and categorical
/// dimensions, with a mapping to and from the unit cube [0,1]^D used by the GP (see the file
/// comment for the encoding). A setting is a `std::vector<double>` of natural values, one per
/// dimension: the number itself for continuous and integer dimensions, the choice index
/// (0, 1, …) for categorical ones (its label via `label`).
class SearchSpace {
 public:
  /// Adds a continuous dimension on [lower, upper] (lower < upper, finite; for Scale::log also
  /// lower > 0). Returns *this for chaining. Throws bomf::invalid_argument otherwise.
  SearchSpace& add_continuous(std::string name, double lower, double upper,
                              Scale scale = Scale::linear) {
    constexpr const char* where = "bomf::SearchSpace::add_continuous";
    detail::require(std::isfinite(lower) && std::isfinite(upper) && lower < upper, where,
                    "dimension '", name, "' has bounds [", lower, ", ", upper,
                    "], expected finite lower < upper");
    detail::require(scale == Scale::linear || lower > 0.0, where, "dimension '", name,
                    "' is log-scaled with lower bound ", lower, ", expected a bound > 0");
    Dimension d;
    d.name = std::move(name);
    d.kind = DimensionKind::continuous;
    d.scale = scale;
    d.lower = lower;
    d.upper = upper;
    push(std::move(d));
    return *this;
  }

  /// Adds an integer dimension {lower, …, upper} (lower ≤ upper; |bounds| ≤ 2^52 so that they are
  /// exact doubles). A single value (lower == upper) is allowed and encodes to u = ½.
  SearchSpace& add_integer(std::string name, long long lower, long long upper) {
    constexpr const char* where = "bomf::SearchSpace::add_integer";
    detail::require(lower <= upper, where, "dimension '", name, "' has bounds [", lower, ", ",
                    upper, "], expected lower <= upper");
    constexpr long long limit = 1LL << 52;
    detail::require(lower >= -limit && upper <= limit, where, "dimension '", name,
                    "' has bounds beyond ±2^52, which doubles cannot hold exactly");
    Dimension d;
    d.name = std::move(name);
    d.kind = DimensionKind::integer;
    d.lower = static_cast<double>(lower);
    d.upper = static_cast<double>(upper);
    push(std::move(d));
    return *this;
  }

  /// Adds a categorical dimension with the given labels (at least one, no duplicates).
  SearchSpace& add_categorical(std::string name, std::vector<std::string> choices) {
    constexpr const char* where = "bomf::SearchSpace::add_categorical";
    detail::require(!choices.empty(), where, "dimension '", name,
                    "' has an empty list of choices, expected at least one");
    std::vector<std::string> sorted = choices;
    std::sort(sorted.begin(), sorted.end());
    const auto dup = std::adjacent_find(sorted.begin(), sorted.end());
    detail::require(dup == sorted.end(), where, "dimension '", name, "' lists choice '",
                    dup == sorted.end() ? std::string() : *dup, "' twice");
    Dimension d;
    d.name = std::move(name);
    d.kind = DimensionKind::categorical;
    d.width = static_cast<Eigen::Index>(choices.size());
    d.choices = std::move(choices);
    push(std::move(d));
    return *this;
  }

  /// Number of dimensions (settings have this many entries).
  [[nodiscard]] Eigen::Index size() const { return static_cast<Eigen::Index>(dims_.size()); }
  /// Number of encoded columns D.
  [[nodiscard]] Eigen::Index encoded_dim() const { return encoded_; }
  /// Dimension i.
  [[nodiscard]] const Dimension& dimension(Eigen::Index i) const {
    detail::require(i >= 0 && i < size(), "bomf::SearchSpace::dimension", "argument 'i' is ", i,
                    ", expected an index in [0, ", size(), ")");
    return dims_[static_cast<std::size_t>(i)];
  }
  /// All dimensions.
  [[nodiscard]] const std::vector<Dimension>& dimensions() const { return dims_; }
  /// Label of choice `index` of categorical dimension i.
  [[nodiscard]] const std::string& label(Eigen::Index i, double index) const {
    const Dimension& d = dimension(i);
    detail::require(d.kind == DimensionKind::categorical, "bomf::SearchSpace::label", "dimension '",
                    d.name, "' is not categorical");
    const auto k = static_cast<long long>(index);
    detail::require(k >= 0 && k < d.cardinality() && static_cast<double>(k) == index,
                    "bomf::SearchSpace::label", "choice index ", index, " of '", d.name,
                    "' is invalid, expected an integer in [0, ", d.cardinality(), ")");
    return d.choices[static_cast<std::size_t>(k)];
  }

  /// Throws bomf::invalid_argument when the space has no dimension (`where` names the caller).
  void require_nonempty(const char* where) const {
    detail::require(!dims_.empty(), where,
                    "the search space is empty, expected at least one "
                    "dimension");
  }

  /// True when `setting` (one natural value per dimension) is valid: within bounds, integral
  /// for integer dimensions, a valid index for categorical ones.
  [[nodiscard]] bool is_valid(const std::vector<double>& setting) const {
    if (static_cast<Eigen::Index>(setting.size()) != size())
      return false;
    for (std::size_t i = 0; i < dims_.size(); ++i) {
      const Dimension& d = dims_[i];
      const double v = setting[i];
      if (!std::isfinite(v))
        return false;
      switch (d.kind) {
        case DimensionKind::continuous:
          if (v < d.lower || v > d.upper)
            return false;
          break;
        case DimensionKind::integer:
          if (v < d.lower || v > d.upper || std::floor(v) != v)
            return false;
          break;
        case DimensionKind::categorical:
          if (v < 0 || v >= static_cast<double>(d.choices.size()) || std::floor(v) != v)
            return false;
          break;
      }
    }
    return true;
  }

  /// The unit-cube encoding (length D) of a valid setting. Throws bomf::invalid_argument for an
  /// invalid one. \b Cost: O(D).
  [[nodiscard]] Eigen::VectorXd encode(const std::vector<double>& setting) const {
    constexpr const char* where = "bomf::SearchSpace::encode";
    require_nonempty(where);
    detail::require(static_cast<Eigen::Index>(setting.size()) == size(), where, "argument ",
                    "'setting' has ", setting.size(), " values, expected ", size());
    detail::require(is_valid(setting), where, "argument 'setting' is not a valid setting of the ",
                    "space (out of bounds, non-integral, or a bad choice index)");
    Eigen::VectorXd u = Eigen::VectorXd::Zero(encoded_);
    for (std::size_t i = 0; i < dims_.size(); ++i) {
      const Dimension& d = dims_[i];
      const double v = setting[i];
      switch (d.kind) {
        case DimensionKind::continuous:
          u(d.offset) = d.scale == Scale::log ? (std::log(v) - std::log(d.lower)) /
                                                    (std::log(d.upper) - std::log(d.lower))
                                              : (v - d.lower) / (d.upper - d.lower);
          u(d.offset) = std::clamp(u(d.offset), 0.0, 1.0);
          break;
        case DimensionKind::integer:
          u(d.offset) = (v - d.lower + 0.5) / static_cast<double>(d.cardinality());
          break;
        case DimensionKind::categorical:
          u(d.offset + static_cast<Eigen::Index>(v)) = 1.0;
          break;
      }
    }
    return u;
  }

  /// The valid setting that u ∈ R^D (finite; entries outside [0,1] are clipped) stands for:
  /// continuous dimensions mapped back (log dims through exp, clamped to their bounds), integers
  /// by their bin, categoricals by the arg-max of their one-hot block (first on ties).
  /// \b Cost: O(D).
  [[nodiscard]] std::vector<double> decode(const Eigen::Ref<const Eigen::VectorXd>& u) const {
    constexpr const char* where = "bomf::SearchSpace::decode";
    require_nonempty(where);
    detail::require_shape(u, encoded_, 1, where, "u");
    detail::require_finite(u, where, "u");
    std::vector<double> setting(dims_.size());
    for (std::size_t i = 0; i < dims_.size(); ++i) {
      const Dimension& d = dims_[i];
      switch (d.kind) {
        case DimensionKind::continuous: {
          const double t = std::clamp(u(d.offset), 0.0, 1.0);
          const double v =
              d.scale == Scale::log
                  ? std::exp(std::log(d.lower) + t * (std::log(d.upper) - std::log(d.lower)))
                  : d.lower + t * (d.upper - d.lower);
          setting[i] = std::clamp(v, d.lower, d.upper);
          break;
        }
        case DimensionKind::integer: {
          const double t = std::clamp(u(d.offset), 0.0, 1.0);
          const long long k = d.cardinality();
          const auto bin =
              std::min(static_cast<long long>(std::floor(t * static_cast<double>(k))), k - 1);
          setting[i] = d.lower + static_cast<double>(bin);
          break;
        }
        case DimensionKind::categorical: {
          Eigen::Index best = 0;
          u.segment(d.offset, d.width).maxCoeff(&best);
          setting[i] = static_cast<double>(best);
          break;
        }
      }
    }
    return setting;
  }

  /// encode(decode(u)) for the discrete dimensions; continuous columns are only clipped to [0,1]
  /// (so a continuous value is not perturbed by an exp/log round trip). The result is the
  /// encoding of a valid setting.
  [[nodiscard]] Eigen::VectorXd snap(const Eigen::Ref<const Eigen::VectorXd>& u) const {
    const std::vector<double> setting = decode(u);
    Eigen::VectorXd out = encode(setting);
    for (const Dimension& d : dims_) {
      if (d.kind == DimensionKind::continuous) {
        out(d.offset) = std::clamp(u(d.offset), 0.0, 1.0);
      }
    }
    return out;
  }

  /// True when the discrete columns of u are exactly the encoding of valid values (integers at
  /// a bin centre, categoricals an exact one-hot vector) and continuous columns lie in [0,1].
  [[nodiscard]] bool is_valid_encoding(const Eigen::Ref<const Eigen::VectorXd>& u) const {
    if (u.size() != encoded_ || !u.allFinite())
      return false;
    for (const Dimension& d : dims_) {
      if (d.kind == DimensionKind::continuous) {
        if (u(d.offset) < 0.0 || u(d.offset) > 1.0)
          return false;
      }
    }
    return snap(u) == u;
  }

  /// Number of combinations of the discrete dimensions' values (1 when there are none); saturates
  /// at `cap` to avoid overflow.
  [[nodiscard]] long long discrete_combinations(long long cap = 1LL << 40) const {
    long long total = 1;
    for (const Dimension& d : dims_) {
      if (d.is_discrete()) {
        if (total > cap / std::max(1LL, d.cardinality()))
          return cap;
        total *= d.cardinality();
      }
    }
    return total;
  }

 private:
  void push(Dimension d) {
    d.offset = encoded_;
    encoded_ += d.width;
    dims_.push_back(std::move(d));
  }

  std::vector<Dimension> dims_;
  Eigen::Index encoded_ = 0;
};

}  // namespace bomf
