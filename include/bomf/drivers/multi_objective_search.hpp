// bomf/drivers/multi_objective_search.hpp — a generic ask/tell multi-objective Bayesian
// optimization engine: independent GPs per objective + qLogNEHVI, on a search domain (the
// bounded probability simplex, or a hyperparameter box; search_domain.hpp).
//
// All objectives are MAXIMIZED and measured against a FIXED reference point r (length m,
// 2 ≤ m ≤ 8). The loop is BoTorch's standard MOBO loop (Daulton et al., NeurIPS 2021; Ament et al.,
// NeurIPS 2023) as the BOMF paper runs it (Jang et al., NeurIPS 2024, Alg. 1):
//   1. a quasi-random initial design of `num_initial` points (Domain::quasi_random);
//   2. then, for each new candidate: one GP per objective (ModelListGP, `fit_model_list_gp`,
//      Matérn-5/2 with BoTorch 0.11's priors by default) refitted on every successful
//      observation; qLogNEHVI with X_baseline = the observed points (pruned when
//      acquisition.prune_baseline) and every pending point as X_pending; maximized over the
//      domain (`maximize_on_simplex`, fed the observed Pareto-optimal points as best_points, or
//      `maximize_in_box` over the unit-cube encoding, discrete dimensions snapped).
//
// Ask/tell: `suggest(q)` returns q proposals — each point with where it came from (the design,
// the acquisition, or a quasi-random fallback) and what proposing it cost — the design rows
// first, then a sequential greedy batch: candidate j maximizes qLogNEHVI with candidates 0 … j−1
// and all pending points appended to the baseline after its pruning, as BoTorch's qNEHVI treats
// X_pending (their outcomes are integrated over the joint posterior; they are never pruned).
// Every suggested point stays pending until `observe(x, y)` or `observe_failure(x)` is called
// with exactly the same x (in any order). Observing a point that was never suggested is allowed
// (external data, e.g. results from an earlier campaign).
//
// Determinism: the seed of every random step (design, GP fit restarts, QMC base samples,
// optimizer) is derived from (options.seed, number of points observed, failed or pending at that
// moment; detail/seeds.hpp), never from time or a global generator. Replaying the same
// observations in the same order therefore reproduces exactly the proposals of an uninterrupted
// run, which is what the journals of the drivers rely on.
//
// Cost of one acquisition candidate with n successful observations, n_b = n + pending baseline
// points, m objectives, S QMC samples, d the input dimension:
//   * fit (once per suggest call): m · gp.num_starts L-BFGS-B runs of O(n³ + n² d) per step;
//   * acquisition setup: O(m (n_b n² + n_b³)) plus S box decompositions of the sampled baseline
//     fronts (O(S n_b² m), exponential in m in the worst case), plus the pruning's 2048 samples;
//   * optimization: raw_samples values + num_restarts local runs (typically 20–200 gradient
//     evaluations each) of O(m (n d + n² + S n_b)) + O(S · cells · m) each; the raw values with
//     S' = acquisition.screening_samples instead of S when that option is set.
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
#include "bomf/drivers/detail/points.hpp"
#include "bomf/drivers/detail/seeds.hpp"
#include "bomf/drivers/detail/stopwatch.hpp"
#include "bomf/drivers/search_domain.hpp"
#include "bomf/drivers/search_trace.hpp"
#include "bomf/gp/fit_gp.hpp"
#include "bomf/gp/matern52_kernel.hpp"
#include "bomf/gp/model_list_gp.hpp"
#include "bomf/gp/priors.hpp"
#include "bomf/multi_objective/hypervolume.hpp"
#include "bomf/multi_objective/pareto.hpp"

namespace bomf {

/// Settings of `MultiObjectiveSearch` on a `Domain` (SimplexDomain or BoxDomain). The seeds
/// inside `gp`, `acquisition` and `acquisition_optimizer` are ignored: every random step draws a
/// seed derived from `seed` (see the file comment). The optimizer's `best_points` are set by the
/// engine.
template <class Domain>
struct MultiObjectiveSearchOptions {
  /// Size of the quasi-random initial design; −1 = 2·(d + 1) (BoTorch's tutorials), d the
  /// length of a point. ≥ 0 otherwise.
  int num_initial = -1;
  /// GP fitting (restarts, iterations, …). Empty `gp.priors` means GpPriors::botorch_legacy()
  /// (BoTorch 0.11.3's SingleTaskGP, the BOMF paper's version) — not fit_gp's own default.
  GpFitOptions gp;
  /// qLogNEHVI settings; `prune_baseline` defaults to true here, as in BoTorch's optimize loop.
  QLogNehviOptions acquisition = default_acquisition();
  /// Acquisition maximization over the domain (raw samples, restarts, local refinement).
  typename Domain::OptimizerOptions acquisition_optimizer;
  /// Seed from which every random step's seed is derived.
  std::uint64_t seed = 0;

