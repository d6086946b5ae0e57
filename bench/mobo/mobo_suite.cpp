// bomf_mobo_suite — the library's multi-objective BO (bomf::MultiObjectiveSearch: Matérn-5/2 GPs
// with BoTorch 0.11.3's priors + qLogNEHVI, q = 1) on standard test problems, set up as BoTorch's
// reference runs in tests/data/mobo_quality.json, with the hypervolume trace, per-iteration
// times, a Sobol random-search baseline and the comparison with BoTorch's median traces, as
// JSON. Problems and protocol: bench/mobo/mobo_problems.hpp, mobo_runner.hpp; results and method:
// docs/mobo_benchmarks.md. Single-threaded; deterministic given the seeds (timings aside).
//
// Usage: bomf_mobo_suite [options]
//   --problems LIST     comma-separated (default BraninCurrin,DTLZ2_d6_m2,VehicleSafety,
//                       FusionSimplex15)
//   --seeds N           seeds first … first + N − 1 (default 5)
//   --first-seed S      (default 0)
//   --iterations T      BO iterations after the 2(d + 1) initial points, 1 … 50 (default 30)
//   --smoke             1 seed, 2 iterations, tiny optimizer settings (CI; a few seconds)
//   --output FILE       write the JSON there (default: stdout)
//   --reference FILE    BoTorch's traces (default $BOMF_TEST_DATA_DIR/mobo_quality.json, else
//                       the source tree's tests/data/mobo_quality.json); "none" to skip
//   --check             only verify the problem definitions (and, with --check-samples N, the
//                       literature's max_hv against N Sobol points per box problem) and exit
//   --quiet             no progress on stderr
// Investigation overrides (the defaults are the reference protocol):
//   --fit-starts K, --mc-samples S, --raw-samples R, --restarts K, --eta E (Boltzmann temperature
//   of the restart choice), --screening-samples S' (raw candidates ranked with S' of the S
//   samples: QLogNehviOptions::screening_samples)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "bomf/version.hpp"
#include "mobo_problems.hpp"
#include "mobo_runner.hpp"

namespace {

struct Arguments {
  std::vector<std::string> problems = bomf::bench::problem_names();
  int seeds = 5;
  std::uint64_t first_seed = 0;
  int iterations = 30;
  bool iterations_given = false;
  bool smoke = false;
  bool check = false;
  long check_samples = 0;
  bool quiet = false;
  std::string output;
  std::string reference;
  int fit_starts = 0;
  long mc_samples = 0;
  long screening_samples = 0;
  long raw_samples = 0;
  long restarts = 0;
  double eta = 0.0;
};

[[noreturn]] void usage_error(const std::string& message) {
  std::fprintf(stderr,
               "bomf_mobo_suite: %s\n"
               "usage: bomf_mobo_suite [--problems A,B,...] [--seeds N] [--first-seed S] "
               "[--iterations T] [--smoke] [--output FILE] [--reference FILE|none] [--check] "
               "[--check-samples N] [--quiet] [--fit-starts K] [--mc-samples S] "
               "[--raw-samples R] [--restarts K] [--eta E] [--screening-samples S]\n",
               message.c_str());
  std::exit(2);
}

long parse_long(const std::string& flag, const std::string& text, long lo, long hi) {
  char* end = nullptr;
  const long v = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || v < lo || v > hi) {
    usage_error(flag + " is '" + text + "', expected an integer in [" + std::to_string(lo) + ", " +
                std::to_string(hi) + "]");
  }
  return v;
}

std::vector<std::string> split(const std::string& list) {
  std::vector<std::string> out;
  std::stringstream in(list);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty())
      out.push_back(item);
  }
  return out;
}

