// bomf_supersense_evaluator — the flagship model as an evaluator program for `bomf search`
// (docs/cli.md, "The evaluator protocol"): a separate C++ process that reads the fused
// safetensors checkpoint bomf writes for each δ, puts it into the supersense classifier
// (model.hpp) and scores it on the validation split of the smoke-size task (task.hpp).
//
//   bomf_supersense_evaluator write-members --out DIR [--members 3] [--steps 24] [--seed 0]
//       fine-tunes the smoke-size model from its GloVe-initialized parameters for --steps AdamW
//       steps and keeps --members checkpoints evenly spaced from half-way on, written as
//       DIR/member-<step>.safetensors with the model's state-dict names (printed one a line, in
//       training order);
//   bomf_supersense_evaluator evaluate --weights FILE [--split validation|test]
//       prints {"bomf_protocol": 1, "loss": …, "metrics": {"accuracy": …, "macro_f1": …}}.
//
// Both take --wordnet PATH, --data-dir DIR (GloVe; write-members only needs it), --full (the
// full-size 6000/1000/2000 split instead of the smoke one) and --threads N (libtorch threads,
// default 1: results then do not depend on the machine's core count).
//
//   E=build/ci/examples/supersense/bomf_supersense_evaluator
//   mkdir -p run && $E write-members --out run > members.txt
//   bomf search $(cat members.txt) --objective loss:loss --objective accuracy:metric
//     --objective macro_f1:metric --evaluate "$E evaluate --weights {weights}" -o fusion
//   (one command line)
//
// The checkpoint must hold exactly the model's tensors (names and shapes of model.hpp, for the
// vocabulary of the chosen split), in a floating-point dtype; anything else is refused naming
// the tensor. Exit status: 0 on success (an answer printed), 1 on an error (message on standard
// error; for `evaluate` also an `error` answer on standard output), 2 for bad options, 77 when
// the example's data is absent (scripts/fetch-data.sh).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <iostream>
#include <set>
#include <string>
#include <vector>

#include "bomf/io/safetensors.hpp"
#include "bomf/torch/threads.hpp"
#include "task.hpp"

namespace {

constexpr int kDataMissing = 77;

/// The options both commands share.
struct TaskArguments {
  std::string wordnet = supersense::kDefaultWordNetNounPath;
  std::string data_dir;
  bool full = false;
  int threads = 1;

  void add_to(CLI::App& command) {
    command.add_option("--wordnet", wordnet, "WordNet's data.noun")->capture_default_str();
    command.add_option("--data-dir", data_dir,
                       "GloVe JSON and cache (default $BOMF_DATA_DIR or the user cache)");
    command.add_flag("--full", full, "The full-size split (6000/1000/2000) instead of smoke's");
    command.add_option("--threads", threads, "libtorch intra-op threads")
        ->check(CLI::Range(1, 1024))
        ->capture_default_str();
  }