  /// BoTorch's qLogNEHVI defaults with prune_baseline = true.
  static QLogNehviOptions default_acquisition() {
    QLogNehviOptions o;
    o.prune_baseline = true;
    return o;
  }

  /// Empty when valid on `domain`, else the first problem found, naming the option.
  [[nodiscard]] std::string validate(const Domain& domain) const {
    if (num_initial < -1)
      return detail::concat("num_initial is ", num_initial, ", expected >= 0 or -1 (automatic)");
    std::string e = gp.validate();
    if (!e.empty())
      return "gp." + e;
    e = acquisition.validate();
    if (!e.empty())
      return "acquisition." + e;
    if (acquisition.base_samples_baseline.size() > 0)
      return "acquisition.base_samples_baseline must be empty (the baseline changes every "
             "iteration)";
    e = domain.validate(acquisition_optimizer);
    if (!e.empty())
      return "acquisition_optimizer." + e;
    return {};
  }
};

/// One point `MultiObjectiveSearch::suggest` proposes, where it came from, and what proposing it
/// cost.
struct Proposal {
  Eigen::VectorXd point;  ///< natural units of the domain
  /// ProposalKind::initial (a design row), acquisition (a maximizer of qLogNEHVI) or fallback
  /// (quasi-random: fewer than 2 successful observations, or the acquisition failed).
  ProposalKind kind = ProposalKind::initial;
  /// GP fitting charged to this point (the fit of a suggest call is charged to its first
  /// acquisition candidate; 0 for the others).
  double fit_seconds = 0.0;
  double acquisition_seconds = 0.0;  ///< building and maximizing qLogNEHVI for this point
  /// Why a `fallback` was returned although enough observations existed: the numerical error of
  /// building or maximizing qLogNEHVI, or its best value not being finite ("" otherwise).
  std::string fallback_reason;
};

/// The ask/tell multi-objective BO engine described in the file comment. `Kernel` is the GP
/// kernel (bomf/gp/kernel_traits.hpp), Matérn-5/2 by default; `Domain` is SimplexDomain or
/// BoxDomain (search_domain.hpp). Not thread-safe; one object per campaign.
template <class Kernel = Matern52Kernel, class Domain = SimplexDomain>
class MultiObjectiveSearch {
 public:
  using Options = MultiObjectiveSearchOptions<Domain>;

  /// A search over `domain` (a Simplex or a SearchSpace converts to its domain) with reference
  /// point `ref_point` (length m, 2 ≤ m ≤ 8, finite). Throws bomf::invalid_argument for bad
  /// arguments or options (the message names the option and its value).
  MultiObjectiveSearch(Domain domain, const Eigen::Ref<const Eigen::VectorXd>& ref_point,
                       Options options = {})
      : domain_(std::move(domain)), options_(std::move(options)) {
    constexpr const char* where = "bomf::MultiObjectiveSearch";
    const std::string error = options_.validate(domain_);
    detail::require(error.empty(), where, "invalid options: ", error);
    detail::require(ref_point.size() >= 2 && ref_point.size() <= detail::kQnehviMaxM, where,
                    "argument 'ref_point' has length ", ref_point.size(), ", expected 2 to ",
                    detail::kQnehviMaxM, " (one entry per objective)");
    detail::require_finite(ref_point, where, "ref_point");
    ref_point_ = ref_point;
    const Eigen::Index d = domain_.dim();
    num_initial_ = options_.num_initial < 0 ? 2 * (d + 1) : options_.num_initial;
    design_seed_ = detail::derive_seed(options_.seed, 0, detail::SeedStream::design);
    design_ = domain_.quasi_random(0, num_initial_, design_seed_);
  }

