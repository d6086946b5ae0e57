// bomf_mpi_fusion — BOMF's fusion stage and the baselines with every evaluation on a worker rank
// (docs/mpi.md). The same program runs in one process or under mpirun:
//
//   ./bomf_mpi_fusion                                  # one process: search and evaluations
//   mpirun -np 5 ./bomf_mpi_fusion                     # rank 0 searches, ranks 1–4 evaluate
//   mpirun -np 5 examples/mpi_fusion/gpu_per_rank.sh ./bomf_mpi_fusion   # one GPU per worker
//
// The task: a small MLP classifier on synthetic data (3 classes, seeded). The fusion members
// are checkpoints of one fine-tuning run, written as safetensors files to --members-dir (by rank
// 0, or the single process, when they are missing: the stand-in for stage 1's member run); each
// worker rank loads them onto its own device and serves a TorchFusionProblem (validation loss,
// accuracy and macro-F1). Rank 0 holds no model: it runs the search (bomf::solve on a
// bomf::mpi::FusionPool), Greedy SWA and Learned SWA (whose gradient steps run on rank 1), all
// journaled in one file. Rerun with the same --journal, on any number of ranks, to resume.
//
// Exit status: 0 on success, 1 on an error, 2 for bad options.
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bomf/drivers/baselines.hpp"
#include "bomf/drivers/evaluation_loop.hpp"
#include "bomf/drivers/fusion_search.hpp"
#include "bomf/io/safetensors.hpp"
#include "bomf/mpi/mpi.hpp"
#include "bomf/torch/classification_metrics.hpp"
#include "bomf/torch/module_state.hpp"
#include "bomf/torch/threads.hpp"
#include "bomf/torch/torch_fusion_problem.hpp"

namespace {

struct Settings {
  std::string journal = "mpi_fusion.jsonl";
  std::string members_dir = "mpi_fusion_members";
  int members = 6;
  int iterations = -1;
  int learned_steps = 30;
  int delay_ms = 0;
  int threads = 1;
};

/// Synthetic 3-class data: 16 features, labels from a fixed random teacher network.
struct Data {
  torch::Tensor x_train, y_train, x_valid, y_valid;
};

Data make_data(const torch::Device& device) {
  torch::manual_seed(2024);
  const torch::Tensor teacher = torch::randn({16, 3});
  const auto labels = [&](const torch::Tensor& x) {
    return torch::matmul(torch::tanh(x), teacher).argmax(1);
  };
  Data d;
  d.x_train = torch::randn({2000, 16});
  d.y_train = labels(d.x_train);
  d.x_valid = torch::randn({500, 16});
  d.y_valid = labels(d.x_valid);
  d.x_train = d.x_train.to(device);
  d.y_train = d.y_train.to(device);
  d.x_valid = d.x_valid.to(device);
  d.y_valid = d.y_valid.to(device);
  return d;
}

torch::nn::Sequential make_model() {
  torch::manual_seed(7);
  return torch::nn::Sequential(torch::nn::Linear(16, 32), torch::nn::ReLU(),
                               torch::nn::Linear(32, 3));
}

std::string member_path(const Settings& s, int i) {
  return s.members_dir + "/member_" + std::to_string(i) + ".safetensors";
}

/// The fine-tuning run that provides the members: SGD with a large step, a checkpoint every
/// 40 steps over the second half of the run (member N − 1 is the last checkpoint).
void write_members(const Settings& s) {
  std::filesystem::create_directories(s.members_dir);
  const Data data = make_data(torch::kCPU);
  torch::nn::Sequential model = make_model();
  torch::optim::SGD sgd(model->parameters(), torch::optim::SGDOptions(0.5));
  const int total = 80 * s.members;
  int saved = 0;
  for (int step = 1; step <= total; ++step) {
    const torch::Tensor batch = torch::randint(0, 2000, {64}, torch::kLong);
    sgd.zero_grad();
    torch::nn::functional::cross_entropy(model->forward(data.x_train.index_select(0, batch)),
                                         data.y_train.index_select(0, batch))
        .backward();
    sgd.step();
    if (step > total / 2 && step % 40 == 0)
      bomf::save_safetensors(member_path(s, saved++), bomf::snapshot(*model));
  }
}

bomf::FusionObjectives objectives() {
  return {"cross_entropy",
          {{"accuracy", bomf::Direction::maximize}, {"macro_f1", bomf::Direction::maximize}}};
}

/// One rank's fusion problem: the members loaded onto `device`, the model and the validation
/// data there too.
class ClassifierProblem {
 public:
  ClassifierProblem(const Settings& s, const torch::Device& device)
      : data_(make_data(device)), model_(make_model()) {
    model_->to(device);
    std::vector<std::string> paths;
    for (int i = 0; i < s.members; ++i) {
      paths.push_back(member_path(s, i));
    }
    std::vector<bomf::StateDict> members = bomf::load_fusion_members(paths);
    if (device.is_cuda()) {  // members next to the model that receives w(δ)
      for (bomf::StateDict& m : members) {
        for (std::size_t i = 0; i < m.size(); ++i) {
          m.tensor(i) = m.tensor(i).to(device);
        }
      }
    }
    const int delay_ms = s.delay_ms;
    problem_ = std::make_unique<bomf::TorchFusionProblem>(
        std::move(members), objectives(), model_.ptr(), [this, delay_ms] {
          if (delay_ms > 0)  // --delay-ms: a slower model's evaluation
            std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
          const torch::Tensor logits = model_->forward(data_.x_valid);
          return bomf::TorchValidation{
              torch::nn::functional::cross_entropy(logits, data_.y_valid),
              {bomf::accuracy(logits, data_.y_valid), bomf::macro_f1(logits, data_.y_valid)}};
        });
  }
  bomf::FusionProblem& problem() { return *problem_; }

