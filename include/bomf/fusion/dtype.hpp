// bomf/fusion/dtype.hpp — the floating storage types that the fusion kernels read and write, on
// the CPU (fuse_kernel.hpp, bomf::torch) and on the GPU (bomf/cuda/fusion.hpp, bomf::cuda).
// Header-only, no dependency: the CUDA part includes it without the torch module.
#pragma once

#include <cstddef>

namespace bomf {

/// Floating storage types the fusion kernels read and write.
enum class FusionDtype {
  f32,   ///< IEEE binary32
  bf16,  ///< bfloat16 (the top half of a binary32)
  f16,   ///< IEEE binary16
  f64,   ///< IEEE binary64 (accumulated in double)
};

/// Bytes per element of `dtype`.
[[nodiscard]] constexpr std::size_t fusion_dtype_size(FusionDtype dtype) noexcept {
  return dtype == FusionDtype::f32 ? 4 : dtype == FusionDtype::f64 ? 8 : 2;
}

/// Name of `dtype` for messages ("f32", "bf16", ...).
[[nodiscard]] constexpr const char* fusion_dtype_name(FusionDtype dtype) noexcept {
  return dtype == FusionDtype::f32    ? "f32"
         : dtype == FusionDtype::bf16 ? "bf16"
         : dtype == FusionDtype::f16  ? "f16"
                                      : "f64";
}

}  // namespace bomf