  /// q ≥ 1 new proposals (see the file comment): the first unused design rows, then acquisition
  /// candidates by sequential greedy qLogNEHVI with pending points in the baseline. While fewer
  /// than 2 successful observations exist after the design, further quasi-random points are
  /// returned instead (also when the acquisition fails numerically): kind `fallback`. The
  /// returned points become pending. \b Cost: see the file comment; the GPs are fitted once per
  /// call.
  std::vector<Proposal> suggest(int q = 1) {
    detail::require(q >= 1, "bomf::MultiObjectiveSearch::suggest", "argument 'q' is ", q,
                    ", expected q >= 1");
    std::vector<Proposal> out;
    std::optional<ModelListGP<Kernel>> models;
    for (int j = 0; j < q; ++j) {
      const std::uint64_t count = num_points();
      const Eigen::Index design_index = next_design_index();
      Proposal p;
      if (design_index < num_initial_) {
        p.point = design_.row(design_index).transpose();
        p.kind = ProposalKind::initial;
      } else if (observed_x_.size() < 2) {
        p.point = fallback_point(count);
        p.kind = ProposalKind::fallback;
      } else {
        if (!models) {
          const detail::Stopwatch fit_clock;
          models.emplace(fit_models(count, detail::SeedStream::fit));
          p.fit_seconds = fit_clock.seconds();
        }
        const detail::Stopwatch acq_clock;
        std::optional<Eigen::VectorXd> candidate =
            acquisition_candidate(*models, count, p.fallback_reason);
        p.acquisition_seconds = acq_clock.seconds();
        if (candidate) {
          p.point = std::move(*candidate);
          p.kind = ProposalKind::acquisition;
        } else {
          p.point = fallback_point(count);
          p.kind = ProposalKind::fallback;
        }
      }
      pending_.push_back(p.point);
      out.push_back(std::move(p));
    }
    return out;
  }

  /// Records the objective values `y` (length m, finite, maximized) at `x`. If `x` equals a
  /// pending point exactly, that point stops being pending; otherwise `x` is external data and
  /// must lie in the domain. Throws bomf::invalid_argument for a wrong length, a non-finite y
  /// (use observe_failure) or x outside the domain.
  void observe(const Eigen::Ref<const Eigen::VectorXd>& x,
               const Eigen::Ref<const Eigen::VectorXd>& y) {
    constexpr const char* where = "bomf::MultiObjectiveSearch::observe";
    detail::require_shape(y, num_objectives(), 1, where, "y");
    detail::require(y.allFinite(), where,
                    "argument 'y' has a non-finite entry; record a failed evaluation with "
                    "observe_failure(x) instead");
    domain_.check_point(x, where);
    remove_pending(x);
    observed_x_.emplace_back(x);
    observed_y_.emplace_back(y);
  }

  /// Records that the evaluation at `x` failed: x stops being pending (if it was), and is kept
  /// out of the GPs. Same checks on x as `observe`.
  void observe_failure(const Eigen::Ref<const Eigen::VectorXd>& x) {
    domain_.check_point(x, "bomf::MultiObjectiveSearch::observe_failure");
    remove_pending(x);
    failed_.emplace_back(x);
  }

  /// Marks `x` as pending without suggesting it (an evaluation started elsewhere); it then joins
  /// X_baseline like every pending point. Same checks on x as `observe`.
  void add_pending(const Eigen::Ref<const Eigen::VectorXd>& x) {
    domain_.check_point(x, "bomf::MultiObjectiveSearch::add_pending");
    pending_.emplace_back(x);
  }

  /// Forgets one pending occurrence of `x` (an evaluation abandoned without result); returns
  /// whether there was one.
  bool cancel_pending(const Eigen::Ref<const Eigen::VectorXd>& x) { return remove_pending(x); }

  /// Successful observations: n × d points (natural units, in observation order).
  [[nodiscard]] Eigen::MatrixXd observed_x() const { return stack(observed_x_, domain_.dim()); }
  /// Their objective values, n × m.
  [[nodiscard]] Eigen::MatrixXd observed_y() const { return stack(observed_y_, num_objectives()); }
  /// Failed points, in order.
  [[nodiscard]] Eigen::MatrixXd failed_x() const { return stack(failed_, domain_.dim()); }
  /// Pending points (suggested or added, not yet observed), in order.
  [[nodiscard]] Eigen::MatrixXd pending_x() const { return stack(pending_, domain_.dim()); }
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
  [[nodiscard]] Eigen::MatrixXd pareto_x() const { return rows(observed_x_, domain_.dim()); }
  /// Objective values of the current Pareto front (rows), in observation order.
  [[nodiscard]] Eigen::MatrixXd pareto_y() const { return rows(observed_y_, num_objectives()); }
  /// Hypervolume of the observations w.r.t. the reference point (bomf::hypervolume).
  [[nodiscard]] double hypervolume() const {
    if (observed_y_.empty())
      return 0.0;
    return bomf::hypervolume(observed_y(), ref_point_);
  }

