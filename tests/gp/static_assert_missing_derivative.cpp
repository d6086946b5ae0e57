// Must NOT compile: a kernel type without `derivative`. tests/gp/CMakeLists.txt compiles this file
// and expects the readable message from bomf::check_kernel (kernel_traits.hpp).
#include "bomf/gp/exact_gp.hpp"

struct KernelWithoutDerivative {
  static constexpr const char* name = "KernelWithoutDerivative";
  static double value(double r2) { return 1.0 / (1.0 + r2); }
};

int main() {
  const Eigen::MatrixXd x = Eigen::MatrixXd::Zero(1, 1);
  const Eigen::VectorXd y = Eigen::VectorXd::Zero(1);
  bomf::GpHyperparameters h;
  h.lengthscales = Eigen::VectorXd::Ones(1);
  bomf::ExactGP<KernelWithoutDerivative> gp(x, y, h);
  return static_cast<int>(gp.num_train());
}