  [[nodiscard]] supersense::TaskOptions task_options(bool use_glove) const {
    supersense::TaskOptions options;
    if (!full) {
      options = supersense::TaskOptions::smoke();
    }
    options.wordnet_path = wordnet;
    options.data_dir = data_dir;
    options.use_glove = use_glove;
    return options;
  }
};

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buffer[8];
      std::snprintf(buffer, sizeof buffer, "\\u%04x", static_cast<unsigned>(c));
      out += buffer;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string shape_of(const at::Tensor& t) {
  std::string s = "[";
  for (std::int64_t d = 0; d < t.dim(); ++d) {
    s += (d > 0 ? ", " : "") + std::to_string(t.size(d));
  }
  return s + "]";
}

/// `loaded` checked against the model's layout `expected` (names, shapes, a floating-point
/// dtype) and converted to contiguous float32 in the model's order; throws naming what differs.
bomf::StateDict model_parameters(const bomf::StateDict& loaded, const bomf::StateDict& expected,
                                 const std::string& path) {
  std::vector<std::string> missing;
  for (const auto& [name, tensor] : expected) {
    if (!loaded.contains(name)) {
      missing.push_back(name);
    }
  }
  std::vector<std::string> unexpected;
  for (const auto& [name, tensor] : loaded) {
    if (!expected.contains(name)) {
      unexpected.push_back(name);
    }
  }
  if (!missing.empty() || !unexpected.empty()) {
    std::string message = "'" + path + "' is not a checkpoint of this model:";
    const auto list = [&](const char* what, const std::vector<std::string>& names) {
      if (names.empty()) {
        return;
      }
      message += std::string(" ") + what + " " + std::to_string(names.size()) + " tensor(s) (";
      for (std::size_t i = 0; i < names.size() && i < 5; ++i) {
        message += (i > 0 ? ", '" : "'") + names[i] + "'";
      }
      message += names.size() > 5 ? ", …)" : ")";
    };
    list("missing", missing);
    list("unexpected", unexpected);
    throw std::runtime_error(message);
  }
  bomf::StateDict params;
  for (const auto& [name, want] : expected) {
    const at::Tensor& got = loaded.at(name);
    if (!at::isFloatingType(got.scalar_type())) {
      throw std::runtime_error("tensor '" + name + "' of '" + path + "' has dtype " +
                               std::string(c10::toString(got.scalar_type())) +
                               ", expected a floating-point dtype");
    }
    if (got.sizes() != want.sizes()) {
      throw std::runtime_error("tensor '" + name + "' of '" + path + "' has shape " +
                               shape_of(got) + ", the model's is " + shape_of(want) +
                               " (a checkpoint of another split or vocabulary? see --full)");
    }
    params.insert(name, got.to(at::kFloat).contiguous());
  }
  return params;
}

int evaluate(const TaskArguments& args, const std::string& weights, const std::string& split) {
  // The weights come from the file: GloVe (used only for the initial parameters) is not needed.
  const supersense::TaskOptions options = args.task_options(/*use_glove=*/false);
  const std::string missing = supersense::missing_data(options);
  if (!missing.empty()) {
    std::cerr << "bomf_supersense_evaluator: " << missing << "\n";
    return kDataMissing;
  }
  std::error_code error;
  if (!std::filesystem::is_regular_file(weights, error)) {
    throw std::runtime_error("--weights '" + weights + "' is not a readable file");
  }
  const bomf::StateDict loaded = bomf::load_safetensors(weights);
  const supersense::SupersenseTask task(options);
  const bomf::StateDict params = model_parameters(loaded, task.initial_parameters(), weights);
  const supersense::Split which =
      split == "test" ? supersense::Split::test : supersense::Split::validation;
  const supersense::Metrics m = task.evaluate(params, which);
  std::cerr << "evaluated " << m.examples << " " << split << " examples of '" << weights << "'\n";
  if (!std::isfinite(m.loss) || !std::isfinite(m.accuracy) || !std::isfinite(m.macro_f1)) {
    throw std::runtime_error("the loss or a metric of '" + weights + "' is not finite");
  }
  std::printf(
      "{\"bomf_protocol\": 1, \"loss\": %.17g, \"metrics\": {\"accuracy\": %.17g, "
      "\"macro_f1\": %.17g}}\n",
      m.loss, m.accuracy, m.macro_f1);
  return 0;
}

int write_members(const TaskArguments& args, const std::string& out, int members, int steps,
                  std::uint64_t seed) {
  if (steps < 2 * members) {
    throw std::invalid_argument("expected --steps >= 2 * --members (got --steps " +
                                std::to_string(steps) + ", --members " + std::to_string(members) +
                                ")");
  }
  std::error_code error;
  if (!std::filesystem::is_directory(out, error)) {
    throw std::runtime_error("--out '" + out + "' is not a directory");
  }
  supersense::TaskOptions options = args.task_options(/*use_glove=*/true);
  options.init_seed = seed;
  const std::string missing = supersense::missing_data(options);
  if (!missing.empty()) {
    std::cerr << "bomf_supersense_evaluator: " << missing << "\n";
    return kDataMissing;
  }
  const supersense::SupersenseTask task(options);
  const int half = steps / 2;
  std::set<std::int64_t> keep;  // evenly spaced from half-way on (BOMF's member policy)
  for (int k = 0; k < members; ++k) {
    keep.insert(half + std::lround(k * (steps - half) / (members - 1.0)));
  }
  supersense::TrainOptions train;
  train.learning_rate = 2e-3;
  train.batch_size = 32;
  train.epochs = 1000;  // max_steps ends the run
  train.max_steps = steps;
  train.seed = seed;
  std::vector<std::string> paths;
  train.after_step = [&](std::int64_t step, const bomf::StateDict& params) {
    if (keep.count(step) == 0) {
      return;
    }
    const std::string path =
        (std::filesystem::path(out) / ("member-" + std::to_string(step) + ".safetensors")).string();
    bomf::StateDict copy;
    for (const auto& [name, tensor] : params) {
      copy.insert(name, tensor.detach().contiguous());
    }
    bomf::save_safetensors(path, copy, {{"step", std::to_string(step)}});
    paths.push_back(path);
  };
  const supersense::TrainResult result = task.train(train);
  if (!result.trajectory.empty()) {
    const supersense::Metrics& last = result.trajectory.back().validation;
    std::cerr << "trained " << result.steps << " steps: validation loss " << last.loss
              << ", macro-F1 " << last.macro_f1 << "\n";
  }
  for (const std::string& path : paths) {
    std::cout << path << "\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "The supersense classifier (the flagship example) as a `bomf search` evaluator, and its "
      "fusion members"};
  app.require_subcommand(1);
  TaskArguments args;

  CLI::App* evaluate_command =
      app.add_subcommand("evaluate", "Score a checkpoint; print one evaluator-protocol answer");
  std::string weights;
  std::string split = "validation";
  evaluate_command->add_option("--weights", weights, "The safetensors checkpoint")->required();
  evaluate_command->add_option("--split", split, "validation or test")
      ->check(CLI::IsMember({"validation", "test"}))
      ->capture_default_str();
  args.add_to(*evaluate_command);

  CLI::App* members_command = app.add_subcommand(
      "write-members", "Fine-tune briefly and write fusion members as safetensors files");
  std::string out;
  int members = 3;
  int steps = 24;
  std::uint64_t seed = 0;
  members_command->add_option("--out", out, "An existing directory")->required();
  members_command->add_option("--members", members, "Checkpoints kept")
      ->check(CLI::Range(2, 1000))
      ->capture_default_str();
  members_command->add_option("--steps", steps, "AdamW steps")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  members_command->add_option("--seed", seed, "Initial parameters and batch order")
      ->capture_default_str();
  args.add_to(*members_command);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);  // prints the help or the message
    return code == 0 ? 0 : 2;
  }
  try {
    bomf::set_torch_threads(args.threads);
    if (*members_command) {
      return write_members(args, out, members, steps, seed);
    }
    return evaluate(args, weights, split);
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::cerr << "bomf_supersense_evaluator: " << e.what() << "\n";
    if (*evaluate_command) {
      std::printf("{\"bomf_protocol\": 1, \"error\": %s}\n", json_string(e.what()).c_str());
    }
    return 1;
  }
}
