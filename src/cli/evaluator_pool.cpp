#include "cli/evaluator_pool.hpp"

#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <filesystem>
#include <system_error>

#include "bomf/core/error.hpp"
#include "bomf/drivers/detail/stopwatch.hpp"
#include "cli/process.hpp"
#include "cli/protocol.hpp"

namespace bomf::cli {
namespace {

namespace fs = std::filesystem;
constexpr const char* kWhere = "bomf::cli::EvaluatorPool";

/// Keeps SIGINT, SIGTERM and SIGHUP away from the calling (worker) thread.
void block_interrupt_signals() {
  sigset_t set;
  sigemptyset(&set);
  for (const int s : {SIGINT, SIGTERM, SIGHUP}) {
    sigaddset(&set, s);
  }
  ::pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

std::string slot_of(const std::string& scratch, int worker) {
  return (fs::path(scratch) / ("worker-" + std::to_string(worker))).string();
}

void remove_quietly(const std::string& path) {
  std::error_code ignored;
  fs::remove_all(path, ignored);
}

}  // namespace

std::string format_delta(const Eigen::VectorXd& delta) {
  std::string out;
  for (Eigen::Index i = 0; i < delta.size(); ++i) {
    char buffer[40];
    std::snprintf(buffer, sizeof buffer, "%.17g", delta(i));
    out += (i == 0 ? "" : ",");
    out += buffer;
  }
  return out;
}

EvaluatorPool::EvaluatorPool(EvaluatorSettings settings, int workers)
    : settings_(std::move(settings)),
      command_(settings_.command, search_placeholders(), "--evaluate"),
      next_number_(settings_.first_id) {
  detail::require(workers >= 1, kWhere, "workers is ", workers, ", expected at least 1");
  detail::require(!command_.used().count("weights") || settings_.write_weights, kWhere,
                  "the command uses {weights}, but no fused checkpoint is written (the "
                  "evaluator fuses)");
  detail::require(!settings_.write_weights || !settings_.weights_name.empty(), kWhere,
                  "a writer without a file name");
  settings_.scratch = fs::absolute(settings_.scratch).lexically_normal().string();
  for (const auto& [name, value] : settings_.environment) {
    environment_.emplace_back(
        name, CommandTemplate(value, search_placeholders(), "--worker-env " + name));
    detail::require(!environment_.back().second.used().count("weights") || settings_.write_weights,
                    kWhere, "--worker-env ", name,
                    " uses {weights}, but no fused checkpoint is written (the evaluator fuses)");
  }
  for (const std::string& m : settings_.members) {
    absolute_members_.push_back(fs::absolute(m).lexically_normal().string());
  }
  slots_.resize(static_cast<std::size_t>(workers));
  threads_.reserve(slots_.size());
  for (int w = 0; w < workers; ++w) {
    threads_.emplace_back([this, w] { work(w); });
  }
}

EvaluatorPool::~EvaluatorPool() {
  shutdown();
}

void EvaluatorPool::shutdown() {
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_ && threads_.empty()) {
      return;
    }
    stopping_ = true;
  }
  cancel_ = true;
  wake_workers_.notify_all();
  for (std::thread& t : threads_) {
    if (t.joinable()) {
      t.join();
    }
  }
  threads_.clear();
  if (!settings_.keep_scratch) {
    for (std::size_t w = 0; w < slots_.size(); ++w) {
      remove_quietly(slot_of(settings_.scratch, static_cast<int>(w)));
    }
  }
}

int EvaluatorPool::running() const {
  const std::lock_guard<std::mutex> lock(mutex_);
  return running_;
}

void EvaluatorPool::start(int worker, std::uint64_t id, const Eigen::VectorXd& delta) {
  detail::require(worker >= 0 && worker < num_workers(), "bomf::cli::EvaluatorPool::start",
                  "argument 'worker' is ", worker, ", expected 0 … ", num_workers() - 1);
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    detail::require(!stopping_, "bomf::cli::EvaluatorPool::start", "the pool was shut down");
    Slot& slot = slots_[static_cast<std::size_t>(worker)];
    detail::require(!slot.task, "bomf::cli::EvaluatorPool::start", "worker ", worker, " is busy");
    slot.task = Task{next_number_++, delta};
    slot.loop_id = id;
    ++running_;
  }
  wake_workers_.notify_all();
}

