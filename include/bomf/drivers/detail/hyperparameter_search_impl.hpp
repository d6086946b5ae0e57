// bomf/drivers/detail/hyperparameter_search_impl.hpp — definitions of
// bomf/drivers/hyperparameter_search.hpp (included at its end; not a public header).
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>
#include <limits>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "bomf/acquisition/log_ei.hpp"
#include "bomf/core/error.hpp"
#include "bomf/drivers/detail/hyperparameter_record.hpp"
#include "bomf/drivers/detail/json_values.hpp"
#include "bomf/drivers/detail/options_json.hpp"
#include "bomf/drivers/detail/seeds.hpp"
#include "bomf/drivers/detail/stopwatch.hpp"
#include "bomf/gp/exact_gp.hpp"

namespace bomf {

// --------------------------------------------------------------------------------- the search

template <class Kernel>
BasicHyperparameterSearch<Kernel>::BasicHyperparameterSearch(SearchSpace space,
                                                             std::vector<MetricSpec> metrics,
                                                             HyperparameterSearchOptions options,
                                                             std::string fingerprint)
    : space_(std::make_shared<const SearchSpace>(
          (space.require_nonempty("bomf::HyperparameterSearch"), std::move(space)))),
      domain_(*space_),
      metrics_(std::move(metrics)),
      options_(std::move(options)),
      fingerprint_(std::move(fingerprint)) {
  constexpr const char* where = "bomf::HyperparameterSearch";
  validate_metric_specs(metrics_, where);
  const std::string error = options_.validate();
  detail::require(error.empty(), where, "invalid options: ", error);
  detail::require(
      options_.metric_scales.empty() || options_.metric_scales.size() == metrics_.size(), where,
      "options.metric_scales has ", options_.metric_scales.size(), " entries, expected 0 or ",
      metrics_.size(), " (one per metric)");
  for (const Dimension& d : space_->dimensions()) {
    has_continuous_ = has_continuous_ || d.kind == DimensionKind::continuous;
  }
  summary_.journal = options_.journal;
  if (!options_.journal.empty()) {
    journal_ = Journal(options_.journal, header());
    summary_.journal_torn_bytes = journal_.recovered_torn_bytes();
    const std::string torn =
        SearchSummary::torn_line_warning(options_.journal, journal_.recovered_torn_bytes());
    if (!torn.empty())
      summary_.warnings.push_back(torn);
    const std::vector<nlohmann::json>& records = journal_.records();
    for (std::size_t i = 0; i < records.size(); ++i) {
      replay(records[i], i);
    }
  }
}

template <class Kernel>
Hyperparameters BasicHyperparameterSearch<Kernel>::suggest() {
  check_failures();
  detail::require(!exhausted(), "bomf::HyperparameterSearch::suggest", "every one of the ",
                  space_->discrete_combinations(),
                  " settings of the (fully discrete) search space was already evaluated or is "
                  "pending; check exhausted() before suggesting");
  const auto k = static_cast<std::uint64_t>(summary_.trace.size() + pending_.size());
  Pending p;
  if (k < static_cast<std::uint64_t>(options_.num_initial)) {
    p.kind = ProposalKind::initial;
    p.setting = quasi_random_setting(k);
  } else if (y_.size() < 2) {
    p.kind = ProposalKind::fallback;
    p.setting = quasi_random_setting(k);
  } else {
    p.kind = ProposalKind::acquisition;
    p.setting = acquisition_setting(k, p.fit_seconds, p.acquisition_seconds);
  }
  Hyperparameters h(space_, p.setting);
  pending_.push_back(std::move(p));
  return h;
}

template <class Kernel>
void BasicHyperparameterSearch<Kernel>::observe(const Hyperparameters& hyperparameters,
                                                const TrainingTrajectory& trajectory,
                                                double train_seconds, int run_index) {
  constexpr const char* where = "bomf::HyperparameterSearch::observe";
  const std::vector<double> setting = checked_setting(hyperparameters, where);
  run_index = resolved_run_index(run_index, where);
  try {
    trajectory.validate(metrics_.size(), where);
  } catch (const invalid_argument& e) {
    // A malformed trajectory is a bug in the caller's code, but the training it reports was
    // paid for: journal it (a failed run keeping the trajectory as given), then throw.
    Run run;
    run.setting = setting;
    run.error = detail::concat("contract violation: ", e.what());
    run.train_seconds = train_seconds;
    run.rejected_trajectory = detail::trajectory_json(trajectory);
    run.run_index = run_index;
    try {
      complete(std::move(run));
    } catch (const too_many_failures&) {
      // journaled; the contract violation below is the cause to report
    }
    throw;
  }
  TrainingTrajectory t = trajectory;
  t.total_steps = t.effective_total_steps();
  Run run;
  run.setting = setting;
  run.trajectory = std::move(t);
  run.has_trajectory = true;
  run.train_seconds = train_seconds;
  run.run_index = run_index;
  const TrajectoryScore s = score_trajectory(run.trajectory, metrics_, options_.metric_scales);
  run.ok = s.ok();
  run.score = s.score;
  run.best_point = s.best_point;
  run.best_step = s.best_step;
  if (!run.ok) {
    run.error = run.trajectory.empty() ? "the trajectory has no point"
                                       : "no trajectory point has finite values for all metrics";
  }
  complete(std::move(run));
}

template <class Kernel>
void BasicHyperparameterSearch<Kernel>::observe_score(const Hyperparameters& hyperparameters,
                                                      double score, double train_seconds,
                                                      int run_index) {
  constexpr const char* where = "bomf::HyperparameterSearch::observe_score";
  Run run;
  run.setting = checked_setting(hyperparameters, where);
  run.run_index = resolved_run_index(run_index, where);
  run.ok = std::isfinite(score);
  run.score = run.ok ? score : std::numeric_limits<double>::quiet_NaN();
  run.error = run.ok ? std::string() : detail::concat("the observed score is ", score);
  run.train_seconds = train_seconds;
  complete(std::move(run));
}

template <class Kernel>
void BasicHyperparameterSearch<Kernel>::observe_failure(const Hyperparameters& hyperparameters,
                                                        const std::string& error,
                                                        double train_seconds, int run_index) {
  constexpr const char* where = "bomf::HyperparameterSearch::observe_failure";
  Run run;
  run.setting = checked_setting(hyperparameters, where);
  run.run_index = resolved_run_index(run_index, where);
  run.ok = false;
  run.error = error.empty() ? "training failed" : error;
  run.train_seconds = train_seconds;
  complete(std::move(run));
}

template <class Kernel>
int BasicHyperparameterSearch<Kernel>::resolved_run_index(int run_index, const char* where) const {
  if (run_index == -1)
    return next_run_index();
  detail::require(run_index >= 0, where, "run_index is ", run_index,
                  ", expected -1 (the next run number) or a run number >= 0");
  detail::require(!is_run_index_used(run_index), where, "run_index ", run_index,
                  " is already recorded (each run has its own number)");
  return run_index;
}

template <class Kernel>
bool BasicHyperparameterSearch<Kernel>::exhausted() const {
  if (has_continuous_)
    return false;
  std::set<std::vector<double>> distinct(taken_.begin(), taken_.end());
  for (const Pending& p : pending_) {
    distinct.insert(p.setting);
  }
  return static_cast<long long>(distinct.size()) >= space_->discrete_combinations();
}

template <class Kernel>
HyperparameterSearchResult BasicHyperparameterSearch<Kernel>::result() const {
  if (!has_result()) {
    throw too_many_failures(detail::concat(
        "bomf::HyperparameterSearch: none of the ", num_completed(), " runs succeeded",
        last_error_.empty() ? std::string() : "; last error: " + last_error_));
  }
  return best_;
}

template <class Kernel>
nlohmann::json BasicHyperparameterSearch<Kernel>::header() const {
  const GpPriors priors = options_.gp.priors
                              ? *options_.gp.priors
                              : GpPriors::botorch_current(static_cast<int>(space_->encoded_dim()));
  nlohmann::json metrics = nlohmann::json::array();
  for (const MetricSpec& m : metrics_) {
    metrics.push_back({{"name", m.name}, {"direction", to_string(m.direction)}});
  }
  std::vector<double> scales = options_.metric_scales;
  if (scales.empty())
    scales.assign(metrics_.size(), 1.0);
  return {{"format", "bomf.hyperparameter_journal"},
          {"version", Journal::format_version},
          {"space", detail::search_space_json(*space_)},
          {"metrics", std::move(metrics)},
          {"metric_scales", scales},
          {"fingerprint", fingerprint_},
          {"seed", options_.seed},
          {"num_initial", options_.num_initial},
          {"gp", detail::options_json(options_.gp, priors, Kernel::name)},
          {"acquisition_optimizer", detail::options_json(options_.acquisition_optimizer)}};
}

template <class Kernel>
std::vector<double> BasicHyperparameterSearch<Kernel>::checked_setting(const Hyperparameters& h,
                                                                       const char* where) const {
  detail::require(!h.empty(), where, "argument 'hyperparameters' is empty");
  detail::require(h.shared_space() == space_ || detail::same_search_space(h.space(), *space_),
                  where, "argument 'hyperparameters' belongs to another search space, expected ",
                  "a setting of this search's space");
  return h.values();
}

template <class Kernel>
bool BasicHyperparameterSearch<Kernel>::is_taken(const std::vector<double>& setting) const {
  for (const std::vector<double>& t : taken_) {
    if (t == setting)
      return true;
  }
  for (const Pending& p : pending_) {
    if (p.setting == setting)
      return true;
  }
  return false;
}

// Row k of the domain's quasi-random sequence, or the first later row that is not taken (at most
// 4096 further rows; beyond that row k itself).
template <class Kernel>
std::vector<double> BasicHyperparameterSearch<Kernel>::quasi_random_setting(std::uint64_t k) const {
  constexpr Eigen::Index lookahead = 4096;
  const Eigen::MatrixXd rows =
      domain_.quasi_random(static_cast<Eigen::Index>(k), lookahead,
                           detail::derive_seed(options_.seed, 0, detail::SeedStream::design));
  const auto row = [&rows](Eigen::Index j) {
    const Eigen::VectorXd r = rows.row(j).transpose();  // rows of a column-major matrix: strided
    return std::vector<double>(r.data(), r.data() + r.size());
  };
  for (Eigen::Index j = 0; j < lookahead; ++j) {
    std::vector<double> setting = row(j);
    if (!is_taken(setting))
      return setting;
  }
  return row(0);
}

template <class Kernel>
std::vector<double> BasicHyperparameterSearch<Kernel>::acquisition_setting(
    std::uint64_t k, double& fit_seconds, double& acquisition_seconds) const {
  const auto n = static_cast<Eigen::Index>(y_.size());
  Eigen::MatrixXd x(n, space_->encoded_dim());
  Eigen::VectorXd y(n);
  for (Eigen::Index i = 0; i < n; ++i) {
    x.row(i) = x_[static_cast<std::size_t>(i)].transpose();
    y(i) = y_[static_cast<std::size_t>(i)];
  }
  const detail::Stopwatch fit_clock;
  GpFitOptions fit = options_.gp;
  fit.seed = detail::derive_seed(options_.seed, k, detail::SeedStream::fit);
  ExactGP<Kernel> gp = fit_gp<Kernel>(x, y, fit);
  // Kriging believer: pending settings join the data at their posterior mean, which lowers
  // the uncertainty (hence LogEI) around them without changing the incumbent.
  for (const Pending& p : pending_) {
    const Eigen::VectorXd u = space_->encode(p.setting);
    gp.add_observation(u, gp.posterior_at(u).mean);
  }
  fit_seconds = fit_clock.seconds();

  const detail::Stopwatch acquisition_clock;
  LogExpectedImprovement<ExactGP<Kernel>> log_ei(gp, y.maxCoeff());
  // By value: each optimizer thread gets its own copy of the lambda, hence of LogEI and its
  // scratch workspace (the model is shared, read-only).
  auto acquisition = [log_ei](const Eigen::Ref<const Eigen::VectorXd>& u,
                              Eigen::Ref<Eigen::VectorXd> grad) {
    return log_ei.value_and_gradient(u, grad);
  };
  BoxOptimizerOptions box = options_.acquisition_optimizer;
  box.seed = detail::derive_seed(options_.seed, k, detail::SeedStream::optimizer);
  const BoxOptimizerResult best = maximize_in_box(acquisition, *space_, box);
  std::vector<double> setting = best.setting;
  if (is_taken(setting)) {
    // The best raw candidate by LogEI that is not taken (ties: the earlier row).
    double best_value = -std::numeric_limits<double>::infinity();
    std::vector<double> replacement;
    for (Eigen::Index r = 0; r < best.raw_candidates.rows(); ++r) {
      const Eigen::VectorXd u = best.raw_candidates.row(r).transpose();
      const double v = log_ei.value(u);
      if (v > best_value) {
        std::vector<double> candidate = space_->decode(u);
        if (!is_taken(candidate)) {
          best_value = v;
          replacement = std::move(candidate);
        }
      }
    }
    setting = replacement.empty() ? quasi_random_setting(k) : std::move(replacement);
  }
  acquisition_seconds = acquisition_clock.seconds();
  return setting;
}

template <class Kernel>
void BasicHyperparameterSearch<Kernel>::check_failures() const {
  if (summary_.num_failures > options_.max_failures) {
    throw too_many_failures(detail::concat(
        "bomf::HyperparameterSearch: ", summary_.num_failures, " of ", num_completed(),
        " runs failed, more than options.max_failures = ", options_.max_failures,
        " tolerates; last error: ", last_error_));
  }
}

// Appends `run` to the journal (durably, first), then updates the state.
template <class Kernel>
void BasicHyperparameterSearch<Kernel>::complete(Run run) {
  const auto match = std::find_if(pending_.begin(), pending_.end(),
                                  [&run](const Pending& p) { return p.setting == run.setting; });
  if (match != pending_.end()) {
    run.kind = match->kind;
    run.fit_seconds = match->fit_seconds;
    run.acquisition_seconds = match->acquisition_seconds;
  }
  journal_.append(record_json(run));  // durable before anything else changes
  if (match != pending_.end())
    pending_.erase(match);
  apply(std::move(run), /*replayed=*/false);
  check_failures();
}

template <class Kernel>
nlohmann::json BasicHyperparameterSearch<Kernel>::record_json(const Run& run) const {
  nlohmann::json r = {
      {"kind", "run"},
      {"index", summary_.trace.size()},
      {"run", run.run_index},
      {"proposal", to_string(run.kind)},
      {"status", run.ok ? "ok" : "failed"},
      {"setting", run.setting},
      {"hyperparameters", Hyperparameters(space_, run.setting).to_string()},
      {"score", detail::json_number(run.score)},
      {"best_step", run.best_step >= 0 ? nlohmann::json(run.best_step) : nlohmann::json(nullptr)},
      {"trajectory",
       run.has_trajectory ? detail::trajectory_json(run.trajectory) : nlohmann::json(nullptr)},
      {"seconds",
       {{"fit", run.fit_seconds},
        {"acquisition", run.acquisition_seconds},
        {"train", detail::json_number(run.train_seconds)}}}};
  if (!run.ok)
    r["error"] = run.error;
  if (!run.rejected_trajectory.is_null())
    r["rejected_trajectory"] = run.rejected_trajectory;
  return r;
}

template <class Kernel>
void BasicHyperparameterSearch<Kernel>::replay(const nlohmann::json& r, std::size_t i) {
  // Line i + 2 of the file: the header is line 1.
  const detail::RecordReader in(
      detail::concat("bomf::HyperparameterSearch: journal '", options_.journal, "'"), i + 2, r);
  const std::string kind = in.string(in.field("kind"), "kind");
  if (kind != "run")
    in.fail(detail::concat("'kind' is \"", kind, "\", expected \"run\""));
  const long long index = in.integer(in.field("index"), "index");
  if (index != static_cast<long long>(i))
    in.fail(detail::concat("'index' is ", index, ", expected ", i));
  Run run;
  // "run": the run number (TrainingContext::run_index); journals written before it existed
  // numbered runs by their index.
  const auto number = r.find("run");
  const long long run_number =
      number == r.end() ? static_cast<long long>(i) : in.integer(*number, "run");
  if (run_number < 0 || run_number > std::numeric_limits<int>::max())
    in.fail(detail::concat("'run' is ", run_number, ", expected a run number >= 0"));
  if (is_run_index_used(run_number))
    in.fail(detail::concat("'run' is ", run_number, ", the number of an earlier run"));
  run.run_index = static_cast<int>(run_number);
  const Eigen::VectorXd setting = in.vector(in.field("setting"), "setting", space_->size());
  run.setting.assign(setting.data(), setting.data() + setting.size());
  if (!space_->is_valid(run.setting))
    in.fail("'setting' is not a valid setting of the search space");
  try {
    run.kind = proposal_kind_from_string(in.string(in.field("proposal"), "proposal"), "proposal");
  } catch (const invalid_argument& e) {
    in.fail(e.what());
  }
  const std::string status = in.string(in.field("status"), "status");
  if (status != "ok" && status != "failed")
    in.fail(detail::concat("'status' is \"", status, "\", expected \"ok\" or \"failed\""));
  run.ok = status == "ok";
  const nlohmann::json& trajectory = in.field("trajectory");
  run.score = in.number(in.field("score"), "score");
  if (!trajectory.is_null()) {
    run.trajectory = detail::trajectory_from_json(in, trajectory, metrics_.size());
    run.has_trajectory = true;
    const TrajectoryScore s = score_trajectory(run.trajectory, metrics_, options_.metric_scales);
    if (s.ok() != run.ok || (run.ok && s.score != run.score))
      in.fail("its status or score disagrees with its trajectory");
    run.best_point = s.best_point;
    run.best_step = s.best_step;
  } else if (run.ok != std::isfinite(run.score)) {
    in.fail("its status disagrees with its score");
  }
  if (!run.ok) {
    const auto e = r.find("error");
    run.error = e != r.end() && e->is_string() ? e->get<std::string>() : "failed";
  }
  const nlohmann::json& seconds = in.field("seconds");
  run.fit_seconds = in.number(in.field(seconds, "fit"), "fit");
  run.acquisition_seconds = in.number(in.field(seconds, "acquisition"), "acquisition");
  run.train_seconds = in.number(in.field(seconds, "train"), "train");
  apply(std::move(run), /*replayed=*/true);
}

template <class Kernel>
void BasicHyperparameterSearch<Kernel>::apply(Run run, bool replayed) {
  HyperparameterIteration it;
  it.index = static_cast<int>(summary_.trace.size());
  it.run_index = run.run_index;
  if (static_cast<std::size_t>(run.run_index) >= run_index_used_.size())
    run_index_used_.resize(static_cast<std::size_t>(run.run_index) + 1, false);
  run_index_used_[static_cast<std::size_t>(run.run_index)] = true;
  it.hyperparameters = Hyperparameters(space_, run.setting);
  it.proposal = run.kind;
  it.ok = run.ok;
  it.replayed = replayed;
  it.error = run.error;
  it.score = run.score;
  it.best_step = run.best_step;
  it.fit_seconds = run.fit_seconds;
  it.acquisition_seconds = run.acquisition_seconds;
  it.evaluation_seconds = std::isfinite(run.train_seconds) ? run.train_seconds : 0.0;

  taken_.push_back(run.setting);
  if (run.ok) {
    x_.push_back(space_->encode(run.setting));
    y_.push_back(run.score);
    if (summary_.best_index < 0 || run.score > summary_.best_score) {
      summary_.best_index = it.index;
      summary_.best_score = run.score;
      best_.hyperparameters = it.hyperparameters;
      best_.trajectory = run.trajectory;
      best_.score = run.score;
      best_.run_index = it.run_index;
      best_.best_point = run.best_point;
      best_.best_step = run.best_step;
    }
  } else {
    last_error_ = run.error;
  }
  it.best_index = summary_.best_index;
  it.best_score = summary_.best_score;
  summary_.count(it);
  summary_.trace.push_back(std::move(it));
}

// ------------------------------------------------------------------------ solve, train_members

template <class Kernel>
HyperparameterSearchResult solve(const HyperparameterSearchOptions& options,
                                 TrainingProblem& problem, HyperparameterSummary* summary) {
  const detail::Stopwatch clock;
  BasicHyperparameterSearch<Kernel> search(problem, options);
  SearchTermination termination = SearchTermination::budget_reached;
  std::string message;
  const auto publish = [&](SearchTermination t, const std::string& why) {
    if (summary != nullptr) {
      *summary = search.summary();
      summary->termination = t;
      summary->message = why;
      summary->total_seconds = clock.seconds();
    }
  };
  try {
    while (search.remaining() > 0) {
      if (search.exhausted()) {
        termination = SearchTermination::space_exhausted;
        message = detail::concat("all ", search.space().discrete_combinations(),
                                 " settings of the search space were evaluated");
        break;
      }
      const Hyperparameters h = search.suggest();
      TrainingContext context(search.next_run_index(), options.collect_members_during_search,
                              options.members);
      const detail::Stopwatch train_clock;
      TrainingTrajectory trajectory;
      std::string error;
      bool threw = false;
      try {
        trajectory = problem.train(h, context);
      } catch (const std::exception& e) {
        threw = true;
        error = e.what();
      } catch (...) {
        threw = true;
        error = "train threw an exception that is not a std::exception";
      }
      const double seconds = train_clock.seconds();
      if (threw) {
        search.observe_failure(h, error, seconds);
      } else {
        search.observe(h, trajectory, seconds);
      }
      if (options.callback && !options.callback(search.summary().trace.back())) {
        termination = SearchTermination::stopped_by_callback;
        message = detail::concat("after ", search.num_completed(), " runs");
        break;
      }
    }
    if (termination == SearchTermination::budget_reached)
      message = detail::concat(search.budget(), " runs");
    HyperparameterSearchResult result = search.result();  // throws when no run succeeded
    publish(termination, message);
    return result;
  } catch (const too_many_failures& e) {
    publish(SearchTermination::too_many_failures, e.what());
    throw;
  } catch (const std::exception& e) {
    publish(termination, detail::concat("ended by an error: ", e.what()));
    throw;
  }
}

inline TrainingTrajectory train_members(TrainingProblem& problem,
                                        const Hyperparameters& hyperparameters,
                                        const MemberSelectionOptions& members,
                                        std::optional<long long> anchor_step) {
  constexpr const char* where = "bomf::train_members";
  detail::require(!hyperparameters.empty(), where, "argument 'hyperparameters' is empty");
  detail::require(!anchor_step || *anchor_step >= 0, where, "argument 'anchor_step' is ",
                  anchor_step.value_or(0),
                  ", expected a step >= 0 (a best_step of -1 means the run has no trajectory; "
                  "pass no anchor for the run's total steps)");
  auto space = std::make_shared<const SearchSpace>(problem.search_space());
  space->require_nonempty(where);
  const SearchSpace& from = hyperparameters.space();
  detail::require(from.size() == space->size(), where, "the setting has ", from.size(),
                  " dimensions, the problem's search space ", space->size());
  for (Eigen::Index i = 0; i < space->size(); ++i) {
    const Dimension& a = from.dimension(i);
    const Dimension& b = space->dimension(i);
    detail::require(a.name == b.name && a.kind == b.kind &&
                        (a.kind != DimensionKind::categorical || a.choices == b.choices),
                    where, "dimension ", i, " of the setting ('", a.name,
                    "') differs from the problem's ('", b.name,
                    "'), expected the same names, kinds and choices");
  }
  const Hyperparameters h(space, hyperparameters.values());
  const std::vector<MetricSpec> metrics = problem.metrics();
  validate_metric_specs(metrics, where);
  TrainingContext context(TrainingContext::final_run, true, members, anchor_step);
  TrainingTrajectory trajectory = problem.train(h, context);
  trajectory.validate(metrics.size(), where);
  trajectory.total_steps = trajectory.effective_total_steps();
  return trajectory;
}

}  // namespace bomf
