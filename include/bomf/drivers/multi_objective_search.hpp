// bomf/drivers/multi_objective_search.hpp — a generic ask/tell multi-objective Bayesian
// optimization engine: independent GPs per objective + qLogNEHVI, on the (bounded) probability
// simplex or on a hyperparameter box.
//
// All objectives are MAXIMIZED and measured against a FIXED reference point r (length m,
// 2 ≤ m ≤ 8). The loop is BoTorch's standard MOBO loop (Daulton et al., NeurIPS 2021; Ament et al.,
// NeurIPS 2023) as the BOMF paper runs it (Jang et al., NeurIPS 2024, Alg. 1):
//   1. a quasi-random initial design of `num_initial` points (scrambled Sobol mapped to the simplex
//      by sorted spacings, or to the box's valid settings);
//   2. then, for each new candidate: one GP per objective (ModelListGP, `fit_model_list_gp`,
//      Matérn-5/2 with BoTorch 0.11's priors by default) refitted on every successful
//      observation; qLogNEHVI with X_baseline = the observed points (pruned when
//      acquisition.prune_baseline) and every pending point as X_pending;
//      maximized by `maximize_on_simplex` (fed the observed Pareto-optimal points as best_points)
//      or `maximize_in_box` (over the unit-cube encoding, discrete dimensions snapped).
//
// Ask/tell: `suggest(q)` returns q candidates, the design rows first, then a sequential greedy
// batch — candidate j maximizes qLogNEHVI with candidates 0 … j−1 and all pending points
// appended to the baseline after its pruning, as BoTorch's qNEHVI treats X_pending (their
// outcomes are integrated over the joint posterior; they are never pruned). Every suggested point
// stays pending until `observe(x, y)` or `observe_failure(x)` is called with exactly the same x (in
// any order). Observing a point that was never suggested is allowed (external data, e.g. results
// from an earlier campaign).
//
// Determinism: the seed of every random step (design, GP fit restarts, QMC base samples,
// optimizer) is derived from (options.seed, number of points observed, failed or pending at that
// moment), never from time or a global generator. Replaying the same observations in the same
// order therefore reproduces exactly the proposals of an uninterrupted run, which is what the
// journals of the drivers rely on.
//
// Cost of one Bayesian candidate with n successful observations, n_b = n + pending baseline
// points, m objectives, S QMC samples, d the input dimension:
//   * fit (once per suggest call): m · fit.num_starts L-BFGS-B runs of O(n³ + n² d) per step;
//   * acquisition setup: O(m (n_b n² + n_b³)) plus S box decompositions of the sampled baseline
//     fronts (O(S n_b² m), exponential in m in the worst case), plus the pruning's 2048 samples;
//   * optimization: raw_samples values + num_restarts local runs (typically 20–200 gradient
//     evaluations each) of O(m (n d + n² + S n_b)) + O(S · cells · m) each.
// Measured figures (N = 15 on the simplex, m = 3) are in bench/drivers/.
//
// Limits: the Sobol base samples need (n_b + 1)·m ≤ 3667 (bomf::SobolSequence's table), i.e.
// about 1200 baseline points for m = 3.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "bomf/acquisition/q_log_nehvi.hpp"
#include "bomf/core/checks.hpp"
#include "bomf/core/error.hpp"
#include "bomf/drivers/detail/search_support.hpp"
#include "bomf/gp/fit_gp.hpp"
#include "bomf/gp/matern52_kernel.hpp"
#include "bomf/gp/model_list_gp.hpp"
#include "bomf/gp/priors.hpp"
#include "bomf/multi_objective/hypervolume.hpp"
#include "bomf/multi_objective/pareto.hpp"
#include "bomf/optim/maximize_in_box.hpp"
#include "bomf/optim/maximize_on_simplex.hpp"
#include "bomf/optim/search_space.hpp"
#include "bomf/optim/simplex.hpp"
#include "bomf/optim/simplex_candidates.hpp"