  /// Posterior means (q × m) at the q rows of `x` (points of the domain) of GPs fitted, as for a
  /// proposal, to every successful observation, with the seed of `stream` at the current count
  /// (deterministic). Needs ≥ 2 successful observations (throws bomf::invalid_argument
  /// otherwise). \b Cost: one fit (see the file comment) + O(q m n²).
  [[nodiscard]] Eigen::MatrixXd posterior_means(
      const Eigen::Ref<const Eigen::MatrixXd>& x,
      detail::SeedStream stream = detail::SeedStream::selection) const {
    constexpr const char* where = "bomf::MultiObjectiveSearch::posterior_means";
    detail::require(observed_x_.size() >= 2, where, "there are ", observed_x_.size(),
                    " successful observations, expected at least 2 to fit the GPs");
    detail::require(x.cols() == domain_.dim(), where, "argument 'x' has ", x.cols(),
                    " columns, expected ", domain_.dim());
    const ModelListGP<Kernel> models = fit_models(num_points(), stream);
    Eigen::MatrixXd encoded(x.rows(), domain_.encoded_dim());
    for (Eigen::Index r = 0; r < x.rows(); ++r) {
      domain_.check_point(x.row(r).transpose(), where);
      encoded.row(r) = domain_.encode(x.row(r).transpose()).transpose();
    }
    return models.posterior_mean(encoded);
  }

  /// The reference point (length m).
  [[nodiscard]] const Eigen::VectorXd& ref_point() const { return ref_point_; }
  /// Number of objectives m.
  [[nodiscard]] Eigen::Index num_objectives() const { return ref_point_.size(); }
  /// Length of a point.
  [[nodiscard]] Eigen::Index dim() const { return domain_.dim(); }
  /// Size of the initial design (after resolving −1).
  [[nodiscard]] Eigen::Index num_initial() const { return num_initial_; }
  /// The initial design (num_initial × dim, natural units).
  [[nodiscard]] const Eigen::MatrixXd& design() const { return design_; }
  /// Design rows not yet observed, failed or pending.
  [[nodiscard]] Eigen::Index design_points_remaining() const {
    Eigen::Index n = 0;
    for (Eigen::Index i = 0; i < num_initial_; ++i) {
      if (!used(design_.row(i).transpose()))
        ++n;
    }
    return n;
  }
  /// The domain.
  [[nodiscard]] const Domain& domain() const { return domain_; }
  /// The options.
  [[nodiscard]] const Options& options() const { return options_; }

 private:
  // A quasi-random point after the design, distinct for each count.
  Eigen::VectorXd fallback_point(std::uint64_t count) const {
    return domain_.quasi_random(num_initial_ + static_cast<Eigen::Index>(count), 1, design_seed_)
        .row(0)
        .transpose();
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

  ModelListGP<Kernel> fit_models(std::uint64_t count, detail::SeedStream stream) const {
    GpFitOptions gp = options_.gp;
    if (!gp.priors)
      gp.priors = GpPriors::botorch_legacy();
    gp.seed = detail::derive_seed(options_.seed, count, stream);
    Eigen::MatrixXd X(static_cast<Eigen::Index>(observed_x_.size()), domain_.encoded_dim());
    for (std::size_t i = 0; i < observed_x_.size(); ++i) {
      X.row(static_cast<Eigen::Index>(i)) = domain_.encode(observed_x_[i]).transpose();
    }
    return fit_model_list_gp<Kernel>(X, observed_y(), gp);
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
        Eigen::VectorXd u = domain_.encode(p);
        if (seen.insert(detail::point_key(u)).second)
          kept[list_index].push_back(std::move(u));
      }
      ++list_index;
    }
    return {stack(kept[0], domain_.encoded_dim()), stack(kept[1], domain_.encoded_dim())};
  }

  // The maximizer of qLogNEHVI, or nothing (and why in `reason`) when building or maximizing it
  // fails numerically or its best value is not finite.
  std::optional<Eigen::VectorXd> acquisition_candidate(const ModelListGP<Kernel>& models,
                                                       std::uint64_t count,
                                                       std::string& reason) const {
    QLogNehviOptions acq_options = options_.acquisition;
    acq_options.seed = detail::derive_seed(options_.seed, count, detail::SeedStream::acquisition);
    const std::uint64_t opt_seed =
        detail::derive_seed(options_.seed, count, detail::SeedStream::optimizer);
    try {
      auto [observed, pending] = baseline_and_pending();
      acq_options.X_pending = std::move(pending);
      QLogNoisyExpectedHypervolumeImprovement<Kernel> acquisition(models, observed, ref_point_,
                                                                  acq_options);
      std::optional<Eigen::VectorXd> x =
          domain_.maximize(acquisition, options_.acquisition_optimizer, opt_seed, pareto_x());
      if (!x)
        reason = "the best qLogNEHVI value found is not finite";
      return x;
    } catch (const numerical_error& e) {
      reason = e.what();
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

  Domain domain_;
  Options options_;
  Eigen::VectorXd ref_point_;
  Eigen::Index num_initial_ = 0;
  std::uint64_t design_seed_ = 0;
  Eigen::MatrixXd design_;
  std::vector<Eigen::VectorXd> observed_x_;
  std::vector<Eigen::VectorXd> observed_y_;
  std::vector<Eigen::VectorXd> failed_;
  std::vector<Eigen::VectorXd> pending_;
};

}  // namespace bomf
