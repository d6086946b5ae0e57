#include <gtest/gtest.h>

#include "bomf/core/error.hpp"
#include "bomf/torch/threads.hpp"

TEST(TorchThreads, SetAndRead) {
  const int before = bomf::torch_threads();
  bomf::set_torch_threads(1);
  EXPECT_EQ(bomf::torch_threads(), 1);
  bomf::set_torch_threads(before);
  EXPECT_EQ(bomf::torch_threads(), before);
}

TEST(TorchThreads, RejectsNonPositiveCounts) {
  EXPECT_THROW(bomf::set_torch_threads(0), bomf::invalid_argument);
  EXPECT_THROW(bomf::set_torch_threads(-3), std::invalid_argument);
}