namespace bomf {

/// Settings of `MultiObjectiveSearch`. The seeds inside `fit`, `acquisition`, `simplex_optimizer`
/// and `box_optimizer` are ignored: every random step draws a seed derived from `seed` (see the
/// file comment). `simplex_optimizer.best_points` is ignored too (the engine sets it).
struct MultiObjectiveSearchOptions {
  /// Size of the quasi-random initial design; −1 = 2·(d + 1) (BoTorch's tutorials), d = N on the
  /// simplex or the number of dimensions of the search space. ≥ 0 otherwise.
  int num_initial = -1;
  /// GP fitting (restarts, iterations, …). Empty `fit.priors` means GpPriors::botorch_legacy()
  /// (BoTorch 0.11.3's SingleTaskGP, the BOMF paper's version) — not fit_gp's own default.
  GpFitOptions fit;
  /// qLogNEHVI settings; `prune_baseline` defaults to true here, as in BoTorch's optimize loop.
  QLogNehviOptions acquisition = default_acquisition();
  /// Acquisition maximization on the simplex (raw samples, restarts, refiner).
  SimplexOptimizerOptions simplex_optimizer;
  /// Acquisition maximization in the box (raw samples, restarts, L-BFGS-B).
  BoxOptimizerOptions box_optimizer;
  /// Seed from which every random step's seed is derived.
  std::uint64_t seed = 0;

  /// BoTorch's qLogNEHVI defaults with prune_baseline = true.
  static QLogNehviOptions default_acquisition() {
    QLogNehviOptions o;
    o.prune_baseline = true;
    return o;
  }

  /// Empty when valid, else the first problem found (`simplex` is needed to check the simplex
  /// optimizer's settings; pass nullptr for a box search).
  [[nodiscard]] std::string validate(const Simplex* simplex = nullptr) const {
    if (num_initial < -1)
      return detail::concat("num_initial is ", num_initial, ", expected >= 0 or -1 (automatic)");
    if (fit.num_starts < 1)
      return detail::concat("fit.num_starts is ", fit.num_starts, ", expected >= 1");
    if (fit.max_iterations < 1)
      return detail::concat("fit.max_iterations is ", fit.max_iterations, ", expected >= 1");
    if (fit.num_threads < 1)
      return detail::concat("fit.num_threads is ", fit.num_threads, ", expected >= 1");
    if (acquisition.num_threads < 1)
      return detail::concat("acquisition.num_threads is ", acquisition.num_threads,
                            ", expected >= 1");
    if (acquisition.num_samples < 1)
      return detail::concat("acquisition.num_samples is ", acquisition.num_samples,
                            ", expected >= 1");
    if (acquisition.base_samples_baseline.size() > 0)
      return "acquisition.base_samples_baseline must be empty (the baseline changes every "
             "iteration)";
    if (!(acquisition.prune_max_frac > 0.0 && acquisition.prune_max_frac <= 1.0))
      return detail::concat("acquisition.prune_max_frac is ", acquisition.prune_max_frac,
                            ", expected in (0, 1]");
    if (simplex != nullptr) {
      SimplexOptimizerOptions o = simplex_optimizer;
      o.best_points.resize(0, 0);
      const std::string e = o.validate(*simplex);
      if (!e.empty())
        return "simplex_optimizer." + e;
    } else {
      const std::string e = box_optimizer.validate();
      if (!e.empty())
        return "box_optimizer." + e;
    }
    return {};
  }
};

/// Timings and counts of the last `MultiObjectiveSearch::suggest` call.
struct SuggestTimings {
  double fit_seconds = 0.0;          ///< fitting the GPs (once per call, 0 if not needed).
  double acquisition_seconds = 0.0;  ///< building and maximizing qLogNEHVI, all candidates.
  std::vector<double> candidate_acquisition_seconds;  ///< per returned point (0 for design).
  int design_candidates = 0;                          ///< points taken from the initial design.
  int bayesian_candidates = 0;                        ///< points that maximized qLogNEHVI.
  int fallback_candidates = 0;  ///< quasi-random points used because fewer than 2 successful
                                ///< observations exist or the acquisition failed numerically.
};

/// The ask/tell multi-objective BO engine described in the file comment. `Kernel` is the GP
/// kernel (bomf/gp/kernel_traits.hpp), Matérn-5/2 by default.
///
/// Points are Eigen vectors in natural units: coefficients δ (length N) on a `Simplex`, or
/// settings (one natural value per dimension: the number, or the choice index of a categorical)
/// of a `SearchSpace`; the GPs of a box search work on the unit-cube encoding.
/// Not thread-safe; one object per campaign.
template <class Kernel = Matern52Kernel>
class MultiObjectiveSearch {
 public:
  /// A search over the simplex `simplex` (N ≥ 2) with reference point `ref_point` (length m,
  /// 2 ≤ m ≤ 8, finite). Throws bomf::invalid_argument for bad arguments or options (the
  /// message names the option and its value).
  MultiObjectiveSearch(const Simplex& simplex, const Eigen::Ref<const Eigen::VectorXd>& ref_point,
                       MultiObjectiveSearchOptions options = {})
      : simplex_(simplex), options_(std::move(options)) {
    constexpr const char* where = "bomf::MultiObjectiveSearch";
    detail::require(simplex.dim() >= 2, where, "the simplex has dimension ", simplex.dim(),
                    ", expected N >= 2 coefficients");
    const std::string error = options_.validate(&*simplex_);
    detail::require(error.empty(), where, "invalid options: ", error);
    init(ref_point, static_cast<int>(simplex.dim()));
  }

