// Not a timed benchmark: the quality study of issue 6. For N = 5, 15, 30 and `problems` random
// qLogNEHVI problems per N (m = 2, 2N baseline points; even problems: Matérn-5/2 GPs with fixed
// hyperparameters ℓ = 0.3 on standard-normal targets, odd problems: RBF GPs fitted to BoTorch's
// timing objectives), compares maximize_on_simplex (default options) with an exhaustive search
// (`points` scrambled-Sobol simplex points plus vertices and barycentre, the 20 best refined by
// 2000-iteration refine_spg runs) and prints win/tie/loss at an absolute tolerance of 1e-3 on the
// log-acquisition.
// Usage: bomf_acquisition_optimization_quality [problems = 20] [points = 100000]
#include <Eigen/Core>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "bomf/acquisition/q_log_nehvi.hpp"
#include "bomf/gp/fit_gp.hpp"
#include "bomf/gp/matern52_kernel.hpp"
#include "bomf/gp/rbf_kernel.hpp"
#include "bomf/optim/maximize_on_simplex.hpp"
#include "bomf/optim/simplex.hpp"
#include "support/acqopt_problems.hpp"

namespace {

constexpr double kTol = 1e-3;

template <class Kernel>
void compare(const std::vector<bomf::ExactGP<Kernel>>& models, const Eigen::MatrixXd& X,
             const Eigen::VectorXd& ref, std::uint64_t seed, Eigen::Index points,
             bomf::test::WinTieLoss& tally, bool& feasible) {
  bomf::QLogNehviOptions options;
  options.seed = seed;
  bomf::QLogNoisyExpectedHypervolumeImprovement<Kernel> acqf(models, X, ref, options);
  const bomf::Simplex simplex(X.cols());
  const auto ours = bomf::maximize_on_simplex(acqf, simplex);
  feasible = feasible && ours.x.minCoeff() >= 0.0 && std::abs(ours.x.sum() - 1.0) <= 1e-12;
  const auto exhaustive = bomf::test::exhaustive_on_simplex(acqf, simplex, points, 20, seed + 1000);
  tally.add(ours.value, exhaustive.value, kTol);
}

}  // namespace

int main(int argc, char** argv) {
  const int problems = argc > 1 ? std::atoi(argv[1]) : 20;
  const Eigen::Index points = argc > 2 ? std::atol(argv[2]) : 100000;
  bomf::GpFitOptions fit;
  fit.num_starts = 1;
  bool feasible = true;
  for (const Eigen::Index N : {5, 15, 30}) {
    bomf::test::WinTieLoss tally;
    for (int p = 0; p < problems; ++p) {
      const auto seed = static_cast<std::uint64_t>(1000 * N + p);
      const Eigen::MatrixXd X = bomf::test::simplex_design(N, 2 * N, seed);
      if (p % 2 == 0) {
        std::mt19937_64 rng(seed);
        std::normal_distribution<double> normal;
        Eigen::MatrixXd Y(X.rows(), 2);
        for (Eigen::Index i = 0; i < Y.size(); ++i) {
          Y.data()[i] = normal(rng);
        }
        compare(bomf::test::fixed_gps(X, Y, 0.3), X, bomf::test::reference_below(Y), seed, points,
                tally, feasible);
      } else {
        const Eigen::MatrixXd Y = bomf::test::bump_objectives(X, 2, seed + 7, seed + 11);
        const auto models = bomf::fit_model_list_gp<bomf::RbfKernel>(X, Y, fit);
        compare(models.models(), X, bomf::test::reference_below(Y), seed, points, tally, feasible);
      }
    }
    std::printf(
        "N = %2ld: win/tie/loss = %d/%d/%d of %d at tol %.0e, %ld exhaustive points "
        "(worst exhaustive - ours %+.2e)\n",
        static_cast<long>(N), tally.win, tally.tie, tally.loss, problems, kTol,
        static_cast<long>(points), tally.worst_gap);
    std::fflush(stdout);
  }
  std::printf("all returned points on the simplex: %s\n", feasible ? "yes" : "NO");
  return feasible ? 0 : 1;
}
