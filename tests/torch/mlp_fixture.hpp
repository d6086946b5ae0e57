// The fixture of the TorchFusionProblem tests: a 2-layer MLP (tanh; a running input mean as a
// floating buffer and a step counter as an integer buffer) trained with full-batch SGD on a
// seeded three-class Gaussian-blob problem (300 training, 150 validation points), with five
// members saved every 20 of 100 steps; validation functions for both forms; double-precision
// references.
#pragma once

#include <gtest/gtest.h>

#include <torch/torch.h>
#include <Eigen/Core>
#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "bomf/core/error.hpp"
#include "bomf/torch/threads.hpp"
#include "bomf/torch/torch_fusion_problem.hpp"

namespace bomf::torch_test {

namespace F = torch::nn::functional;

constexpr int kInputs = 4;
constexpr int kHidden = 16;
constexpr int kClasses = 3;
constexpr int kMembers = 5;

// ---- the model, the data, the members -------------------------------------------------------

struct MlpImpl : torch::nn::Module {
  MlpImpl() {
    fc1 = register_module("fc1", torch::nn::Linear(kInputs, kHidden));
    fc2 = register_module("fc2", torch::nn::Linear(kHidden, kClasses));
    input_mean = register_buffer("input_mean", torch::zeros({kInputs}));
    steps = register_buffer("steps", torch::zeros({1}, torch::kLong));
  }
  torch::Tensor forward(const torch::Tensor& x) { return fc2(torch::tanh(fc1(x - input_mean))); }
  torch::nn::Linear fc1{nullptr};
  torch::nn::Linear fc2{nullptr};
  torch::Tensor input_mean;
  torch::Tensor steps;
};
TORCH_MODULE(Mlp);

inline Mlp make_model(torch::Dtype dtype = torch::kFloat) {
  torch::manual_seed(7);
  Mlp model;
  // (Module::to(dtype) would convert the integer buffer too.)
  torch::NoGradGuard no_grad;
  for (auto& tensor : model->parameters()) {
    tensor.set_data(tensor.to(dtype));
  }
  model->input_mean.set_data(model->input_mean.to(dtype));
  return model;
}

struct Data {
  torch::Tensor x_train, y_train, x_valid, y_valid;
};

inline StateDict snapshot(const torch::nn::Module& module) {
  StateDict sd;
  for (const auto& p : module.named_parameters()) {
    sd.insert(p.key(), p.value().detach().clone());
  }
  for (const auto& b : module.named_buffers()) {
    sd.insert(b.key(), b.value().detach().clone());
  }
  return sd;
}

/// Overlapping Gaussian blobs (seeded), 300 training and 150 validation points, and five
/// members saved every 20 of 100 full-batch SGD steps.
struct Trained {
  Data data;
  std::vector<StateDict> members;
};

inline const Trained& trained() {
  static const Trained result = [] {
    set_torch_threads(1);
    Trained t;
    torch::manual_seed(20240607);
    const torch::Tensor centers = 1.3 * torch::randn({kClasses, kInputs});
    const auto sample = [&](int n) {
      torch::Tensor y = torch::randint(0, kClasses, {n}, torch::kLong);
      torch::Tensor x = centers.index_select(0, y) + torch::randn({n, kInputs}) + 0.5;
      return std::make_pair(x, y);
    };
    std::tie(t.data.x_train, t.data.y_train) = sample(300);
    std::tie(t.data.x_valid, t.data.y_valid) = sample(150);
    Mlp model = make_model();
    model->train();
    torch::optim::SGD optimizer(model->parameters(), torch::optim::SGDOptions(0.2));
    for (int step = 1; step <= 100; ++step) {
      {
        torch::NoGradGuard no_grad;  // running statistics, as a normalization layer keeps
        model->input_mean.mul_(0.9).add_(0.1 * t.data.x_train.mean(0));
        model->steps.add_(1);
      }
      optimizer.zero_grad();
      F::cross_entropy(model->forward(t.data.x_train), t.data.y_train).backward();
      optimizer.step();
      if (step % 20 == 0) {
        t.members.push_back(snapshot(*model));
      }
    }
    return t;
  }();
  return result;
}

inline std::vector<StateDict> members_as(torch::Dtype dtype) {
  std::vector<StateDict> out;
  for (const StateDict& member : trained().members) {
    StateDict converted;
    for (const auto& [name, tensor] : member) {
      converted.insert(name, tensor.is_floating_point() ? tensor.to(dtype) : tensor.clone());
    }
    out.push_back(std::move(converted));
  }
  return out;
}

inline FusionObjectives objectives() {
  return FusionObjectives{"cross_entropy",
                          {{"accuracy", Direction::maximize}, {"brier", Direction::minimize}}};
}

inline TorchValidation validation_of(const torch::Tensor& logits, const torch::Tensor& y) {
  const double accuracy = (logits.argmax(1) == y).to(torch::kDouble).mean().item<double>();
  const double brier = (torch::softmax(logits, 1) - F::one_hot(y, kClasses).to(logits.dtype()))
                           .pow(2)
                           .sum(1)
                           .mean()
                           .item<double>();
  return {F::cross_entropy(logits, y), {accuracy, brier}};
}

/// The module-form validation function for `model` on the validation split in `dtype`.
inline auto module_validation(Mlp model, torch::Dtype dtype = torch::kFloat) {
  const torch::Tensor x = trained().data.x_valid.to(dtype);
  const torch::Tensor y = trained().data.y_valid;
  return [model, x, y]() mutable { return validation_of(model->forward(x), y); };
}

inline torch::Tensor functional_forward(const StateDict& w, const torch::Tensor& x) {
  const torch::Tensor h =
      torch::tanh(F::linear(x - w.at("input_mean"), w.at("fc1.weight"), w.at("fc1.bias")));
  return F::linear(h, w.at("fc2.weight"), w.at("fc2.bias"));
}

/// The weights-form validation function on the validation split in `dtype`.
inline auto weights_validation(torch::Dtype dtype = torch::kFloat) {
  const torch::Tensor x = trained().data.x_valid.to(dtype);
  const torch::Tensor y = trained().data.y_valid;
  return [x, y](const StateDict& w) { return validation_of(functional_forward(w, x), y); };
}

// ---- double-precision references ------------------------------------------------------------

/// Σ_i δ_i w_i in double for the floating tensors; others copied from member `copy_from`.
inline StateDict reference_fusion(const std::vector<StateDict>& members,
                                  const Eigen::VectorXd& delta, std::size_t copy_from = 0) {
  StateDict out;
  for (const auto& [name, tensor] : members[0]) {
    if (!tensor.is_floating_point()) {
      out.insert(name, members[copy_from].at(name).clone());
      continue;
    }
    torch::Tensor sum = torch::zeros(tensor.sizes(), torch::kDouble);
    for (std::size_t i = 0; i < members.size(); ++i) {
      sum.add_(members[i].at(name).to(torch::kDouble), delta[static_cast<Eigen::Index>(i)]);
    }
    out.insert(name, sum);
  }
  return out;
}

/// Loss (mean cross entropy via log-sum-exp) and accuracy of the MLP with weights `w`, in double.
inline std::pair<double, double> loss_by_hand(const StateDict& w) {
  const auto d = [&](const char* name) { return w.at(name).to(torch::kDouble); };
  const torch::Tensor x = trained().data.x_valid.to(torch::kDouble);
  const torch::Tensor y = trained().data.y_valid;
  const torch::Tensor h =
      torch::tanh(torch::matmul(x - d("input_mean"), d("fc1.weight").t()) + d("fc1.bias"));
  const torch::Tensor logits = torch::matmul(h, d("fc2.weight").t()) + d("fc2.bias");
  const torch::Tensor picked = logits.gather(1, y.unsqueeze(1)).squeeze(1);
  const double loss = (torch::logsumexp(logits, 1) - picked).mean().item<double>();
  const double accuracy = (logits.argmax(1) == y).to(torch::kDouble).mean().item<double>();
  return {loss, accuracy};
}

/// ∂loss/∂δ by the formula Σ_t ⟨∂loss/∂w_t, w_{i,t}⟩, with ∂loss/∂w from a separate module
/// holding the fused weights `fused` (cast to `dtype`), in double.
inline Eigen::VectorXd gradient_by_formula(const std::vector<StateDict>& members,
                                           const StateDict& fused, torch::Dtype dtype) {
  Mlp model = make_model(dtype);
  std::vector<std::pair<std::string, torch::Tensor>> leaves;
  {
    torch::NoGradGuard no_grad;
    for (auto& p : model->named_parameters()) {
      p.value().copy_(fused.at(p.key()));
      leaves.emplace_back(p.key(), p.value());
    }
    for (auto& b : model->named_buffers()) {
      b.value().copy_(fused.at(b.key()));
      if (b.value().is_floating_point()) {
        b.value().requires_grad_(true);
        leaves.emplace_back(b.key(), b.value());
      }
    }
  }
  F::cross_entropy(model->forward(trained().data.x_valid.to(dtype)), trained().data.y_valid)
      .backward();
  Eigen::VectorXd g = Eigen::VectorXd::Zero(static_cast<Eigen::Index>(members.size()));
  for (const auto& [name, leaf] : leaves) {
    if (!leaf.grad().defined()) {
      continue;
    }
    const torch::Tensor grad = leaf.grad().to(torch::kDouble);
    for (std::size_t i = 0; i < members.size(); ++i) {
      g[static_cast<Eigen::Index>(i)] +=
          (grad * members[i].at(name).to(torch::kDouble)).sum().item<double>();
    }
  }
  return g;
}

/// Random coefficient vectors: Dirichlet(1) points of the simplex and, when `off_simplex`,
/// general vectors (negative entries, Σ ≠ 1).
inline std::vector<Eigen::VectorXd> random_deltas(int count, bool off_simplex, unsigned seed) {
  std::mt19937 rng(seed);
  std::exponential_distribution<double> exponential(1.0);
  std::uniform_real_distribution<double> uniform(-0.4, 0.9);
  std::vector<Eigen::VectorXd> out;
  for (int c = 0; c < count; ++c) {
    Eigen::VectorXd delta(kMembers);
    if (off_simplex && c % 2 == 1) {
      for (int i = 0; i < kMembers; ++i) {
        delta[i] = uniform(rng);
      }
    } else {
      for (int i = 0; i < kMembers; ++i) {
        delta[i] = exponential(rng);
      }
      delta /= delta.sum();
    }
    out.push_back(delta);
  }
  return out;
}

inline std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const invalid_argument& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("unexpected exception type: ") + e.what();
  }
  return "no exception";
}

inline ::testing::AssertionResult contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "'" << part << "' not found in the message: " << text;
}

}  // namespace bomf::torch_test
