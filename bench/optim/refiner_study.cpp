// Refiner study: SPG vs exponentiated gradient on the simplex (not a timed benchmark). Prints,
// per (N, problem kind, method), the median final gap f* − f and the median number of
// evaluations over 20 problems × 2 starts (barycentre, a random vertex). The numbers are in
// docs/math.md ("Choosing the simplex refiner"). Also prints a win/tie/loss count of
// maximize_on_simplex against a dense search on multimodal problems.
#include <algorithm>
#include <cstdio>
#include <numeric>
#include <random>
#include <vector>

#include "bomf/optim/maximize_on_simplex.hpp"
#include "support/optim_test_functions.hpp"

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t m = v.size() / 2;
  return v.size() % 2 == 1 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

template <class F>
void run_case(const F& f, const bomf::Simplex& simplex, double f_star, std::mt19937_64& rng,
              std::vector<double>* gaps, std::vector<double>* evals) {
  std::uniform_int_distribution<Eigen::Index> pick(0, simplex.dim() - 1);
  const Eigen::VectorXd starts[2] = {simplex.barycentre(), simplex.vertex(pick(rng))};
  for (const auto& start : starts) {
    const auto spg = bomf::refine_spg(f, simplex, start);
    const auto eg = bomf::refine_exponentiated_gradient(f, simplex, start);
    const auto as = bomf::refine_active_set_lbfgs(f, simplex, start);
    gaps[0].push_back(std::max(0.0, f_star - spg.value));
    gaps[1].push_back(std::max(0.0, f_star - eg.value));
    gaps[2].push_back(std::max(0.0, f_star - as.value));
    evals[0].push_back(static_cast<double>(spg.evaluations));
    evals[1].push_back(static_cast<double>(eg.evaluations));
    evals[2].push_back(static_cast<double>(as.evaluations));
  }
}

}  // namespace

int main() {
  std::mt19937_64 rng(2024);
  const char* kinds[] = {"vertex", "face", "interior", "neg-LSE"};
  std::printf("//   N  problem    | SPG gap    evals | EG gap     evals | AS-LBFGS gap evals\n");
  for (Eigen::Index n : {2, 5, 15, 30, 64}) {
    const bomf::Simplex simplex(n);
    for (int kind = 0; kind < 4; ++kind) {
      std::vector<double> gaps[3], evals[3];
      for (int p = 0; p < 20; ++p) {
        if (kind < 3) {
          const bomf::test::KnownQuadratic q(n, kind, rng, 100.0);
          run_case(q, simplex, q.optimum_value, rng, gaps, evals);
        } else {
          const bomf::test::NegLogSumExp f(n, rng);
          bomf::SimplexRefineOptions exact;
          exact.max_iterations = 20000;
          exact.max_evaluations = 100000;
          exact.gradient_tolerance = 0.0;
          exact.value_tolerance = 0.0;
          exact.patience = 1000;
          const double f_star = bomf::refine_spg(f, simplex, simplex.barycentre(), exact).value;
          run_case(f, simplex, f_star, rng, gaps, evals);
        }
      }
      std::printf("//  %2ld  %-10s | %-9.1e %5.0f | %-9.1e %5.0f | %-9.1e %5.0f\n",
                  static_cast<long>(n), kinds[kind], median(gaps[0]), median(evals[0]),
                  median(gaps[1]), median(evals[1]), median(gaps[2]), median(evals[2]));
    }
  }
  // Quality of the multi-start driver against a dense search (20000 quasi-random points, the
  // 20 best and every bump centre refined by a long SPG run), Gaussian-bump problems.
  std::printf("\n// maximize_on_simplex vs dense search (tolerance 1e-6): win/tie/loss\n");
  for (Eigen::Index n : {5, 15, 30}) {
    int win = 0, tie = 0, loss = 0;
    const bomf::Simplex simplex(n);
    for (int p = 0; p < 20; ++p) {
      const bomf::test::GaussianBumps f(n, 12, rng);
      bomf::SimplexOptimizerOptions options;
      options.seed = static_cast<std::uint64_t>(p);
      const double ours = bomf::maximize_on_simplex(f, simplex, options).value;
      const Eigen::MatrixXd dense = bomf::sobol_simplex_points(simplex, 20000, 1000 + p);
      long calls = 0;
      const Eigen::VectorXd values = bomf::detail::evaluate_values(f, dense, calls);
      std::vector<Eigen::Index> order(static_cast<std::size_t>(dense.rows()));
      std::iota(order.begin(), order.end(), Eigen::Index{0});
      std::partial_sort(order.begin(), order.begin() + 20, order.end(),
                        [&](Eigen::Index a, Eigen::Index b) { return values(a) > values(b); });
      bomf::SimplexRefineOptions longer;
      longer.max_iterations = 2000;
      longer.max_evaluations = 10000;
      double reference = -1e300;
      for (int k = 0; k < 20; ++k)
        reference = std::max(
            reference,
            bomf::refine_spg(f, simplex, dense.row(order[static_cast<std::size_t>(k)]).transpose(),
                             longer)
                .value);
      for (Eigen::Index k = 0; k < f.centers.rows(); ++k)
        reference = std::max(
            reference, bomf::refine_spg(f, simplex, f.centers.row(k).transpose(), longer).value);
      if (ours > reference + 1e-6)
        ++win;
      else if (ours >= reference - 1e-6)
        ++tie;
      else
        ++loss;
    }
    std::printf("//  N = %2ld: %d / %d / %d\n", static_cast<long>(n), win, tie, loss);
  }
  return 0;
}
