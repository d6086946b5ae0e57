// TorchFusionProblem on a small real torch::nn::Module: a 2-layer MLP (with a running input
// mean as floating buffer and a step counter as integer buffer) trained with SGD on a seeded
// three-class Gaussian-blob problem; five members saved along the trajectory. Checks the fused
// weights against a double-precision weighted sum, evaluate() against a loss computed by hand,
// the δ-gradient against central finite differences and the chain-rule formula, checkpoint files
// against in-memory members, the errors, the reuse of the output buffer and the fingerprint.
#include <gtest/gtest.h>
#include <unistd.h>

#include <torch/torch.h>
#include <Eigen/Core>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "bomf/core/error.hpp"
#include "bomf/fusion/weight_fuser.hpp"
#include "bomf/io/safetensors.hpp"
#include "bomf/io/torch_archive.hpp"
#include "bomf/torch/threads.hpp"
#include "bomf/torch/torch_fusion_problem.hpp"
#include "mlp_fixture.hpp"

namespace bomf {
namespace {

namespace fs = std::filesystem;
using namespace torch_test;  // NOLINT(google-build-using-namespace)

// ---- compile-time checks of the validation signatures ----------------------------------------

static_assert(detail::is_module_validation_v<decltype(module_validation(Mlp(nullptr)))>);
static_assert(!detail::is_weights_validation_v<decltype(module_validation(Mlp(nullptr)))>);
static_assert(detail::is_weights_validation_v<decltype(weights_validation())>);
static_assert(!detail::is_module_validation_v<decltype(weights_validation())>);
static_assert(!detail::is_module_validation_v<double (*)()>);
static_assert(detail::is_module_holder<Mlp>::value);
static_assert(!detail::is_module_holder<std::shared_ptr<MlpImpl>>::value);
static_assert(std::is_convertible_v<Mlp, TorchModuleRef>);
static_assert(std::is_convertible_v<std::shared_ptr<MlpImpl>, TorchModuleRef>);
static_assert(!std::is_convertible_v<int, TorchModuleRef>);

// ---- tests ------------------------------------------------------------------------------------

TEST(TorchFusionProblem, MembersAreRealAndDistinct) {
  const auto& members = trained().members;
  ASSERT_EQ(members.size(), static_cast<std::size_t>(kMembers));
  for (int i = 1; i < kMembers; ++i) {
    EXPECT_FALSE(torch::equal(members[i].at("fc1.weight"), members[i - 1].at("fc1.weight")));
    EXPECT_EQ(members[i].at("steps").item<std::int64_t>(), 20 * (i + 1));
  }
  // Training made progress: the last member beats the first on the validation loss.
  EXPECT_LT(loss_by_hand(members.back()).first, loss_by_hand(members.front()).first - 0.05);
}

TEST(TorchFusionProblem, FusedModuleWeightsEqualDoubleWeightedSum) {
  for (std::size_t copy_from : {std::size_t{0}, std::size_t{3}}) {
    Mlp model = make_model();
    TorchFusionOptions options;
    options.copy_non_floating_from = copy_from;
    TorchFusionProblem problem(trained().members, objectives(), model, module_validation(model),
                               options);
    for (const Eigen::VectorXd& delta : random_deltas(6, /*off_simplex=*/true, 11)) {
      problem.fuse(delta);
      const StateDict reference = reference_fusion(trained().members, delta, copy_from);
      for (const auto& p : model->named_parameters()) {
        const torch::Tensor error = (p.value().to(torch::kDouble) - reference.at(p.key())).abs();
        // fp32 accumulation and one rounding: a few ulps of the largest term.
        EXPECT_LT(error.max().item<double>(), 2e-6) << p.key();
      }
      const torch::Tensor mean_error =
          (model->input_mean.to(torch::kDouble) - reference.at("input_mean")).abs();
      EXPECT_LT(mean_error.max().item<double>(), 2e-6);
      EXPECT_EQ(model->steps.item<std::int64_t>(),
                trained().members[copy_from].at("steps").item<std::int64_t>());
    }
  }
}

TEST(TorchFusionProblem, EvaluateMatchesLossComputedByHand) {
  Mlp model = make_model();
  TorchFusionProblem problem(trained().members, objectives(), model, module_validation(model));
  EXPECT_EQ(problem.num_members(), kMembers);
  EXPECT_EQ(problem.objectives().size(), 3);
  EXPECT_TRUE(problem.has_loss_gradient());
  for (const Eigen::VectorXd& delta : random_deltas(5, /*off_simplex=*/false, 12)) {
    const FusionEvaluation e = problem.evaluate(delta);
    const auto [loss, accuracy] = loss_by_hand(reference_fusion(trained().members, delta));
    EXPECT_NEAR(e.loss, loss, 1e-5 * loss);
    ASSERT_EQ(e.metrics.size(), 2);
    EXPECT_NEAR(e.metrics[0], accuracy, 1.0 / 150 + 1e-12);  // at most one boundary point
    EXPECT_GT(e.metrics[1], 0.0);
  }
  // At a vertex the fused model is the member itself (δ_i = 1 is exact in fp32).
  for (int i = 0; i < kMembers; ++i) {
    const FusionEvaluation e = problem.evaluate(Eigen::VectorXd::Unit(kMembers, i));
    Mlp member = make_model();
    {
      torch::NoGradGuard no_grad;
      for (auto& p : member->named_parameters()) {
        p.value().copy_(trained().members[i].at(p.key()));
      }
      for (auto& b : member->named_buffers()) {
        b.value().copy_(trained().members[i].at(b.key()));
      }
    }
    member->eval();
    const TorchValidation direct = module_validation(member)();
    EXPECT_EQ(e.loss, direct.loss.item<double>()) << "member " << i;
    EXPECT_EQ(e.metrics[0], direct.metrics[0]);
    EXPECT_EQ(e.metrics[1], direct.metrics[1]);
  }
}

class GradientByDtype : public ::testing::TestWithParam<torch::Dtype> {};

TEST_P(GradientByDtype, MatchesCentralFiniteDifferencesAndChainRuleFormula) {
  const torch::Dtype dtype = GetParam();
  const bool is_double = dtype == torch::kDouble;
  // Central differences: truncation O(h²), rounding O(ε_loss / h).
  const double h = is_double ? 1e-5 : 3e-3;
  const double fd_tolerance = is_double ? 1e-8 : 2e-3;        // × (1 + |g_i|)
  const double formula_tolerance = is_double ? 1e-12 : 2e-5;  // × (1 + ‖g‖∞)
  const std::vector<StateDict> members = members_as(dtype);
  Mlp model = make_model(dtype);
  TorchFusionProblem problem(members, objectives(), model, module_validation(model, dtype));
  for (const Eigen::VectorXd& delta : random_deltas(3, /*off_simplex=*/true, 13)) {
    Eigen::VectorXd gradient;
    const double loss = problem.loss_and_gradient(delta, gradient);
    ASSERT_EQ(gradient.size(), kMembers);
    EXPECT_DOUBLE_EQ(loss, problem.evaluate(delta).loss);
    for (int i = 0; i < kMembers; ++i) {
      Eigen::VectorXd plus = delta;
      Eigen::VectorXd minus = delta;
      plus[i] += h;
      minus[i] -= h;
      const double fd = (problem.evaluate(plus).loss - problem.evaluate(minus).loss) / (2 * h);
      EXPECT_NEAR(gradient[i], fd, fd_tolerance * (1 + std::abs(gradient[i])))
          << "dtype " << dtype << " member " << i;
    }
    const Eigen::VectorXd formula =
        gradient_by_formula(members, reference_fusion(members, delta), dtype);
    EXPECT_LT((gradient - formula).lpNorm<Eigen::Infinity>(),
              formula_tolerance * (1 + formula.lpNorm<Eigen::Infinity>()))
        << "gradient " << gradient.transpose() << "\nformula " << formula.transpose();
  }
}

INSTANTIATE_TEST_SUITE_P(TorchFusionProblem, GradientByDtype,
                         ::testing::Values(torch::kFloat, torch::kDouble));

TEST(TorchFusionProblem, GradientIncludesFloatingBuffersAndFrozenParameters) {
  // The running mean depends on δ like every fused tensor: leaving it out of ∂loss/∂δ would
  // be wrong by a visible amount.
  Mlp model = make_model(torch::kDouble);
  const std::vector<StateDict> members = members_as(torch::kDouble);
  TorchFusionProblem problem(members, objectives(), model,
                             module_validation(model, torch::kDouble));
  const Eigen::VectorXd delta = random_deltas(1, false, 14)[0];
  Eigen::VectorXd full;
  problem.loss_and_gradient(delta, full);

  model->fc1->bias.requires_grad_(false);  // frozen: still fused, still depends on δ
  Eigen::VectorXd frozen;
  problem.loss_and_gradient(delta, frozen);
  EXPECT_LT((full - frozen).lpNorm<Eigen::Infinity>(), 1e-12);
  EXPECT_FALSE(model->fc1->bias.requires_grad());  // flags restored
  EXPECT_FALSE(model->input_mean.requires_grad());
  EXPECT_TRUE(model->fc1->weight.requires_grad());
  EXPECT_FALSE(model->fc1->weight.grad().defined());  // .grad untouched (autograd::grad)

  // The part of the gradient owed to the running mean alone is not negligible.
  const StateDict fused = reference_fusion(members, delta);
  torch::Tensor mean = fused.at("input_mean").clone().requires_grad_(true);
  StateDict w;
  for (const auto& [name, tensor] : fused) {
    w.insert(name, name == "input_mean" ? mean : tensor);
  }
  F::cross_entropy(functional_forward(w, trained().data.x_valid.to(torch::kDouble)),
                   trained().data.y_valid)
      .backward();
  double buffer_part = 0.0;
  for (int i = 0; i < kMembers; ++i) {
    buffer_part = std::max(
        buffer_part, std::abs((mean.grad() * members[i].at("input_mean")).sum().item<double>()));
  }
  EXPECT_GT(buffer_part, 1e-4);
}

TEST(TorchFusionProblem, WeightsFormAgreesWithModuleForm) {
  Mlp model = make_model();
  TorchFusionProblem by_module(trained().members, objectives(), model.ptr(),
                               module_validation(model));
  TorchFusionProblem by_weights(trained().members, objectives(), weights_validation());
  EXPECT_EQ(by_module.fingerprint(), by_weights.fingerprint());
  for (const Eigen::VectorXd& delta : random_deltas(3, true, 15)) {
    const FusionEvaluation a = by_module.evaluate(delta);
    const FusionEvaluation b = by_weights.evaluate(delta);
    EXPECT_NEAR(a.loss, b.loss, 1e-6 * std::abs(a.loss));
    EXPECT_NEAR(a.metrics[1], b.metrics[1], 1e-6);
    Eigen::VectorXd ga;
    Eigen::VectorXd gb;
    by_module.loss_and_gradient(delta, ga);
    by_weights.loss_and_gradient(delta, gb);
    EXPECT_LT((ga - gb).lpNorm<Eigen::Infinity>(), 1e-5 * (1 + ga.lpNorm<Eigen::Infinity>()));
  }
}

TEST(TorchFusionProblem, HalfPrecisionMembersFusedIntoFloat) {
  for (const torch::Dtype member_dtype : {torch::kBFloat16, torch::kHalf}) {
    const std::vector<StateDict> members = members_as(member_dtype);
    TorchFusionOptions options;
    options.output_dtype = torch::kFloat;
    Mlp model = make_model(torch::kFloat);
    TorchFusionProblem problem(members, objectives(), model, module_validation(model), options);
    TorchFusionProblem functional(members, objectives(), weights_validation(), options);
    EXPECT_EQ(functional.fused_weights().at("fc1.weight").scalar_type(), torch::kFloat);
    const Eigen::VectorXd delta = random_deltas(1, false, 16)[0];
    Eigen::VectorXd gradient;
    problem.loss_and_gradient(delta, gradient);
    const StateDict reference = reference_fusion(members, delta);
    EXPECT_LT((model->fc2->weight.to(torch::kDouble) - reference.at("fc2.weight"))
                  .abs()
                  .max()
                  .item<double>(),
              2e-6);
    const Eigen::VectorXd formula = gradient_by_formula(members, reference, torch::kFloat);
    EXPECT_LT((gradient - formula).lpNorm<Eigen::Infinity>(),
              2e-5 * (1 + formula.lpNorm<Eigen::Infinity>()))
        << member_dtype;
    Eigen::VectorXd functional_gradient;
    functional.loss_and_gradient(delta, functional_gradient);
    EXPECT_LT((gradient - functional_gradient).lpNorm<Eigen::Infinity>(),
              1e-5 * (1 + gradient.lpNorm<Eigen::Infinity>()));
  }
}

TEST(TorchFusionProblem, CheckpointFilesGiveTheSameResultsAsInMemoryMembers) {
  const fs::path dir =
      fs::temp_directory_path() / ("bomf_torchdrv_" + std::to_string(::getpid()) + "_checkpoints");
  fs::create_directories(dir);
  std::vector<std::string> paths;
  for (int i = 0; i < kMembers; ++i) {
    // Three single safetensors files, one sharded safetensors checkpoint, one torch archive.
    if (i < 3) {
      paths.push_back((dir / ("member" + std::to_string(i) + ".safetensors")).string());
      save_safetensors(paths.back(), trained().members[i]);
    } else if (i == 3) {
      fs::create_directories(dir / "sharded");
      paths.push_back(save_sharded_safetensors((dir / "sharded").string(), trained().members[i],
                                               /*max_shard_bytes=*/256));
    } else {
      paths.push_back((dir / "member4.pt").string());
      save_torch_state_dict(paths.back(), trained().members[i]);
    }
  }
  {
    Mlp memory_model = make_model();
    Mlp file_model = make_model();
    TorchFusionProblem from_memory(trained().members, objectives(), memory_model,
                                   module_validation(memory_model));
    TorchFusionProblem from_files(load_fusion_members(paths), objectives(), file_model,
                                  module_validation(file_model));
    EXPECT_EQ(from_memory.fingerprint(), from_files.fingerprint());
    for (const Eigen::VectorXd& delta : random_deltas(3, true, 17)) {
      const FusionEvaluation a = from_memory.evaluate(delta);
      const FusionEvaluation b = from_files.evaluate(delta);
      EXPECT_EQ(a.loss, b.loss);
      EXPECT_EQ(a.metrics, b.metrics);
      for (const auto& [name, tensor] : from_memory.fused_weights()) {
        EXPECT_TRUE(torch::equal(tensor, from_files.fused_weights().at(name))) << name;
      }
      Eigen::VectorXd ga;
      Eigen::VectorXd gb;
      EXPECT_EQ(from_memory.loss_and_gradient(delta, ga), from_files.loss_and_gradient(delta, gb));
      EXPECT_EQ(ga, gb);
    }
  }
  std::error_code ignored;
  fs::remove_all(dir, ignored);
  EXPECT_TRUE(contains(message_of([&] { (void)load_fusion_members({}); }), "'paths' is empty"));
}

TEST(TorchFusionProblem, MismatchedMembersAndModuleAreRefusedNamingTheTensor) {
  const auto build = [](std::vector<StateDict> members) {
    Mlp model = make_model();
    TorchFusionProblem problem(std::move(members), objectives(), model, module_validation(model));
  };
  const auto edited = [](const std::function<void(StateDict&, int)>& edit) {
    std::vector<StateDict> members;
    for (int i = 0; i < kMembers; ++i) {
      StateDict copy;
      for (const auto& [name, tensor] : trained().members[i]) {
        copy.insert(name, tensor);
      }
      edit(copy, i);
      members.push_back(std::move(copy));
    }
    return members;
  };
  const auto without = [](const StateDict& sd, const std::string& skip) {
    StateDict out;
    for (const auto& [name, tensor] : sd) {
      if (name != skip) {
        out.insert(name, tensor);
      }
    }
    return out;
  };
  const auto replaced = [](const StateDict& sd, const std::string& target, torch::Tensor t) {
    StateDict out;
    for (const auto& [name, tensor] : sd) {
      out.insert(name, name == target ? t : tensor);
    }
    return out;
  };

  // A module tensor the members lack.
  std::string m =
      message_of([&] { build(edited([&](StateDict& sd, int) { sd = without(sd, "fc2.bias"); })); });
  EXPECT_TRUE(contains(m, "'fc2.bias'"));
  EXPECT_TRUE(contains(m, "missing from the members"));
  // A member tensor the module lacks.
  m = message_of([&] {
    build(edited([&](StateDict& sd, int) { sd.insert("head.weight", torch::zeros({3})); }));
  });
  EXPECT_TRUE(contains(m, "'head.weight'"));
  EXPECT_TRUE(contains(m, "neither a parameter nor a buffer"));
  // Shape and dtype differ from the module's.
  m = message_of([&] {
    build(edited([&](StateDict& sd, int) {
      sd = replaced(sd, "fc1.weight", torch::zeros({kHidden, kInputs + 1}));
    }));
  });
  EXPECT_TRUE(contains(m, "'fc1.weight'"));
  EXPECT_TRUE(contains(m, "shape [16, 5] in the members but shape [16, 4] in the module"));
  m = message_of([&] {
    build(edited([&](StateDict& sd, int) {
      sd = replaced(sd, "fc2.weight", sd.at("fc2.weight").to(torch::kDouble));
    }));
  });
  EXPECT_TRUE(contains(m, "'fc2.weight'"));
  EXPECT_TRUE(contains(m, "dtype Float in the module"));
  EXPECT_TRUE(contains(m, "expected Double"));
  // Members that disagree with each other.
  m = message_of([&] {
    build(edited([&](StateDict& sd, int i) {
      if (i == 2) {
        sd = without(sd, "input_mean");
      }
    }));
  });
  EXPECT_TRUE(contains(m, "member 2 has no tensor 'input_mean'"));
  m = message_of([&] {
    build(edited([&](StateDict& sd, int i) {
      if (i == 3) {
        sd = replaced(sd, "fc1.bias", torch::zeros({kHidden + 1}));
      }
    }));
  });
  EXPECT_TRUE(contains(m, "'fc1.bias'"));
  EXPECT_TRUE(contains(m, "member 3"));
  m = message_of([&] {
    build(edited([&](StateDict& sd, int i) {
      if (i == 1) {
        sd = replaced(sd, "steps", sd.at("steps").to(torch::kInt));
      }
    }));
  });
  EXPECT_TRUE(contains(m, "'steps'"));
  // Too few members, bad options, bad objectives, null module, tied weights.
  EXPECT_TRUE(contains(message_of([&] { build({trained().members[0]}); }),
                       "'members' has 1 state dicts, expected at least 2"));
  EXPECT_TRUE(contains(message_of([&] {
                         TorchFusionOptions options;
                         options.copy_non_floating_from = 9;
                         TorchFusionProblem p(trained().members, objectives(), weights_validation(),
                                              options);
                       }),
                       "'copy_non_floating_from' is 9"));
  EXPECT_TRUE(contains(message_of([&] {
                         TorchFusionOptions options;
                         options.output_dtype = torch::kLong;
                         TorchFusionProblem p(trained().members, objectives(), weights_validation(),
                                              options);
                       }),
                       "option 'output_dtype' is Long"));
  EXPECT_TRUE(contains(message_of([&] {
                         TorchFusionProblem p(trained().members, FusionObjectives{},
                                              weights_validation());
                       }),
                       "declares no metric"));
  EXPECT_TRUE(contains(message_of([&] {
                         TorchFusionProblem p(trained().members, objectives(),
                                              std::shared_ptr<MlpImpl>(),
                                              [] { return TorchValidation{}; });
                       }),
                       "'module' is null"));
  EXPECT_TRUE(contains(message_of([&] {
                         TorchFusionProblem p(trained().members, objectives(),
                                              TorchFusionProblem::WeightsValidation());
                       }),
                       "empty function"));
  struct Tied : torch::nn::Module {
    Tied() {
      torch::Tensor w = torch::zeros({2});
      register_parameter("a", w);
      register_parameter("b", w);
    }
  };
  StateDict tied{{"a", torch::zeros({2})}, {"b", torch::zeros({2})}};
  EXPECT_TRUE(contains(message_of([&] {
                         TorchFusionProblem p({tied, tied}, objectives(), std::make_shared<Tied>(),
                                              [] { return TorchValidation{}; });
                       }),
                       "'a' and 'b' are the same tensor"));
}

TEST(TorchFusionProblem, InvalidValidationResultsAndDeltasAreClearErrors) {
  Mlp model = make_model();
  auto base = module_validation(model);
  const Eigen::VectorXd delta = Eigen::VectorXd::Constant(kMembers, 1.0 / kMembers);
  Eigen::VectorXd gradient;

  TorchFusionProblem one_metric(trained().members, objectives(), model, [&] {
    TorchValidation v = base();
    v.metrics.pop_back();
    return v;
  });
  EXPECT_TRUE(contains(message_of([&] { one_metric.evaluate(delta); }),
                       "returned 1 metric values, expected 2"));
  EXPECT_TRUE(contains(message_of([&] { one_metric.loss_and_gradient(delta, gradient); }),
                       "returned 1 metric values, expected 2"));

  TorchFusionProblem per_sample(trained().members, objectives(), model, [&] {
    torch::Tensor logits = model->forward(trained().data.x_valid);
    return TorchValidation{F::cross_entropy(logits, trained().data.y_valid,
                                            F::CrossEntropyFuncOptions().reduction(torch::kNone)),
                           {0.5, 0.5}};
  });
  EXPECT_TRUE(contains(message_of([&] { per_sample.evaluate(delta); }),
                       "shape [150] and dtype Float, expected a scalar"));

  TorchFusionProblem undefined(trained().members, objectives(), model, [] {
    return TorchValidation{at::Tensor(), {0.5, 0.5}};
  });
  EXPECT_TRUE(contains(message_of([&] { undefined.evaluate(delta); }), "undefined loss"));

  TorchFusionProblem detached(trained().members, objectives(), model, [&] {
    TorchValidation v = base();
    v.loss = v.loss.detach();
    return v;
  });
  EXPECT_NO_THROW(detached.evaluate(delta));
  EXPECT_TRUE(contains(message_of([&] { detached.loss_and_gradient(delta, gradient); }),
                       "does not require grad"));
  EXPECT_FALSE(model->input_mean.requires_grad());  // restored after the exception

  const torch::Tensor unrelated = torch::ones({}, torch::requires_grad());
  TorchFusionProblem unrelated_loss(trained().members, objectives(), model, [&] {
    return TorchValidation{unrelated * 2, {0.5, 0.5}};
  });
  EXPECT_TRUE(contains(message_of([&] { unrelated_loss.loss_and_gradient(delta, gradient); }),
                       "does not depend on any fused tensor"));

  TorchFusionProblem good(trained().members, objectives(), model, base);
  EXPECT_TRUE(contains(message_of([&] { good.evaluate(Eigen::VectorXd::Ones(3)); }),
                       "'delta' has length 3, expected 5"));
  Eigen::VectorXd bad = delta;
  bad[1] = std::nan("");
  EXPECT_TRUE(contains(message_of([&] { good.evaluate(bad); }), "non-finite"));
  TorchFusionOptions simplex;
  simplex.require_simplex = true;
  TorchFusionProblem on_simplex(trained().members, objectives(), model, base, simplex);
  EXPECT_NO_THROW(on_simplex.evaluate(delta));
  EXPECT_TRUE(contains(message_of([&] { on_simplex.evaluate(2 * delta); }),
                       "expected a point of the simplex"));

  // A module reallocated after construction is detected, naming a tensor.
  model->to(torch::kDouble);
  EXPECT_TRUE(contains(message_of([&] { good.evaluate(delta); }), "was reallocated"));
}

TEST(TorchFusionProblem, OutputBufferIsReusedAcrossEvaluations) {
  Mlp model = make_model();
  std::vector<const void*> before;
  for (const auto& p : model->named_parameters()) {
    before.push_back(p.value().data_ptr());
  }
  for (const auto& b : model->named_buffers()) {
    before.push_back(b.value().data_ptr());
  }
  TorchFusionProblem problem(trained().members, objectives(), model, module_validation(model));
  for (const auto& [name, tensor] : problem.fused_weights()) {
    EXPECT_TRUE(tensor.is_same(name == "input_mean" ? model->input_mean
                               : name == "steps"    ? model->steps
                                                    : model->named_parameters()[name]))
        << name;
  }
  Eigen::VectorXd gradient;
  for (const Eigen::VectorXd& delta : random_deltas(4, true, 18)) {
    (void)problem.evaluate(delta);
    (void)problem.loss_and_gradient(delta, gradient);
  }
  std::vector<const void*> after;
  for (const auto& p : model->named_parameters()) {
    after.push_back(p.value().data_ptr());
  }
  for (const auto& b : model->named_buffers()) {
    after.push_back(b.value().data_ptr());
  }
  EXPECT_EQ(before, after);

  // Weights form: the validation function sees the same tensors every time.
  std::vector<const void*> seen;
  auto base = weights_validation();
  TorchFusionProblem functional(trained().members, objectives(), [&](const StateDict& w) {
    seen.push_back(w.at("fc1.weight").data_ptr());
    return base(w);
  });
  for (const Eigen::VectorXd& delta : random_deltas(3, true, 19)) {
    (void)functional.evaluate(delta);
    (void)functional.loss_and_gradient(delta, gradient);
  }
  ASSERT_EQ(seen.size(), 6U);
  EXPECT_TRUE(std::all_of(seen.begin(), seen.end(), [&](const void* p) { return p == seen[0]; }));
  EXPECT_EQ(seen[0], functional.fused_weights().at("fc1.weight").data_ptr());
  EXPECT_FALSE(functional.fused_weights().at("fc1.weight").requires_grad());
}

TEST(TorchFusionProblem, FingerprintIdentifiesTheMembers) {
  const auto& members = trained().members;
  const auto fingerprint = [](std::vector<StateDict> m, TorchFusionOptions options = {}) {
    return TorchFusionProblem(std::move(m), objectives(), weights_validation(), options)
        .fingerprint();
  };
  const std::string reference = fingerprint(members);
  EXPECT_TRUE(contains(reference, "N=5"));
  EXPECT_EQ(fingerprint(members), reference);  // deterministic
  std::vector<StateDict> swapped = members;
  std::swap(swapped[1], swapped[2]);
  EXPECT_NE(fingerprint(swapped), reference);
  std::vector<StateDict> other = {members[0], members[1], members[2], members[3], members[3]};
  EXPECT_NE(fingerprint(other), reference);
  EXPECT_NE(fingerprint({members[0], members[1], members[2], members[3]}), reference);
  EXPECT_NE(fingerprint(members_as(torch::kDouble)), reference);
  TorchFusionOptions extra;
  extra.fingerprint_extra = "valid=blobs-150";
  EXPECT_TRUE(contains(fingerprint(members, extra), " extra=valid=blobs-150"));
  TorchFusionOptions no_values;
  no_values.fingerprint_samples = 0;
  EXPECT_EQ(fingerprint(members, no_values), fingerprint(swapped, no_values));
}

/// Medians (µs) of `a` and `b` timed alternately, so that load changes hit both alike.
std::pair<double, double> median_us(int repeats, const std::function<void()>& a,
                                    const std::function<void()>& b) {
  std::vector<double> ta;
  std::vector<double> tb;
  const auto time = [](const std::function<void()>& f) {
    const auto start = std::chrono::steady_clock::now();
    f();
    return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
        .count();
  };
  for (int r = 0; r < repeats; ++r) {
    ta.push_back(time(a));
    tb.push_back(time(b));
  }
  const auto half = static_cast<std::ptrdiff_t>(repeats / 2);
  std::nth_element(ta.begin(), ta.begin() + half, ta.end());
  std::nth_element(tb.begin(), tb.begin() + half, tb.end());
  return {ta[static_cast<std::size_t>(half)], tb[static_cast<std::size_t>(half)]};
}

/// Prints the time of fuse(), evaluate() and loss_and_gradient() against the user's validation
/// pass alone (weights already in place) and a plain forward + backward pass.
void report_overhead(const std::string& label, TorchFusionProblem& problem,
                     const std::function<TorchValidation()>& validate, int repeats) {
  const Eigen::VectorXd delta =
      Eigen::VectorXd::Constant(problem.num_members(), 1.0 / problem.num_members());
  Eigen::VectorXd gradient;
  const auto [evaluate, alone] = median_us(
      repeats, [&] { (void)problem.evaluate(delta); },
      [&] {
        torch::NoGradGuard no_grad;
        (void)validate().loss.item<double>();
      });
  const auto [with_gradient, backward_alone] = median_us(
      repeats, [&] { (void)problem.loss_and_gradient(delta, gradient); },
      [&] {
        TorchValidation v = validate();
        v.loss.backward();
      });
  const double fuse = median_us(
                          repeats, [&] { problem.fuse(delta); }, [] {})
                          .first;
  std::cout << "[ overhead ] " << label << ", " << problem.fuser().num_fused_elements()
            << " fused floats, N=" << problem.num_members() << ", 1 thread, median of " << repeats
            << ":\n"
            << "             fuse " << fuse << " us; evaluate " << evaluate
            << " us vs validation alone " << alone << " us (overhead " << evaluate - alone
            << " us)\n             loss_and_gradient " << with_gradient
            << " us vs forward+backward alone " << backward_alone << " us (overhead "
            << with_gradient - backward_alone << " us)\n";
}

/// Per-evaluation overhead (printed, not asserted: timings depend on the machine's load).
TEST(TorchFusionProblem, ReportsPerEvaluationOverhead) {
  set_torch_threads(1);
  {
    Mlp model = make_model();
    auto validate = module_validation(model);
    TorchFusionProblem problem(trained().members, objectives(), model, validate);
    report_overhead("MLP 4-16-3, 150 validation rows", problem, validate, 201);
  }
  {
    // A wider MLP (64-256-256-10, 256 rows), members drawn around one initialization.
    torch::manual_seed(3);
    torch::nn::Sequential net(torch::nn::Linear(64, 256), torch::nn::Tanh(),
                              torch::nn::Linear(256, 256), torch::nn::Tanh(),
                              torch::nn::Linear(256, 10));
    std::vector<StateDict> members;
    for (int i = 0; i < kMembers; ++i) {
      StateDict member;
      for (const auto& p : net->named_parameters()) {
        member.insert(p.key(), p.value().detach() + 0.01 * torch::randn(p.value().sizes()));
      }
      members.push_back(std::move(member));
    }
    const torch::Tensor x = torch::randn({256, 64});
    const torch::Tensor y = torch::randint(0, 10, {256}, torch::kLong);
    const std::function<TorchValidation()> validate = [net, x, y]() mutable {
      const torch::Tensor logits = net->forward(x);
      return TorchValidation{
          F::cross_entropy(logits, y),
          {(logits.argmax(1) == y).to(torch::kDouble).mean().item<double>(), 0.0}};
    };
    TorchFusionProblem problem(members, objectives(), net, validate);
    report_overhead("MLP 64-256-256-10, 256 validation rows", problem, validate, 41);
  }
  SUCCEED();
}

}  // namespace
}  // namespace bomf