  /// A search over the valid settings of `space` (at least one dimension), reference point as
  /// above. Throws bomf::invalid_argument for bad arguments or options.
  MultiObjectiveSearch(const SearchSpace& space, const Eigen::Ref<const Eigen::VectorXd>& ref_point,
                       MultiObjectiveSearchOptions options = {})
      : space_(space), options_(std::move(options)) {
    constexpr const char* where = "bomf::MultiObjectiveSearch";
    space.require_nonempty(where);
    const std::string error = options_.validate(nullptr);
    detail::require(error.empty(), where, "invalid options: ", error);
    init(ref_point, static_cast<int>(space.size()));
  }

  /// q ≥ 1 new candidates (see the file comment): the first unused design rows, then Bayesian
  /// candidates by sequential greedy qLogNEHVI with pending points in the baseline. While fewer
  /// than 2 successful observations exist after the design, further quasi-random points are
  /// returned instead (also when the acquisition fails numerically; counted in
  /// `last_timings().fallback_candidates`). The returned points become pending.
  /// \b Cost: see the file comment; the GPs are fitted once per call.
  std::vector<Eigen::VectorXd> suggest(int q = 1) {
    detail::require(q >= 1, "bomf::MultiObjectiveSearch::suggest", "argument 'q' is ", q,
                    ", expected q >= 1");
    timings_ = SuggestTimings();
    std::vector<Eigen::VectorXd> out;
    std::optional<ModelListGP<Kernel>> models;
    for (int j = 0; j < q; ++j) {
      const std::uint64_t count = num_points();
      const Eigen::Index design_index = next_design_index();
      Eigen::VectorXd x;
      double acq_seconds = 0.0;
      if (design_index < num_initial_) {
        x = design_.row(design_index).transpose();
        ++timings_.design_candidates;
      } else if (observed_x_.size() < 2) {
        x = fallback_point(count);
        ++timings_.fallback_candidates;
      } else {
        if (!models) {
          const detail::Stopwatch fit_clock;
          models.emplace(fit_models(count));
          timings_.fit_seconds = fit_clock.seconds();
        }
        const detail::Stopwatch acq_clock;
        std::optional<Eigen::VectorXd> candidate = bayesian_candidate(*models, count);
        acq_seconds = acq_clock.seconds();
        if (candidate) {
          x = std::move(*candidate);
          ++timings_.bayesian_candidates;
        } else {
          x = fallback_point(count);
          ++timings_.fallback_candidates;
        }
      }
      timings_.acquisition_seconds += acq_seconds;
      timings_.candidate_acquisition_seconds.push_back(acq_seconds);
      pending_.push_back(x);
      out.push_back(std::move(x));
    }
    return out;
  }

