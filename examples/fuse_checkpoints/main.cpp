// fuse_checkpoints — writes w(δ) = Σ_i δ_i w_i of N safetensors checkpoints to a new file,
// streaming tensor by tensor (memory bounded by a few chunks, not N models).
//
//   fuse_checkpoints -c 0.2,0.3,0.5 -o fused.safetensors a.safetensors b.safetensors c.safetensors
//   fuse_checkpoints --uniform -o swa.safetensors ckpt-*/model.safetensors.index.json
//
// Inputs may be single files or sharded checkpoints (their *.index.json). A progress bar is drawn
// when standard output is a terminal.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <Eigen/Core>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "bomf/fusion/streaming.hpp"
#include "bomf/torch/threads.hpp"

namespace {

/// A one-line progress bar on a terminal, redrawn at most ten times a second.
class ProgressBar {
 public:
  explicit ProgressBar(bool enabled) : enabled_(enabled) {}

  void update(std::uint64_t done, std::uint64_t total, const std::string& name) {
    if (!enabled_) {
      return;
    }
    const auto now = std::chrono::steady_clock::now();
    if (done < total && now - last_ < std::chrono::milliseconds(100)) {
      return;
    }
    last_ = now;
    constexpr int kWidth = 30;
    const double fraction =
        total == 0 ? 1.0 : std::min(1.0, static_cast<double>(done) / static_cast<double>(total));
    const int filled = static_cast<int>(fraction * kWidth);
    std::string bar(static_cast<std::size_t>(filled), '#');
    bar.append(static_cast<std::size_t>(kWidth - filled), '.');
    std::string label = name.size() > 40 ? "…" + name.substr(name.size() - 39) : name;
    std::printf("\r[%s] %5.1f%%  %8.1f / %.1f MB  %-40s", bar.c_str(), 100.0 * fraction,
                static_cast<double>(done) / 1e6, static_cast<double>(total) / 1e6, label.c_str());
    std::fflush(stdout);
    if (done >= total) {
      std::printf("\n");
    }
  }

 private:
  bool enabled_;
  std::chrono::steady_clock::time_point last_{};
};

std::optional<at::ScalarType> parse_dtype(const std::string& name) {
  if (name == "same") {
    return std::nullopt;
  }
  static const std::map<std::string, at::ScalarType> kTypes = {
      {"f32", at::kFloat}, {"bf16", at::kBFloat16}, {"f16", at::kHalf}, {"f64", at::kDouble}};
  return kTypes.at(name);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Fuse safetensors checkpoints: w(δ) = Σ_i δ_i w_i (BOMF weight fusion)"};
  std::vector<std::string> inputs;
  std::vector<double> coefficients;
  bool uniform = false;
  std::string output;
  std::string dtype = "same";
  std::size_t integers_from = 0;
  bool simplex = false;
  int threads = 1;
  std::size_t chunk = std::size_t{1} << 22;
  std::vector<std::string> metadata;
  bool quiet = false;

  app.add_option("inputs", inputs, "Member checkpoints (.safetensors files or *.index.json)")
      ->required()
      ->check(CLI::ExistingFile);
  auto* coeffs = app.add_option("-c,--coefficients", coefficients,
                                "Comma-separated δ_1,…,δ_N (any finite reals unless --simplex)")
                     ->delimiter(',')
                     ->allow_extra_args(false);  // one token: never swallows the inputs
  auto* uniform_flag = app.add_flag("--uniform", uniform, "δ_i = 1/N (SWA)");
  coeffs->excludes(uniform_flag);
  app.add_option("-o,--output", output, "Output .safetensors file")->required();
  app.add_option("--dtype", dtype, "Output dtype of floating tensors")
      ->check(CLI::IsMember({"same", "f32", "bf16", "f16", "f64"}));
  app.add_option("--integers-from", integers_from,
                 "Index of the member whose integer tensors are copied (default 0)");
  app.add_flag("--simplex", simplex, "Require δ_i ≥ 0 and Σ δ_i = 1");
  app.add_option("--threads", threads, "libtorch intra-op threads (default 1)")
      ->check(CLI::PositiveNumber);
  app.add_option("--chunk-elements", chunk, "Elements fused per step (bounds memory)")
      ->check(CLI::PositiveNumber);
  app.add_option("--metadata", metadata,
                 "key=value for the output's __metadata__ (repeat the option for more pairs)")
      ->allow_extra_args(false);
  app.add_flag("-q,--quiet", quiet, "No progress bar");
  CLI11_PARSE(app, argc, argv);

  try {
    if (uniform) {
      coefficients.assign(inputs.size(), 1.0 / static_cast<double>(inputs.size()));
    }
    if (coefficients.empty()) {
      std::cerr << "fuse_checkpoints: give --coefficients or --uniform\n";
      return 2;
    }
    bomf::set_torch_threads(threads);
    bomf::StreamingFusionOptions options;
    options.fusion.output_dtype = parse_dtype(dtype);
    options.fusion.copy_non_floating_from = integers_from;
    options.fusion.require_simplex = simplex;
    options.chunk_elements = chunk;
    for (const auto& item : metadata) {
      const auto eq = item.find('=');
      if (eq == std::string::npos) {
        std::cerr << "fuse_checkpoints: --metadata expects key=value, got '" << item << "'\n";
        return 2;
      }
      options.metadata[item.substr(0, eq)] = item.substr(eq + 1);
    }
    ProgressBar bar(!quiet && ::isatty(STDOUT_FILENO) == 1);
    options.progress = [&bar](std::uint64_t done, std::uint64_t total, const std::string& name) {
      bar.update(done, total, name);
    };
    const Eigen::Map<const Eigen::VectorXd> delta(coefficients.data(),
                                                  static_cast<Eigen::Index>(coefficients.size()));
    const auto start = std::chrono::steady_clock::now();
    bomf::fuse_safetensors_files(inputs, delta, output, options);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!quiet) {
      std::cout << "fused " << inputs.size() << " checkpoints into " << output << " in " << seconds
                << " s\n";
    }
  } catch (const std::exception& error) {
    std::cerr << "fuse_checkpoints: " << error.what() << "\n";
    return 1;
  }
  return 0;
}