Arguments parse(int argc, char** argv) {
  Arguments a;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    const auto value = [&]() -> std::string {
      if (i + 1 >= argc)
        usage_error(flag + " needs a value");
      return argv[++i];
    };
    if (flag == "--problems") {
      a.problems = split(value());
      if (a.problems.empty())
        usage_error("--problems is empty");
    } else if (flag == "--seeds") {
      a.seeds = static_cast<int>(parse_long(flag, value(), 1, 100));
    } else if (flag == "--first-seed") {
      a.first_seed = static_cast<std::uint64_t>(parse_long(flag, value(), 0, 1L << 40));
    } else if (flag == "--iterations") {
      a.iterations = static_cast<int>(parse_long(flag, value(), 1, 50));
      a.iterations_given = true;
    } else if (flag == "--smoke") {
      a.smoke = true;
    } else if (flag == "--output") {
      a.output = value();
    } else if (flag == "--reference") {
      a.reference = value();
    } else if (flag == "--check") {
      a.check = true;
    } else if (flag == "--check-samples") {
      a.check_samples = parse_long(flag, value(), 0, 1L << 24);
    } else if (flag == "--quiet") {
      a.quiet = true;
    } else if (flag == "--fit-starts") {
      a.fit_starts = static_cast<int>(parse_long(flag, value(), 1, 100));
    } else if (flag == "--mc-samples") {
      a.mc_samples = parse_long(flag, value(), 1, 4096);
    } else if (flag == "--screening-samples") {
      a.screening_samples = parse_long(flag, value(), 1, 4096);
    } else if (flag == "--raw-samples") {
      a.raw_samples = parse_long(flag, value(), 1, 1L << 20);
    } else if (flag == "--restarts") {
      a.restarts = parse_long(flag, value(), 1, 1000);
    } else if (flag == "--eta") {
      const std::string text = value();
      char* end = nullptr;
      a.eta = std::strtod(text.c_str(), &end);
      if (text.empty() || *end != '\0' || !(a.eta > 0.0 && a.eta < 1e6))
        usage_error("--eta is '" + text + "', expected a number > 0");
    } else if (flag == "--help" || flag == "-h") {
      usage_error("help");
    } else {
      usage_error("unknown option '" + flag + "'");
    }
  }
  if (a.smoke) {
    a.seeds = 1;
    if (!a.iterations_given)
      a.iterations = 2;
  }
  return a;
}

std::string default_reference_path() {
  if (const char* dir = std::getenv("BOMF_TEST_DATA_DIR"); dir != nullptr && *dir != '\0')
    return std::string(dir) + "/mobo_quality.json";
  return std::string(BOMF_TEST_DATA_DIR) + "/mobo_quality.json";
}

std::string loadavg() {
  std::ifstream in("/proc/loadavg");
  std::string line;
  std::getline(in, line);
  return line;
}

void write_output(const Arguments& args, const bomf::bench::Json& out) {
  if (args.output.empty()) {
    std::cout << out.dump(1) << '\n';
    return;
  }
  std::ofstream file(args.output);
  if (!file)
    throw bomf::io_error("bomf_mobo_suite: cannot open --output file '" + args.output + "'");
  file << out.dump(1) << '\n';
  if (!file)
    throw bomf::io_error("bomf_mobo_suite: writing '" + args.output + "' failed");
}

int run_check(const Arguments& args) {
  bomf::bench::Json out;
  const std::vector<std::string> failures = bomf::bench::check_problem_definitions();
  out["definition_failures"] = failures;
  if (args.check_samples > 0) {
    bomf::bench::Json sampled;
    for (const std::string& name : args.problems) {
      const bomf::bench::MoboProblem problem = bomf::bench::make_problem(name);
      if (problem.domain != bomf::bench::Domain::box)
        continue;
      const double hv = bomf::bench::sampled_hypervolume(problem, args.check_samples);
      sampled[name] = {{"samples", args.check_samples},
                       {"sampled_hv", hv},
                       {"max_hv", problem.max_hv},
                       {"sampled_over_max", hv / problem.max_hv}};
    }
    out["sampled_max_hv"] = sampled;
  }
  write_output(args, out);
  for (const std::string& f : failures) {
    std::fprintf(stderr, "bomf_mobo_suite: check failed: %s\n", f.c_str());
  }
  return failures.empty() ? 0 : 1;
}

