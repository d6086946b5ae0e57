// bomf/drivers/detail/fusion_search_impl.hpp — definitions of bomf/drivers/fusion_search.hpp
// (included at its end; not a public header).
#pragma once

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <limits>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "bomf/drivers/detail/settings_json.hpp"

namespace bomf {

namespace detail {

/// Empty when `s` is a valid selection for K metrics, else the problem.
inline std::string validate_selection(const FusionSelection& s, int num_metrics) {
  if (s.rule == FusionSelectionRule::best_metric && (s.metric < 0 || s.metric >= num_metrics))
    return concat("metric is ", s.metric, ", expected an index in [0, ", num_metrics, ")");
  if (s.rule == FusionSelectionRule::weighted_sum) {
    if (s.weights.size() != 1 + num_metrics)
      return concat("weights has ", s.weights.size(), " entries, expected ", 1 + num_metrics,
                    " (the loss, then one per metric)");
    if (!s.weights.allFinite() || (s.weights.array() < 0.0).any() || !(s.weights.sum() > 0.0))
      return "weights must be finite, >= 0 and not all 0";
  }
  return {};
}

inline const char* selection_name(const FusionSelection& s) {
  switch (s.rule) {
    case FusionSelectionRule::best_metric_sum:
      return "best observed sum of normalized metrics";
    case FusionSelectionRule::posterior_metric_sum:
      return "best posterior-mean sum of normalized metrics";
    case FusionSelectionRule::lowest_loss:
      return "lowest loss";
    case FusionSelectionRule::best_metric:
      return "best single metric";
    case FusionSelectionRule::weighted_sum:
      return "weighted sum of normalized objectives";
  }
  return "unknown";
}

inline std::string format_vector(const Eigen::Ref<const Eigen::VectorXd>& v, int precision = 4) {
  std::ostringstream out;
  out << std::setprecision(precision) << "[";
  for (Eigen::Index i = 0; i < v.size(); ++i) {
    out << (i == 0 ? "" : ", ") << v(i);
  }
  out << "]";
  return out.str();
}

inline nlohmann::json optional_list_json(const std::vector<std::optional<double>>& list) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& v : list) {
    a.push_back(v ? nlohmann::json(*v) : nlohmann::json(nullptr));
  }
  return a;
}

}  // namespace detail

inline std::string FusionSearchOptions::validate(int num_members,
                                                 const FusionObjectives& objectives) const {
  const int m = objectives.size();
  const int num_metrics = m - 1;
  if (num_members < 2)
    return detail::concat("the problem has ", num_members, " members, expected at least 2");
  if (num_metrics < 1)
    return "the problem declares no metric, expected at least one besides the loss";
  if (m > detail::kQnehviMaxM)
    return detail::concat("the problem has ", m, " objectives (the loss and ", num_metrics,
                          " metrics), expected at most ", detail::kQnehviMaxM,
                          " (the limit of qLogNEHVI)");
  if (num_initial < -1)
    return detail::concat("num_initial is ", num_initial, ", expected >= 0 or -1 (= N)");
  if (num_iterations < -1)
    return detail::concat("num_iterations is ", num_iterations, ", expected >= 0 or -1 (= 5N)");
  if (max_failures < 0)
    return detail::concat("max_failures is ", max_failures, ", expected >= 0");
  if (blind_search.patience < 0)
    return detail::concat("blind_search.patience is ", blind_search.patience, ", expected >= 0");
  for (const auto* b : {&lower_bounds, &upper_bounds}) {
    const char* name = b == &lower_bounds ? "lower_bounds" : "upper_bounds";
    if (b->size() != 0 && b->size() != num_members)
      return detail::concat(name, " has ", b->size(), " entries, expected 0 or N = ", num_members);
    if (!b->allFinite())
      return detail::concat(name, " has a non-finite entry");
  }
  if (lower_bounds.size() > 0 || upper_bounds.size() > 0) {
    const Eigen::VectorXd lo =
        lower_bounds.size() > 0 ? lower_bounds : Eigen::VectorXd::Zero(num_members);
    const Eigen::VectorXd up =
        upper_bounds.size() > 0 ? upper_bounds : Eigen::VectorXd::Ones(num_members);
    for (int i = 0; i < num_members; ++i) {
      if (lo(i) < 0.0)
        return detail::concat("lower_bounds[", i, "] is ", lo(i), ", expected >= 0");
      if (lo(i) > up(i))
        return detail::concat("lower_bounds[", i, "] = ", lo(i), " exceeds upper_bounds[", i,
                              "] = ", up(i));
    }
    if (lo.sum() > 1.0 + 1e-12)
      return detail::concat("lower_bounds sum to ", lo.sum(),
                            ", expected a sum <= 1 (no δ on the simplex satisfies them)");
    if (up.cwiseMin(1.0).sum() < 1.0 - 1e-12)
      return detail::concat("upper_bounds (clipped to 1) sum to ", up.cwiseMin(1.0).sum(),
                            ", expected a sum >= 1 (no δ on the simplex satisfies them)");
    if (lo.sum() >= 1.0 - 1e-12 || up.cwiseMin(1.0).sum() <= 1.0 + 1e-12)
      return detail::concat(
          lo.sum() >= 1.0 - 1e-12 ? "lower_bounds" : "upper_bounds (clipped to 1)",
          " sum to 1, so they leave a single feasible δ and nothing to search; "
          "expected lower_bounds summing to < 1 and upper_bounds to > 1 (to "
          "fuse with fixed coefficients, use a FusionEvaluator)");
  }
  if (member_values.size() > 0) {
    if (member_values.rows() != num_members || member_values.cols() != m)
      return detail::concat("member_values has shape ", member_values.rows(), "×",
                            member_values.cols(), ", expected ", num_members, "×", m,
                            " (one row per member: the loss, then one column per metric)");
    bool any = false;
    for (int i = 0; i < num_members; ++i) {
      any = any || member_values.row(i).allFinite();
    }
    if (!any && !normalization.all_anchors_overridden(m))
      return "member_values has no row of finite values, so the normalization has no anchor";
  }
  const std::string norm = normalization.validate(m);
  if (!norm.empty())
    return "normalization." + norm;
  const std::string sel = detail::validate_selection(selection, num_metrics);
  if (!sel.empty())
    return "selection." + sel;
  MultiObjectiveSearchOptions engine;
  engine.fit = fit;
  engine.acquisition = acquisition;
  engine.simplex_optimizer = optimizer;
  const Simplex simplex(num_members);
  std::string e = engine.validate(&simplex);
  if (e.rfind("simplex_optimizer.", 0) == 0)
    e = "optimizer." + e.substr(std::string("simplex_optimizer.").size());
  return e;
}

