// bomf quick start: the two Bayesian-optimization loops of BOMF with the libtorch-free core.
//
// Stage 1 (hyperparameter search): GP + LogEI — fit_gp → LogExpectedImprovement →
//   maximize_in_box → evaluate → repeat — on Hartmann-6, the standard 6-D test problem of the BO
//   literature (global maximum 3.32237 of −Hartmann6), against quasi-random search.
// Stage 2 (fusion coefficients): one GP per objective + log-qNEHVI, maximized on the probability
//   simplex (maximize_on_simplex), on a two-objective test problem over N = 6 coefficients whose
//   "loss" prefers the barycentre (SWA) and whose "metric" peaks on a face — the disagreement
//   BOMF is built for — against quasi-random points on the simplex, by dominated hypervolume.
// Everything is deterministic given --seed.
//
//   bomf_quickstart [--initial N] [--iterations N] [--fusion-iterations N] [--seed S]
#include <Eigen/Core>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "bomf/acquisition/log_ei.hpp"
#include "bomf/acquisition/q_log_nehvi.hpp"
#include "bomf/gp/gp.hpp"
#include "bomf/multi_objective/hypervolume.hpp"
#include "bomf/optim/maximize_in_box.hpp"
#include "bomf/optim/maximize_on_simplex.hpp"
#include "bomf/optim/search_space.hpp"
#include "bomf/optim/simplex_candidates.hpp"
#include "bomf/sampling/sobol_sequence.hpp"
#include "bomf/version.hpp"

namespace {

// −Hartmann6 (to be maximized) on [0, 1]^6; maximum 3.32237 at
// (0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573).
double negative_hartmann6(const Eigen::Ref<const Eigen::VectorXd>& x) {
  static const double alpha[4] = {1.0, 1.2, 3.0, 3.2};
  static const double a[4][6] = {{10, 3, 17, 3.5, 1.7, 8},
                                 {0.05, 10, 17, 0.1, 8, 14},
                                 {3, 3.5, 1.7, 10, 17, 8},
                                 {17, 8, 0.05, 10, 0.1, 14}};
  static const double p[4][6] = {{0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886},
                                 {0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991},
                                 {0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650},
                                 {0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381}};
  double sum = 0.0;
  for (int i = 0; i < 4; ++i) {
    double inner = 0.0;
    for (int j = 0; j < 6; ++j) {
      inner += a[i][j] * (x(j) - p[i][j]) * (x(j) - p[i][j]);
    }
    sum += alpha[i] * std::exp(-inner);
  }
  return sum;
}

constexpr double kOptimum = 3.32237;

struct Arguments {
  int initial = 8;
  int iterations = 32;
  int fusion_iterations = 20;
  unsigned long long seed = 0;
};

Arguments parse(int argc, char** argv) {
  Arguments args;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "bomf_quickstart: %s needs a value\n", flag.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (flag == "--initial") {
      args.initial = std::atoi(value());
    } else if (flag == "--iterations") {
      args.iterations = std::atoi(value());
    } else if (flag == "--fusion-iterations") {
      args.fusion_iterations = std::atoi(value());
    } else if (flag == "--seed") {
      args.seed = std::strtoull(value(), nullptr, 10);
    } else {
      std::fprintf(stderr,
                   "usage: bomf_quickstart [--initial N] [--iterations N] [--fusion-iterations N] "
                   "[--seed S]\n");
      std::exit(flag == "--help" || flag == "-h" ? 0 : 2);
    }
  }
  if (args.initial < 2 || args.iterations < 0 || args.fusion_iterations < 0) {
    std::fprintf(
        stderr, "bomf_quickstart: need --initial ≥ 2, --iterations ≥ 0, --fusion-iterations ≥ 0\n");
    std::exit(2);
  }
  return args;
}

