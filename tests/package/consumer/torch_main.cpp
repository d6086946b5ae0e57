// Uses bomf::torch: links libtorch through the exported target.
#include <bomf/torch/threads.hpp>
#include <cstdio>

int main() {
  bomf::set_torch_threads(1);
  std::printf("bomf torch OK (threads = %d)\n", bomf::torch_threads());
  return bomf::torch_threads() == 1 ? 0 : 1;
}
