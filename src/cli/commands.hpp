// cli/commands.hpp — the subcommands of the `bomf` program (src/cli/main.cpp).
#pragma once

#include <functional>
#include <stdexcept>

namespace CLI {
class App;
}  // namespace CLI

namespace bomf::cli {

/// Exit statuses of `bomf` (docs/cli.md).
enum ExitStatus : int {
  kExitSuccess = 0,
  kExitFailure = 1,        ///< the command could not be carried out (input, fusion, writing)
  kExitUsage = 2,          ///< the command line is wrong
  kExitInterrupted = 130,  ///< SIGINT, SIGTERM or SIGHUP arrived; nothing was left half-written
};

/// Thrown from long operations once an interrupting signal has arrived.
class interrupted : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Makes SIGINT, SIGTERM and SIGHUP set a flag instead of ending the program, so that temporary
/// files are removed on the way out (`throw_if_interrupted`).
void install_interrupt_handlers();
/// Throws `interrupted` when one of those signals has arrived.
void throw_if_interrupted();

/// Registers `bomf fuse` on `app`; the returned function runs it once `app` has parsed the
/// command line, and returns the exit status (it throws `usage_error` for a wrong command line,
/// other exceptions for failures).
std::function<int()> add_fuse_command(CLI::App& app);

}  // namespace bomf::cli
