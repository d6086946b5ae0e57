#include "cli/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "bomf/core/error.hpp"

extern char** environ;  // NOLINT: POSIX

namespace bomf::cli {
namespace {

using Clock = std::chrono::steady_clock;

/// A pidfd for `pid` (readable once the process has exited), or -1 where the kernel has none.
int open_pidfd(pid_t pid) {
#ifdef SYS_pidfd_open
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
#else
  (void)pid;
  return -1;
#endif
}

void close_fd(int& fd) {
  if (fd >= 0) {
    ::close(fd);
    fd = -1;
  }
}

std::string seconds_text(double s) {
  std::string out = detail::concat(s);
  if (out.size() > 6) {
    out = std::to_string(s);
  }
  return out;
}

/// Drops the bytes that precede the first complete UTF-8 sequence (a tail cut at a byte budget
/// may begin in the middle of one).
void trim_partial_utf8_front(std::string& text) {
  std::size_t k = 0;
  while (k < text.size() && k < 3 && (static_cast<unsigned char>(text[k]) & 0xC0) == 0x80) {
    ++k;
  }
  text.erase(0, k);
}

}  // namespace

std::string ProcessResult::describe() const {
  switch (termination) {
    case Termination::exited:
      return detail::concat("exit status ", exit_code);
    case Termination::signaled:
      return detail::concat("killed by signal ", signal, " (", ::strsignal(signal), ")");
    case Termination::timed_out:
      return detail::concat("timed out after ", seconds_text(seconds), " s (process group sent ",
                            ::strsignal(signal), ")");
    case Termination::failed_to_start:
      return "could not be started: " + error;
  }
  return "?";
}

struct ProcessPool::Child {
  Id id = 0;
  pid_t pid = -1;
  int pidfd = -1;
  int out = -1;
  int err = -1;
  Clock::time_point started;
  std::optional<Clock::time_point> deadline;  // SIGTERM then
  std::optional<Clock::time_point> kill_at;   // SIGKILL then
  std::chrono::milliseconds kill_grace{0};
  std::size_t max_stdout = 0;
  std::size_t stderr_tail = 0;
  ProcessResult result;

  ~Child() {
    close_fd(out);
    close_fd(err);
    close_fd(pidfd);
  }

  /// Reads what `fd` has now; closes it at end of file.
  void drain(int& fd, bool is_stdout) {
    char buffer[1 << 16];
    while (fd >= 0) {
      const ssize_t n = ::read(fd, buffer, sizeof(buffer));
      if (n < 0) {
        if (errno == EINTR) {
          continue;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
          close_fd(fd);
        }
        return;
      }
      if (n == 0) {
        close_fd(fd);
        return;
      }
      const auto count = static_cast<std::size_t>(n);
      if (is_stdout) {
        const std::size_t room = max_stdout - std::min(max_stdout, result.stdout_text.size());
        result.stdout_text.append(buffer, std::min(room, count));
        result.stdout_truncated = result.stdout_truncated || count > room;
      } else {
        result.stderr_bytes += count;
        result.stderr_tail.append(buffer, count);
        if (result.stderr_tail.size() > 2 * stderr_tail + sizeof(buffer)) {
          result.stderr_tail.erase(0, result.stderr_tail.size() - stderr_tail);
        }
      }
    }
  }

  /// True when the main process has exited (it is then a zombie, not yet reaped).
  bool has_exited() const {
    siginfo_t info{};
    info.si_pid = 0;
    const int rc = ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT);
    return rc == 0 ? info.si_pid == pid : errno == ECHILD;
  }

  /// Kills what is left of the process group, reaps the main process and collects the output
  /// that is already in the pipes.
  void finish() {
    // The zombie still holds its pid, so the group id cannot belong to anybody else yet.
    ::killpg(pid, SIGKILL);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    drain(out, true);
    drain(err, false);
    close_fd(out);
    close_fd(err);
    close_fd(pidfd);
    result.seconds = std::chrono::duration<double>(Clock::now() - started).count();
    if (result.termination != ProcessResult::Termination::timed_out) {
      if (WIFEXITED(status)) {
        result.termination = ProcessResult::Termination::exited;
        result.exit_code = WEXITSTATUS(status);
      } else {
        result.termination = ProcessResult::Termination::signaled;
        result.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
      }
    } else if (WIFEXITED(status)) {
      result.exit_code = WEXITSTATUS(status);
    }
    if (result.stderr_tail.size() > stderr_tail) {
      result.stderr_tail.erase(0, result.stderr_tail.size() - stderr_tail);
      trim_partial_utf8_front(result.stderr_tail);
    }
    pid = -1;
  }
};

