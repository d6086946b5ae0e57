// bomf/fusion/fuse_kernel.hpp — the CPU kernel behind weight fusion, on raw buffers (no torch
// types in this header).
#pragma once

#include <cstddef>

#include "bomf/fusion/dtype.hpp"

namespace bomf {

/// Computes `out[j] = Σ_i coeffs[i] · members[i][j]` for `j < count`: the fused weights
/// w(δ) = Σ_i δ_i w_i of BOMF (Jang et al., NeurIPS 2024, eq. 3) on one flat buffer.
///
/// `members` holds `n_members` ≥ 1 pointers to `count` elements of `in` each; `out` receives
/// `count` elements of `out_dtype`. Pointers need no alignment. Accumulation is in fp32 (fp64
/// for f64 input) and the result is rounded once, to nearest even. `out` may equal a member
/// pointer (exact aliasing, as in an in-place EMA update), but must not partially overlap one.
///
/// One pass over memory: the range is cut into blocks of 16384 elements; each block accumulates
/// all members in a 64 KiB on-stack buffer (eight fp32 lanes wide with AVX2) and writes the
/// output once, so the traffic is (n_members + 1) · count elements versus ≈ 3 · n_members for a
/// loop of `add_` calls. Blocks are shared among libtorch's intra-op threads
/// (`at::get_num_threads()`). No heap allocation; a calling thread needs about 70 KiB of stack.
/// Preconditions are the caller's (this is the unchecked inner kernel).
void fuse_buffers(const void* const* members, std::size_t n_members, const double* coeffs,
                  FusionDtype in, void* out, FusionDtype out_dtype, std::size_t count);

/// True when `fuse_buffers` runs its AVX2 build on this CPU (x86-64 with AVX2 and F16C), false
/// when it runs the baseline build. Both round identically: the results are bit-for-bit the same.
[[nodiscard]] bool fuse_kernel_uses_avx2();

}  // namespace bomf
