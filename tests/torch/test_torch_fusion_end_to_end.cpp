// The libtorch path end to end (issue #8, "Checks"): a TorchFusionProblem on the trained MLP
// members, run through the fusion search (`solve`) and every baseline on one shared evaluator,
// with a journal that is resumed and refused for other members.
#include <gtest/gtest.h>
#include <unistd.h>

#include <Eigen/Core>
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "bomf/drivers/baselines.hpp"
#include "bomf/drivers/fusion_search.hpp"
#include "bomf/torch/torch_fusion_problem.hpp"
#include "drivers/drivers_test_problems.hpp"
#include "mlp_fixture.hpp"

namespace bomf {
namespace {

namespace fs = std::filesystem;
using namespace torch_test;  // NOLINT(google-build-using-namespace)

/// The paper's budget shape (N members, N initial points) with fewer Bayesian iterations and the
/// drivers tests' lighter acquisition optimization, to keep the test at a few seconds.
FusionSearchOptions quick_options() {
  return bomf::test::fast_fusion_options(/*num_initial=*/-1, /*num_iterations=*/8, /*seed=*/5);
}

bool on_simplex(const Eigen::VectorXd& delta) {
  return delta.size() == kMembers && delta.minCoeff() >= 0.0 && std::abs(delta.sum() - 1.0) < 1e-9;
}

/// The default selection rule's score up to a constant: metric ranges are both 0.1, accuracy
/// is maximized and the Brier score minimized.
double metric_sum(const FusionEvaluation& e) {
  return e.metrics[0] - e.metrics[1];
}

TEST(TorchFusionEndToEnd, SolveAndAllBaselinesRunOnTrainedMembers) {
  Mlp model = make_model();
  TorchFusionProblem problem(trained().members, objectives(), model, module_validation(model));
  FusionEvaluator evaluator(problem);
  FusionSummary summary;
  const FusionResult bomf_result = solve(quick_options(), evaluator, &summary);
  const FusionResult best = best_single_member(evaluator);
  const FusionResult swa = uniform_average(evaluator);
  const FusionResult greedy = greedy_swa(evaluator);
  const FusionResult learned = learned_swa(evaluator);

  EXPECT_EQ(summary.num_evaluations, kMembers + kMembers + 8);
  EXPECT_EQ(summary.num_failures, 0);
  EXPECT_EQ(summary.termination, SearchTermination::budget_reached);
  EXPECT_EQ(best.new_evaluations, 0) << "members are shared with the search";

  double best_member_sum = -1e300;
  for (int i = 0; i < kMembers; ++i) {
    best_member_sum =
        std::max(best_member_sum, metric_sum(problem.evaluate(Eigen::VectorXd::Unit(kMembers, i))));
  }
  for (const FusionResult* r : {&bomf_result, &best, &swa, &greedy, &learned}) {
    SCOPED_TRACE(r->method);
    std::cout << "[ result   ] " << r->method << ": loss " << r->evaluation.loss << ", accuracy "
              << r->evaluation.metrics[0] << ", brier " << r->evaluation.metrics[1] << ", "
              << r->new_evaluations << " new evaluations\n";
    ASSERT_TRUE(on_simplex(r->delta)) << r->delta.transpose();
    // The reported values are those of the fused model at δ (evaluation is deterministic), and
    // the module then holds Σ δ_i w_i.
    const FusionEvaluation again = problem.evaluate(r->delta);
    EXPECT_EQ(again.loss, r->evaluation.loss);
    EXPECT_EQ(again.metrics, r->evaluation.metrics);
    const StateDict reference = reference_fusion(trained().members, r->delta);
    for (const auto& p : model->named_parameters()) {
      EXPECT_LT((p.value().to(torch::kDouble) - reference.at(p.key())).abs().max().item<double>(),
                2e-6)
          << p.key();
    }
  }
  EXPECT_EQ(swa.delta, Eigen::VectorXd::Constant(kMembers, 1.0 / kMembers));
  // Learned SWA descends the loss from the uniform average.
  EXPECT_LE(learned.evaluation.loss, swa.evaluation.loss + 1e-12);
  // BOMF's choice maximizes the metric sum over the Pareto set, which dominates every member.
  EXPECT_GE(metric_sum(bomf_result.evaluation), best_member_sum - 1e-12);
}

TEST(TorchFusionEndToEnd, JournalResumesAndRefusesOtherMembers) {
  const fs::path dir =
      fs::temp_directory_path() / ("bomf_torchdrv_" + std::to_string(::getpid()) + "_journal");
  fs::create_directories(dir);
  FusionSearchOptions options = quick_options();
  options.num_iterations = 3;
  options.journal = (dir / "fusion.jsonl").string();
  FusionResult first;
  {
    Mlp model = make_model();
    TorchFusionProblem problem(trained().members, objectives(), model, module_validation(model));
    first = solve(options, problem);
  }
  {
    // A fresh problem on the same members (from another process, say): everything is replayed.
    Mlp model = make_model();
    TorchFusionProblem problem(trained().members, objectives(), model, module_validation(model));
    FusionSummary summary;
    const FusionResult resumed = solve(options, problem, &summary);
    EXPECT_EQ(summary.num_replayed, summary.num_evaluations);
    EXPECT_EQ(resumed.delta, first.delta);
    EXPECT_EQ(resumed.evaluation.loss, first.evaluation.loss);
  }
  {
    // Other members (the last one replaced by the first): the fingerprint differs.
    std::vector<StateDict> others = trained().members;
    others.back() = others.front();
    Mlp model = make_model();
    TorchFusionProblem problem(others, objectives(), model, module_validation(model));
    EXPECT_TRUE(contains(message_of([&] { (void)solve(options, problem); }), "fingerprint"));
  }
  std::error_code ignored;
  fs::remove_all(dir, ignored);
}

}  // namespace
}  // namespace bomf