inline FusionSearch::FusionSearch(int num_members, FusionObjectives objectives,
                                  FusionSearchOptions options, std::string fingerprint) {
  constexpr const char* where = "bomf::FusionSearch";
  detail::require(num_members >= 2, where, "argument 'num_members' is ", num_members,
                  ", expected at least 2 members to fuse");
  objectives.validate(where);
  const std::string error = options.validate(num_members, objectives);
  detail::require(error.empty(), where, "invalid options: ", error);
  owned_ledger_ = std::make_unique<FusionLedger>(num_members, std::move(objectives),
                                                 std::move(fingerprint), options.journal);
  ledger_ = owned_ledger_.get();
  initialize(std::move(options));
}

inline FusionSearch::FusionSearch(FusionLedger& ledger, FusionSearchOptions options)
    : ledger_(&ledger) {
  detail::require(options.journal.empty() || options.journal == ledger.path(), "bomf::FusionSearch",
                  "options.journal is '", options.journal, "' but the ledger's journal is '",
                  ledger.path(), "', expected the same file or \"\"");
  initialize(std::move(options));
}

inline void FusionSearch::initialize(FusionSearchOptions options) {
  constexpr const char* where = "bomf::FusionSearch";
  num_members_ = ledger_->num_members();
  objectives_ = ledger_->objectives();
  const int m = objectives_.size();
  const std::string error = options.validate(num_members_, objectives_);
  detail::require(error.empty(), where, "invalid options: ", error);
  if (options.num_initial < 0)
    options.num_initial = num_members_;
  if (options.num_iterations < 0)
    options.num_iterations = 5 * num_members_;
  options.journal = ledger_->path();
  if (options.lower_bounds.size() > 0 || options.upper_bounds.size() > 0) {
    if (options.lower_bounds.size() == 0)
      options.lower_bounds = Eigen::VectorXd::Zero(num_members_);
    if (options.upper_bounds.size() == 0)
      options.upper_bounds = Eigen::VectorXd::Ones(num_members_);
    simplex_ = Simplex(options.lower_bounds, options.upper_bounds);
  } else {
    simplex_ = Simplex(num_members_);
  }
  options_ = std::move(options);
  for (int i = 0; i < num_members_; ++i) {
    vertices_.push_back(simplex_.vertex(i));
    // Bounds can project several members onto one δ (e.g. upper bounds of 0.1 on two of
    // them): that δ is evaluated once, for all of them.
    int first = 0;
    while (!detail::same_point(vertices_[static_cast<std::size_t>(first)], vertices_.back()))
      ++first;
    first_with_vertex_.push_back(first);
  }

  member_state_.assign(static_cast<std::size_t>(num_members_), 0);
  member_values_ =
      Eigen::MatrixXd::Constant(num_members_, m, std::numeric_limits<double>::quiet_NaN());
  if (options_.member_values.size() > 0) {
    member_values_ = options_.member_values;
    std::fill(member_state_.begin(), member_state_.end(), 2);
  } else if (options_.normalization.all_anchors_overridden(m)) {
    std::fill(member_state_.begin(), member_state_.end(), 2);
  } else {
    members_needed_ = true;
  }

  engine_ = make_engine();
  if (!members_needed_)
    set_normalization();

  check_settings_record();
  for (const FusionRecord& record : ledger_->records()) {
    if (record.source == "member" || record.source == "search")
      apply(record, /*replayed=*/true);
  }
}

inline std::unique_ptr<MultiObjectiveSearch<Matern52Kernel>> FusionSearch::make_engine() const {
  MultiObjectiveSearchOptions engine;
  engine.num_initial = options_.num_initial;
  engine.seed = options_.seed;
  engine.fit = options_.fit;
  engine.acquisition = options_.acquisition;
  engine.simplex_optimizer = options_.optimizer;
  return std::make_unique<MultiObjectiveSearch<Matern52Kernel>>(
      simplex_, Eigen::VectorXd::Zero(objectives_.size()), std::move(engine));
}

