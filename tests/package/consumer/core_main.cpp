// Uses bomf::core only: must compile and link without libtorch.
#include <bomf/core/checks.hpp>
#include <bomf/version.hpp>
#include <cstdio>

int main() {
  Eigen::MatrixXd x = Eigen::MatrixXd::Ones(3, 2);
  bomf::detail::require_finite(x, "consumer", "x");
  std::printf("bomf %s core OK\n", BOMF_VERSION_STRING);
  return 0;
}