  /// Records the objective values `y` (length m, finite, maximized) at `x`. If `x` equals a
  /// pending point exactly, that point stops being pending; otherwise `x` is external data and
  /// must lie in the domain (simplex: bounds exact, |Σx − 1| ≤ 1e-9; box: a valid setting).
  /// Throws bomf::invalid_argument for a wrong length, a non-finite y (use observe_failure) or x
  /// outside the domain.
  void observe(const Eigen::Ref<const Eigen::VectorXd>& x,
               const Eigen::Ref<const Eigen::VectorXd>& y) {
    constexpr const char* where = "bomf::MultiObjectiveSearch::observe";
    detail::require_shape(y, num_objectives(), 1, where, "y");
    detail::require(y.allFinite(), where,
                    "argument 'y' has a non-finite entry; record a failed evaluation with "
                    "observe_failure(x) instead");
    check_point(x, where);
    remove_pending(x);
    observed_x_.emplace_back(x);
    observed_y_.emplace_back(y);
  }

  /// Records that the evaluation at `x` failed: x stops being pending (if it was), and is kept
  /// out of the GPs. Same checks on x as `observe`.
  void observe_failure(const Eigen::Ref<const Eigen::VectorXd>& x) {
    check_point(x, "bomf::MultiObjectiveSearch::observe_failure");
    remove_pending(x);
    failed_.emplace_back(x);
  }

  /// Marks `x` as pending without suggesting it (an evaluation started elsewhere); it then joins
  /// X_baseline like every pending point. Same checks on x as `observe`.
  void add_pending(const Eigen::Ref<const Eigen::VectorXd>& x) {
    check_point(x, "bomf::MultiObjectiveSearch::add_pending");
    pending_.emplace_back(x);
  }

  /// Forgets one pending occurrence of `x` (an evaluation abandoned without result); returns
  /// whether there was one.
  bool cancel_pending(const Eigen::Ref<const Eigen::VectorXd>& x) { return remove_pending(x); }

  /// Successful observations: n × d points (natural units, in observation order).
  [[nodiscard]] Eigen::MatrixXd observed_x() const { return stack(observed_x_, dim_); }
  /// Their objective values, n × m.
  [[nodiscard]] Eigen::MatrixXd observed_y() const { return stack(observed_y_, num_objectives()); }
  /// Failed points, in order.
  [[nodiscard]] Eigen::MatrixXd failed_x() const { return stack(failed_, dim_); }
  /// Pending points (suggested or added, not yet observed), in order.
  [[nodiscard]] Eigen::MatrixXd pending_x() const { return stack(pending_, dim_); }
  /// Number of successful observations.
  [[nodiscard]] Eigen::Index num_observed() const {
    return static_cast<Eigen::Index>(observed_x_.size());
  }
  /// Number of failed observations.
  [[nodiscard]] Eigen::Index num_failed() const {
    return static_cast<Eigen::Index>(failed_.size());
  }
  /// Number of pending points.
  [[nodiscard]] Eigen::Index num_pending() const {
    return static_cast<Eigen::Index>(pending_.size());
  }

  /// Indices (into observed_x/observed_y) of the current Pareto front: non-dominated
  /// observations, the first of equal objective vectors only (not filtered by the reference
  /// point). \b Cost: O(n log n + n·F·m).
  [[nodiscard]] std::vector<Eigen::Index> pareto_indices() const {
    std::vector<Eigen::Index> out;
    if (observed_y_.empty())
      return out;
    const std::vector<bool> mask = non_dominated_mask(observed_y());
    for (std::size_t i = 0; i < mask.size(); ++i) {
      if (mask[i])
        out.push_back(static_cast<Eigen::Index>(i));
    }
    return out;
  }
  /// Points of the current Pareto front (rows), in observation order.
  [[nodiscard]] Eigen::MatrixXd pareto_x() const { return rows(observed_x_, dim_); }
  /// Objective values of the current Pareto front (rows), in observation order.
  [[nodiscard]] Eigen::MatrixXd pareto_y() const { return rows(observed_y_, num_objectives()); }
  /// Hypervolume of the observations w.r.t. the reference point (bomf::hypervolume).
  [[nodiscard]] double hypervolume() const {
    if (observed_y_.empty())
      return 0.0;
    return bomf::hypervolume(observed_y(), ref_point_);
  }