inline nlohmann::json FusionSearch::settings_json() const {
  nlohmann::json s;
  s["kind"] = "fusion_search_settings";
  s["seed"] = options_.seed;
  s["num_initial"] = options_.num_initial;
  s["lower_bounds"] = detail::json_from_vector(simplex_.lower());
  s["upper_bounds"] = detail::json_from_vector(simplex_.upper());
  nlohmann::json members = nullptr;
  if (options_.member_values.size() > 0) {
    members = nlohmann::json::array();
    for (Eigen::Index i = 0; i < options_.member_values.rows(); ++i) {
      members.push_back(detail::json_from_vector(options_.member_values.row(i).transpose()));
    }
  }
  s["member_values"] = members;
  const NormalizationOptions& n = options_.normalization;
  s["normalization"] = {{"anchor", to_string(n.anchor)},
                        {"anchor_grid", n.anchor_grid},
                        {"metric_range", n.metric_range},
                        {"loss_range", n.loss_range},
                        {"anchor_overrides", detail::optional_list_json(n.anchor_overrides)},
                        {"range_overrides", detail::optional_list_json(n.range_overrides)}};
  s["blind_search"] = {{"patience", options_.blind_search.patience},
                       {"move_reference_point", options_.blind_search.move_reference_point}};
  const GpFitOptions& f = options_.fit;
  s["surrogate"] = {{"kernel", Matern52Kernel::name},
                    {"priors", f.priors ? "custom" : "botorch_legacy"},
                    {"num_starts", f.num_starts},
                    {"max_iterations", f.max_iterations},
                    {"standardize", f.standardize},
                    {"fixed_noise", f.fixed_noise ? nlohmann::json(*f.fixed_noise) : nullptr}};
  const QLogNehviOptions& a = options_.acquisition;
  s["acquisition"] = {{"num_samples", a.num_samples},
                      {"tau_relu", a.tau_relu},
                      {"tau_max", a.tau_max},
                      {"prune_baseline", a.prune_baseline},
                      {"prune_num_samples", a.prune_num_samples},
                      {"prune_max_frac", a.prune_max_frac}};
  const SimplexOptimizerOptions& o = options_.optimizer;
  s["optimizer"] = {{"raw_samples", o.raw_samples},
                    {"num_restarts", o.num_restarts},
                    {"eta", o.eta},
                    {"include_vertices", o.include_vertices},
                    {"include_barycentre", o.include_barycentre},
                    {"num_near_best", o.num_near_best},
                    {"near_best_sigma", o.near_best_sigma},
                    {"num_face_points", o.num_face_points},
                    {"refiner", static_cast<int>(o.refiner)},
                    {"refine_max_iterations", o.refine.max_iterations},
                    {"refine_max_evaluations", o.refine.max_evaluations}};
  // Added after the first journal format (a journal without it is still accepted): the full
  // priors and the tolerances, which also shape the proposals.
  const SimplexRefineOptions& r = o.refine;
  s["surrogate_and_refine"] = {
      {"priors", detail::gp_priors_json(f.priors ? *f.priors : GpPriors::botorch_legacy())},
      {"gradient_tolerance", f.gradient_tolerance},
      {"relative_tolerance", f.relative_tolerance},
      {"refine",
       {{"gradient_tolerance", r.gradient_tolerance},
        {"value_tolerance", r.value_tolerance},
        {"patience", r.patience},
        {"nonmonotone_memory", r.nonmonotone_memory},
        {"armijo", r.armijo},
        {"min_step", r.min_step},
        {"max_step", r.max_step},
        {"lbfgs_memory", r.lbfgs_memory},
        {"max_line_search", r.max_line_search}}}};
  return s;
}

inline void FusionSearch::check_settings_record() {
  const nlohmann::json expected = settings_json();
  for (const nlohmann::json& line : ledger_->journal().records()) {
    if (line.value("kind", std::string()) != "fusion_search_settings")
      continue;
    for (auto it = expected.begin(); it != expected.end(); ++it) {
      const auto found = line.find(it.key());
      if (found == line.end() && it.key() == "surrogate_and_refine")
        continue;  // written by a version that did not record it
      const std::string in_file = found == line.end() ? "missing" : found->dump();
      detail::require(found != line.end() && *found == it.value(), "bomf::FusionSearch",
                      "journal '", ledger_->path(),
                      "' was written by a fusion search with other settings: '", it.key(), "' is ",
                      in_file, " in the journal, ", it.value().dump(),
                      " for this run (use another journal file, or the same settings)");
    }
    return;
  }
  ledger_->journal().append(expected);
}

inline int FusionSearch::member_index(const Eigen::Ref<const Eigen::VectorXd>& delta) const {
  for (int i = 0; i < num_members_; ++i) {
    if (detail::same_point(vertices_[static_cast<std::size_t>(i)], delta))
      return i;
  }
  return -1;
}

