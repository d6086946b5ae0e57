// bomf_cpp_evaluator — an evaluator for `bomf search` written in C++ (README.md): it reads the
// fused safetensors checkpoint bomf writes for each δ with bomf::torch, scores a small model on
// the validation split and prints one line of bomf's evaluator protocol (docs/cli.md).
//
//   bomf_cpp_evaluator train --out DIR [--members 4] [--steps 1500] [--seed 0]
//       trains the model and keeps --members checkpoints from half-way on (DIR/member-<step>
//       .safetensors, printed in training order) and DIR/data.safetensors (validation, test);
//   bomf_cpp_evaluator evaluate --weights FILE --data DIR/data.safetensors [--split test]
//       [--log FILE] [--tag TEXT] [--sleep SECONDS]
//       prints {"bomf_protocol": 1, "loss": …, "metrics": {"accuracy": …, "macro_f1": …}}.
//
// The task: three interleaved spirals in the plane, generated deterministically (a seeded
// SplitMix64 generator and Box–Muller, the same on every platform). The model: an MLP
// 2 → 16 → 3 with tanh, trained by minibatch SGD; its state dict {"fc1.weight", "fc1.bias",
// "out.weight", "out.bias"} has PyTorch's (out, in) layout. The arithmetic is plain C++ on float
// arrays (the model is tiny); bomf::torch reads and writes the safetensors files and computes
// the classification metrics.
#include <ATen/ops/empty.h>
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bomf/fusion/state_dict.hpp"
#include "bomf/io/safetensors.hpp"
#include "bomf/torch/classification_metrics.hpp"

