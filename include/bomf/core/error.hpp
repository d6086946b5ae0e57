// bomf/core/error.hpp — the exception types bomf throws, and how their messages are built.
//
// Every error names the function or argument at fault, the offending value and what was
// expected, e.g.
//   bomf::hypervolume: argument 'ref_point' has length 3, expected 2 (one entry per objective)
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace bomf {

/// An argument outside its documented domain (wrong shape, NaN, out of bounds, ...).
class invalid_argument : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// A numerical failure that could not be recovered (e.g. a covariance matrix that stays
/// non-positive-definite after the bounded jitter escalation).
class numerical_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Reading or writing a file failed, or a file is malformed (checkpoints, journals).
class io_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Evaluations a driver needed have failed (e.g. the uniform average of SWA, or every member):
/// the user's evaluation threw or returned non-finite values. The message gives the last error.
class evaluation_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// More evaluations (fusion stage) or training runs (hyperparameter stage) failed than the
/// driver's `max_failures` tolerates, or a search ended without any successful one. The
/// message gives the count and the last error.
class too_many_failures : public evaluation_error {
 public:
  using evaluation_error::evaluation_error;
};

namespace detail {

/// Streams every argument into one string: `concat("n = ", 3)` is "n = 3".
template <class... Args>
[[nodiscard]] std::string concat(const Args&... args) {
  std::ostringstream out;
  out.precision(17);
  (out << ... << args);
  return out.str();
}

/// `v` with `significant` significant digits (printf's %g), for reports and warnings meant to be
/// read (error messages keep concat's 17 digits, which round-trip exactly).
[[nodiscard]] inline std::string format_number(double v, int significant = 6) {
  std::ostringstream out;
  out.precision(significant);
  out << v;
  return out.str();
}

/// Throws `bomf::invalid_argument` with the message `where: <args...>`.
template <class... Args>
[[noreturn]] void throw_invalid_argument(const char* where, const Args&... args) {
  throw invalid_argument(concat(where, ": ", args...));
}

/// Throws `bomf::invalid_argument` (`where: <args...>`) unless `condition` holds.
template <class... Args>
void require(bool condition, const char* where, const Args&... args) {
  if (!condition) {
    throw_invalid_argument(where, args...);
  }
}

}  // namespace detail
}  // namespace bomf