inline void FusionSearch::set_member_state(int i, int state) {
  for (int k = 0; k < num_members_; ++k) {
    if (first_with_vertex_[static_cast<std::size_t>(k)] == i)
      member_state_[static_cast<std::size_t>(k)] = state;
  }
}

inline int FusionSearch::remaining() const {
  int left = 0;
  int search_pending = 0;
  for (const Pending& p : pending_) {
    search_pending += p.phase == FusionPhase::member ? 0 : 1;
  }
  for (const int state : member_state_) {
    left += state == 0 ? 1 : 0;
  }
  const int total = options_.num_initial + options_.num_iterations;
  return left + std::max(0, total - search_consumed_ - search_pending);
}

inline std::vector<Eigen::VectorXd> FusionSearch::pending() const {
  std::vector<Eigen::VectorXd> out;
  for (const Pending& p : pending_) {
    out.push_back(p.delta);
  }
  return out;
}

inline void FusionSearch::check_failures(const char* where) const {
  if (num_failures_ <= options_.max_failures)
    return;
  std::string last;
  for (auto it = records_.rbegin(); it != records_.rend(); ++it) {
    if (!it->ok) {
      last = detail::concat("; the last failure, at δ = ", detail::format_vector(it->delta), ": ",
                            it->error);
      break;
    }
  }
  throw too_many_failures(detail::concat(
      where, ": ", num_failures_,
      " evaluations failed, more than options.max_failures = ", options_.max_failures, last));
}

inline std::vector<Eigen::VectorXd> FusionSearch::suggest(int q) {
  constexpr const char* where = "bomf::FusionSearch::suggest";
  detail::require(q >= 1, where, "argument 'q' is ", q, ", expected q >= 1");
  check_failures(where);
  std::vector<Eigen::VectorXd> out;
  if (members_needed_) {
    for (int i = 0; i < num_members_ && static_cast<int>(out.size()) < q; ++i) {
      if (member_state_[static_cast<std::size_t>(i)] != 0)
        continue;
      set_member_state(i, 1);
      Pending p;
      p.delta = vertices_[static_cast<std::size_t>(i)];
      p.phase = FusionPhase::member;
      pending_.push_back(p);
      out.push_back(p.delta);
    }
  }
  int search_pending = 0;
  for (const Pending& p : pending_) {
    search_pending += p.phase == FusionPhase::member ? 0 : 1;
  }
  const int budget =
      options_.num_initial + options_.num_iterations - search_consumed_ - search_pending;
  Eigen::Index k = std::min<Eigen::Index>(q - static_cast<int>(out.size()), budget);
  if (!normalization_)
    k = std::min(k, engine_->design_points_remaining());
  if (k <= 0)
    return out;
  const std::vector<Eigen::VectorXd> xs = engine_->suggest(static_cast<int>(k));
  const SuggestTimings& timings = engine_->last_timings();
  bool fit_charged = false;
  for (std::size_t j = 0; j < xs.size(); ++j) {
    Pending p;
    p.delta = xs[j];
    p.phase = engine_->is_design_point(xs[j]) ? FusionPhase::initial : FusionPhase::bayesian;
    if (p.phase == FusionPhase::bayesian && !fit_charged) {
      p.fit_seconds = timings.fit_seconds;
      fit_charged = true;
    }
    p.acquisition_seconds = timings.candidate_acquisition_seconds[j];
    pending_.push_back(p);
    out.push_back(p.delta);
  }
  return out;
}

inline void FusionSearch::observe(const Eigen::Ref<const Eigen::VectorXd>& delta,
                                  const FusionEvaluation& evaluation, double evaluation_seconds) {
  FusionRecord record;
  record.delta = delta;
  record.ok = true;
  record.evaluation = evaluation;
  record.seconds = evaluation_seconds;
  observe(std::move(record));
}

inline void FusionSearch::observe_failure(const Eigen::Ref<const Eigen::VectorXd>& delta,
                                          std::string reason, double evaluation_seconds) {
  FusionRecord record;
  record.delta = delta;
  record.ok = false;
  record.error = reason.empty() ? std::string("failed (no reason given)") : std::move(reason);
  record.seconds = evaluation_seconds;
  observe(std::move(record));
}

inline void FusionSearch::observe(FusionRecord record) {
  constexpr const char* where = "bomf::FusionSearch::observe";
  detail::require_shape(record.delta, num_members_, 1, where, "delta");
  detail::require_finite(record.delta, where, "delta");
  detail::require(simplex_.contains(record.delta, 1e-9), where,
                  "δ = ", detail::format_vector(record.delta, 17),
                  " is not in the feasible set (bounds exact, entries summing to 1 within 1e-9)");
  const auto num_metrics = static_cast<Eigen::Index>(objectives_.metrics.size());
  // A wrong metric count is journaled (failed, values kept) before it is thrown.
  const std::string violation = detail::mark_metric_count_violation(record, objectives_);
  if (record.ok) {
    record.error = detail::non_finite_reason(record.evaluation, objectives_);
    record.ok = record.error.empty();
  } else if (violation.empty() && record.evaluation.metrics.size() != num_metrics) {
    record.evaluation.metrics =
        Eigen::VectorXd::Constant(num_metrics, std::numeric_limits<double>::quiet_NaN());
  }
  const int i = member_index(record.delta);
  const bool member = members_needed_ && i >= 0 && member_state_[static_cast<std::size_t>(i)] != 2;
  record.source = member ? "member" : "search";
  auto it = std::find_if(pending_.begin(), pending_.end(), [&](const Pending& p) {
    return (p.phase == FusionPhase::member) == member && detail::same_point(p.delta, record.delta);
  });
  if (it != pending_.end()) {
    record.fit_seconds = it->fit_seconds;
    record.acquisition_seconds = it->acquisition_seconds;
  } else {
    record.fit_seconds = 0.0;
    record.acquisition_seconds = 0.0;
  }
  ledger_->append(record);  // durable before anything else happens
  if (it != pending_.end())
    pending_.erase(it);
  apply(record, /*replayed=*/false);
  if (!violation.empty()) {
    detail::throw_metric_count_violation(where, violation);
  }
  check_failures(where);
}

