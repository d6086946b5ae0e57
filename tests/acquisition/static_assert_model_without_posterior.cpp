// Must NOT compile: a model without posterior_at. The build test checks that the error names
// what is missing (see CMakeLists.txt).
#include "bomf/acquisition/log_ei.hpp"

struct NotAModel {
  double mean(const Eigen::VectorXd& x) const { return x.sum(); }
};

int main() {
  NotAModel model;
  bomf::LogExpectedImprovement<NotAModel> acq(model, 0.0);
  return acq(Eigen::VectorXd::Zero(2)) > 0.0 ? 0 : 1;
}
