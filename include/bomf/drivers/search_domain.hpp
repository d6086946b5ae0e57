// bomf/drivers/search_domain.hpp — where a Bayesian-optimization search looks: the (bounded)
// probability simplex of fusion coefficients, or the box of a hyperparameter search space.
//
// A domain is a policy class of `MultiObjectiveSearch` (multi_objective_search.hpp) and of the
// stage-1 search: it checks points, maps them to the GP's inputs, draws the quasi-random design,
// and maximizes an acquisition function over itself. Points are Eigen vectors in natural units:
// coefficients δ (length N) on a `SimplexDomain`; settings (one natural value per dimension: the
// number, or the choice index of a categorical) of a `BoxDomain`, whose GPs work on the
// unit-cube encoding (SearchSpace::encode).
//
// Quasi-random points: row j of a scrambled Sobol sequence seeded by the search, mapped to the
// simplex by sorted spacings (`sobol_simplex_points`), or to a valid setting coordinate by
// coordinate (`setting_from_unit`: continuous dimensions linearly or logarithmically between
// their bounds, discrete ones by equal-width bins).
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bomf/core/checks.hpp"
#include "bomf/core/error.hpp"
#include "bomf/optim/maximize_in_box.hpp"
#include "bomf/optim/maximize_on_simplex.hpp"
#include "bomf/optim/search_space.hpp"
#include "bomf/optim/simplex.hpp"
#include "bomf/optim/simplex_candidates.hpp"
#include "bomf/sampling/sobol_sequence.hpp"