ProcessPool::ProcessPool() = default;

ProcessPool::~ProcessPool() {
  for (auto& child : children_) {
    if (child->pid > 0) {
      child->finish();  // SIGKILL to the group, then reap
    }
  }
}

std::size_t ProcessPool::pending() const noexcept {
  return children_.size() + finished_.size();
}

ProcessPool::Id ProcessPool::start(const ProcessSpec& spec) {
  constexpr const char* kWhere = "bomf::cli::ProcessPool::start";
  detail::require(!spec.command.empty(), kWhere, "the command is empty");
  for (const auto& [name, value] : spec.environment) {
    detail::require(!name.empty() && name.find('=') == std::string::npos, kWhere,
                    "environment variable name '", name, "' is empty or holds '='");
  }
  auto child = std::make_unique<Child>();
  child->id = next_id_++;
  child->started = Clock::now();
  child->kill_grace = spec.kill_grace;
  child->max_stdout = spec.max_stdout_bytes;
  child->stderr_tail = spec.stderr_tail_bytes;
  const Id id = child->id;

  auto fail = [&](const std::string& why) {
    child->result.termination = ProcessResult::Termination::failed_to_start;
    child->result.error = why;
    finished_.emplace_back(id, std::move(child->result));
    return id;
  };

  int out[2] = {-1, -1};
  int err[2] = {-1, -1};
  if (::pipe2(out, O_CLOEXEC) != 0) {
    return fail(detail::concat("pipe: ", std::strerror(errno)));
  }
  if (::pipe2(err, O_CLOEXEC) != 0) {
    const int e = errno;
    ::close(out[0]);
    ::close(out[1]);
    return fail(detail::concat("pipe: ", std::strerror(e)));
  }

  // Environment: ours, with the spec's variables added or replaced.
  std::vector<std::string> env_strings;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string entry(*e);
    const std::string name = entry.substr(0, entry.find('='));
    if (spec.environment.find(name) == spec.environment.end()) {
      env_strings.push_back(entry);
    }
  }
  for (const auto& [name, value] : spec.environment) {
    env_strings.push_back(name + "=" + value);
  }
  std::vector<char*> envp;
  for (auto& s : env_strings) {
    envp.push_back(s.data());
  }
  envp.push_back(nullptr);
  std::string shell = "/bin/sh";
  std::string dash_c = "-c";
  std::string command = spec.command;
  char* argv[] = {shell.data(), dash_c.data(), command.data(), nullptr};

  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attributes;
  ::posix_spawn_file_actions_init(&actions);
  ::posix_spawnattr_init(&attributes);
  ::posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  ::posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  ::posix_spawn_file_actions_adddup2(&actions, err[1], STDERR_FILENO);
  if (!spec.working_directory.empty()) {
    ::posix_spawn_file_actions_addchdir_np(&actions, spec.working_directory.c_str());
  }
  sigset_t none;
  sigset_t all;
  sigemptyset(&none);
  sigfillset(&all);
  ::posix_spawnattr_setflags(
      &attributes, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  ::posix_spawnattr_setpgroup(&attributes, 0);  // a new group led by the child
  ::posix_spawnattr_setsigmask(&attributes, &none);
  ::posix_spawnattr_setsigdefault(&attributes, &all);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, shell.c_str(), &actions, &attributes, argv, envp.data());
  ::posix_spawn_file_actions_destroy(&actions);
  ::posix_spawnattr_destroy(&attributes);
  ::close(out[1]);
  ::close(err[1]);
  if (rc != 0) {
    ::close(out[0]);
    ::close(err[0]);
    return fail(detail::concat(
        "/bin/sh -c '", spec.command, "'",
        spec.working_directory.empty() ? std::string() : " in '" + spec.working_directory + "'",
        ": ", std::strerror(rc)));
  }
  child->pid = pid;
  child->out = out[0];
  child->err = err[0];
  for (const int fd : {child->out, child->err}) {
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  }
  child->pidfd = open_pidfd(pid);
  if (spec.timeout.count() > 0) {
    child->deadline = child->started + spec.timeout;
  }
  children_.push_back(std::move(child));
  return id;
}

