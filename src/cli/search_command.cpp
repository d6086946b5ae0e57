// bomf search — the BOMF fusion search over member checkpoints with an external evaluator
// command (docs/cli.md): the library's asynchronous loop (bomf::solve on a FusionLedger and a
// worker pool) over an EvaluatorPool, then the baselines on the same evaluations, the chosen
// fused checkpoint in the members' format, and the report.
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "bomf/core/error.hpp"
#include "bomf/drivers/baselines.hpp"
#include "bomf/drivers/evaluation_loop.hpp"
#include "bomf/torch/threads.hpp"
#include "cli/arguments.hpp"
#include "cli/command_template.hpp"
#include "cli/commands.hpp"
#include "cli/evaluator_pool.hpp"
#include "cli/fusion_arguments.hpp"
#include "cli/members.hpp"
#include "cli/objectives.hpp"
#include "cli/report.hpp"
#include "cli/search_progress.hpp"
#include "io/file_util.hpp"

namespace bomf::cli {
namespace {

namespace fs = std::filesystem;

/// The worker's cancellation flag while it writes a fused checkpoint (read by the members'
/// progress callback, which runs in that worker's thread).
thread_local const std::function<bool()>* t_write_cancelled = nullptr;

struct SearchArguments {
  std::vector<std::string> members;
  std::string evaluate;
  bool evaluator_fuses = false;
  std::vector<std::string> objectives;
  std::string objectives_file;
  std::string output;
  std::string journal;
  std::string scratch;
  bool keep_scratch = false;
  std::string parallel = "1";
  std::vector<std::string> worker_env;
  std::string timeout = "0";
  std::string seed = "0";
  std::string num_initial;
  std::string num_iterations;
  std::string max_failures = "10";
  std::string lower_bounds;
  std::string upper_bounds;
  std::string anchor = "worst_member";
  std::vector<std::string> anchor_values;
  std::vector<std::string> range_values;
  bool move_reference_point = false;
  SelectionArguments selection;
  std::string baselines = "all";
  bool write_baselines = false;
  FusionArguments fusion;
  bool quiet = false;
};

/// The baselines `--baselines` asks for.
struct BaselineChoice {
  bool best_member = false;
  bool last_checkpoint = false;
  bool swa = false;
  bool greedy_swa = false;
};

BaselineChoice parse_baselines(const std::string& text) {
  BaselineChoice c;
  if (text == "all") {
    return {true, true, true, true};
  }
  if (text == "none") {
    return c;
  }
  std::size_t start = 0;
  for (;;) {
    const std::size_t comma = text.find(',', start);
    const std::string name = text.substr(start, comma - start);
    if (name == "best_member") {
      c.best_member = true;
    } else if (name == "last_checkpoint") {
      c.last_checkpoint = true;
    } else if (name == "swa") {
      c.swa = true;
    } else if (name == "greedy_swa") {
      c.greedy_swa = true;
    } else {
      throw usage_error(detail::concat(
          "--baselines: '", name, "' in '", text,
          "' is not known, expected all, none, or a comma-separated list of best_member, "
          "last_checkpoint, swa, greedy_swa"));
    }
    if (comma == std::string::npos) {
      return c;
    }
    start = comma + 1;
  }
}

Eigen::VectorXd parse_bounds(const std::string& text, const char* option, std::size_t n) {
  if (text.empty()) {
    return {};
  }
  const std::vector<double> values = parse_real_list(text, option);
  if (values.size() != n) {
    throw usage_error(detail::concat(option, " has ", values.size(), " values ('", text, "') but ",
                                     n, " members were given, expected one bound per member"));
  }
  return Eigen::Map<const Eigen::VectorXd>(values.data(), static_cast<Eigen::Index>(n));
}

/// The per-objective values of --anchor-value or --range-value ("NAME=VALUE", repeated) as the
/// normalization's overrides: empty when none is given, else one entry per objective (loss
/// first), unset where the objective is not named. An unknown name, a value that is not a finite
/// real (not > 0 for a range) or an objective named twice is refused, naming the option.
std::vector<std::optional<double>> parse_objective_values(const std::vector<std::string>& items,
                                                          const char* option,
                                                          const FusionObjectives& objectives,
                                                          bool positive) {
  std::vector<std::optional<double>> out;
  if (items.empty()) {
    return out;
  }
  out.resize(static_cast<std::size_t>(objectives.size()));
  for (const std::string& item : items) {
    const auto [spelled, text] = parse_key_value(item, option);
    const std::string name(trim(spelled));
    int j = 0;
    while (j < objectives.size() && objectives.name(j) != name) {
      ++j;
    }
    if (j == objectives.size()) {
      throw usage_error(detail::concat(option, " '", item, "': '", name,
                                       "' is not an objective here, expected one of: ",
                                       objectives.loss_name, ", ", objectives.metric_names()));
    }
    auto& slot = out[static_cast<std::size_t>(j)];
    if (slot) {
      throw usage_error(detail::concat(option, " '", item, "': objective '", name,
                                       "' is given twice, expected one value per objective"));
    }
    slot = parse_real(text, option, detail::concat("the value of '", name, "'"));
    // The library's limits (NormalizationOptions::validate), named in the option's terms.
    if (positive && !(*slot >= NormalizationOptions::kMinRange && *slot <= kFusionValueLimit)) {
      throw usage_error(detail::concat(option, " '", item, "': the range of '", name, "' is ", text,
                                       ", expected a value from ",
                                       detail::format_number(NormalizationOptions::kMinRange),
                                       " to ", detail::format_number(kFusionValueLimit)));
    }
    if (!positive && !(std::abs(*slot) <= kFusionValueLimit)) {
      throw usage_error(detail::concat(option, " '", item, "': the anchor of '", name, "' is ",
                                       text, ", expected a value within ±",
                                       detail::format_number(kFusionValueLimit)));
    }
  }
  return out;
}

/// "NAME=TEMPLATE" of --worker-env, with a portable variable name.
std::pair<std::string, std::string> parse_worker_env(const std::string& text) {
  auto [name, value] = parse_key_value(text, "--worker-env");
  const bool valid =
      !name.empty() && (std::isalpha(static_cast<unsigned char>(name[0])) != 0 || name[0] == '_');
  bool rest = true;
  for (const char c : name) {
    rest = rest && (std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_');
  }
  if (!valid || !rest) {
    throw usage_error(detail::concat("--worker-env '", text, "': '", name,
                                     "' is not a variable name, expected letters, digits and _ "
                                     "(not starting with a digit)"));
  }
  return {name, value};
}

/// What identifies a search for its journal: the members (absolute path, size and modification
/// time of every file), the fusion options and the evaluator command. A journal written for
/// other members or another evaluator is refused by the library, naming this text.
std::string fingerprint_of(const Members& members, const SearchArguments& a) {
  std::string text = detail::concat("bomf search 1; ", format_name(members.format()), " members:");
  std::set<std::string> seen;  // a single-file member is also its own (only) shard
  for (const std::string& file : members.files()) {
    struct stat info {};
    if (!seen.insert(file).second || ::stat(file.c_str(), &info) != 0 || !S_ISREG(info.st_mode)) {
      continue;  // listed already, or an adapter directory (its files are listed too)
    }
    text += detail::concat(" ", fs::absolute(file).lexically_normal().string(), " (",
                           static_cast<long long>(info.st_size), " bytes, modified ",
                           static_cast<long long>(info.st_mtim.tv_sec), ".",
                           static_cast<long long>(info.st_mtim.tv_nsec), ")");
  }
  text += "; fusion: " + describe(a.fusion);
  text += a.evaluator_fuses ? "; the evaluator fuses: " : "; evaluator: ";
  return text + a.evaluate;
}

/// The file name of a written model in the members' format: "<stem>.safetensors",
/// "<stem>_adapter" (PEFT), "<stem>.pt".
std::string model_name(const Members& members, const std::string& stem) {
  switch (members.format()) {
    case MemberFormat::peft_adapter:
      return stem + "_adapter";
    case MemberFormat::torch_state_dict:
      return stem + ".pt";
    default:
      return stem + ".safetensors";
  }
}

/// Maps a FusionSearchOptions::validate message onto the option that caused it.
std::string option_of(const std::string& error) {
  if (error.rfind("lower_bounds", 0) == 0) {
    return "--lower-bounds";
  }
  if (error.rfind("upper_bounds", 0) == 0) {
    return "--upper-bounds";
  }
  if (error.rfind("num_initial", 0) == 0) {
    return "--num-initial";
  }
  if (error.rfind("num_iterations", 0) == 0) {
    return "--num-iterations";
  }
  if (error.rfind("max_failures", 0) == 0) {
    return "--max-failures";
  }
  return "bomf search";
}

std::string values_text(const FusionObjectives& objectives, const FusionEvaluation& e) {
  std::string text = objectives.name(0) + " " + detail::format_number(e.loss);
  for (Eigen::Index k = 0; k < e.metrics.size(); ++k) {
    text +=
        ", " + objectives.name(static_cast<int>(k) + 1) + " " + detail::format_number(e.metrics(k));
  }
  return text;
}

int run_search(const SearchArguments& a) {
  // ---- The command line, checked before anything is opened or written.
  const std::size_t n = a.members.size();
  if (n < 2) {
    throw usage_error(detail::concat("give at least 2 member checkpoints to fuse, got ", n));
  }
  FusionObjectives objectives;
  if (!a.objectives_file.empty()) {
    if (!a.objectives.empty()) {
      throw usage_error("--objective and --objectives: give the objectives one way, not both");
    }
    objectives = parse_objectives_json(
        detail::read_regular_file(a.objectives_file, "bomf search: --objectives", 1 << 20),
        a.objectives_file);
  } else if (!a.objectives.empty()) {
    objectives = parse_objectives(a.objectives);
  } else {
    throw usage_error(
        "declare the objectives: --objective NAME:loss and --objective NAME:metric[:DIRECTION] "
        "(e.g. --objective loss:loss --objective accuracy:metric), or --objectives FILE");
  }
  const int workers =
      static_cast<int>(parse_integer(a.parallel, "--parallel", 1, 1024, "evaluations at once"));
  const double timeout = parse_real(a.timeout, "--timeout", "the limit in seconds");
  if (timeout < 0) {
    throw usage_error(detail::concat("--timeout: the value is '", a.timeout,
                                     "', expected seconds ≥ 0 (0: no limit)"));
  }
  std::vector<std::pair<std::string, std::string>> environment;
  for (const std::string& item : a.worker_env) {
    environment.push_back(parse_worker_env(item));
  }
  std::optional<CommandTemplate> command;
  try {
    command.emplace(a.evaluate, search_placeholders(), "--evaluate");
    for (const auto& [name, value] : environment) {
      const CommandTemplate t(value, search_placeholders(), "--worker-env " + name);
      if (a.evaluator_fuses && t.used().count("weights") > 0) {
        throw usage_error(detail::concat("--worker-env ", name,
                                         ": {weights} is not written "
                                         "with --evaluator-fuses"));
      }
    }
  } catch (const invalid_argument& e) {
    throw usage_error(e.what());
  }
  if (a.evaluator_fuses && command->used().count("weights") > 0) {
    throw usage_error(
        "--evaluate uses {weights}, but with --evaluator-fuses bomf writes no fused checkpoint: "
        "pass {delta} and {members} to the evaluator instead");
  }
  if (!a.evaluator_fuses && command->used().count("weights") == 0 &&
      command->used().count("scratch") == 0) {
    throw usage_error(
        "--evaluate uses neither {weights} nor {scratch}, so the evaluator cannot read the fused "
        "checkpoint bomf writes for it; add {weights}, or --evaluator-fuses for an evaluator "
        "that fuses on its own ({delta}, {members})");
  }
  FusionSearchOptions options;
  options.seed = static_cast<std::uint64_t>(
      parse_integer(a.seed, "--seed", 0, std::numeric_limits<std::int64_t>::max()));
  if (!a.num_initial.empty()) {
    options.num_initial = static_cast<int>(
        parse_integer(a.num_initial, "--num-initial", 0, 100000, "quasi-random δ evaluated first"));
  }
  if (!a.num_iterations.empty()) {
    options.num_iterations = static_cast<int>(
        parse_integer(a.num_iterations, "--num-iterations", 0, 100000, "log-qNEHVI iterations"));
  }
  options.max_failures = static_cast<int>(
      parse_integer(a.max_failures, "--max-failures", 0, 1000000, "failed evaluations tolerated"));
  options.lower_bounds = parse_bounds(a.lower_bounds, "--lower-bounds", n);
  options.upper_bounds = parse_bounds(a.upper_bounds, "--upper-bounds", n);
  options.normalization.anchor = a.anchor == "best_member" ? NormalizationAnchor::best_member
                                                           : NormalizationAnchor::worst_member;
  options.normalization.anchor_overrides =
      parse_objective_values(a.anchor_values, "--anchor-value", objectives, false);
  options.normalization.range_overrides =
      parse_objective_values(a.range_values, "--range-value", objectives, true);
  options.blind_search.move_reference_point = a.move_reference_point;
  const ReportOptions report_options = selection_options(a.selection);
  options.selection = resolve_selection(report_options, objectives);
  const int baseline_metric =
      metric_index(report_options.baseline_metric, objectives, "--baseline-metric");
  const std::string invalid = options.validate(static_cast<int>(n), objectives);
  if (!invalid.empty()) {
    throw usage_error(option_of(invalid) + ": " + invalid);
  }
  const BaselineChoice baselines = parse_baselines(a.baselines);
  int threads = 1;
  MemberOptions member_settings = member_options(a.fusion, n, threads);
  set_torch_threads(threads);

  // ---- The members, the output directory, the journal.
  const std::thread::id main_thread = std::this_thread::get_id();
  member_settings.progress = [main_thread](std::uint64_t, std::uint64_t, const std::string&) {
    if (std::this_thread::get_id() == main_thread) {
      throw_if_interrupted();  // writing the final checkpoint
    } else if (t_write_cancelled != nullptr && (*t_write_cancelled)()) {
      throw interrupted("cancelled");  // a worker's checkpoint, abandoned by shutdown()
    }
  };
  const Members members(a.members, member_settings);
  const std::string fused_path = (fs::path(a.output) / model_name(members, "fused")).string();
  const std::string journal_path =
      a.journal.empty() ? (fs::path(a.output) / "journal.jsonl").string() : a.journal;
  // Every file the search writes besides the journal, checked before anything is evaluated:
  // none may be a member, the journal or the objectives file, and none may exist as anything
  // but a regular file (a FIFO or a device would be replaced).
  std::vector<std::string> written = report_file_paths(a.output);
  std::vector<std::string> checkpoints = {fused_path};
  if (a.write_baselines) {
    if (baselines.swa) {
      checkpoints.push_back((fs::path(a.output) / model_name(members, "swa")).string());
    }
    if (baselines.greedy_swa) {
      checkpoints.push_back((fs::path(a.output) / model_name(members, "greedy_swa")).string());
    }
  }
  try {
    for (const std::string& file : written) {
      members.check_plain_output(file);
    }
    for (const std::string& checkpoint : checkpoints) {
      members.check_output(checkpoint);
      for (const std::string& file : members.written_files(checkpoint)) {
        written.push_back(file);
      }
    }
    members.check_not_a_member(journal_path);
  } catch (const usage_error& e) {
    throw usage_error(detail::concat("-o/--output or --journal: ", e.what()));
  }
  const auto check_not_the_journal = [&](const std::string& file, bool exists_now) {
    if (exists_now ? detail::same_file(file, journal_path)
                   : detail::same_path(file, journal_path)) {
      throw usage_error(detail::concat("--journal: '", journal_path, "' is the file '", file,
                                       "' that the search writes into its output directory; "
                                       "give the journal another name"));
    }
  };
  for (const std::string& file : written) {
    check_not_the_journal(file, false);
    if (!a.objectives_file.empty() && detail::same_path(file, a.objectives_file)) {
      throw usage_error(detail::concat("-o/--output: the search would write '", file,
                                       "', which is the --objectives file; give another "
                                       "output directory"));
    }
  }
  if (!a.objectives_file.empty() && detail::same_path(journal_path, a.objectives_file)) {
    throw usage_error(detail::concat("--journal: '", journal_path,
                                     "' is the --objectives file; give the journal another name"));
  }
  std::error_code fs_error;
  fs::create_directories(a.output, fs_error);
  if (fs_error) {
    throw io_error(detail::concat("bomf search: cannot create the output directory '", a.output,
                                  "': ", fs_error.message()));
  }
  const std::string fingerprint = fingerprint_of(members, a);
  std::optional<FusionLedger> opened;
  try {
    opened.emplace(static_cast<int>(n), objectives, fingerprint, journal_path);
  } catch (const invalid_argument& e) {
    if (std::string(e.what()).find("belongs to a different run") == std::string::npos) {
      throw;
    }
    throw invalid_argument(detail::concat(
        e.what(),
        "; a journal belongs to one search — its members (paths, sizes, modification times), "
        "objectives, fusion options and evaluator command: give this search another --journal "
        "or output directory, or rerun the search it belongs to"));
  }
  FusionLedger& ledger = *opened;
  // Once the journal exists, compare files, not paths: a journal path that is a symbolic link to
  // one of the outputs (not yet created when the paths were compared) is caught here.
  for (const std::string& file : written) {
    check_not_the_journal(file, true);
  }
  bool has_info = false;
  for (const nlohmann::json& line : ledger.journal().records()) {
    has_info = has_info || line.value("kind", std::string()) == "bomf_search";
  }
  if (!has_info) {
    ledger.journal().append(
        search_info_record(a.members, std::string(format_name(members.format())), a.evaluate));
  }
  // The search's own directory in the scratch directory, which other searches may share and
  // which may hold other things: bomf removes only what it created (and killed searches' own
  // directories, once their process is gone).
  const std::string scratch =
      a.scratch.empty() ? (fs::path(a.output) / "scratch").string() : a.scratch;
  SearchScratch scratch_run(scratch, a.keep_scratch, /*owns_scratch=*/a.scratch.empty());
  remove_stale_search_scratch(scratch);

  // ---- The workers and the progress display.
  const bool terminal = ::isatty(STDERR_FILENO) == 1;
  SearchProgress progress(stderr, terminal, !a.quiet, objectives);
  EvaluatorSettings settings;
  settings.command = a.evaluate;
  settings.environment = environment;
  settings.members = a.members;
  settings.objectives = objectives;
  // Whole milliseconds (rounded): a positive limit below 1 ms is 1 ms (never 0, which means no
  // limit), and one beyond 10¹² ms (about 32 years) is as good as none but must not overflow.
  settings.timeout = std::chrono::milliseconds(
      timeout > 0.0 ? std::llround(std::clamp(timeout * 1000.0, 1.0, 1e12)) : 0LL);
  settings.scratch = scratch_run.path();
  settings.keep_scratch = a.keep_scratch;
  settings.first_id = ledger.records().size();
  if (!a.evaluator_fuses) {
    settings.weights_name = members.output_name();
    settings.write_weights = [&members](const Eigen::VectorXd& delta, const std::string& path,
                                        const std::function<bool()>& cancelled) {
      struct Reset {
        ~Reset() { t_write_cancelled = nullptr; }
      } reset;
      t_write_cancelled = &cancelled;
      members.write_fused(delta, path);
    };
  }
  std::unique_ptr<EvaluatorPool> pool;
  settings.interrupted = [] { return interrupt_signal() != 0; };
  settings.on_interrupt = [&progress, &scratch_run, &ledger] {
    progress.clear();
    scratch_run.finish();  // std::exit runs no destructor of this scope
    std::cerr << "bomf search: interrupted by signal " << interrupt_signal()
              << ": the evaluations in flight were stopped (a rerun makes them again); journal '"
              << ledger.path() << "' keeps all " << ledger.records().size()
              << " completed evaluations: rerun the same command to continue\n";
    std::exit(kExitInterrupted);
  };
  settings.tick = [&progress, &pool] { progress.tick(pool ? pool->running() : 0); };
  pool = std::make_unique<EvaluatorPool>(settings, workers);

  const int num_initial = options.num_initial < 0 ? static_cast<int>(n) : options.num_initial;
  const int num_iterations =
      options.num_iterations < 0 ? 5 * static_cast<int>(n) : options.num_iterations;
  int replayed = 0;
  for (const FusionRecord& r : ledger.records()) {
    replayed += r.source == FusionRecord::search_source ? 1 : 0;
  }
  // The members are evaluated first unless every objective's anchor is given.
  const int members_evaluated =
      options.normalization.all_anchors_overridden(objectives.size()) ? 0 : static_cast<int>(n);
  progress.begin(members_evaluated + num_initial + num_iterations, replayed, workers);
  options.callback = [&progress, &pool](const FusionIteration& row) {
    progress.evaluation(row, pool->running());
    return true;
  };

  // ---- The search.
  FusionSummary summary;
  std::optional<FusionResult> result;
  int status = kExitSuccess;
  std::string stopped;
  try {
    result = solve(options, ledger, *pool, &summary);
  } catch (const evaluation_error& e) {  // too many failures, or every member failed
    stopped = command_line_advice(e.what());
    status = kExitEvaluationsFailed;
  } catch (const invalid_argument& e) {  // e.g. the journal holds another search's settings
    throw invalid_argument(command_line_advice(e.what()));
  }
  throw_if_interrupted();

  // ---- The baselines, on the same evaluations (members reused; new soups journaled).
  if (status == kExitSuccess) {
    PooledFusionProblem pooled(*pool, static_cast<int>(n), objectives, fingerprint);
    FusionEvaluator evaluator(pooled, ledger);
    const auto attempt = [&](const char* name, auto&& method) {
      try {
        const FusionResult r = method();
        progress.line(detail::concat(
            name, ": ", values_text(objectives, r.evaluation), " (", r.new_evaluations,
            r.new_evaluations == 1 ? " new evaluation)" : " new evaluations)"));
        return std::optional<FusionResult>(r);
      } catch (const evaluation_error& e) {
        progress.line(detail::concat(name, ": not available: ", e.what()));
        return std::optional<FusionResult>();
      }
    };
    BestMemberOptions best;
    best.metric = baseline_metric;
    if (baselines.best_member) {
      attempt("best member", [&] { return best_single_member(evaluator, best); });
    }
    if (baselines.last_checkpoint) {
      attempt("last checkpoint", [&] { return last_checkpoint(evaluator); });
    }
    std::optional<FusionResult> swa;
    if (baselines.swa) {
      swa = attempt("SWA", [&] { return uniform_average(evaluator); });
    }
    throw_if_interrupted();
    std::optional<FusionResult> greedy;
    if (baselines.greedy_swa) {
      GreedySwaOptions g;
      g.metric = baseline_metric;
      g.progress = [&progress, &objectives, baseline_metric](const BaselineProgress& p) {
        progress.line(detail::concat("Greedy SWA: soup ", p.step, "/", p.total, ": ",
                                     objectives.name(1 + baseline_metric), " ",
                                     detail::format_number(p.value),
                                     p.accepted ? " (member added)" : " (member left out)"));
        throw_if_interrupted();
      };
      greedy = attempt("Greedy SWA", [&] { return greedy_swa(evaluator, g); });
    }
    pool.reset();  // the workers are done: their slots are removed

    // ---- The chosen fused checkpoint (and the baselines' on request), in the members' format.
    const auto warn_if_not_finite = [&progress](const std::vector<NonFiniteTensor>& tensors,
                                                const std::string& path) {
      if (!tensors.empty()) {
        progress.clear();
        std::cerr << "bomf search: " << non_finite_warning(tensors, path) << "\n";
      }
    };
    warn_if_not_finite(members.write_fused(result->delta, fused_path), fused_path);
    progress.line(detail::concat("wrote BOMF's fused checkpoint: ", fused_path));
    if (a.write_baselines) {
      for (const auto& [stem, r] :
           {std::pair<const char*, const std::optional<FusionResult>*>{"swa", &swa},
            {"greedy_swa", &greedy}}) {
        if (*r) {
          const std::string path = (fs::path(a.output) / model_name(members, stem)).string();
          warn_if_not_finite(members.write_fused((*r)->delta, path), path);
          progress.line(detail::concat("wrote ", path));
        }
      }
    }
  }
  pool.reset();
  scratch_run.finish();

  // ---- The report, made from the journal as `bomf report` makes it.
  const FusionReport report = read_fusion_report(ledger.path(), report_options, false);
  const std::vector<std::string> report_files = write_report_files(report, a.output);
  progress.clear();
  if (!a.quiet) {
    if (summary.num_evaluations > 0) {
      for (std::string& w : summary.warnings) {
        w = command_line_advice(std::move(w));
      }
      summary.message = command_line_advice(std::move(summary.message));
      std::cout << summary.brief_report();
    }
    for (const MethodReport& row : report.methods) {
      std::cout << "  " << row.method << ": ";
      if (row.result) {
        std::cout << values_text(objectives, row.result->evaluation)
                  << "; δ = " << detail::format_vector(row.result->delta, 4);
        if (row.missing > 0) {
          std::cout << " (" << row.missing << " of its evaluations are not in the journal)";
        }
        std::cout << "\n";
      } else {
        std::cout << "not available (" << row.unavailable.substr(0, row.unavailable.find('\n'))
                  << ")\n";
      }
    }
    std::cout << "report: " << report_files.front()
              << " (and report.csv, methods.csv, report.svg)\n";
    if (status == kExitSuccess) {
      std::cout << "fused checkpoint: " << fused_path << "\n";
    }
  }
  if (status != kExitSuccess) {
    std::cerr << "bomf search: the search stopped: " << stopped
              << "\n(every evaluation is in journal '" << ledger.path()
              << "' and the report; fix the evaluator, then rerun the same command to continue)\n";
  }
  return status;
}

}  // namespace

std::function<int()> add_search_command(CLI::App& app) {
  auto args = std::make_shared<SearchArguments>();
  CLI::App* search = app.add_subcommand(
      "search",
      "BOMF: search the fusion coefficients δ of N member checkpoints with multi-objective "
      "Bayesian optimization (log-qNEHVI over the loss and metrics), an external evaluator "
      "command scoring each fused model; then the baselines (best member, last checkpoint, "
      "SWA, Greedy SWA) on the same evaluations, the chosen fused checkpoint in the members' "
      "format and a report (Markdown, CSV, SVG). Resumes from its journal.");
  search
      ->add_option("members", args->members,
                   "Member checkpoints, all of one format, in "
                   "training order (the last is the last checkpoint)")
      ->required()
      ->type_name("PATH")
      ->check(CLI::ExistingPath);
  search
      ->add_option("-e,--evaluate", args->evaluate,
                   "Evaluator command run by /bin/sh for each δ, with placeholders {weights} "
                   "{delta} {members} {worker} {id} {scratch} (bomf quotes them); it prints "
                   "{\"bomf_protocol\": 1, \"loss\": …, \"metrics\": {…}} as its last line")
      ->required()
      ->type_name("COMMAND")
      ->allow_extra_args(false)
      ->check(non_empty("an evaluator command"));
  search->add_flag("--evaluator-fuses", args->evaluator_fuses,
                   "bomf writes no fused checkpoint: the evaluator fuses {members} with {delta}");
  search
      ->add_option("--objective", args->objectives,
                   "NAME:loss or NAME:metric[:maximize|minimize]; one loss and ≥ 1 metric "
                   "(repeat the option)")
      ->type_name("SPEC")
      ->allow_extra_args(false);
  search
      ->add_option("--objectives", args->objectives_file,
                   "JSON file {\"objectives\": [{\"name\", \"kind\", \"direction\"}, …]}")
      ->type_name("FILE")
      ->check(non_empty("a file path"));
  search
      ->add_option("-o,--output", args->output,
                   "Output directory: the fused checkpoint, the journal, the report")
      ->required()
      ->type_name("DIR")
      ->check(non_empty("a directory path"));
  search
      ->add_option("--journal", args->journal,
                   "Journal of every evaluation (default OUTPUT/journal.jsonl); a rerun with "
                   "it repeats no completed evaluation")
      ->type_name("FILE")
      ->check(non_empty("a file path"));
  search
      ->add_option("--scratch", args->scratch,
                   "Where the workers' fused checkpoints are written, in a directory "
                   "bomf-search-XXXXXX of this search's own (default OUTPUT/scratch)")
      ->type_name("DIR")
      ->check(non_empty("a directory path"));
  search->add_flag("--keep-scratch", args->keep_scratch,
                   "Keep each evaluation's scratch directory (to debug an evaluator)");
  search->add_option("--parallel", args->parallel, "Evaluations at once, 1 to 1024 (default 1)")
      ->type_name("K");
  search
      ->add_option("--worker-env", args->worker_env,
                   "NAME=VALUE in each evaluation's environment, with placeholders, e.g. "
                   "CUDA_VISIBLE_DEVICES={worker} (repeat the option)")
      ->type_name("NAME=VALUE")
      ->allow_extra_args(false);
  search
      ->add_option("--timeout", args->timeout,
                   "Seconds an evaluation may take, then it fails (default 0: no limit)")
      ->type_name("SECONDS");
  search->add_option("--seed", args->seed, "Seed of every random step (default 0)")
      ->type_name("INT");
  search
      ->add_option("--num-initial", args->num_initial,
                   "Quasi-random δ after the members (default N)")
      ->type_name("INT")
      ->check(non_empty("an integer ≥ 0"));
  search
      ->add_option("--num-iterations", args->num_iterations,
                   "log-qNEHVI iterations (default 5·N); may grow on a rerun")
      ->type_name("INT")
      ->check(non_empty("an integer ≥ 0"));
  search
      ->add_option("--max-failures", args->max_failures,
                   "Failed evaluations tolerated before the search stops (default 10)")
      ->type_name("INT");
  search->add_option("--lower-bounds", args->lower_bounds, "δ_i ≥ these, one per member")
      ->type_name("REALS")
      ->check(non_empty("one real per member, comma-separated"));
  search->add_option("--upper-bounds", args->upper_bounds, "δ_i ≤ these, one per member")
      ->type_name("REALS")
      ->check(non_empty("one real per member, comma-separated"));
  search
      ->add_option("--anchor", args->anchor,
                   "Reference point of the normalization: the worst member (the paper's, "
                   "default) or the best")
      ->check(CLI::IsMember({"worst_member", "best_member"}));
  search
      ->add_option("--anchor-value", args->anchor_values,
                   "NAME=VALUE: objective NAME's reference value in its own units, instead of "
                   "the member-derived anchor (repeat the option)")
      ->type_name("NAME=VALUE")
      ->allow_extra_args(false);
  search
      ->add_option("--range-value", args->range_values,
                   "NAME=VALUE: objective NAME's normalization range (default 1 for the loss, "
                   "0.1 for a metric, the paper's), e.g. 10 for a metric on a 0-100 scale "
                   "(repeat the option)")
      ->type_name("NAME=VALUE")
      ->allow_extra_args(false);
  search->add_flag("--move-reference-point", args->move_reference_point,
                   "When no evaluation beats the reference point in every objective after the "
                   "initial design, move it once to the evaluations' nadir and go on");
  add_selection_options(*search, args->selection);
  search
      ->add_option("--baselines", args->baselines,
                   "all (default), none, or some of best_member,last_checkpoint,swa,greedy_swa")
      ->type_name("LIST");
  search->add_flag("--write-baselines", args->write_baselines,
                   "Also write the SWA and Greedy SWA checkpoints to the output directory");
  add_fusion_options(*search, args->fusion);
  search->add_flag("-q,--quiet", args->quiet, "No progress and no summary (errors only)");
  return [args] { return run_search(*args); };
}

}  // namespace bomf::cli