  /// Posterior means (q × m) at the q rows of `x` (natural points of the domain) of GPs fitted,
  /// as for a proposal, to every successful observation, with the seed of `stream` at the
  /// current count (deterministic). Needs ≥ 2 successful observations (throws
  /// bomf::invalid_argument otherwise). \b Cost: one fit (see the file comment) + O(q m n²).
  [[nodiscard]] Eigen::MatrixXd posterior_means(
      const Eigen::Ref<const Eigen::MatrixXd>& x,
      detail::SeedStream stream = detail::SeedStream::selection) const {
    constexpr const char* where = "bomf::MultiObjectiveSearch::posterior_means";
    detail::require(observed_x_.size() >= 2, where, "there are ", observed_x_.size(),
                    " successful observations, expected at least 2 to fit the GPs");
    detail::require(x.cols() == dim_, where, "argument 'x' has ", x.cols(), " columns, expected ",
                    dim_);
    const ModelListGP<Kernel> models = fit_models(num_points(), stream);
    Eigen::MatrixXd encoded(x.rows(), encoded_dim());
    for (Eigen::Index r = 0; r < x.rows(); ++r) {
      check_point(x.row(r).transpose(), where);
      encoded.row(r) = encode(x.row(r).transpose()).transpose();
    }
    return models.posterior_mean(encoded);
  }

  /// Timings and counts of the last `suggest` call.
  [[nodiscard]] const SuggestTimings& last_timings() const { return timings_; }
  /// The reference point (length m).
  [[nodiscard]] const Eigen::VectorXd& ref_point() const { return ref_point_; }
  /// Number of objectives m.
  [[nodiscard]] Eigen::Index num_objectives() const { return ref_point_.size(); }
  /// Length of a point (N on the simplex, the number of dimensions of the space).
  [[nodiscard]] Eigen::Index dim() const { return dim_; }
  /// Size of the initial design (after resolving −1).
  [[nodiscard]] Eigen::Index num_initial() const { return num_initial_; }
  /// The initial design (num_initial × dim, natural units).
  [[nodiscard]] const Eigen::MatrixXd& design() const { return design_; }
  /// True when `x` is a row of the initial design.
  [[nodiscard]] bool is_design_point(const Eigen::Ref<const Eigen::VectorXd>& x) const {
    for (Eigen::Index i = 0; i < num_initial_; ++i) {
      if (detail::same_point(design_.row(i).transpose(), x))
        return true;
    }
    return false;
  }
  /// Design rows not yet observed, failed or pending.
  [[nodiscard]] Eigen::Index design_points_remaining() const {
    Eigen::Index n = 0;
    for (Eigen::Index i = 0; i < num_initial_; ++i) {
      if (!used(design_.row(i).transpose()))
        ++n;
    }
    return n;
  }
  /// The simplex (null for a box search).
  [[nodiscard]] const Simplex* simplex() const { return simplex_ ? &*simplex_ : nullptr; }
  /// The search space (null for a simplex search).
  [[nodiscard]] const SearchSpace* space() const { return space_ ? &*space_ : nullptr; }
  /// The options.
  [[nodiscard]] const MultiObjectiveSearchOptions& options() const { return options_; }