inline void FusionSearch::apply(const FusionRecord& journaled, bool replayed) {
  // A failed record may hold the values of an evaluation that broke the metric count (kept in
  // the journal); the search sees NaN metrics of the declared count.
  FusionRecord record = journaled;
  if (!record.ok &&
      record.evaluation.metrics.size() != static_cast<Eigen::Index>(objectives_.metrics.size())) {
    record.evaluation.metrics =
        Eigen::VectorXd::Constant(static_cast<Eigen::Index>(objectives_.metrics.size()),
                                  std::numeric_limits<double>::quiet_NaN());
  }
  FusionIteration row;
  row.index = static_cast<int>(trace_.size());
  row.delta = record.delta;
  row.ok = record.ok;
  row.error = record.error;
  row.reused = record.reused;
  row.replayed = replayed;
  row.evaluation = record.evaluation;
  row.fit_seconds = record.fit_seconds;
  row.acquisition_seconds = record.acquisition_seconds;
  row.evaluation_seconds = record.reused ? 0.0 : record.seconds;

  // Running bests (natural units, each objective in its own direction).
  const int num_metrics = static_cast<int>(objectives_.metrics.size());
  if (trace_.empty()) {
    row.best_loss = std::numeric_limits<double>::quiet_NaN();
    row.best_metrics =
        Eigen::VectorXd::Constant(num_metrics, std::numeric_limits<double>::quiet_NaN());
  } else {
    row.best_loss = trace_.back().best_loss;
    row.best_metrics = trace_.back().best_metrics;
  }
  if (record.ok) {
    if (std::isnan(row.best_loss) || record.evaluation.loss < row.best_loss)
      row.best_loss = record.evaluation.loss;
    for (int k = 0; k < num_metrics; ++k) {
      const double v = record.evaluation.metrics(k);
      double& best = row.best_metrics(k);
      const bool higher =
          objectives_.metrics[static_cast<std::size_t>(k)].direction == Direction::maximize;
      if (std::isnan(best) || (higher ? v > best : v < best))
        best = v;
    }
  }

  const int i = member_index(record.delta);
  const bool member = record.source == "member" && members_needed_ && i >= 0 &&
                      member_state_[static_cast<std::size_t>(i)] != 2;
  FusionRecord stored = record;
  stored.source = member ? "member" : "search";
  records_.push_back(stored);
  if (!record.ok)
    ++num_failures_;
  if (member) {
    row.phase = FusionPhase::member;
    set_member_state(i, 2);
    if (record.ok) {
      for (int k = 0; k < num_members_; ++k) {
        if (first_with_vertex_[static_cast<std::size_t>(k)] == i)
          member_values_.row(k) = natural_values(record.evaluation).transpose();
      }
    }
    member_order_.push_back(row.index);
    trace_.push_back(row);
    const bool all_done =
        std::all_of(member_state_.begin(), member_state_.end(), [](int s) { return s == 2; });
    if (all_done && replayed && !any_member_succeeded() && !anchors_without_members()) {
      // The run that wrote this journal stopped here (every member failed, so the
      // normalization had no anchor): this resume evaluates the members again.
      std::fill(member_state_.begin(), member_state_.end(), 0);
      member_order_.clear();
    } else if (all_done) {
      set_normalization();
    }
  } else {
    row.phase =
        engine_->is_design_point(record.delta) ? FusionPhase::initial : FusionPhase::bayesian;
    ++search_consumed_;
    trace_.push_back(row);
    if (normalization_) {
      feed_engine(stored, row.index);
    } else {
      buffered_.push_back(row.index);
      // Keep it out of the design until it can be observed (pending order = record order, the
      // same in a live run and in a replay).
      engine_->cancel_pending(record.delta);
      engine_->add_pending(record.delta);
    }
  }
  trace_.back().hypervolume =
      normalization_ ? engine_->hypervolume() : std::numeric_limits<double>::quiet_NaN();
  check_blind();
}

