// bomf fuse — w(δ) = Σ_i δ_i w_i of N checkpoints with given coefficients, streaming.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bomf/core/error.hpp"
#include "bomf/torch/threads.hpp"
#include "cli/arguments.hpp"
#include "cli/commands.hpp"
#include "cli/fusion_arguments.hpp"
#include "cli/members.hpp"
#include "cli/progress_bar.hpp"
#include "io/file_util.hpp"

namespace bomf::cli {
namespace {

struct FuseArguments {
  std::vector<std::string> inputs;
  std::string coefficients;
  bool uniform = false;
  std::string output;
  bool simplex = false;
  std::vector<std::string> metadata;
  FusionArguments fusion;
  bool quiet = false;
};

int run_fuse(const FuseArguments& a) {
  const std::size_t n = a.inputs.size();
  std::vector<double> delta;
  if (a.uniform) {
    delta.assign(n, 1.0 / static_cast<double>(n));
  } else if (!a.coefficients.empty()) {
    delta = parse_real_list(a.coefficients, "-c/--coefficients");
  } else {
    throw usage_error("give the coefficients with -c/--coefficients, or --uniform for 1/N each");
  }
  if (delta.size() != n) {
    throw usage_error(detail::concat("-c/--coefficients has ", delta.size(), " values ('",
                                     a.coefficients, "') but ", n,
                                     " inputs were given, expected one coefficient per input"));
  }
  if (a.simplex) {
    double sum = 0;
    for (std::size_t i = 0; i < n; ++i) {
      if (delta[i] < 0) {
        throw usage_error(
            detail::concat("--simplex: coefficient ", i + 1, " is ", delta[i], ", expected ≥ 0"));
      }
      sum += delta[i];
    }
    if (std::abs(sum - 1.0) > 1e-6) {
      throw usage_error(
          detail::concat("--simplex: the coefficients sum to ", sum, ", expected 1 (± 1e-6)"));
    }
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (detail::same_file(a.output, a.inputs[i])) {
      throw usage_error(detail::concat("-o/--output '", a.output, "' is input ", i + 1, " ('",
                                       a.inputs[i],
                                       "'), or a symbolic or hard link to it; writing it would "
                                       "replace that input"));
    }
  }
  int threads = 1;
  MemberOptions options = member_options(a.fusion, n, threads);
  options.fusion.require_simplex = a.simplex;
  for (const auto& item : a.metadata) {
    const auto [key, value] = parse_key_value(item, "--metadata");
    options.metadata[key] = value;
  }
  ProgressBar bar(!a.quiet && ::isatty(STDOUT_FILENO) == 1, stdout);
  options.progress = [&bar](std::uint64_t done, std::uint64_t total, const std::string& name) {
    throw_if_interrupted();
    bar.update(done, total, name);
  };
  set_torch_threads(threads);

  const Members members(a.inputs, options);
  try {
    members.check_output(a.output);
  } catch (const usage_error& error) {
    throw usage_error(detail::concat("-o/--output: ", error.what()));
  }
  const Eigen::Map<const Eigen::VectorXd> coefficients(delta.data(), static_cast<Eigen::Index>(n));
  const auto start = std::chrono::steady_clock::now();
  const std::vector<NonFiniteTensor> non_finite = members.write_fused(coefficients, a.output);
  if (!non_finite.empty()) {
    std::cerr << "bomf fuse: " << non_finite_warning(non_finite, a.output) << "\n";
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!a.quiet) {
    std::cout << "fused " << n << " " << format_name(members.format()) << " checkpoints into "
              << a.output << " in " << seconds << " s\n";
  }
  return kExitSuccess;
}

}  // namespace

std::function<int()> add_fuse_command(CLI::App& app) {
  auto args = std::make_shared<FuseArguments>();
  CLI::App* fuse = app.add_subcommand(
      "fuse",
      "Write w(δ) = Σ_i δ_i w_i of N checkpoints (safetensors files, sharded *.index.json, "
      "PEFT LoRA adapter directories or torch.save state dicts; all of one format) in their "
      "format, streaming safetensors tensor by tensor with bounded memory.");
  fuse->add_option("inputs", args->inputs, "Member checkpoints, all of one format")
      ->required()
      ->type_name("PATH")
      ->check(CLI::ExistingPath);
  auto* coefficients =
      fuse->add_option("-c,--coefficients", args->coefficients,
                       "δ_1,…,δ_N, comma-separated finite reals, one per input (any reals "
                       "unless --simplex)")
          ->type_name("REALS")
          ->allow_extra_args(false)  // one token: never swallows the inputs
          ->check(non_empty("δ_1,…,δ_N, comma-separated reals"));
  auto* uniform = fuse->add_flag("--uniform", args->uniform, "δ_i = 1/N (SWA)");
  coefficients->excludes(uniform);
  fuse->add_option("-o,--output", args->output,
                   "Output: a .safetensors file (safetensors inputs, single or sharded), a "
                   "directory (PEFT inputs) or a .pt file (torch.save inputs); never an input")
      ->type_name("PATH")
      ->required()
      ->check(non_empty("a file or directory path"));
  fuse->add_flag("--simplex", args->simplex, "Require δ_i ≥ 0 and Σ δ_i = 1");
  fuse->add_option("--metadata", args->metadata,
                   "key=value for the output's __metadata__ (repeat the option for more pairs)")
      ->type_name("KEY=VALUE")
      ->allow_extra_args(false);
  add_fusion_options(*fuse, args->fusion);
  fuse->add_flag("-q,--quiet", args->quiet, "No progress bar, no summary");
  return [args] { return run_fuse(*args); };
}

}  // namespace bomf::cli
