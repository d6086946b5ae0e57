#include <cuda_runtime.h>

#include "bomf/cuda/device.hpp"

namespace bomf::cuda {

int device_count() noexcept {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky error so later calls start clean
    return 0;
  }
  return count;
}

}  // namespace bomf::cuda
