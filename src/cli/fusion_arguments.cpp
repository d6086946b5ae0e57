#include "cli/fusion_arguments.hpp"

#include <sched.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <optional>
#include <thread>

#include "bomf/core/error.hpp"
#include "cli/arguments.hpp"

namespace bomf::cli {
namespace {

std::optional<at::ScalarType> dtype_of(const std::string& name) {
  if (name == "f32") {
    return at::kFloat;
  }
  if (name == "bf16") {
    return at::kBFloat16;
  }
  if (name == "f16") {
    return at::kHalf;
  }
  if (name == "f64") {
    return at::kDouble;
  }
  return std::nullopt;  // "same" (CLI11 has checked the choice)
}

}  // namespace

int available_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) {
    return CPU_COUNT(&set);  // the affinity mask: a container's cpuset or taskset's choice
  }
  return static_cast<int>(std::thread::hardware_concurrency());  // 0 when unknown
}

void add_fusion_options(CLI::App& command, FusionArguments& arguments) {
  command
      .add_option("--dtype", arguments.dtype, "Dtype of the fused floating tensors (default same)")
      ->check(CLI::IsMember({"same", "f32", "bf16", "f16", "f64"}));
  command
      .add_option("--integers-from", arguments.integers_from,
                  "The member (1-based) whose integer tensors are copied (default 1)")
      ->type_name("INT");
  command.add_option("--threads", arguments.threads, "libtorch intra-op threads, ≥ 1 (default 1)")
      ->type_name("INT");
  command
      .add_option("--chunk-elements", arguments.chunk_elements,
                  "Elements fused per step, ≥ 1; bounds memory (default 4194304)")
      ->type_name("INT");
  command
      .add_option("--lora-fusion", arguments.lora,
                  "PEFT members: 'factors' averages A and B separately (the paper's), 'exact' "
                  "gives Σ δ_i s_i B_i A_i as a rank-Σr_i adapter (default factors)")
      ->check(CLI::IsMember({"factors", "exact"}));
}

MemberOptions member_options(const FusionArguments& arguments, std::size_t num_members,
                             int& threads) {
  threads = static_cast<int>(
      parse_integer(arguments.threads, "--threads", 1, 4096, "libtorch intra-op threads"));
  // More OpenMP threads than CPUs only spin against each other (512 of them on 2 cores made
  // fusing three 1 KB files take 13 s): use at most as many as this process may run on.
  const int cpus = available_cpus();
  if (cpus > 0 && threads > cpus) {
    std::cerr << "bomf: note: --threads " << threads << " is more than the " << cpus
              << " CPUs this process may run on; using " << cpus << "\n";
    threads = cpus;
  }
  MemberOptions options;
  options.chunk_elements =
      static_cast<std::size_t>(parse_integer(arguments.chunk_elements, "--chunk-elements", 1,
                                             std::int64_t{1} << 40, "elements fused per step"));
  options.fusion.output_dtype = dtype_of(arguments.dtype);
  options.fusion.copy_non_floating_from =
      static_cast<std::size_t>(parse_integer(arguments.integers_from, "--integers-from", 1,
                                             static_cast<std::int64_t>(num_members),
                                             "the member whose integer tensors are copied")) -
      1;
  options.lora = arguments.lora == "exact" ? LoraFusionMode::exact : LoraFusionMode::factors;
  return options;
}

std::string describe(const FusionArguments& arguments) {
  return detail::concat("dtype ", arguments.dtype, ", integers from ", arguments.integers_from,
                        ", lora ", arguments.lora);
}

}  // namespace bomf::cli
