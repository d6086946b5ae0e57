// bomf/cuda/device.hpp — is there a usable CUDA GPU? (No CUDA headers needed to include this.)
#pragma once

namespace bomf::cuda {

/// Number of CUDA devices this process can use. Any CUDA runtime error (no driver, no device,
/// an incompatible driver) counts as "no GPU" and gives 0, so callers fall back to the CPU.
[[nodiscard]] int device_count() noexcept;

/// True when `device_count() > 0`.
[[nodiscard]] inline bool available() noexcept {
  return device_count() > 0;
}

}  // namespace bomf::cuda
