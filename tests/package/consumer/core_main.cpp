// Uses bomf::core only: must compile and link without libtorch.
#include <bomf/multi_objective/hypervolume.hpp>
#include <bomf/version.hpp>
#include <cstdio>

int main() {
  Eigen::MatrixXd front(2, 2);
  front << 1.0, 0.0, 0.0, 1.0;
  const double hv = bomf::hypervolume(front, Eigen::Vector2d(-1.0, -1.0));
  std::printf("bomf %s core OK (hypervolume %.1f, expected 3.0)\n", BOMF_VERSION_STRING, hv);
  return hv == 3.0 ? 0 : 1;
}