 private:
  Data data_;
  torch::nn::Sequential model_;
  std::unique_ptr<bomf::TorchFusionProblem> problem_;
};

/// One GPU per worker rank when CUDA is there (gpu_per_rank.sh makes it cuda:0 of the rank's
/// CUDA_VISIBLE_DEVICES), else the CPU.
torch::Device worker_device() {
  return torch::cuda::is_available() ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
}

bomf::FusionSearchOptions search_options(const Settings& s) {
  bomf::FusionSearchOptions o;
  o.num_iterations = s.iterations;
  o.journal = s.journal;
  o.callback = [](const bomf::FusionIteration& it) {
    std::printf("  %3d %-11s loss %.4f  accuracy %.4f  hv %.4f%s\n", it.index,
                bomf::to_string(it.proposal), it.evaluation.loss,
                it.evaluation.metrics.size() > 0 ? it.evaluation.metrics(0) : 0.0, it.hypervolume,
                it.ok ? "" : "  (failed)");
    std::fflush(stdout);
    return true;
  };
  return o;
}

/// After the search (on rank 0, or the single process): the baselines on the same evaluator,
/// and the comparison.
void baselines_and_report(bomf::FusionEvaluator& evaluator, const bomf::FusionResult& bomf_result,
                          const bomf::FusionSummary& summary, const Settings& s) {
  std::printf("%s\n", summary.brief_report().c_str());
  const long computed_before = evaluator.num_computed();
  std::vector<bomf::FusionResult> results{bomf_result};
  results.push_back(bomf::best_single_member(evaluator));
  results.push_back(bomf::uniform_average(evaluator));
  results.push_back(bomf::greedy_swa(evaluator));
  bomf::LearnedSwaOptions learned;
  learned.steps = s.learned_steps;
  results.push_back(bomf::learned_swa(evaluator, learned));
  std::printf("\n%-12s %14s %9s %9s\n", "method", "cross_entropy", "accuracy", "macro_f1");
  for (const bomf::FusionResult& r : results) {
    std::printf("%-12s %14.4f %9.4f %9.4f\n", r.method.c_str(), r.evaluation.loss,
                r.evaluation.metrics(0), r.evaluation.metrics(1));
  }
  std::printf("\nnew evaluations in this run: %d (search) + %ld (baselines); journal %s\n",
              summary.num_evaluations - summary.num_replayed - summary.num_reused,
              evaluator.num_computed() - computed_before, s.journal.c_str());
}

int run(const Settings& s, const bomf::mpi::Environment& mpi) {
  bomf::set_torch_threads(s.threads);
  if (mpi.rank() == 0 && !std::filesystem::exists(member_path(s, s.members - 1))) {
    std::printf("writing %d members to %s\n", s.members, s.members_dir.c_str());
    write_members(s);
  }
  MPI_Barrier(MPI_COMM_WORLD);  // the members exist before any worker loads them
  bomf::FusionSummary summary;
  if (mpi.size() == 1) {  // one process: the problem here, the sequential search
    ClassifierProblem local(s, torch::kCPU);
    bomf::FusionEvaluator evaluator(local.problem(), s.journal);
    std::printf("one process: search and evaluations here\n");
    const bomf::FusionResult fused = bomf::solve(search_options(s), evaluator, &summary);
    baselines_and_report(evaluator, fused, summary, s);
    return 0;
  }
  if (mpi.rank() > 0) {  // a worker: its own model and members, on its own device
    const torch::Device device = worker_device();
    const char* visible = std::getenv("CUDA_VISIBLE_DEVICES");
    std::printf("rank %d (local rank %d): CUDA_VISIBLE_DEVICES=%s, evaluating on %s\n", mpi.rank(),
                mpi.local_rank(), visible != nullptr ? visible : "(unset)", device.str().c_str());
    std::fflush(stdout);
    ClassifierProblem local(s, device);
    const bomf::mpi::ServeSummary served = bomf::mpi::serve(local.problem(), MPI_COMM_WORLD);
    std::printf("rank %d: %ld tasks (%ld failed), busy %.1f of %.1f s\n", served.rank, served.tasks,
                served.failures, served.busy_seconds, served.total_seconds);
    return served.coordinator_ok ? 0 : 1;
  }
  // Rank 0: the search over the worker ranks, then the baselines through rank 1.
  bomf::mpi::FusionPool pool(MPI_COMM_WORLD);
  bomf::mpi::RemoteFusionProblem remote(pool);  // N, objectives, fingerprint: from the workers
  bomf::FusionLedger ledger(remote, s.journal);
  std::printf("rank 0: searching with %d worker ranks\n", pool.num_workers());
  const bomf::FusionResult fused = bomf::solve(search_options(s), ledger, pool, &summary);
  bomf::FusionEvaluator evaluator(remote, ledger);
  baselines_and_report(evaluator, fused, summary, s);
  pool.shutdown();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const bomf::mpi::Environment mpi(argc, argv);
  CLI::App app{"BOMF's fusion search and the baselines with the evaluations on MPI worker ranks"};
  Settings s;
  app.add_option("--journal", s.journal, "Journal file; rerun with it to resume")
      ->capture_default_str();
  app.add_option("--members-dir", s.members_dir,
                 "Directory of the members (written by rank 0 when missing)")
      ->capture_default_str();
  app.add_option("--members", s.members, "Number of members N")
      ->check(CLI::Range(2, 32))
      ->capture_default_str();
  app.add_option("--iterations", s.iterations, "Acquisition iterations (-1: 5·N)")
      ->check(CLI::Range(-1, 1000))
      ->capture_default_str();
  app.add_option("--learned-steps", s.learned_steps, "Learned SWA's gradient steps")
      ->check(CLI::Range(0, 10000))
      ->capture_default_str();
  app.add_option("--delay-ms", s.delay_ms, "Extra milliseconds per evaluation")
      ->check(CLI::Range(0, 600000))
      ->capture_default_str();
  app.add_option("--threads", s.threads, "libtorch threads per rank")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {  // every rank sees the same arguments: all exit here
    if (mpi.rank() == 0)
      app.exit(e);  // prints the help or the error
    return e.get_exit_code() == 0 ? 0 : 2;
  }
  try {
    return run(s, mpi);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bomf_mpi_fusion: rank %d: %s\n", mpi.rank(), e.what());
    // The pool, if any, has told the workers (they return); with MPI_Abort nothing can hang.
    MPI_Abort(MPI_COMM_WORLD, 1);
    return 1;
  }
}
