// bomf/optim/hyperparameters.hpp — one hyperparameter setting: a valid point of a `SearchSpace`
// (search_space.hpp), with access by name.
//
// The stage-1 search of the BOMF drivers (bomf/drivers/hyperparameter_search.hpp) hands these to
// the user's training code: `h.value("learning_rate")`, `h.integer("batch_size")`,
// `h.label("scheduler")`.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bomf/core/error.hpp"
#include "bomf/optim/search_space.hpp"

namespace bomf {

namespace detail {

/// True when two spaces have the same dimensions (names, kinds, scales, bounds, choices).
inline bool same_search_space(const SearchSpace& a, const SearchSpace& b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (Eigen::Index i = 0; i < a.size(); ++i) {
    const Dimension& x = a.dimension(i);
    const Dimension& y = b.dimension(i);
    if (x.name != y.name || x.kind != y.kind || x.scale != y.scale || x.lower != y.lower ||
        x.upper != y.upper || x.choices != y.choices) {
      return false;
    }
  }
  return true;
}

}  // namespace detail

/// One hyperparameter setting: a valid point of a `SearchSpace` (one natural value per
/// dimension: the number itself for continuous and integer dimensions, the choice index for
/// categorical ones), with access by name. Immutable; cheap to copy (the space is shared).
class Hyperparameters {
 public:
  /// An empty setting (no space). Only `empty()`, `size()`, `values()` and comparison are usable.
  Hyperparameters() = default;

  /// The setting `values` of `space`. Throws bomf::invalid_argument for a null or empty space,
  /// or values that are not a valid setting (naming the first offending dimension and value).
  Hyperparameters(std::shared_ptr<const SearchSpace> space, std::vector<double> values)
      : space_(std::move(space)), values_(std::move(values)) {
    constexpr const char* where = "bomf::Hyperparameters";
    detail::require(space_ != nullptr, where, "argument 'space' is null");
    space_->require_nonempty(where);
    detail::require(static_cast<Eigen::Index>(values_.size()) == space_->size(), where,
                    "argument 'values' has ", values_.size(), " entries, expected ", space_->size(),
                    " (one per dimension of the search space)");
    for (std::size_t i = 0; i < values_.size(); ++i) {
      const Dimension& d = space_->dimensions()[i];
      detail::require(valid_value(d, values_[i]), where, "value ", values_[i], " of dimension '",
                      d.name, "' is invalid, expected ", describe(d));
    }
  }

  /// As above with a copy of `space`.
  Hyperparameters(const SearchSpace& space, std::vector<double> values)
      : Hyperparameters(std::make_shared<const SearchSpace>(space), std::move(values)) {}

  /// True for a default-constructed setting.
  [[nodiscard]] bool empty() const noexcept { return space_ == nullptr; }
  /// Number of dimensions.
  [[nodiscard]] std::size_t size() const noexcept { return values_.size(); }
  /// The natural values, in the order of the space's dimensions.
  [[nodiscard]] const std::vector<double>& values() const noexcept { return values_; }
  /// The space (throws bomf::invalid_argument for an empty setting).
  [[nodiscard]] const SearchSpace& space() const {
    detail::require(space_ != nullptr, "bomf::Hyperparameters::space", "the setting is empty");
    return *space_;
  }
  /// The shared space (null for an empty setting).
  [[nodiscard]] const std::shared_ptr<const SearchSpace>& shared_space() const noexcept {
    return space_;
  }

  /// True when the space has a dimension called `name`.
  [[nodiscard]] bool contains(std::string_view name) const {
    return space_ != nullptr && find(name) >= 0;
  }
  /// Index of dimension `name`; throws bomf::invalid_argument (listing the names) if absent.
  [[nodiscard]] std::size_t index(std::string_view name) const {
    const Eigen::Index i = space_ == nullptr ? -1 : find(name);
    if (i < 0) {
      std::string names;
      if (space_ != nullptr) {
        for (const Dimension& d : space_->dimensions()) {
          names += (names.empty() ? "'" : ", '") + d.name + "'";
        }
      }
      detail::throw_invalid_argument("bomf::Hyperparameters", "no dimension named '", name,
                                     "', expected one of ", names.empty() ? "(none)" : names);
    }
    return static_cast<std::size_t>(i);
  }

  /// The natural value of dimension `name`: the number for continuous and integer dimensions,
  /// the choice index (0, 1, …) for categorical ones (their label: `label`).
  [[nodiscard]] double value(std::string_view name) const { return values_[index(name)]; }

  /// The value of integer dimension `name` (or the choice index of a categorical one). Throws
  /// bomf::invalid_argument for a continuous dimension.
  [[nodiscard]] long long integer(std::string_view name) const {
    const std::size_t i = index(name);
    const Dimension& d = space_->dimensions()[i];
    detail::require(d.kind != DimensionKind::continuous, "bomf::Hyperparameters::integer",
                    "dimension '", d.name,
                    "' is continuous, expected an integer or categorical one");
    return static_cast<long long>(values_[i]);
  }