namespace {

constexpr int kHidden = 16;
constexpr int kClasses = 3;

/// SplitMix64: a small, fully specified generator (identical output everywhere).
class Random {
 public:
  explicit Random(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  double normal() {  // Box–Muller
    const double u = 1.0 - uniform();
    return std::sqrt(-2.0 * std::log(u)) * std::cos(2.0 * M_PI * uniform());
  }

 private:
  std::uint64_t state_;
};

struct Split {
  std::vector<float> x;  // n × 2
  std::vector<std::int64_t> y;
};

/// Train, validation and test splits (60/20/20) of the spiral task.
std::map<std::string, Split> make_data(std::uint64_t seed, int per_class = 200) {
  Random rng(seed);
  Split all;
  for (int c = 0; c < kClasses; ++c) {
    for (int i = 0; i < per_class; ++i) {
      const double t = std::sqrt(rng.uniform()) * 3.0;
      const double angle = t * 1.6 + c * 2.0 * M_PI / kClasses;
      all.x.push_back(static_cast<float>(t * std::cos(angle) + 0.3 * rng.normal()));
      all.x.push_back(static_cast<float>(t * std::sin(angle) + 0.3 * rng.normal()));
      all.y.push_back(c);
    }
  }
  const std::size_t n = all.y.size();
  std::vector<std::size_t> order(n);
  for (std::size_t i = 0; i < n; ++i) {
    order[i] = i;
  }
  for (std::size_t i = n - 1; i > 0; --i) {  // Fisher–Yates
    std::swap(order[i], order[rng.next() % (i + 1)]);
  }
  std::map<std::string, Split> splits;
  for (std::size_t k = 0; k < n; ++k) {
    const char* name = k < n * 6 / 10 ? "train" : (k < n * 8 / 10 ? "validation" : "test");
    Split& s = splits[name];
    s.x.push_back(all.x[2 * order[k]]);
    s.x.push_back(all.x[2 * order[k] + 1]);
    s.y.push_back(all.y[order[k]]);
  }
  return splits;
}

/// The model's weights as plain arrays.
struct Weights {
  std::vector<float> w1 = std::vector<float>(kHidden * 2), b1 = std::vector<float>(kHidden),
                     w2 = std::vector<float>(kClasses * kHidden), b2 = std::vector<float>(kClasses);
};

at::Tensor to_tensor(const std::vector<float>& v, std::vector<std::int64_t> shape) {
  at::Tensor t = at::empty(shape, at::kFloat);
  std::copy(v.begin(), v.end(), t.data_ptr<float>());
  return t;
}

std::vector<float> from_tensor(const bomf::StateDict& state, const char* name, std::size_t size) {
  const at::Tensor t = state.at(name).to(at::kFloat).contiguous();
  if (static_cast<std::size_t>(t.numel()) != size) {
    throw std::runtime_error(std::string("tensor '") + name + "' has " + std::to_string(t.numel()) +
                             " elements, expected " + std::to_string(size));
  }
  return {t.data_ptr<float>(), t.data_ptr<float>() + size};
}

bomf::StateDict state_of(const Weights& w) {
  return {{"fc1.weight", to_tensor(w.w1, {kHidden, 2})},
          {"fc1.bias", to_tensor(w.b1, {kHidden})},
          {"out.weight", to_tensor(w.w2, {kClasses, kHidden})},
          {"out.bias", to_tensor(w.b2, {kClasses})}};
}

Weights weights_of(const bomf::StateDict& state) {
  Weights w;
  w.w1 = from_tensor(state, "fc1.weight", w.w1.size());
  w.b1 = from_tensor(state, "fc1.bias", w.b1.size());
  w.w2 = from_tensor(state, "out.weight", w.w2.size());
  w.b2 = from_tensor(state, "out.bias", w.b2.size());
  return w;
}

/// Hidden activations and logits of example `x` (2 values).
void forward(const Weights& w, const float* x, float* hidden, float* logits) {
  for (int j = 0; j < kHidden; ++j) {
    hidden[j] = std::tanh(w.w1[2 * j] * x[0] + w.w1[2 * j + 1] * x[1] + w.b1[j]);
  }
  for (int c = 0; c < kClasses; ++c) {
    float z = w.b2[c];
    for (int j = 0; j < kHidden; ++j) {
      z += w.w2[c * kHidden + j] * hidden[j];
    }
    logits[c] = z;
  }
}

/// Softmax probabilities of `logits` (in place) and the cross-entropy of class `label`.
double softmax_cross_entropy(float* logits, std::int64_t label) {
  float top = logits[0];
  for (int c = 1; c < kClasses; ++c) {
    top = std::max(top, logits[c]);
  }
  double sum = 0;
  for (int c = 0; c < kClasses; ++c) {
    sum += std::exp(static_cast<double>(logits[c] - top));
  }
  const double loss = std::log(sum) - (logits[label] - top);
  for (int c = 0; c < kClasses; ++c) {
    logits[c] = static_cast<float>(std::exp(static_cast<double>(logits[c] - top)) / sum);
  }
  return loss;
}

std::string argument(int argc, char** argv, const std::string& name, const std::string& fallback) {
  for (int i = 2; i + 1 < argc; ++i) {
    if (argv[i] == name) {
      return argv[i + 1];
    }
  }
  if (fallback == "<required>") {
    throw std::invalid_argument("missing " + name);
  }
  return fallback;
}

void save_data(const std::map<std::string, Split>& splits, const std::string& path) {
  bomf::StateDict data;
  for (const char* name : {"validation", "test"}) {
    const Split& s = splits.at(name);
    const auto n = static_cast<std::int64_t>(s.y.size());
    data.insert(std::string(name) + "_x", to_tensor(s.x, {n, 2}));
    at::Tensor y = at::empty({n}, at::kLong);
    std::copy(s.y.begin(), s.y.end(), y.data_ptr<std::int64_t>());
    data.insert(std::string(name) + "_y", y);
  }
  bomf::save_safetensors(path, data);
}

int train(int argc, char** argv) {
  const std::string out = argument(argc, argv, "--out", "<required>");
  const int members = std::stoi(argument(argc, argv, "--members", "4"));
  const int steps = std::stoi(argument(argc, argv, "--steps", "1500"));
  const auto seed = static_cast<std::uint64_t>(std::stoull(argument(argc, argv, "--seed", "0")));
  if (members < 2 || steps < 2 * members) {
    throw std::invalid_argument("expected --members >= 2 and --steps >= 2 * --members");
  }
  const auto splits = make_data(seed);
  save_data(splits, out + "/data.safetensors");
  const Split& train = splits.at("train");
  Random rng(seed + 1);
  Weights w;
  for (float& v : w.w1) {
    v = static_cast<float>((2 * rng.uniform() - 1) / std::sqrt(2.0));
  }
  for (float& v : w.w2) {
    v = static_cast<float>((2 * rng.uniform() - 1) / std::sqrt(static_cast<double>(kHidden)));
  }
  constexpr int kBatch = 16;
  constexpr float kRate = 0.3f;
  const int half = steps / 2;
  std::set<int> keep;  // evenly spaced from half-way on (BOMF's member policy)
  for (int k = 0; k < members; ++k) {
    keep.insert(half + static_cast<int>(std::lround(k * (steps - half) / (members - 1.0))));
  }
  for (int step = 1; step <= steps; ++step) {
    Weights g;
    for (int b = 0; b < kBatch; ++b) {
      const std::size_t i = rng.next() % train.y.size();
      float hidden[kHidden];
      float p[kClasses];
      forward(w, &train.x[2 * i], hidden, p);
      softmax_cross_entropy(p, train.y[i]);
      p[train.y[i]] -= 1.0f;  // ∂loss/∂logits
      for (int c = 0; c < kClasses; ++c) {
        g.b2[c] += p[c] / kBatch;
        for (int j = 0; j < kHidden; ++j) {
          g.w2[c * kHidden + j] += p[c] * hidden[j] / kBatch;
        }
      }
      for (int j = 0; j < kHidden; ++j) {
        float d = 0;
        for (int c = 0; c < kClasses; ++c) {
          d += p[c] * w.w2[c * kHidden + j];
        }
        d *= 1.0f - hidden[j] * hidden[j];
        g.b1[j] += d / kBatch;
        g.w1[2 * j] += d * train.x[2 * i] / kBatch;
        g.w1[2 * j + 1] += d * train.x[2 * i + 1] / kBatch;
      }
    }
    for (auto [v, d] : {std::pair{&w.w1, &g.w1}, {&w.b1, &g.b1}, {&w.w2, &g.w2}, {&w.b2, &g.b2}}) {
      for (std::size_t k = 0; k < v->size(); ++k) {
        (*v)[k] -= kRate * (*d)[k];
      }
    }
    if (keep.count(step) > 0) {
      const std::string path = out + "/member-" + std::to_string(step) + ".safetensors";
      bomf::save_safetensors(path, state_of(w), {{"step", std::to_string(step)}});
      std::cout << path << "\n";
    }
  }
  return 0;
}

int evaluate(int argc, char** argv) {
  const auto start = std::chrono::system_clock::now();
  const double sleep = std::stod(argument(argc, argv, "--sleep", "0"));
  if (sleep > 0) {
    std::this_thread::sleep_for(std::chrono::duration<double>(sleep));
  }
  const Weights w =
      weights_of(bomf::load_safetensors(argument(argc, argv, "--weights", "<required>")));
  const bomf::StateDict data = bomf::load_safetensors(argument(argc, argv, "--data", "<required>"));
  const std::string split = argument(argc, argv, "--split", "validation");
  const at::Tensor x = data.at(split + "_x").to(at::kFloat).contiguous();
  const at::Tensor y = data.at(split + "_y").to(at::kLong).contiguous();
  const std::int64_t n = y.numel();
  at::Tensor logits = at::empty({n, kClasses}, at::kFloat);
  double loss = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    float hidden[kHidden];
    float* z = logits.data_ptr<float>() + i * kClasses;
    forward(w, x.data_ptr<float>() + 2 * i, hidden, z);
    float p[kClasses] = {z[0], z[1], z[2]};
    loss += softmax_cross_entropy(p, y.data_ptr<std::int64_t>()[i]) / static_cast<double>(n);
  }
  const double accuracy = bomf::accuracy(logits, y);
  const double macro_f1 = bomf::macro_f1(logits, y);
  std::cerr << "evaluated " << n << " " << split << " examples\n";
  const std::string log = argument(argc, argv, "--log", "");
  if (!log.empty()) {
    std::ofstream(log, std::ios::app)
        << "{\"tag\": \"" << argument(argc, argv, "--tag", "") << "\", \"pid\": " << ::getpid()
        << ", \"start\": " << std::chrono::duration<double>(start.time_since_epoch()).count()
        << "}\n";
  }
  if (!std::isfinite(loss)) {
    std::printf("{\"bomf_protocol\": 1, \"error\": \"the loss is not finite\"}\n");
    return 0;
  }
  std::printf(
      "{\"bomf_protocol\": 1, \"loss\": %.17g, \"metrics\": {\"accuracy\": %.17g, "
      "\"macro_f1\": %.17g}}\n",
      loss, accuracy, macro_f1);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::string command = argc > 1 ? argv[1] : "";
    if (command == "train") {
      return train(argc, argv);
    }
    if (command == "evaluate") {
      return evaluate(argc, argv);
    }
    std::cerr << "usage: bomf_cpp_evaluator train --out DIR [--members 4] [--steps 1500]\n"
                 "       bomf_cpp_evaluator evaluate --weights FILE --data FILE [--split test]\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "bomf_cpp_evaluator: " << e.what() << "\n";
    return 1;
  }
}