inline void FusionSearch::check_blind() {
  if (!normalization_)
    return;
  if (trace_.back().hypervolume > 0.0) {
    blind_ = false;
    return;
  }
  if (search_consumed_ < options_.num_initial + options_.blind_search.patience)
    return;
  trace_.back().blind = true;
  if (blind_)
    return;
  blind_ = true;
  std::string warning = blind_diagnosis();
  const bool move = options_.blind_search.move_reference_point && !reference_moved_;
  warning += move ? " The reference point is moved to the nadir of the evaluations so far "
                    "(blind_search.move_reference_point)."
                  : " What to do: use NormalizationAnchor::worst_member (the paper's anchor, "
                    "the default), lower the anchors (normalization.anchor_overrides), or set "
                    "blind_search.move_reference_point.";
  warnings_.push_back(std::move(warning));
  if (move) {
    move_reference_point();
    trace_.back().reference_moved = true;
    trace_.back().hypervolume = engine_->hypervolume();
    blind_ = !(trace_.back().hypervolume > 0.0);
  }
}

inline std::string FusionSearch::blind_diagnosis() const {
  const int m = objectives_.size();
  Eigen::VectorXd best = Eigen::VectorXd::Constant(m, -std::numeric_limits<double>::infinity());
  int ok = 0;
  for (const FusionRecord& r : records_) {
    if (!r.ok)
      continue;
    ++ok;
    best = best.cwiseMax(normalization_->normalize(r.evaluation));
  }
  std::string why;
  for (int j = 0; j < m; ++j) {
    if (best(j) > 0.0)
      continue;
    const Eigen::VectorXd natural = normalization_->to_natural(best);
    why += detail::concat(why.empty() ? "" : "; ", "no evaluation improves '", objectives_.name(j),
                          "' on the reference (best ",
                          detail::format_number(ok > 0 ? natural(j)
                                                       : std::numeric_limits<double>::quiet_NaN()),
                          ", reference ", detail::format_number(normalization_->anchor()(j)), ")");
  }
  if (why.empty())
    why = "each objective is improved by some evaluation, but none improves all of them at once "
          "(the objectives conflict at the reference point)";
  return detail::concat("blind search: the normalized hypervolume is 0 after ", trace_.size(),
                        " evaluations (", search_consumed_,
                        " of the search), so log-qNEHVI has no signal: ", why, ".");
}

inline void FusionSearch::move_reference_point() {
  const int m = objectives_.size();
  std::vector<int> ok_rows;
  for (std::size_t r = 0; r < records_.size(); ++r) {
    if (records_[r].ok)
      ok_rows.push_back(static_cast<int>(r));
  }
  Eigen::MatrixXd values(static_cast<Eigen::Index>(ok_rows.size()), m);
  for (std::size_t i = 0; i < ok_rows.size(); ++i) {
    values.row(static_cast<Eigen::Index>(i)) =
        natural_values(records_[static_cast<std::size_t>(ok_rows[i])].evaluation).transpose();
  }
  NormalizationOptions moved = options_.normalization;
  moved.anchor = NormalizationAnchor::worst_member;
  moved.anchor_overrides.clear();
  moved.range_overrides.assign(static_cast<std::size_t>(m), std::nullopt);
  for (int j = 0; j < m; ++j) {
    moved.range_overrides[static_cast<std::size_t>(j)] = normalization_->range()(j);
  }
  normalization_ = Normalization::from_members(objectives_, values, moved);
  reference_moved_ = true;
  // A new engine on the new normalization, fed the same observations in the same order, with
  // the same pending points (the design and every seed depend only on the counts).
  engine_ = make_engine();
  const std::vector<int> fed = std::move(fed_);
  fed_.clear();
  for (const int row : fed) {
    feed_engine(records_[static_cast<std::size_t>(row)], row);
  }
  for (const Pending& p : pending_) {
    if (p.phase != FusionPhase::member)
      engine_->add_pending(p.delta);
  }
}

inline bool FusionSearch::any_member_succeeded() const {
  for (Eigen::Index i = 0; i < member_values_.rows(); ++i) {
    if (member_values_.row(i).allFinite())
      return true;
  }
  return false;
}

inline bool FusionSearch::anchors_without_members() const {
  return options_.member_values.size() == 0 &&
         options_.normalization.all_anchors_overridden(objectives_.size());
}

inline void FusionSearch::set_normalization() {
  if (anchors_without_members()) {
    normalization_ = Normalization::from_overrides(objectives_, options_.normalization);
  } else {
    if (!any_member_succeeded()) {
      throw evaluation_error(detail::concat(
          "bomf::FusionSearch: every member evaluation failed, so the normalization has no "
          "anchor. Fix the cause and run again",
          ledger_->path().empty() ? ""
                                  : detail::concat(" on journal '", ledger_->path(),
                                                   "' (the members are evaluated again)"),
          ", or supply FusionSearchOptions::member_values or normalization.anchor_overrides"
          " (with a new journal)"));
    }
    normalization_ =
        Normalization::from_members(objectives_, member_values_, options_.normalization);
  }
  if (members_needed_) {
    for (const int row : member_order_) {
      feed_engine(records_[static_cast<std::size_t>(row)], row);
    }
  }
  for (const int row : buffered_) {
    feed_engine(records_[static_cast<std::size_t>(row)], row);
  }
  buffered_.clear();
}

inline void FusionSearch::feed_engine(const FusionRecord& record, int row) {
  fed_.push_back(row);
  if (record.ok) {
    engine_->observe(record.delta, normalization_->normalize(record.evaluation));
  } else {
    engine_->observe_failure(record.delta);
  }
}

