#include "cli/evaluator_pool.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
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

constexpr const char* kSearchPrefix = "bomf-search-";
constexpr const char* kOwnerFile = "owner";
constexpr const char* kOwnerTag = "bomf-search-owner";

std::string first_line_of(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

/// This boot of the machine ("" where unknown: then no directory is ever taken for stale).
std::string boot_id() {
  return first_line_of("/proc/sys/kernel/random/boot_id");
}

/// The PID namespace of this process ("" where unknown).
std::string pid_namespace() {
  std::error_code error;
  const fs::path ns = fs::read_symlink("/proc/self/ns/pid", error);
  return error ? std::string() : ns.string();
}

/// The start time of process `pid` (clock ticks after boot, field 22 of /proc/PID/stat; "" when
/// it cannot be read).
std::string start_time_of(long long pid) {
  const std::string stat = first_line_of("/proc/" + std::to_string(pid) + "/stat");
  const std::size_t paren = stat.rfind(')');
  if (paren == std::string::npos) {
    return {};
  }
  std::istringstream fields(stat.substr(paren + 1));
  std::string field;
  for (int k = 3; k <= 22 && fields >> field; ++k) {
    if (k == 22) {
      return field;
    }
  }
  return {};
}

/// The owner line of this process.
std::string owner_line() {
  const long long pid = ::getpid();
  return detail::concat(kOwnerTag, " boot=", boot_id(), " pidns=", pid_namespace(), " pid=", pid,
                        " start=", start_time_of(pid));
}

/// True only when the owner file `path` names a process of this boot and PID namespace that has
/// ended (or whose PID now belongs to a process started later).
bool owner_has_ended(const std::string& path) {
  std::istringstream in(first_line_of(path));
  std::string tag;
  in >> tag;
  std::string boot, ns, pid_text, start;
  for (std::string field; in >> field;) {
    const std::size_t eq = field.find('=');
    const std::string key = field.substr(0, eq);
    const std::string value = eq == std::string::npos ? std::string() : field.substr(eq + 1);
    if (key == "boot") {
      boot = value;
    } else if (key == "pidns") {
      ns = value;
    } else if (key == "pid") {
      pid_text = value;
    } else if (key == "start") {
      start = value;
    }
  }
  const std::string our_boot = boot_id();
  const std::string our_ns = pid_namespace();
  if (tag != kOwnerTag || boot.empty() || ns.empty() || start.empty() || boot != our_boot ||
      ns != our_ns || pid_text.empty() ||
      pid_text.find_first_not_of("0123456789") != std::string::npos || pid_text.size() > 9) {
    return false;  // another machine, container or boot, or not an owner file: not ours to judge
  }
  const long long pid = std::stoll(pid_text);
  if (pid <= 0) {
    return false;
  }
  if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) {
    return true;
  }
  const std::string stat = first_line_of("/proc/" + std::to_string(pid) + "/stat");
  const std::size_t paren = stat.rfind(')');
  if (paren != std::string::npos && paren + 2 < stat.size() &&
      (stat[paren + 2] == 'Z' || stat[paren + 2] == 'X')) {
    return true;  // ended, not yet reaped (a zombie)
  }
  const std::string now = start_time_of(pid);
  return !now.empty() && now != start;  // the PID was reused by a later process
}

}  // namespace

SearchScratch::SearchScratch(const std::string& scratch, bool keep, bool owns_scratch)
    : scratch_(fs::absolute(scratch).lexically_normal().string()),
      keep_(keep),
      created_scratch_(owns_scratch) {
  const std::string pattern =
      (fs::path(scratch_) / (std::string(kSearchPrefix) + "XXXXXX")).string();
  int error = 0;
  for (int attempt = 0; attempt < 5 && path_.empty(); ++attempt) {
    std::error_code created;
    created_scratch_ = fs::create_directories(scratch_, created) || created_scratch_;
    if (created) {
      throw io_error(detail::concat("bomf search: cannot create the scratch directory '", scratch,
                                    "': ", created.message()));
    }
    std::vector<char> name(pattern.begin(), pattern.end());
    name.push_back('\0');
    if (::mkdtemp(name.data()) != nullptr) {
      path_ = name.data();
    } else {
      error = errno;  // ENOENT: another search removed the (empty) scratch directory: again
      if (error != ENOENT) {
        break;
      }
    }
  }
  if (path_.empty()) {
    throw io_error(detail::concat("bomf search: cannot create its directory ", pattern,
                                  " in the scratch directory '", scratch,
                                  "': ", std::strerror(error), ", expected a writable directory"));
  }
  const std::string owner = (fs::path(path_) / kOwnerFile).string();
  const std::string line = owner_line() + "\n";
  const int fd = ::open(owner.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  const bool written =
      fd >= 0 && ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  error = errno;
  if (fd >= 0) {
    ::close(fd);
  }
  if (!written) {
    keep_ = false;
    finish();
    throw io_error(
        detail::concat("bomf search: cannot write '", owner, "': ", std::strerror(error)));
  }
}

SearchScratch::~SearchScratch() {
  finish();
}

void SearchScratch::finish() noexcept {
  if (finished_) {
    return;
  }
  finished_ = true;
  std::error_code ignored;
  if (keep_) {
    fs::remove(fs::path(path_) / kOwnerFile, ignored);
    return;
  }
  fs::remove_all(path_, ignored);
  if (created_scratch_) {
    fs::remove(scratch_, ignored);  // only when empty: another search may use it now
  }
}

std::vector<std::string> remove_stale_search_scratch(const std::string& scratch) {
  std::vector<std::string> removed;
  std::error_code error;
  try {
    for (const auto& entry : fs::directory_iterator(scratch, error)) {
      const std::string name = entry.path().filename().string();
      struct stat info {};
      if (name.rfind(kSearchPrefix, 0) != 0 || ::lstat(entry.path().c_str(), &info) != 0 ||
          !S_ISDIR(info.st_mode) || info.st_uid != ::geteuid() ||
          !owner_has_ended((entry.path() / kOwnerFile).string())) {
        continue;
      }
      std::error_code ignored;
      fs::remove_all(entry.path(), ignored);
      removed.push_back(entry.path().string());
    }
  } catch (const std::exception&) {
    // the directory changed or became unreadable while listed: the rest stays
  }
  return removed;
}

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
