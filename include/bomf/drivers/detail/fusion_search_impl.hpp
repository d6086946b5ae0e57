// bomf/drivers/detail/fusion_search_impl.hpp — definitions of bomf/drivers/fusion_search.hpp:
// the ask/tell state machine, replay, the normalization, blind searches and `solve` (included at
// its end; not a public header). Options and the settings record: fusion_options_impl.hpp;
// the Pareto set and selection: fusion_selection_impl.hpp; summaries: fusion_summary_impl.hpp.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "bomf/drivers/detail/points.hpp"
#include "bomf/drivers/detail/stopwatch.hpp"

namespace bomf {

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

  member_state_.assign(static_cast<std::size_t>(num_members_), MemberState::to_evaluate);
  member_values_ =
      Eigen::MatrixXd::Constant(num_members_, m, std::numeric_limits<double>::quiet_NaN());
  if (options_.member_values.size() > 0) {
    member_values_ = options_.member_values;
    std::fill(member_state_.begin(), member_state_.end(), MemberState::done);
  } else if (options_.normalization.all_anchors_overridden(m)) {
    std::fill(member_state_.begin(), member_state_.end(), MemberState::done);
  } else {
    members_needed_ = true;
  }

  engine_ = make_engine();
  if (!members_needed_)
    set_normalization();

  check_settings_record();
  const std::string torn =
      SearchSummary::torn_line_warning(ledger_->path(), ledger_->journal().recovered_torn_bytes());
  if (!torn.empty())
    warnings_.push_back(torn);
  for (const FusionRecord& record : ledger_->records()) {
    if (record.source == FusionRecord::search_source)
      apply(detail::record_view(record, objectives_), /*replayed=*/true);
  }
}

inline std::unique_ptr<FusionSearch::Engine> FusionSearch::make_engine() const {
  MultiObjectiveSearchOptions<SimplexDomain> engine;
  engine.num_initial = options_.num_initial;
  engine.seed = options_.seed;
  engine.gp = options_.gp;
  engine.acquisition = options_.acquisition;
  engine.acquisition_optimizer = options_.acquisition_optimizer;
  return std::make_unique<Engine>(simplex_, Eigen::VectorXd::Zero(objectives_.size()),
                                  std::move(engine));
}

inline int FusionSearch::member_index(const Eigen::Ref<const Eigen::VectorXd>& delta) const {
  for (int i = 0; i < num_members_; ++i) {
    if (detail::same_point(vertices_[static_cast<std::size_t>(i)], delta))
      return i;
  }
  return -1;
}

inline void FusionSearch::set_member_state(int i, MemberState state) {
  for (int k = 0; k < num_members_; ++k) {
    if (first_with_vertex_[static_cast<std::size_t>(k)] == i)
      member_state_[static_cast<std::size_t>(k)] = state;
  }
}

inline bool FusionSearch::all_members_done() const {
  return std::all_of(member_state_.begin(), member_state_.end(),
                     [](MemberState s) { return s == MemberState::done; });
}

inline int FusionSearch::search_pending() const {
  return static_cast<int>(std::count_if(pending_.begin(), pending_.end(), [](const Pending& p) {
    return p.kind != ProposalKind::member;
  }));
}

inline int FusionSearch::remaining() const {
  const int members_left = static_cast<int>(
      std::count(member_state_.begin(), member_state_.end(), MemberState::to_evaluate));
  const int total = options_.num_initial + options_.num_iterations;
  return members_left + std::max(0, total - search_consumed_ - search_pending());
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
      if (member_state_[static_cast<std::size_t>(i)] != MemberState::to_evaluate)
        continue;
      set_member_state(i, MemberState::pending);
      Pending p;
      p.delta = vertices_[static_cast<std::size_t>(i)];
      p.kind = ProposalKind::member;
      pending_.push_back(p);
      out.push_back(p.delta);
    }
  }
  const int budget =
      options_.num_initial + options_.num_iterations - search_consumed_ - search_pending();
  Eigen::Index k = std::min<Eigen::Index>(q - static_cast<int>(out.size()), budget);
  if (!normalization_)
    k = std::min(k, engine_->design_points_remaining());
  if (k <= 0)
    return out;
  for (Proposal& proposal : engine_->suggest(static_cast<int>(k))) {
    Pending p;
    p.delta = std::move(proposal.point);
    p.kind = proposal.kind;
    p.fit_seconds = proposal.fit_seconds;
    p.acquisition_seconds = proposal.acquisition_seconds;
    p.fallback_reason = std::move(proposal.fallback_reason);
    out.push_back(p.delta);
    pending_.push_back(std::move(p));
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
  record.error = std::move(reason);
  record.evaluation.metrics = Eigen::VectorXd::Constant(objectives_.num_metrics(),
                                                        std::numeric_limits<double>::quiet_NaN());
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
  // Where δ came from: its pending suggestion, else a member still to evaluate, else external.
  const auto it = std::find_if(pending_.begin(), pending_.end(), [&](const Pending& p) {
    return detail::same_point(p.delta, record.delta);
  });
  const int i = member_index(record.delta);
  if (it != pending_.end()) {
    record.proposal = it->kind;
    record.fit_seconds = it->fit_seconds;
    record.acquisition_seconds = it->acquisition_seconds;
    if (!it->fallback_reason.empty() && numerical_fallbacks_++ == 0)
      first_fallback_reason_ = it->fallback_reason;
  } else {
    const bool member = members_needed_ && i >= 0 &&
                        member_state_[static_cast<std::size_t>(i)] != MemberState::done;
    record.proposal = member ? ProposalKind::member : ProposalKind::external;
    record.fit_seconds = 0.0;
    record.acquisition_seconds = 0.0;
  }
  record.source = FusionRecord::search_source;
  // Canonical before the ledger sees it, so a contract violation is thrown here, after apply.
  const std::string violation = detail::canonicalize_record(record, objectives_);
  ledger_->append(record);  // durable before anything else happens
  if (it != pending_.end())
    pending_.erase(it);
  apply(detail::record_view(std::move(record), objectives_), /*replayed=*/false);
  if (!violation.empty())
    detail::throw_metric_count_violation(where, violation);
  check_failures(where);
}

