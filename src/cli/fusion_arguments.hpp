// cli/fusion_arguments.hpp — the fusion options that `bomf fuse` and `bomf search` share (dtype,
// integer tensors, PEFT fusion mode, threads, streaming chunk), registered and checked in one
// place.
#pragma once

#include <cstddef>
#include <string>

#include "cli/members.hpp"

namespace CLI {
class App;
}  // namespace CLI

namespace bomf::cli {

/// The shared fusion options as typed on the command line (checked by `member_options`).
struct FusionArguments {
  std::string dtype = "same";
  std::string integers_from = "1";
  std::string threads = "1";
  std::string chunk_elements = std::to_string(std::size_t{1} << 22);
  std::string lora = "factors";
};

/// Registers --dtype, --integers-from, --threads, --chunk-elements and --lora-fusion on
/// `command`, writing into `arguments` (which must outlive the parse).
void add_fusion_options(CLI::App& command, FusionArguments& arguments);

/// The number of CPUs this process may run on (its affinity mask: a container's cpuset, a
/// taskset), or std::thread::hardware_concurrency() when that cannot be read (0: unknown).
/// `member_options` reduces --threads to it.
[[nodiscard]] int available_cpus();

/// The member options of `arguments` for N members (dtype, integer tensors, chunk, PEFT mode),
/// and the libtorch thread count in `threads`. Throws `usage_error` naming the option.
[[nodiscard]] MemberOptions member_options(const FusionArguments& arguments,
                                           std::size_t num_members, int& threads);

/// A short description for fingerprints: "dtype same, integers from 1, lora factors".
[[nodiscard]] std::string describe(const FusionArguments& arguments);

}  // namespace bomf::cli
