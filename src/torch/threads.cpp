#include "bomf/torch/threads.hpp"

#include <ATen/Parallel.h>

#include "bomf/core/error.hpp"

namespace bomf {

void set_torch_threads(int threads) {
  detail::require(threads >= 1, "bomf::set_torch_threads", "argument 'threads' is ", threads,
                  ", expected at least 1");
  at::set_num_threads(threads);
}

int torch_threads() {
  return at::get_num_threads();
}

}  // namespace bomf
