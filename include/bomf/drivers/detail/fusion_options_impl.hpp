// bomf/drivers/detail/fusion_options_impl.hpp — the fusion search's options: their checks, and
// the settings record its journal compares on resume (included at the end of
// bomf/drivers/fusion_search.hpp; not a public header).
#pragma once

#include <string>

#include "bomf/drivers/detail/options_json.hpp"

namespace bomf {

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
  std::string e = normalization.validate(m);
  if (!e.empty())
    return "normalization." + e;
  e = selection.validate(num_metrics);
  if (!e.empty())
    return "selection." + e;
  MultiObjectiveSearchOptions<SimplexDomain> engine;
  engine.gp = gp;
  engine.acquisition = acquisition;
  engine.acquisition_optimizer = acquisition_optimizer;
  return engine.validate(SimplexDomain(Simplex(num_members)));
}

inline nlohmann::json FusionSearch::settings_json() const {
  nlohmann::json members = nullptr;
  if (options_.member_values.size() > 0) {
    members = nlohmann::json::array();
    for (Eigen::Index i = 0; i < options_.member_values.rows(); ++i) {
      members.push_back(detail::json_from_vector(options_.member_values.row(i).transpose()));
    }
  }
  const GpPriors priors = options_.gp.priors ? *options_.gp.priors : GpPriors::botorch_legacy();
  return {{"kind", "fusion_search_settings"},
          {"seed", options_.seed},
          {"num_initial", options_.num_initial},
          {"lower_bounds", detail::json_from_vector(simplex_.lower())},
          {"upper_bounds", detail::json_from_vector(simplex_.upper())},
          {"member_values", std::move(members)},
          {"normalization", options_.normalization.to_json()},
          {"blind_search", options_.blind_search.to_json()},
          {"gp", detail::options_json(options_.gp, priors, Matern52Kernel::name)},
          {"acquisition", detail::options_json(options_.acquisition)},
          {"acquisition_optimizer", detail::options_json(options_.acquisition_optimizer)}};
}

inline void FusionSearch::check_settings_record() {
  const nlohmann::json expected = settings_json();
  for (const nlohmann::json& line : ledger_->journal().records()) {
    if (line.value("kind", std::string()) != "fusion_search_settings")
      continue;
    for (auto it = expected.begin(); it != expected.end(); ++it) {
      const auto found = line.find(it.key());
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

}  // namespace bomf