inline FusionParetoSet FusionSearch::pareto_set() const {
  const int m = objectives_.size();
  FusionParetoSet set;
  set.deltas.resize(0, num_members_);
  set.natural.resize(0, m);
  set.normalized.resize(0, m);
  if (!normalization_)
    return set;
  std::vector<int> ok_rows;
  for (std::size_t r = 0; r < records_.size(); ++r) {
    if (records_[r].ok)
      ok_rows.push_back(static_cast<int>(r));
  }
  Eigen::MatrixXd y(static_cast<Eigen::Index>(ok_rows.size()), m);
  for (std::size_t r = 0; r < ok_rows.size(); ++r) {
    y.row(static_cast<Eigen::Index>(r)) =
        normalization_->normalize(records_[static_cast<std::size_t>(ok_rows[r])].evaluation)
            .transpose();
  }
  const std::vector<bool> mask = ok_rows.empty() ? std::vector<bool>() : non_dominated_mask(y);
  for (std::size_t r = 0; r < ok_rows.size(); ++r) {
    if (mask[r])
      set.trace_indices.push_back(ok_rows[r]);
  }
  const auto p = static_cast<Eigen::Index>(set.trace_indices.size());
  set.deltas.resize(p, num_members_);
  set.natural.resize(p, m);
  set.normalized.resize(p, m);
  for (Eigen::Index r = 0; r < p; ++r) {
    const FusionRecord& rec = records_[static_cast<std::size_t>(set.trace_indices[r])];
    set.deltas.row(r) = rec.delta.transpose();
    set.natural.row(r) = natural_values(rec.evaluation).transpose();
    set.normalized.row(r) = normalization_->normalize(rec.evaluation).transpose();
  }
  return set;
}

inline FusionResult FusionSearch::make_result(int trace_index, const char* method) const {
  FusionResult result;
  result.method = method;
  const FusionRecord& rec = records_[static_cast<std::size_t>(trace_index)];
  result.delta = rec.delta;
  result.evaluation = rec.evaluation;
  result.evaluations = static_cast<int>(trace_.size());
  for (const FusionIteration& row : trace_) {
    result.new_evaluations += row.reused ? 0 : 1;
    result.seconds += row.evaluation_seconds + row.fit_seconds + row.acquisition_seconds;
  }
  return result;
}

inline FusionResult FusionSearch::select(const FusionSelection& selection) const {
  constexpr const char* where = "bomf::FusionSearch::select";
  const std::string error =
      detail::validate_selection(selection, static_cast<int>(objectives_.metrics.size()));
  detail::require(error.empty(), where, "invalid selection: ", error);
  const FusionParetoSet set = pareto_set();
  if (set.trace_indices.empty()) {
    throw evaluation_error(detail::concat(
        where, ": nothing to select from (",
        normalization_ ? "no evaluation succeeded" : "the members have not all been observed yet",
        ")"));
  }
  if (selection.rule == FusionSelectionRule::posterior_metric_sum &&
      engine_->num_observed() >= 2) {
    // Every successful evaluation (the first record of each δ), scored by the posterior mean of
    // the normalized metric sum; ties to the higher observed normalized loss, then the earlier.
    std::vector<int> rows;
    std::set<std::vector<double>> seen;
    for (std::size_t r = 0; r < records_.size(); ++r) {
      if (records_[r].ok && seen.insert(detail::point_key(records_[r].delta)).second)
        rows.push_back(static_cast<int>(r));
    }
    Eigen::MatrixXd x(static_cast<Eigen::Index>(rows.size()), num_members_);
    for (std::size_t i = 0; i < rows.size(); ++i) {
      x.row(static_cast<Eigen::Index>(i)) =
          records_[static_cast<std::size_t>(rows[i])].delta.transpose();
    }
    const Eigen::MatrixXd mean = engine_->posterior_means(x);
    std::size_t best = 0;
    double best_score = -std::numeric_limits<double>::infinity();
    double best_loss = -std::numeric_limits<double>::infinity();
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const auto r = static_cast<Eigen::Index>(i);
      const double score = mean.row(r).tail(mean.cols() - 1).sum();
      const double loss =
          normalization_->normalize(records_[static_cast<std::size_t>(rows[i])].evaluation)(0);
      if (score > best_score || (score == best_score && loss > best_loss)) {
        best = i;
        best_score = score;
        best_loss = loss;
      }
    }
    return make_result(rows[best], "BOMF");
  }
  Eigen::Index best = 0;
  double best_score = -std::numeric_limits<double>::infinity();
  for (Eigen::Index r = 0; r < set.normalized.rows(); ++r) {
    const auto y = set.normalized.row(r);
    double score = 0.0;
    switch (selection.rule) {
      case FusionSelectionRule::best_metric_sum:
      case FusionSelectionRule::posterior_metric_sum:  // fewer than 2 points in the GP data
        score = y.tail(y.size() - 1).sum();
        break;
      case FusionSelectionRule::lowest_loss:
        score = y(0);
        break;
      case FusionSelectionRule::best_metric:
        score = y(1 + selection.metric);
        break;
      case FusionSelectionRule::weighted_sum:
        score = (y.transpose().array() * selection.weights.array()).sum();
        break;
    }
    const bool better =
        score > best_score || (score == best_score && y(0) > set.normalized(best, 0));
    if (better) {
      best = r;
      best_score = score;
    }
  }
  return make_result(set.trace_indices[static_cast<std::size_t>(best)], "BOMF");
}

