// bomf/drivers/detail/stopwatch.hpp — wall-clock seconds since a moment (steady clock).
#pragma once

#include <chrono>

namespace bomf::detail {

/// Seconds since construction (steady clock).
class Stopwatch {
 public:
  Stopwatch() : start_(std::chrono::steady_clock::now()) {}
  [[nodiscard]] double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  std::chrono::steady_clock::time_point start_;
};

}  // namespace bomf::detail
