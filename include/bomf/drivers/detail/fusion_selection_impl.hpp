// bomf/drivers/detail/fusion_selection_impl.hpp — the evaluated Pareto set and the choice of the
// returned δ (fusion_selection.hpp; included at the end of bomf/drivers/fusion_search.hpp; not a
// public header).
#pragma once

#include <limits>
#include <set>
#include <vector>

#include "bomf/drivers/detail/points.hpp"

namespace bomf {

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

inline int FusionSearch::select_by_posterior() const {
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
  return rows[best];
}

inline FusionResult FusionSearch::select(const FusionSelection& selection) const {
  constexpr const char* where = "bomf::FusionSearch::select";
  const std::string error = selection.validate(objectives_.num_metrics());
  detail::require(error.empty(), where, "invalid selection: ", error);
  const FusionParetoSet set = pareto_set();
  if (set.trace_indices.empty()) {
    // Without a normalization: the members are still to be evaluated, or every member has been
    // evaluated and none succeeded (also when a replay has set them to be evaluated again).
    bool members_failed = true;
    for (const Eigen::VectorXd& vertex : vertices_) {
      bool evaluated = false;
      for (const FusionRecord& r : records_) {
        if (r.proposal == ProposalKind::member && detail::same_point(r.delta, vertex)) {
          evaluated = true;
          members_failed = members_failed && !r.ok;
        }
      }
      members_failed = members_failed && evaluated;
    }
    throw evaluation_error(detail::concat(where, ": nothing to select from (",
                                          normalization_   ? "no evaluation succeeded"
                                          : members_failed ? "every member evaluation failed"
                                                           : "the members have not all been "
                                                             "observed yet",
                                          ")"));
  }
  if (selection.rule == FusionSelectionRule::posterior_metric_sum && engine_->num_observed() >= 2)
    return make_result(select_by_posterior(), "BOMF");
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

}  // namespace bomf