void ProcessPool::poll_once(std::optional<Clock::time_point> until) {
  std::vector<pollfd> fds;
  bool needs_tick = false;
  std::optional<Clock::time_point> wake = until;
  auto earliest = [&wake](Clock::time_point t) {
    if (!wake || t < *wake) {
      wake = t;
    }
  };
  for (const auto& child : children_) {
    for (const int fd : {child->out, child->err, child->pidfd}) {
      if (fd >= 0) {
        fds.push_back(pollfd{fd, POLLIN, 0});
      }
    }
    needs_tick = needs_tick || child->pidfd < 0;
    if (child->kill_at) {
      earliest(*child->kill_at);
    } else if (child->deadline) {
      earliest(*child->deadline);
    }
  }
  int timeout_ms = -1;
  if (wake) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(*wake - Clock::now()).count();
    timeout_ms = static_cast<int>(std::clamp<long long>(left + 1, 0, 60'000));
  }
  if (needs_tick && (timeout_ms < 0 || timeout_ms > 20)) {
    timeout_ms = 20;  // no pidfd: look at the children's state regularly
  }
  const int ready = ::poll(fds.data(), fds.size(), timeout_ms);
  if (ready < 0 && errno != EINTR) {
    throw io_error(
        detail::concat("bomf::cli::ProcessPool::wait: poll failed: ", std::strerror(errno)));
  }
  const auto now = Clock::now();
  for (auto it = children_.begin(); it != children_.end();) {
    Child& child = **it;
    child.drain(child.out, true);
    child.drain(child.err, false);
    if (child.has_exited()) {
      child.finish();
      finished_.emplace_back(child.id, std::move(child.result));
      it = children_.erase(it);
      continue;
    }
    if (child.kill_at && now >= *child.kill_at) {
      ::killpg(child.pid, SIGKILL);
      child.result.signal = SIGKILL;
      child.kill_at.reset();
      child.deadline.reset();
    } else if (child.deadline && now >= *child.deadline) {
      ::killpg(child.pid, SIGTERM);
      child.result.termination = ProcessResult::Termination::timed_out;
      child.result.signal = SIGTERM;
      child.kill_at = now + child.kill_grace;
      child.deadline.reset();
    }
    ++it;
  }
}

std::vector<std::pair<ProcessPool::Id, ProcessResult>> ProcessPool::wait(
    std::optional<std::chrono::milliseconds> timeout) {
  std::optional<Clock::time_point> until;
  if (timeout) {
    until = Clock::now() + *timeout;
  }
  while (finished_.empty() && !children_.empty()) {
    poll_once(until);
    if (until && Clock::now() >= *until) {
      break;
    }
  }
  return std::exchange(finished_, {});
}

std::optional<ProcessResult> ProcessPool::cancel(Id id) {
  for (auto it = finished_.begin(); it != finished_.end(); ++it) {
    if (it->first == id) {
      ProcessResult result = std::move(it->second);
      finished_.erase(it);
      return result;
    }
  }
  for (auto it = children_.begin(); it != children_.end(); ++it) {
    if ((*it)->id == id) {
      (*it)->finish();  // SIGKILL to the group, reap
      ProcessResult result = std::move((*it)->result);
      children_.erase(it);
      return result;
    }
  }
  return std::nullopt;
}

ProcessResult run_process(const ProcessSpec& spec) {
  ProcessPool pool;
  pool.start(spec);
  for (;;) {
    auto done = pool.wait();
    if (!done.empty()) {
      return std::move(done.front().second);
    }
  }
}

}  // namespace bomf::cli
