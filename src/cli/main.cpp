// bomf — the command-line front end of the library (docs/cli.md).
//
//   bomf fuse -c 0.2,0.3,0.5 -o fused.safetensors a.safetensors b.safetensors c.safetensors
//   bomf fuse --uniform -o swa.safetensors ckpt-*/model.safetensors.index.json
#include <CLI/CLI.hpp>
#include <csignal>
#include <exception>
#include <iostream>
#include <map>
#include <string>

#include "bomf/core/error.hpp"
#include "bomf/version.hpp"
#include "cli/arguments.hpp"
#include "cli/commands.hpp"

namespace bomf::cli {
namespace {

volatile std::sig_atomic_t g_interrupted = 0;

extern "C" void on_interrupt(int signal) {
  g_interrupted = signal;
}

}  // namespace

void install_interrupt_handlers() {
  struct sigaction action {};
  action.sa_handler = on_interrupt;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;  // no SA_RESTART: a blocking call returns EINTR
  for (const int signal : {SIGINT, SIGTERM, SIGHUP}) {
    ::sigaction(signal, &action, nullptr);
  }
}

int interrupt_signal() {
  return static_cast<int>(g_interrupted);
}

void throw_if_interrupted() {
  if (g_interrupted != 0) {
    throw interrupted(detail::concat("interrupted by signal ", static_cast<int>(g_interrupted)));
  }
}

}  // namespace bomf::cli

int main(int argc, char** argv) {
  using namespace bomf::cli;
  CLI::App app{"bomf " BOMF_VERSION_STRING
               " — Bayesian-optimization model fusion of fine-tuned checkpoints.\n"
               "Exit status: 0 success, 1 failure (unreadable or incompatible input, write "
               "error), 2 wrong command line, 3 bomf search stopped by failed evaluations, 130 "
               "interrupted. See docs/cli.md.",
               "bomf"};
  app.require_subcommand(1, 1);
  app.set_version_flag("--version", BOMF_VERSION_STRING);
  const std::map<std::string, std::function<int()>> commands = {
      {"fuse", add_fuse_command(app)},
      {"search", add_search_command(app)},
      {"report", add_report_command(app)}};
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    if (error.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) {
      return app.exit(error);  // --help, --version
    }
    std::cerr << "bomf: " << error.what()
              << "\n(run 'bomf --help', or 'bomf COMMAND --help' for fuse, search and report)\n";
    return kExitUsage;
  }
  install_interrupt_handlers();
  const std::string command = app.get_subcommands().front()->get_name();
  // "bomf <command>: <what>", once: messages made with the command's name as their context
  // already start with it.
  const std::string prefix = "bomf " + command + ": ";
  const auto what = [&prefix](const std::exception& error) {
    const std::string text = error.what();
    return text.rfind(prefix, 0) == 0 ? text.substr(prefix.size()) : text;
  };
  try {
    return commands.at(command)();
  } catch (const usage_error& error) {
    std::cerr << prefix << what(error) << "\n";
    return kExitUsage;
  } catch (const interrupted& error) {
    std::cerr << prefix << what(error)
              << (command == "search" ? "; every completed evaluation is in the journal"
                                      : "; nothing was written")
              << "\n";
    return kExitInterrupted;
  } catch (const std::exception& error) {
    std::cerr << prefix << what(error) << "\n";
    return kExitFailure;
  }
}
