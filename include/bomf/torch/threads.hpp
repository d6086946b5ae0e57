// bomf/torch/threads.hpp — libtorch's thread pools.
//
// On small machines libtorch's OpenMP threads spin: two threads on two busy cores can be ten
// times slower than one. bomf's examples default to one thread and expose `--threads`.
#pragma once

namespace bomf {

/// Sets libtorch's intra-op thread count (OpenMP) to `threads` ≥ 1.
/// Throws `bomf::invalid_argument` for `threads` < 1.
void set_torch_threads(int threads);

/// libtorch's current intra-op thread count.
[[nodiscard]] int torch_threads();

}  // namespace bomf