 private:
  void init(const Eigen::Ref<const Eigen::VectorXd>& ref_point, int d) {
    constexpr const char* where = "bomf::MultiObjectiveSearch";
    detail::require(ref_point.size() >= 2 && ref_point.size() <= detail::kQnehviMaxM, where,
                    "argument 'ref_point' has length ", ref_point.size(), ", expected 2 to ",
                    detail::kQnehviMaxM, " (one entry per objective)");
    detail::require_finite(ref_point, where, "ref_point");
    ref_point_ = ref_point;
    dim_ = d;
    num_initial_ = options_.num_initial < 0 ? 2 * (d + 1) : options_.num_initial;
    design_seed_ = detail::derive_seed(options_.seed, 0, detail::SeedStream::design);
    design_ = quasi_random_rows(0, num_initial_);
  }

  // Rows [first, first + n) of the quasi-random sequence of the domain.
  Eigen::MatrixXd quasi_random_rows(Eigen::Index first, Eigen::Index n) const {
    if (simplex_) {
      return sobol_simplex_points(*simplex_, first + n, design_seed_).bottomRows(n);
    }
    return detail::quasi_random_settings(*space_, first, n, design_seed_);
  }

  // A quasi-random point after the design, distinct for each count.
  Eigen::VectorXd fallback_point(std::uint64_t count) const {
    return quasi_random_rows(num_initial_ + static_cast<Eigen::Index>(count), 1).row(0).transpose();
  }

  [[nodiscard]] std::uint64_t num_points() const {
    return static_cast<std::uint64_t>(observed_x_.size() + failed_.size() + pending_.size());
  }

  [[nodiscard]] bool used(const Eigen::Ref<const Eigen::VectorXd>& x) const {
    for (const auto* list : {&observed_x_, &failed_, &pending_}) {
      for (const Eigen::VectorXd& p : *list) {
        if (detail::same_point(p, x))
          return true;
      }
    }
    return false;
  }

  [[nodiscard]] Eigen::Index next_design_index() const {
    for (Eigen::Index i = 0; i < num_initial_; ++i) {
      if (!used(design_.row(i).transpose()))
        return i;
    }
    return num_initial_;
  }

  bool remove_pending(const Eigen::Ref<const Eigen::VectorXd>& x) {
    for (auto it = pending_.begin(); it != pending_.end(); ++it) {
      if (detail::same_point(*it, x)) {
        pending_.erase(it);
        return true;
      }
    }
    return false;
  }

  void check_point(const Eigen::Ref<const Eigen::VectorXd>& x, const char* where) const {
    detail::require_shape(x, dim_, 1, where, "x");
    detail::require_finite(x, where, "x");
    if (simplex_) {
      detail::require(simplex_->contains(x, 1e-9), where,
                      "argument 'x' is not on the simplex (bounds must hold exactly and the "
                      "entries sum to ",
                      x.sum(), ", expected 1 within 1e-9)");
    } else {
      const std::vector<double> setting(x.data(), x.data() + x.size());
      detail::require(space_->is_valid(setting), where,
                      "argument 'x' is not a valid setting of the search space (out of bounds, "
                      "non-integral or a bad choice index)");
    }
  }

  // GP input of a point: δ itself, or the unit-cube encoding of a setting.
  Eigen::VectorXd encode(const Eigen::VectorXd& x) const {
    if (simplex_)
      return x;
    return space_->encode(std::vector<double>(x.data(), x.data() + x.size()));
  }

  [[nodiscard]] Eigen::Index encoded_dim() const { return simplex_ ? dim_ : space_->encoded_dim(); }

  ModelListGP<Kernel> fit_models(std::uint64_t count,
                                 detail::SeedStream stream = detail::SeedStream::fit) const {
    GpFitOptions fit = options_.fit;
    if (!fit.priors)
      fit.priors = GpPriors::botorch_legacy();
    fit.seed = detail::derive_seed(options_.seed, count, stream);
    Eigen::MatrixXd X(static_cast<Eigen::Index>(observed_x_.size()), encoded_dim());
    for (std::size_t i = 0; i < observed_x_.size(); ++i) {
      X.row(static_cast<Eigen::Index>(i)) = encode(observed_x_[i]).transpose();
    }
    return fit_model_list_gp<Kernel>(X, observed_y(), fit);
  }

