// The fusion block loop (fuse_blocks.hpp) compiled with -mavx2 -mf16c -ffp-contract=off (see
// src/CMakeLists.txt); fuse_kernel.cpp calls it only on CPUs that report AVX2 and F16C. The
// member passes run eight fp32 lanes wide (fuse_blocks.hpp's load8: bf16 widened by a shift, f16
// by vcvtph2ps); the output conversions are left to the auto-vectorizer.
// No ATen or other inline-heavy header is included here, so no function compiled for AVX2 can be
// shared with (and picked by the linker for) baseline code.
#include "fusion/fuse_blocks.hpp"

namespace bomf::detail {

void fuse_blocks_avx2(const FuseTask& task, std::size_t first_block, std::size_t last_block) {
  fuse_range_any(task, first_block, last_block);
}

}  // namespace bomf::detail