  /// The chosen label of categorical dimension `name`. Throws bomf::invalid_argument for other
  /// kinds.
  [[nodiscard]] const std::string& label(std::string_view name) const {
    const std::size_t i = index(name);
    const Dimension& d = space_->dimensions()[i];
    detail::require(d.kind == DimensionKind::categorical, "bomf::Hyperparameters::label",
                    "dimension '", d.name, "' is not categorical");
    return d.choices[static_cast<std::size_t>(values_[i])];
  }

  /// A copy with dimension `name` set to `value` (natural value; validated).
  [[nodiscard]] Hyperparameters with(std::string_view name, double value) const {
    std::vector<double> v = values_;
    v[index(name)] = value;
    return Hyperparameters(space_, std::move(v));
  }

  /// A copy with categorical dimension `name` set to the choice `choice_label`.
  [[nodiscard]] Hyperparameters with(std::string_view name, const std::string& choice_label) const {
    const std::size_t i = index(name);
    const Dimension& d = space_->dimensions()[i];
    detail::require(d.kind == DimensionKind::categorical, "bomf::Hyperparameters::with",
                    "dimension '", d.name, "' is not categorical, expected a number");
    const auto it = std::find(d.choices.begin(), d.choices.end(), choice_label);
    detail::require(it != d.choices.end(), "bomf::Hyperparameters::with", "'", choice_label,
                    "' is not a choice of '", d.name, "', expected ", describe(d));
    return with(name, static_cast<double>(it - d.choices.begin()));
  }

  /// "name=value" pairs separated by spaces, e.g. "learning_rate=3.2e-05 batch_size=16
  /// scheduler=cosine" (continuous values with 6 significant digits).
  [[nodiscard]] std::string to_string() const {
    std::string out;
    if (space_ == nullptr) {
      return out;
    }
    for (std::size_t i = 0; i < values_.size(); ++i) {
      const Dimension& d = space_->dimensions()[i];
      if (!out.empty()) {
        out += ' ';
      }
      out += d.name + '=';
      if (d.kind == DimensionKind::categorical) {
        out += d.choices[static_cast<std::size_t>(values_[i])];
      } else if (d.kind == DimensionKind::integer) {
        out += std::to_string(static_cast<long long>(values_[i]));
      } else {
        char buffer[32];
        std::snprintf(buffer, sizeof buffer, "%.6g", values_[i]);
        out += buffer;
      }
    }
    return out;
  }

  /// Same values (exactly) in spaces with the same dimensions.
  friend bool operator==(const Hyperparameters& a, const Hyperparameters& b) {
    if (a.values_ != b.values_) {
      return false;
    }
    if (a.space_ == b.space_ || a.space_ == nullptr || b.space_ == nullptr) {
      return a.space_ == b.space_;
    }
    return detail::same_search_space(*a.space_, *b.space_);
  }
  friend bool operator!=(const Hyperparameters& a, const Hyperparameters& b) { return !(a == b); }

 private:
  [[nodiscard]] Eigen::Index find(std::string_view name) const {
    for (Eigen::Index i = 0; i < space_->size(); ++i) {
      if (space_->dimension(i).name == name) {
        return i;
      }
    }
    return -1;
  }
  // The per-dimension rule of SearchSpace::is_valid.
  static bool valid_value(const Dimension& d, double v) {
    if (!std::isfinite(v)) {
      return false;
    }
    switch (d.kind) {
      case DimensionKind::continuous:
        return v >= d.lower && v <= d.upper;
      case DimensionKind::integer:
        return v >= d.lower && v <= d.upper && std::floor(v) == v;
      case DimensionKind::categorical:
        break;
    }
    return v >= 0.0 && v < static_cast<double>(d.choices.size()) && std::floor(v) == v;
  }
  static std::string describe(const Dimension& d) {
    switch (d.kind) {
      case DimensionKind::continuous:
        return detail::concat("a number in [", d.lower, ", ", d.upper, "]");
      case DimensionKind::integer:
        return detail::concat("an integer in [", static_cast<long long>(d.lower), ", ",
                              static_cast<long long>(d.upper), "]");
      case DimensionKind::categorical:
        break;
    }
    std::string labels;
    for (const std::string& c : d.choices) {
      labels += (labels.empty() ? "'" : ", '") + c + "'";
    }
    return detail::concat("a choice index in [0, ", d.choices.size(), ") (", labels, ")");
  }

  std::shared_ptr<const SearchSpace> space_;
  std::vector<double> values_;
};

}  // namespace bomf