int run(const Arguments& args) {
  const auto start = std::chrono::steady_clock::now();
  const std::string load_start = loadavg();
  const std::vector<std::string> failures = bomf::bench::check_problem_definitions();
  for (const std::string& f : failures) {
    std::fprintf(stderr, "bomf_mobo_suite: problem definition check failed: %s\n", f.c_str());
  }
  if (!failures.empty())
    return 1;

  std::vector<bomf::bench::MoboProblem> problems;
  for (const std::string& name : args.problems) {
    problems.push_back(bomf::bench::make_problem(name));
  }

  bomf::bench::SuiteSettings settings =
      args.smoke ? bomf::bench::SuiteSettings::smoke() : bomf::bench::SuiteSettings::reference();
  settings.iterations = args.iterations;
  if (args.fit_starts > 0)
    settings.search.gp.num_starts = args.fit_starts;
  if (args.mc_samples > 0)
    settings.search.acquisition.num_samples = args.mc_samples;
  if (args.screening_samples > 0) {
    if (args.screening_samples > settings.search.acquisition.num_samples) {
      usage_error("--screening-samples " + std::to_string(args.screening_samples) +
                  " exceeds the " + std::to_string(settings.search.acquisition.num_samples) +
                  " MC samples (--mc-samples)");
    }
    settings.search.acquisition.screening_samples = args.screening_samples;
  }
  if (args.raw_samples > 0) {
    settings.search.box_optimizer.raw_samples = args.raw_samples;
    settings.search.simplex_optimizer.raw_samples = args.raw_samples;
  }
  if (args.restarts > 0) {
    settings.search.box_optimizer.num_restarts = args.restarts;
    settings.search.simplex_optimizer.num_restarts = args.restarts;
  }
  if (args.eta > 0.0) {
    settings.search.box_optimizer.eta = args.eta;
    settings.search.simplex_optimizer.eta = args.eta;
  }
  if (const std::string e = settings.validate(); !e.empty())
    usage_error("invalid settings: " + e);

  bomf::bench::Json reference;
  bool have_reference = false;
  const std::string reference_path =
      args.reference.empty() ? default_reference_path() : args.reference;
  if (reference_path != "none") {
    std::ifstream in(reference_path);
    if (in) {
      reference = bomf::bench::Json::parse(in);
      have_reference = true;
    } else if (!args.reference.empty()) {
      usage_error("cannot open --reference file '" + reference_path + "'");
    } else if (!args.quiet) {
      std::fprintf(stderr, "bomf_mobo_suite: %s not found, no BoTorch comparison\n",
                   reference_path.c_str());
    }
  }

  bomf::bench::Json out;
  out["description"] =
      "bomf MultiObjectiveSearch (qLogNEHVI, q=1) on standard MOBO test problems, protocol of "
      "BoTorch 0.11.3's reference runs (tests/data/mobo_quality.json): 2*(d+1) Sobol initial "
      "points, then q=1 iterations; hv[0] after the initial design, hv[i] after iteration i; "
      "random_sobol_hv: Sobol random search with the same budget.";
  out["bomf_version"] = BOMF_VERSION_STRING;
  out["mode"] = args.smoke ? "smoke" : "full";
  out["settings"] = settings.to_json();
  out["seeds"] = {args.first_seed, args.first_seed + static_cast<std::uint64_t>(args.seeds) - 1};
  out["reference_file"] = have_reference ? bomf::bench::Json(reference_path) : bomf::bench::Json();
  if (have_reference)
    out["reference_settings"] = reference.at("settings");
  out["runs"] = bomf::bench::Json::array();
  out["summary"] = bomf::bench::Json::object();

  for (const bomf::bench::MoboProblem& problem : problems) {
    std::vector<bomf::bench::RunResult> runs;
    for (int k = 0; k < args.seeds; ++k) {
      const std::uint64_t seed = args.first_seed + static_cast<std::uint64_t>(k);
      bomf::bench::RunResult r = bomf::bench::run_mobo(problem, seed, settings);
      if (!args.quiet) {
        double fit = 0.0, acq = 0.0;
        for (const auto& it : r.per_iteration) {
          fit += it.fit_s;
          acq += it.acq_s;
        }
        std::fprintf(stderr,
                     "%-16s seed %2llu: hv %.6g after design, %.6g after %d iterations "
                     "(random %.6g); %.1f s (fit %.1f s, acquisition %.1f s)\n",
                     problem.name.c_str(), static_cast<unsigned long long>(seed), r.hv.front(),
                     r.hv.back(), r.iterations, r.random_hv.back(), r.wall_s, fit, acq);
      }
      out["runs"].push_back(bomf::bench::run_to_json(problem, r));
      runs.push_back(std::move(r));
    }
    out["summary"][problem.name] =
        bomf::bench::summarize(problem, runs, have_reference ? &reference : nullptr);
  }
  out["wall_seconds_total"] =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  out["loadavg_start"] = load_start;
  out["loadavg_end"] = loadavg();
  write_output(args, out);

  if (!args.quiet) {
    for (const auto& [name, s] : out["summary"].items()) {
      std::fprintf(stderr, "%-16s median final hv %.6g (random %.6g)", name.c_str(),
                   s["final_hv_median"].get<double>(), s["final_random_hv_median"].get<double>());
      if (!s["botorch"].is_null()) {
        std::fprintf(stderr, ", BoTorch %.6g; below BoTorch at %zu of %d budgets",
                     s["botorch"]["final_hv_median"].get<double>(),
                     s["botorch"]["iterations_below_botorch"].size(),
                     s["botorch"]["iterations_compared"].get<int>() + 1);
      }
      std::fprintf(stderr, "\n");
    }
    std::fprintf(stderr, "total %.1f s\n", out["wall_seconds_total"].get<double>());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const Arguments args = parse(argc, argv);
  try {
    return args.check ? run_check(args) : run(args);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bomf_mobo_suite: %s\n", e.what());
    return 1;
  }
}