void run_hyperparameter_search(const Arguments& args) {
  const int d = 6;
  const int budget = args.initial + args.iterations;
  std::printf("Stage 1: GP + LogEI on Hartmann-6 (d = %d), %d initial + %d BO steps\n\n", d,
              args.initial, args.iterations);

  bomf::SearchSpace space;
  for (int j = 0; j < d; ++j) {
    space.add_continuous("x" + std::to_string(j), 0.0, 1.0);
  }

  // Quasi-random initial design (scrambled Sobol), shared with the random-search baseline.
  bomf::SobolSequence sobol(d, args.seed);
  const Eigen::MatrixXd design = sobol.draw(budget);

  Eigen::MatrixXd x(budget, d);
  Eigen::VectorXd y(budget);
  for (int i = 0; i < args.initial; ++i) {
    x.row(i) = design.row(i);
    y(i) = negative_hartmann6(x.row(i).transpose());
  }

  std::printf("%5s %10s %10s %10s %9s\n", "step", "f(x)", "best", "LogEI", "time[ms]");
  double bo_seconds = 0.0;
  for (int step = 0; step < args.iterations; ++step) {
    const int n = args.initial + step;
    const auto start = std::chrono::steady_clock::now();

    // 1. Fit the GP (BoTorch's current SingleTaskGP defaults: RBF kernel, LogNormal priors).
    bomf::GpFitOptions fit_options;
    fit_options.seed = args.seed + static_cast<unsigned long long>(step);
    const auto gp = bomf::fit_gp<bomf::RbfKernel>(x.topRows(n), y.head(n), fit_options);

    // 2. LogEI at the incumbent, maximized over the box by multi-start L-BFGS-B.
    bomf::LogExpectedImprovement<bomf::ExactGP<bomf::RbfKernel>> log_ei(gp, y.head(n).maxCoeff());
    auto acquisition = [&](const Eigen::Ref<const Eigen::VectorXd>& u,
                           Eigen::Ref<Eigen::VectorXd> grad) {
      return log_ei.value_and_gradient(u, grad);
    };
    bomf::BoxOptimizerOptions box_options;
    box_options.seed = args.seed + 1000 + static_cast<unsigned long long>(step);
    const bomf::BoxOptimizerResult best = bomf::maximize_in_box(acquisition, space, box_options);
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    bo_seconds += elapsed;

    // 3. Evaluate the expensive function at the proposal.
    x.row(n) = best.u.transpose();
    y(n) = negative_hartmann6(best.u);
    std::printf("%5d %10.5f %10.5f %10.3f %9.1f\n", step + 1, y(n), y.head(n + 1).maxCoeff(),
                best.value, 1e3 * elapsed);
  }

  double random_best = -1e300;
  for (int i = 0; i < budget; ++i) {
    random_best = std::max(random_best, negative_hartmann6(design.row(i).transpose()));
  }
  const double bo_best = y.maxCoeff();
  std::printf("\nafter %d evaluations (optimum %.5f):\n", budget, kOptimum);
  std::printf("  GP + LogEI        best %.5f  (regret %.2e)\n", bo_best, kOptimum - bo_best);
  std::printf("  quasi-random      best %.5f  (regret %.2e)\n", random_best,
              kOptimum - random_best);
  std::printf("  BO overhead       %.2f s in total (fit + acquisition optimization)\n\n",
              bo_seconds);
}

// Stage 2's test problem over δ on the simplex (N = 6), both objectives maximized:
//   "−loss":  −(0.5 + 4‖δ − b‖²), b the barycentre — smooth, best at uniform averaging (SWA);
//   "metric": exp(−‖δ − p‖² / 0.05) with p = (0.5, 0.5, 0, 0, 0, 0) on an edge of the simplex.
constexpr int kMembers = 6;

Eigen::Vector2d fusion_objectives(const Eigen::Ref<const Eigen::VectorXd>& delta) {
  const Eigen::VectorXd barycentre = Eigen::VectorXd::Constant(kMembers, 1.0 / kMembers);
  Eigen::VectorXd peak = Eigen::VectorXd::Zero(kMembers);
  peak(0) = peak(1) = 0.5;
  return {-(0.5 + 4.0 * (delta - barycentre).squaredNorm()),
          std::exp(-(delta - peak).squaredNorm() / 0.05)};
}