EvaluatorPool::Completed EvaluatorPool::wait() {
  std::unique_lock<std::mutex> lock(mutex_);
  detail::require(running_ > 0 || !done_.empty(), "bomf::cli::EvaluatorPool::wait",
                  "nothing is running");
  auto last_tick = std::chrono::steady_clock::now();
  for (;;) {
    if (settings_.interrupted && settings_.interrupted()) {
      lock.unlock();
      shutdown();
      if (settings_.on_interrupt) {
        settings_.on_interrupt();  // does not return
      }
      throw std::runtime_error("bomf::cli::EvaluatorPool::wait: interrupted");
    }
    if (!done_.empty()) {
      break;
    }
    done_ready_.wait_for(lock, std::chrono::milliseconds(100));
    const auto now = std::chrono::steady_clock::now();
    if (settings_.tick && now - last_tick >= std::chrono::seconds(1)) {
      last_tick = now;
      lock.unlock();
      settings_.tick();
      lock.lock();
    }
  }
  Completed c = std::move(done_.front());
  done_.pop_front();
  return c;
}

void EvaluatorPool::work(int worker) {
  block_interrupt_signals();
  for (;;) {
    Task task;
    std::uint64_t loop_id = 0;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      Slot& slot = slots_[static_cast<std::size_t>(worker)];
      wake_workers_.wait(lock, [&] { return stopping_ || slot.task.has_value(); });
      if (stopping_) {
        return;
      }
      task = *slot.task;
      loop_id = slot.loop_id;
    }
    Completed c = evaluate(worker, loop_id, task);
    if (cancel_) {
      return;  // stopped by shutdown(): never reported
    }
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      slots_[static_cast<std::size_t>(worker)].task.reset();
      --running_;
      done_.push_back(std::move(c));
    }
    done_ready_.notify_one();
  }
}

EvaluatorPool::Completed EvaluatorPool::evaluate(int worker, std::uint64_t loop_id,
                                                 const Task& task) {
  Completed c;
  c.id = loop_id;
  c.worker = worker;
  c.point = task.delta;
  const detail::Stopwatch clock;
  const std::string slot = slot_of(settings_.scratch, worker);
  const std::string weights =
      settings_.weights_name.empty() ? std::string() : slot + "/" + settings_.weights_name;
  const auto finish = [&](std::string error) {
    c.error = std::move(error);
    c.seconds = clock.seconds();
    if (!settings_.keep_scratch) {
      remove_quietly(slot);
    }
    return c;
  };
  try {
    remove_quietly(slot);
    fs::create_directories(slot);
    if (settings_.write_weights) {
      settings_.write_weights(task.delta, weights, [this] { return cancel_.load(); });
    }
  } catch (const std::exception& e) {
    return finish(
        detail::concat("bomf could not write the fused checkpoint for this δ: ", e.what()));
  }
  if (cancel_) {
    return finish("cancelled");
  }
  const std::string delta_text = format_delta(task.delta);
  PlaceholderValues values = {{"weights", {weights}},
                              {"delta", {delta_text}},
                              {"members", absolute_members_},
                              {"worker", {std::to_string(worker)}},
                              {"id", {std::to_string(task.number)}},
                              {"scratch", {slot}}};
  ProcessSpec spec;
  spec.timeout = settings_.timeout;
  spec.kill_grace = settings_.kill_grace;
  try {
    spec.command = command_.expand(values, /*quote=*/true);
    for (const auto& [name, value] : environment_) {
      spec.environment[name] = value.expand(values, /*quote=*/false);
    }
  } catch (const std::exception& e) {
    return finish(e.what());
  }
  spec.environment["BOMF_WORKER"] = std::to_string(worker);
  spec.environment["BOMF_EVALUATION_ID"] = std::to_string(task.number);
  ProcessPool processes;
  ++commands_started_;
  const ProcessPool::Id id = processes.start(spec);
  std::optional<ProcessResult> result;
  while (!result) {
    auto finished = processes.wait(std::chrono::milliseconds(200));
    if (!finished.empty()) {
      result = std::move(finished.front().second);
    } else if (cancel_) {
      processes.cancel(id);
      return finish("cancelled");
    }
  }
  EvaluatorOutcome outcome = evaluator_outcome(*result, settings_.objectives);
  if (outcome.ok) {
    c.outcome = std::move(outcome.evaluation);
    return finish({});
  }
  std::string error = std::move(outcome.failure);
  if (!outcome.stderr_tail.empty()) {
    error += "; standard error ends with:\n" + outcome.stderr_tail;
  }
  return finish(std::move(error));
}

}  // namespace bomf::cli