inline void FusionSearch::update_best(FusionIteration& row, const FusionRecord& record) const {
  const int num_metrics = objectives_.num_metrics();
  if (trace_.empty()) {
    row.best_loss = std::numeric_limits<double>::quiet_NaN();
    row.best_metrics =
        Eigen::VectorXd::Constant(num_metrics, std::numeric_limits<double>::quiet_NaN());
  } else {
    row.best_loss = trace_.back().best_loss;
    row.best_metrics = trace_.back().best_metrics;
  }
  if (!record.ok)
    return;
  if (std::isnan(row.best_loss) || record.evaluation.loss < row.best_loss)
    row.best_loss = record.evaluation.loss;
  for (int k = 0; k < num_metrics; ++k) {
    const double v = record.evaluation.metrics(k);
    double& best = row.best_metrics(k);
    const bool higher = objectives_.direction(k + 1) == Direction::maximize;
    if (std::isnan(best) || (higher ? v > best : v < best))
      best = v;
  }
}

inline void FusionSearch::apply(const FusionRecord& record, bool replayed) {
  FusionIteration row;
  row.index = static_cast<int>(trace_.size());
  row.proposal = record.proposal;
  row.delta = record.delta;
  row.ok = record.ok;
  row.error = record.error;
  row.reused = record.reused;
  row.replayed = replayed;
  row.evaluation = record.evaluation;
  row.fit_seconds = record.fit_seconds;
  row.acquisition_seconds = record.acquisition_seconds;
  row.evaluation_seconds = record.reused ? 0.0 : record.seconds;
  update_best(row, record);

  const int i = member_index(record.delta);
  const bool member = record.proposal == ProposalKind::member && members_needed_ && i >= 0 &&
                      member_state_[static_cast<std::size_t>(i)] != MemberState::done;
  if (!member && record.proposal == ProposalKind::member)
    row.proposal = ProposalKind::external;  // a vertex evaluated again: an ordinary point
  records_.push_back(record);
  records_.back().proposal = row.proposal;
  trace_.push_back(row);
  if (!record.ok)
    ++num_failures_;
  if (member) {
    set_member_state(i, MemberState::done);
    if (record.ok) {
      for (int k = 0; k < num_members_; ++k) {
        if (first_with_vertex_[static_cast<std::size_t>(k)] == i)
          member_values_.row(k) = natural_values(record.evaluation).transpose();
      }
    }
    member_rows_.push_back(row.index);
    if (all_members_done() && replayed && !any_member_succeeded() && !anchors_without_members()) {
      // The run that wrote this journal stopped here (every member failed, so the
      // normalization had no anchor): this resume evaluates the members again.
      std::fill(member_state_.begin(), member_state_.end(), MemberState::to_evaluate);
      member_rows_.clear();
    } else if (all_members_done()) {
      set_normalization();
    }
  } else {
    ++search_consumed_;
    if (normalization_) {
      feed_engine(row.index);
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
    for (const int row : member_rows_) {
      feed_engine(row);
    }
  }
  for (const int row : buffered_) {
    feed_engine(row);
  }
  buffered_.clear();
}

inline void FusionSearch::feed_engine(int row) {
  fed_.push_back(row);
  const FusionRecord& record = records_[static_cast<std::size_t>(row)];
  if (record.ok) {
    engine_->observe(record.delta, normalization_->normalize(record.evaluation));
  } else {
    engine_->observe_failure(record.delta);
  }
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
  if (move) {
    warning +=
        " The reference point is moved to the nadir of the evaluations so far "
        "(blind_search.move_reference_point).";
  } else {
    // The worst member's anchor is the default: suggest it only to a search that does not use it.
    warning += detail::concat(
        " What to do: ",
        options_.normalization.anchor == NormalizationAnchor::worst_member
            ? ""
            : "use NormalizationAnchor::worst_member (the paper's anchor, the default), ",
        anchor_advice(),
        ", or set blind_search.move_reference_point (with a new journal: a journal's settings "
        "are fixed).");
  }
  warnings_.push_back(std::move(warning));
  if (move) {
    move_reference_point();
    trace_.back().reference_moved = true;
    trace_.back().hypervolume = engine_->hypervolume();
    blind_ = !(trace_.back().hypervolume > 0.0);
  }
}

inline Eigen::VectorXd FusionSearch::best_normalized() const {
  Eigen::VectorXd best =
      Eigen::VectorXd::Constant(objectives_.size(), -std::numeric_limits<double>::infinity());
  for (const FusionRecord& r : records_) {
    if (r.ok)
      best = best.cwiseMax(normalization_->normalize(r.evaluation));
  }
  return best;
}

inline std::string FusionSearch::anchor_advice() const {
  // The objectives no evaluation improves on the reference; all of them when each is improved
  // by some evaluation (they conflict there). A worse anchor is lower for a maximized objective,
  // higher for a minimized one (the loss).
  const Eigen::VectorXd best = best_normalized();
  const bool conflict = (best.array() > 0.0).all();
  std::string list;
  for (int j = 0; j < objectives_.size(); ++j) {
    if (!conflict && best(j) > 0.0)
      continue;
    list +=
        detail::concat(list.empty() ? "" : ", ",
                       objectives_.direction(j) == Direction::maximize ? "a lower '" : "a higher '",
                       objectives_.name(j), "'");
  }
  return detail::concat("move the anchors to worse values (normalization.anchor_overrides: ", list,
                        ")");
}

inline std::string FusionSearch::blind_diagnosis() const {
  const int m = objectives_.size();
  const Eigen::VectorXd best = best_normalized();
  const bool any =
      std::any_of(records_.begin(), records_.end(), [](const FusionRecord& r) { return r.ok; });
  std::string why;
  const Eigen::VectorXd natural = normalization_->to_natural(best);
  for (int j = 0; j < m; ++j) {
    if (best(j) > 0.0)
      continue;
    why += detail::concat(
        why.empty() ? "" : "; ", "no evaluation improves '", objectives_.name(j),
        "' on the reference (best ",
        detail::format_number(any ? natural(j) : std::numeric_limits<double>::quiet_NaN()),
        ", reference ", detail::format_number(normalization_->anchor()(j)), ")");
  }
  if (why.empty())
    why =
        "each objective is improved by some evaluation, but none improves all of them at once "
        "(the objectives conflict at the reference point)";
  return detail::concat("blind search: the normalized hypervolume is 0 after ", trace_.size(),
                        " evaluations (", search_consumed_,
                        " of the search), so log-qNEHVI has no signal: ", why, ".");
}

inline void FusionSearch::move_reference_point() {
  const int m = objectives_.size();
  std::vector<Eigen::VectorXd> rows;
  for (const FusionRecord& r : records_) {
    if (r.ok)
      rows.push_back(natural_values(r.evaluation));
  }
  Eigen::MatrixXd values(static_cast<Eigen::Index>(rows.size()), m);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    values.row(static_cast<Eigen::Index>(i)) = rows[i].transpose();
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
    feed_engine(row);
  }
  for (const Pending& p : pending_) {
    if (p.kind != ProposalKind::member)
      engine_->add_pending(p.delta);
  }
}

inline FusionResult solve(const FusionSearchOptions& options, FusionEvaluator& evaluator,
                          FusionSummary* summary) {
  constexpr const char* where = "bomf::solve";
  const detail::Stopwatch clock;
  detail::require(options.journal.empty() || options.journal == evaluator.ledger().path(), where,
                  "options.journal is '", options.journal, "' but the evaluator's journal is '",
                  evaluator.ledger().path(), "', expected the same file or \"\"");
  FusionSearch search(evaluator.ledger(), options);
  SearchTermination termination = SearchTermination::budget_reached;
  auto fill = [&](SearchTermination t, std::string message) {
    if (summary != nullptr) {
      *summary = search.summary();
      summary->termination = t;
      summary->message = std::move(message);
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
        termination = SearchTermination::stopped_by_callback;
        break;
      }
    }
  } catch (const too_many_failures& e) {
    fill(SearchTermination::too_many_failures, e.what());
    throw;
  }
  fill(termination,
       termination == SearchTermination::stopped_by_callback
           ? detail::concat("stopped by the callback after ", search.trace().size(), " evaluations")
           : detail::concat("budget of ", search.trace().size(), " evaluations reached"));
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
