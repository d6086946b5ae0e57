// The CPU fusion kernel's entry point: splits the work into blocks, spreads them over libtorch's
// intra-op threads (at::parallel_for; this TU is compiled with OpenMP) and runs the AVX2 build of
// the block loop (fuse_kernel_avx2.cpp) when the CPU has AVX2 and F16C, the baseline x86-64 build
// otherwise.
// The block loops themselves are in fuse_blocks.hpp.
#include "bomf/fusion/fuse_kernel.hpp"

#include <ATen/Parallel.h>

#include <cstdint>

#include "fusion/fuse_blocks.hpp"

namespace bomf {
namespace detail {

void fuse_blocks_baseline(const FuseTask& task, std::size_t first_block, std::size_t last_block) {
  fuse_range_any(task, first_block, last_block);
}

namespace {

using BlockFunction = void (*)(const FuseTask&, std::size_t, std::size_t);

BlockFunction select_block_function() {
#if defined(BOMF_FUSE_HAVE_AVX2) && (defined(__x86_64__) || defined(__i386__))
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("f16c")) {
    return &fuse_blocks_avx2;
  }
#endif
  return &fuse_blocks_baseline;
}

constexpr std::int64_t kGrainBlocks = 4;  // blocks per task: small tensors stay on one thread

}  // namespace
}  // namespace detail

bool fuse_kernel_uses_avx2() {
  static const detail::BlockFunction f = detail::select_block_function();
  return f != &detail::fuse_blocks_baseline;
}

void fuse_buffers(const void* const* members, std::size_t n_members, const double* coeffs,
                  FusionDtype in, void* out, FusionDtype out_dtype, std::size_t count) {
  if (count == 0 || n_members == 0) {
    return;
  }
  static const detail::BlockFunction run = detail::select_block_function();
  const detail::FuseTask task{members, n_members, coeffs, out, in, out_dtype, count};
  const auto blocks =
      static_cast<std::int64_t>((count + detail::kFuseBlock - 1) / detail::kFuseBlock);
  at::parallel_for(0, blocks, detail::kGrainBlocks, [&](std::int64_t b0, std::int64_t b1) {
    run(task, static_cast<std::size_t>(b0), static_cast<std::size_t>(b1));
  });
}

}  // namespace bomf