inline FusionSummary FusionSearch::summary() const {
  FusionSummary s;
  s.num_members = num_members_;
  s.objectives = objectives_;
  s.trace = trace_;
  s.num_evaluations = static_cast<int>(trace_.size());
  for (const FusionIteration& row : trace_) {
    s.num_failures += row.ok ? 0 : 1;
    s.num_reused += row.reused ? 1 : 0;
    s.num_replayed += row.replayed ? 1 : 0;
    s.fit_seconds += row.fit_seconds;
    s.acquisition_seconds += row.acquisition_seconds;
    s.evaluation_seconds += row.evaluation_seconds;
  }
  s.termination = finished() ? FusionTermination::budget_exhausted : FusionTermination::in_progress;
  if (normalization_) {
    s.anchor = normalization_->anchor();
    s.range = normalization_->range();
  }
  s.pareto_set = pareto_set();
  if (!s.pareto_set.trace_indices.empty())
    s.result = result();
  s.warnings = warnings_;
  return s;
}

inline std::string FusionSummary::brief_report() const {
  std::ostringstream out;
  out << std::setprecision(5);
  out << "BOMF fusion search: N = " << num_members << " members, objectives";
  for (int j = 0; j < objectives.size(); ++j) {
    out << (j == 0 ? " " : ", ") << objectives.name(j);
  }
  out << "; " << to_string(termination) << "\n";
  int counts[3] = {0, 0, 0};
  for (const FusionIteration& row : trace) {
    ++counts[static_cast<int>(row.phase)];
  }
  out << "  evaluations: " << num_evaluations << " (" << counts[0] << " members, " << counts[1]
      << " initial, " << counts[2] << " Bayesian), " << num_failures << " failed, " << num_reused
      << " reused, " << num_replayed << " replayed from the journal\n";
  if (!trace.empty()) {
    const FusionIteration& last = trace.back();
    out << "  normalized hypervolume: " << last.hypervolume << "; best " << objectives.name(0)
        << " " << last.best_loss;
    for (int k = 0; k + 1 < objectives.size(); ++k) {
      out << ", best " << objectives.name(k + 1) << " " << last.best_metrics(k);
    }
    out << "\n";
  }
  out << "  Pareto set: " << pareto_set.trace_indices.size() << " points\n";
  if (result) {
    out << "  selected δ = " << detail::format_vector(result->delta) << ": " << objectives.name(0)
        << " " << result->evaluation.loss;
    for (Eigen::Index k = 0; k < result->evaluation.metrics.size(); ++k) {
      out << ", " << objectives.name(static_cast<int>(k) + 1) << " "
          << result->evaluation.metrics(k);
    }
    out << "\n";
  }
  for (const std::string& w : warnings) {
    out << "  WARNING: " << w << "\n";
  }
  int bayesian = std::max(1, counts[2]);
  out << "  time: " << total_seconds << " s in this call; evaluations " << evaluation_seconds
      << " s, GP fits " << fit_seconds << " s, acquisition " << acquisition_seconds
      << " s (per Bayesian iteration: fit " << fit_seconds / bayesian << " s, acquisition "
      << acquisition_seconds / bayesian << " s)\n";
  return out.str();
}

inline FusionResult solve(const FusionSearchOptions& options, FusionEvaluator& evaluator,
                          FusionSummary* summary) {
  constexpr const char* where = "bomf::solve";
  const detail::Stopwatch clock;
  detail::require(options.journal.empty() || options.journal == evaluator.ledger().path(), where,
                  "options.journal is '", options.journal, "' but the evaluator's journal is '",
                  evaluator.ledger().path(), "', expected the same file or \"\"");
  FusionSearch search(evaluator.ledger(), options);
  FusionTermination termination = FusionTermination::budget_exhausted;
  auto fill = [&](FusionTermination t) {
    if (summary != nullptr) {
      *summary = search.summary();
      summary->termination = t;
      summary->total_seconds = clock.seconds();
    }
  };
  try {
    while (!search.finished()) {
      const std::vector<Eigen::VectorXd> next = search.suggest(1);
      if (next.empty()) {
        throw std::logic_error(
            "bomf::solve: the search proposed nothing before its budget was spent (a bug)");
      }
      search.observe(evaluator.compute(next.front()));
      if (options.callback && !options.callback(search.trace().back())) {
        termination = FusionTermination::stopped_by_callback;
        break;
      }
    }
  } catch (const too_many_failures&) {
    fill(FusionTermination::too_many_failures);
    throw;
  }
  fill(termination);
  return search.result();
}

inline FusionResult solve(const FusionSearchOptions& options, FusionProblem& problem,
                          FusionSummary* summary) {
  const std::string error = options.validate(problem.num_members(), problem.objectives());
  detail::require(error.empty(), "bomf::solve", "invalid options: ", error);
  FusionEvaluator evaluator(problem, options.journal);
  return solve(options, evaluator, summary);
}

}  // namespace bomf