void run_fusion_search(const Arguments& args) {
  const int n_initial = kMembers;  // BOMF: N initial points, then (up to) 5·N iterations
  const int budget = n_initial + args.fusion_iterations;
  const Eigen::Vector2d ref_point(-1.5, 0.0);
  std::printf(
      "Stage 2: log-qNEHVI on the simplex (N = %d, 2 objectives), %d initial + %d steps\n\n",
      kMembers, n_initial, args.fusion_iterations);

  const bomf::Simplex simplex(kMembers);
  const Eigen::MatrixXd design = bomf::sobol_simplex_points(simplex, budget, args.seed);
  Eigen::MatrixXd delta(budget, kMembers);
  Eigen::MatrixXd y(budget, 2);
  for (int i = 0; i < n_initial; ++i) {
    delta.row(i) = design.row(i);
    y.row(i) = fusion_objectives(delta.row(i).transpose()).transpose();
  }

  std::printf("%5s %10s %10s %12s %9s\n", "step", "-loss", "metric", "hypervolume", "time[ms]");
  double bo_seconds = 0.0;
  for (int step = 0; step < args.fusion_iterations; ++step) {
    const int n = n_initial + step;
    const auto start = std::chrono::steady_clock::now();
    bomf::GpFitOptions fit_options;
    fit_options.seed = args.seed + static_cast<unsigned long long>(step);
    const auto models =
        bomf::fit_model_list_gp<bomf::RbfKernel>(delta.topRows(n), y.topRows(n), fit_options);
    bomf::QLogNehviOptions acq_options;
    acq_options.seed = args.seed + static_cast<unsigned long long>(step);
    bomf::QLogNoisyExpectedHypervolumeImprovement<bomf::RbfKernel> acquisition(
        models, delta.topRows(n), ref_point, acq_options);
    bomf::SimplexOptimizerOptions opt_options;
    opt_options.seed = args.seed + 1000 + static_cast<unsigned long long>(step);
    const bomf::SimplexOptimizerResult best =
        bomf::maximize_on_simplex(acquisition, simplex, opt_options);
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    bo_seconds += elapsed;

    delta.row(n) = best.x.transpose();
    y.row(n) = fusion_objectives(best.x).transpose();
    std::printf("%5d %10.4f %10.4f %12.5f %9.1f\n", step + 1, y(n, 0), y(n, 1),
                bomf::hypervolume(y.topRows(n + 1), ref_point), 1e3 * elapsed);
  }

  Eigen::MatrixXd y_random(budget, 2);
  for (int i = 0; i < budget; ++i) {
    y_random.row(i) = fusion_objectives(design.row(i).transpose()).transpose();
  }
  Eigen::Index best_metric = 0;
  y.col(1).maxCoeff(&best_metric);
  std::printf("\nafter %d evaluations, hypervolume w.r.t. (%.1f, %.1f):\n", budget, ref_point(0),
              ref_point(1));
  std::printf("  log-qNEHVI on the simplex   %.5f\n", bomf::hypervolume(y, ref_point));
  std::printf("  quasi-random on the simplex %.5f\n", bomf::hypervolume(y_random, ref_point));
  std::printf("  best metric %.4f at δ = [", y(best_metric, 1));
  for (int j = 0; j < kMembers; ++j) {
    std::printf(j == 0 ? "%.3f" : ", %.3f", delta(best_metric, j));
  }
  std::printf("]  (peak at [0.5, 0.5, 0, 0, 0, 0])\n");
  std::printf("  BO overhead %.2f s in total (fits + acquisition optimization)\n", bo_seconds);
}

}  // namespace

int main(int argc, char** argv) {
  const Arguments args = parse(argc, argv);
  std::printf("bomf %s quick start\n\n", BOMF_VERSION_STRING);
  try {
    run_hyperparameter_search(args);
    run_fusion_search(args);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bomf_quickstart: %s\n", e.what());
    return 1;
  }
  return 0;
}