namespace bomf {

/// Maps a point s ∈ [0, 1]^{space.size()} (one coordinate per dimension) to a valid setting:
/// continuous dimensions linearly or logarithmically between their bounds, discrete ones by
/// equal-width bins (index ⌊s·k⌋, the last bin closed). Returns the natural values.
inline Eigen::VectorXd setting_from_unit(const SearchSpace& space,
                                         const Eigen::Ref<const Eigen::VectorXd>& s) {
  detail::require_shape(s, space.size(), 1, "bomf::setting_from_unit", "s");
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

/// The probability simplex {δ ≥ 0, Σδ = 1}, optionally bounded (lower ≤ δ ≤ upper), as a
/// search domain. The GP input is δ itself.
class SimplexDomain {
 public:
  /// Settings of the acquisition maximizer over this domain.
  using OptimizerOptions = SimplexOptimizerOptions;

  /// The domain of `simplex` (dimension ≥ 2). Throws bomf::invalid_argument otherwise.
  SimplexDomain(Simplex simplex)  // NOLINT(google-explicit-constructor): a Simplex is a domain
      : simplex_(std::move(simplex)) {
    detail::require(simplex_.dim() >= 2, "bomf::SimplexDomain", "the simplex has dimension ",
                    simplex_.dim(), ", expected N >= 2 coefficients");
  }

  /// The simplex.
  [[nodiscard]] const Simplex& simplex() const { return simplex_; }
  /// Length of a point: N.
  [[nodiscard]] Eigen::Index dim() const { return simplex_.dim(); }
  /// Length of a GP input: N.
  [[nodiscard]] Eigen::Index encoded_dim() const { return simplex_.dim(); }
  /// The GP input of δ: δ.
  [[nodiscard]] Eigen::VectorXd encode(const Eigen::Ref<const Eigen::VectorXd>& x) const {
    return x;
  }
  /// Throws bomf::invalid_argument unless x has length N, is finite and lies in the simplex
  /// (bounds exactly, |Σx − 1| ≤ 1e-9).
  void check_point(const Eigen::Ref<const Eigen::VectorXd>& x, const char* where) const {
    detail::require_shape(x, dim(), 1, where, "x");
    detail::require_finite(x, where, "x");
    detail::require(simplex_.contains(x, 1e-9), where,
                    "argument 'x' is not on the simplex (bounds must hold exactly and the "
                    "entries sum to ",
                    x.sum(), ", expected 1 within 1e-9)");
  }
  /// Rows [first, first + n) of the domain's quasi-random sequence with `seed` (n × N).
  [[nodiscard]] Eigen::MatrixXd quasi_random(Eigen::Index first, Eigen::Index n,
                                             std::uint64_t seed) const {
    return sobol_simplex_points(simplex_, first + n, seed).bottomRows(n);
  }
  /// Empty when `options` are valid here (their best_points are set by the search).
  [[nodiscard]] std::string validate(const OptimizerOptions& options) const {
    OptimizerOptions o = options;
    o.best_points.resize(0, 0);
    return o.validate(simplex_);
  }
  /// The maximizer of `acquisition` (maximize_on_simplex with `options`, seeded by `seed`,
  /// started also from `best_points`, the observed Pareto-optimal points), or nothing when the
  /// best value is not finite.
  template <class Acquisition>
  std::optional<Eigen::VectorXd> maximize(Acquisition& acquisition, OptimizerOptions options,
                                          std::uint64_t seed,
                                          const Eigen::MatrixXd& best_points) const {
    options.seed = seed;
    options.best_points = best_points;
    const SimplexOptimizerResult r = maximize_on_simplex(acquisition, simplex_, options);
    if (!std::isfinite(r.value))
      return std::nullopt;
    return r.x;
  }

 private:
  Simplex simplex_;
};

/// The valid settings of a hyperparameter `SearchSpace` as a search domain. The GP input is the
/// unit-cube encoding of a setting (SearchSpace::encode).
class BoxDomain {
 public:
  /// Settings of the acquisition maximizer over this domain.
  using OptimizerOptions = BoxOptimizerOptions;

  /// The domain of `space` (at least one dimension). Throws bomf::invalid_argument otherwise.
  BoxDomain(SearchSpace space)  // NOLINT(google-explicit-constructor): a space is a domain
      : space_(std::move(space)) {
    space_.require_nonempty("bomf::BoxDomain");
  }

  /// The search space.
  [[nodiscard]] const SearchSpace& space() const { return space_; }
  /// Length of a point: the number of dimensions.
  [[nodiscard]] Eigen::Index dim() const { return space_.size(); }
  /// Length of a GP input: the encoding's.
  [[nodiscard]] Eigen::Index encoded_dim() const { return space_.encoded_dim(); }
  /// The unit-cube encoding of a setting.
  [[nodiscard]] Eigen::VectorXd encode(const Eigen::Ref<const Eigen::VectorXd>& x) const {
    return space_.encode(std::vector<double>(x.data(), x.data() + x.size()));
  }
  /// Throws bomf::invalid_argument unless x is a valid setting of the space.
  void check_point(const Eigen::Ref<const Eigen::VectorXd>& x, const char* where) const {
    detail::require_shape(x, dim(), 1, where, "x");
    detail::require_finite(x, where, "x");
    const std::vector<double> setting(x.data(), x.data() + x.size());
    detail::require(space_.is_valid(setting), where,
                    "argument 'x' is not a valid setting of the search space (out of bounds, "
                    "non-integral or a bad choice index)");
  }
  /// Rows [first, first + n) of the scrambled Sobol sequence in dim() dimensions with `seed`,
  /// mapped to valid settings by setting_from_unit (n × dim()).
  [[nodiscard]] Eigen::MatrixXd quasi_random(Eigen::Index first, Eigen::Index n,
                                             std::uint64_t seed) const {
    SobolSequence sobol(static_cast<int>(dim()), seed);
    sobol.fast_forward(static_cast<std::uint64_t>(first));
    const Eigen::MatrixXd unit = sobol.draw(n);
    Eigen::MatrixXd out(n, dim());
    for (Eigen::Index r = 0; r < n; ++r) {
      out.row(r) = setting_from_unit(space_, unit.row(r).transpose()).transpose();
    }
    return out;
  }
  /// Empty when `options` are valid.
  [[nodiscard]] std::string validate(const OptimizerOptions& options) const {
    return options.validate();
  }
  /// The maximizer of `acquisition` over the unit-cube encoding (maximize_in_box, discrete
  /// dimensions enumerated or snapped), as a setting; nothing when the best value is not finite.
  /// `best_points` is not used by the box optimizer.
  template <class Acquisition>
  std::optional<Eigen::VectorXd> maximize(Acquisition& acquisition, OptimizerOptions options,
                                          std::uint64_t seed,
                                          const Eigen::MatrixXd& best_points) const {
    (void)best_points;
    options.seed = seed;
    const BoxOptimizerResult r = maximize_in_box(acquisition, space_, options);
    if (!std::isfinite(r.value))
      return std::nullopt;
    return Eigen::Map<const Eigen::VectorXd>(r.setting.data(),
                                             static_cast<Eigen::Index>(r.setting.size()));
  }

 private:
  SearchSpace space_;
};

}  // namespace bomf