  // The observed points and the pending ones (encoded), exact duplicates removed (a repeated
  // point adds nothing to the baseline and would make its posterior covariance singular). The
  // pending points go to qLogNEHVI as X_pending: appended after pruning, never pruned.
  std::pair<Eigen::MatrixXd, Eigen::MatrixXd> baseline_and_pending() const {
    std::set<std::vector<double>> seen;
    std::vector<Eigen::VectorXd> kept[2];
    int list_index = 0;
    for (const auto* list : {&observed_x_, &pending_}) {
      for (const Eigen::VectorXd& p : *list) {
        Eigen::VectorXd u = encode(p);
        if (seen.insert(detail::point_key(u)).second)
          kept[list_index].push_back(std::move(u));
      }
      ++list_index;
    }
    return {stack(kept[0], encoded_dim()), stack(kept[1], encoded_dim())};
  }

  // Maximizes qLogNEHVI for one candidate; empty when the acquisition fails numerically.
  std::optional<Eigen::VectorXd> bayesian_candidate(const ModelListGP<Kernel>& models,
                                                    std::uint64_t count) const {
    QLogNehviOptions acq_options = options_.acquisition;
    acq_options.seed = detail::derive_seed(options_.seed, count, detail::SeedStream::acquisition);
    const std::uint64_t opt_seed =
        detail::derive_seed(options_.seed, count, detail::SeedStream::optimizer);
    try {
      auto [observed, pending] = baseline_and_pending();
      acq_options.X_pending = std::move(pending);
      QLogNoisyExpectedHypervolumeImprovement<Kernel> acquisition(models, observed, ref_point_,
                                                                  acq_options);
      if (simplex_) {
        SimplexOptimizerOptions opt = options_.simplex_optimizer;
        opt.seed = opt_seed;
        opt.best_points = pareto_x();
        const SimplexOptimizerResult r = maximize_on_simplex(acquisition, *simplex_, opt);
        if (!std::isfinite(r.value))
          return std::nullopt;
        return r.x;
      }
      BoxOptimizerOptions opt = options_.box_optimizer;
      opt.seed = opt_seed;
      const BoxOptimizerResult r = maximize_in_box(acquisition, *space_, opt);
      if (!std::isfinite(r.value))
        return std::nullopt;
      return Eigen::Map<const Eigen::VectorXd>(r.setting.data(),
                                               static_cast<Eigen::Index>(r.setting.size()));
    } catch (const numerical_error&) {
      return std::nullopt;
    }
  }

  static Eigen::MatrixXd stack(const std::vector<Eigen::VectorXd>& list, Eigen::Index cols) {
    Eigen::MatrixXd out(static_cast<Eigen::Index>(list.size()), cols);
    for (std::size_t i = 0; i < list.size(); ++i) {
      out.row(static_cast<Eigen::Index>(i)) = list[i].transpose();
    }
    return out;
  }

  Eigen::MatrixXd rows(const std::vector<Eigen::VectorXd>& list, Eigen::Index cols) const {
    const std::vector<Eigen::Index> idx = pareto_indices();
    Eigen::MatrixXd out(static_cast<Eigen::Index>(idx.size()), cols);
    for (std::size_t i = 0; i < idx.size(); ++i) {
      out.row(static_cast<Eigen::Index>(i)) = list[static_cast<std::size_t>(idx[i])].transpose();
    }
    return out;
  }

  std::optional<Simplex> simplex_;
  std::optional<SearchSpace> space_;
  MultiObjectiveSearchOptions options_;
  Eigen::VectorXd ref_point_;
  Eigen::Index dim_ = 0;
  Eigen::Index num_initial_ = 0;
  std::uint64_t design_seed_ = 0;
  Eigen::MatrixXd design_;
  std::vector<Eigen::VectorXd> observed_x_;
  std::vector<Eigen::VectorXd> observed_y_;
  std::vector<Eigen::VectorXd> failed_;
  std::vector<Eigen::VectorXd> pending_;
  SuggestTimings timings_;
};

}  // namespace bomf
