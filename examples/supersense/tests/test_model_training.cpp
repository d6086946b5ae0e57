// Tests of the classifier (model.hpp) and its training and evaluation (training.hpp) on small
// synthetic data: initialization, padding invariance, gradients, determinism, callbacks, freezing.
#include <ATen/ops/allclose.h>
#include <ATen/ops/cross_entropy_loss.h>
#include <ATen/ops/equal.h>
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "bomf/core/error.hpp"
#include "bomf/torch/threads.hpp"
#include "training.hpp"

namespace supersense {
namespace {

constexpr std::int64_t kVocab = 30;
constexpr std::int64_t kSeq = 8;
constexpr int kClasses = 3;

ModelConfig small_config() {
  ModelConfig c;
  c.vocab_size = kVocab;
  c.seq_len = kSeq;
  c.width = 16;
  c.heads = 2;
  c.layers = 2;
  c.ffn_width = 32;
  c.num_classes = kClasses;
  return c;
}

/// n examples: random filler tokens 5..V−1, lengths 2..kSeq, and the key token 2 + label at a
/// random position (the label is learnable from it).
EncodedSplit synthetic_split(std::int64_t n, std::uint64_t seed, const char* name) {
  std::mt19937_64 rng(seed);
  EncodedSplit s;
  s.name = name;
  s.seq_len = kSeq;
  s.tokens.assign(static_cast<std::size_t>(n * kSeq), Vocabulary::kPad);
  for (std::int64_t i = 0; i < n; ++i) {
    const auto length = static_cast<std::int64_t>(2 + rng() % (kSeq - 1));
    const auto label = static_cast<std::int64_t>(rng() % kClasses);
    for (std::int64_t t = 0; t < length; ++t) {
      s.tokens[static_cast<std::size_t>(i * kSeq + t)] =
          5 + static_cast<std::int64_t>(rng() % (kVocab - 5));
    }
    s.tokens[static_cast<std::size_t>(i * kSeq) + rng() % length] = 2 + label;
    s.labels.push_back(label);
    s.lengths.push_back(length);
    s.known_tokens += length;
  }
  return s;
}

/// GloVe-like vectors for the test vocabulary: 6-d, rows 0, 1 and 29 missing.
WordVectors fake_glove() {
  WordVectors v;
  v.dimensions = 6;
  v.found.assign(kVocab, 1);
  v.found[0] = v.found[1] = v.found[29] = 0;
  std::mt19937_64 rng(3);
  std::normal_distribution<float> normal(0.0F, 0.4F);
  v.values.resize(static_cast<std::size_t>(kVocab * 6));
  for (std::int64_t w = 0; w < kVocab; ++w) {
    for (int k = 0; k < 6; ++k) {
      v.values[static_cast<std::size_t>(w * 6 + k)] = v.found[w] ? normal(rng) : 0.0F;
    }
  }
  return v;
}

bool same_state(const bomf::StateDict& a, const bomf::StateDict& b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].first != b[i].first || !at::equal(a[i].second, b[i].second)) {
      return false;
    }
  }
  return true;
}

class SupersenseModel : public ::testing::Test {
 protected:
  void SetUp() override { bomf::set_torch_threads(1); }
};

TEST_F(SupersenseModel, InitialParametersAreDeterministicAndNamed) {
  const ModelConfig c = small_config();
  const WordVectors glove = fake_glove();
  const bomf::StateDict a = initial_parameters(c, &glove, 11);
  const bomf::StateDict b = initial_parameters(c, &glove, 11);
  const bomf::StateDict other = initial_parameters(c, &glove, 12);
  EXPECT_TRUE(same_state(a, b));
  EXPECT_FALSE(same_state(a, other));
  EXPECT_EQ(a.at("embedding.weight").sizes(), (std::vector<std::int64_t>{kVocab, 16}));
  EXPECT_EQ(a.at("layers.1.attn.in_proj.weight").sizes(), (std::vector<std::int64_t>{48, 16}));
  EXPECT_EQ(a.at("layers.0.ffn.fc2.weight").sizes(), (std::vector<std::int64_t>{16, 32}));
  EXPECT_EQ(a.at("classifier.weight").sizes(), (std::vector<std::int64_t>{kClasses, 16}));
  EXPECT_EQ(a.size(), 4U + 2 * 12U + 2U);
  EXPECT_EQ(a.at("embedding.weight")[0].abs().sum().item<double>(), 0.0);  // <pad>
  // Per layer: two LayerNorms, in_proj, out_proj, fc1, fc2 (weights and biases).
  const std::int64_t per_layer =
      4 * 16 + (48 * 16 + 48) + (16 * 16 + 16) + (32 * 16 + 32) + (16 * 32 + 16);
  const std::int64_t width = 16;
  EXPECT_EQ(count_parameters(a),
            (kVocab + kSeq) * width + 2 * per_layer + 2 * width + (kClasses * width + kClasses));
}

TEST_F(SupersenseModel, GloveRowsAreProjectedIsometricallyToTheTargetScale) {
  ModelConfig c = small_config();
  c.embedding_rms = 0.7;
  const WordVectors glove = fake_glove();
  const at::Tensor e = initial_parameters(c, &glove, 5).at("embedding.weight").to(at::kDouble);
  // Inner products between found rows are those of the GloVe vectors times one common s².
  double sum_squares = 0;
  int found = 0;
  double scale2 = -1;
  for (std::int64_t i = 2; i < kVocab - 1; ++i) {
    for (std::int64_t j = 2; j < kVocab - 1; j += 5) {
      double g = 0;
      for (int k = 0; k < 6; ++k) {
        g += static_cast<double>(glove.values[static_cast<std::size_t>(i * 6 + k)]) *
             glove.values[static_cast<std::size_t>(j * 6 + k)];
      }
      const double dot = e[i].dot(e[j]).item<double>();
      if (scale2 < 0 && i == j) {
        scale2 = dot / g;
      } else if (scale2 > 0) {
        EXPECT_NEAR(dot, scale2 * g, 1e-5 * (1 + std::abs(dot))) << i << "," << j;
      }
    }
    sum_squares += e[i].pow(2).sum().item<double>();
    ++found;
  }
  EXPECT_NEAR(std::sqrt(sum_squares / (found * 16.0)), 0.7, 1e-5);
  EXPECT_THROW((void)initial_parameters(c, &glove, 5).at("missing"), bomf::invalid_argument);
  WordVectors wrong = glove;
  wrong.found.pop_back();
  EXPECT_THROW((void)initial_parameters(c, &wrong, 5), bomf::invalid_argument);
  c.width = 15;  // not a multiple of heads
  EXPECT_THROW((void)initial_parameters(c, &glove, 5), bomf::invalid_argument);
}

TEST_F(SupersenseModel, PaddingAndBatchCompositionDoNotChangeLogits) {
  const ModelConfig c = small_config();
  const bomf::StateDict p = initial_parameters(c, nullptr, 1);
  const EncodedSplit s = synthetic_split(6, 9, "x");
  const at::Tensor full = tokens_tensor(s);  // 6×8, padded
  const at::Tensor logits = forward_logits(c, p, full);
  EXPECT_EQ(logits.sizes(), (std::vector<std::int64_t>{6, kClasses}));
  for (std::int64_t i = 0; i < 6; ++i) {
    const std::int64_t length = s.lengths[static_cast<std::size_t>(i)];
    const at::Tensor alone = forward_logits(c, p, full.narrow(0, i, 1).narrow(1, 0, length));
    EXPECT_TRUE(at::allclose(alone, logits.narrow(0, i, 1), 1e-5, 1e-6)) << "row " << i;
  }
  EXPECT_THROW((void)forward_logits(c, p, full.to(at::kInt)), bomf::invalid_argument);
}

TEST(MacroF1, HandComputedExample) {
  // class 0: tp 1, fp 1, fn 1 → 0.5; class 1: tp 2, fp 1 → 0.8; class 2: fn 1 → 0;
  // class 3 occurs nowhere and is left out.
  EXPECT_NEAR(macro_f1({0, 0, 1, 1, 2}, {0, 1, 1, 1, 0}, 4), (0.5 + 0.8 + 0.0) / 3.0, 1e-15);
  EXPECT_DOUBLE_EQ(macro_f1({1, 2}, {1, 2}, 3), 1.0);
  EXPECT_THROW((void)macro_f1({0}, {0, 1}, 2), bomf::invalid_argument);
  EXPECT_THROW((void)macro_f1({0}, {2}, 2), bomf::invalid_argument);
  EXPECT_THROW((void)macro_f1({}, {}, 2), bomf::invalid_argument);
  // Per class: F1 of class 0 = 2·1/(2·1 + 1 + 1), class 1 = 2·2/(2·2 + 1 + 0), class 2 = 0,
  // class 3 absent from both (NaN).
  const std::vector<double> f1 = class_f1({0, 0, 1, 1, 2}, {0, 1, 1, 1, 0}, 4);
  ASSERT_EQ(f1.size(), 4u);
  EXPECT_NEAR(f1[0], 0.5, 1e-15);
  EXPECT_NEAR(f1[1], 0.8, 1e-15);
  EXPECT_EQ(f1[2], 0.0);
  EXPECT_TRUE(std::isnan(f1[3]));
}

TEST_F(SupersenseModel, EvaluateMatchesAnUnbatchedComputation) {
  const ModelConfig c = small_config();
  const bomf::StateDict p = initial_parameters(c, nullptr, 2);
  const EncodedSplit s = synthetic_split(37, 4, "validation");
  const Metrics m = evaluate(c, p, s, 5);  // sorted, cut batches
  const at::Tensor logits = forward_logits(c, p, tokens_tensor(s));
  const double loss = at::cross_entropy_loss(logits, labels_tensor(s)).item<double>();
  const at::Tensor predicted = logits.argmax(1).contiguous();
  std::vector<std::int64_t> pred(predicted.data_ptr<std::int64_t>(),
                                 predicted.data_ptr<std::int64_t>() + 37);
  std::int64_t correct = 0;
  for (std::size_t i = 0; i < pred.size(); ++i) {
    correct += pred[i] == s.labels[i];
  }
  EXPECT_NEAR(m.loss, loss, 1e-5);
  EXPECT_DOUBLE_EQ(m.accuracy, static_cast<double>(correct) / 37.0);
  EXPECT_DOUBLE_EQ(m.macro_f1, macro_f1(s.labels, pred, kClasses));
  const std::vector<double> f1 = class_f1(s.labels, pred, kClasses);
  ASSERT_EQ(m.class_f1.size(), f1.size());
  for (std::size_t c = 0; c < f1.size(); ++c) {
    EXPECT_TRUE(m.class_f1[c] == f1[c] || (std::isnan(m.class_f1[c]) && std::isnan(f1[c])));
  }
  EXPECT_EQ(m.examples, 37);
  EXPECT_THROW((void)evaluate(c, p, s, 0), bomf::invalid_argument);
  EncodedSplit empty;
  empty.seq_len = kSeq;
  EXPECT_THROW((void)evaluate(c, p, empty), bomf::invalid_argument);
}

TEST_F(SupersenseModel, LossGradientAgreesWithAutogradAndFiniteDifferences) {
  const ModelConfig c = small_config();
  const bomf::StateDict p = initial_parameters(c, nullptr, 3);
  const EncodedSplit s = synthetic_split(20, 5, "validation");
  bomf::StateDict gradient;
  const double loss = loss_and_gradient(c, p, s, gradient, 7);
  EXPECT_NEAR(loss, evaluate(c, p, s).loss, 1e-5);
  ASSERT_EQ(gradient.size(), p.size());

  // Same gradient through the whole-split graph of loss_tensor.
  bomf::StateDict leaves;
  for (const auto& [name, t] : p) {
    leaves.insert(name, t.detach().clone().requires_grad_(true));
  }
  const at::Tensor l = loss_tensor(c, leaves, s);
  EXPECT_NEAR(l.item<double>(), loss, 1e-5);
  l.backward();
  for (std::size_t i = 0; i < p.size(); ++i) {
    EXPECT_TRUE(at::allclose(leaves[i].second.grad(), gradient[i].second, 1e-4, 1e-6))
        << p[i].first;
  }
  EXPECT_GT(gradient.at("classifier.weight").abs().sum().item<double>(), 0.0);
  EXPECT_GT(gradient.at("layers.0.attn.in_proj.weight").abs().sum().item<double>(), 0.0);

  // Central finite difference along one coordinate, in double precision.
  bomf::StateDict p64;
  for (const auto& [name, t] : p) {
    p64.insert(name, t.to(at::kDouble));
  }
  bomf::StateDict g64;
  (void)loss_and_gradient(c, p64, s, g64);
  const double h = 1e-6;
  for (const char* name : {"classifier.bias", "layers.1.ffn.fc1.weight", "position.weight"}) {
    bomf::StateDict plus = clone_state_dict(p64), minus = clone_state_dict(p64);
    plus.at(name).view(-1)[1].add_(h);
    minus.at(name).view(-1)[1].sub_(h);
    const double fd =
        (loss_tensor(c, plus, s).item<double>() - loss_tensor(c, minus, s).item<double>()) /
        (2 * h);
    EXPECT_NEAR(fd, g64.at(name).view(-1)[1].item<double>(), 1e-6) << name;
  }
}

TEST_F(SupersenseModel, TrainingLearnsIsDeterministicAndReportsATrajectory) {
  const ModelConfig c = small_config();
  const bomf::StateDict init = initial_parameters(c, nullptr, 4);
  const EncodedSplit train_split = synthetic_split(240, 6, "train");
  const EncodedSplit valid = synthetic_split(90, 7, "validation");
  TrainOptions o;
  o.learning_rate = 5e-3;
  o.batch_size = 16;
  o.epochs = 6;
  o.eval_every = 15;
  o.seed = 3;
  o.bucket_batches = 4;
  std::vector<std::int64_t> steps;
  bomf::StateDict snapshot;
  const TrainResult r = train(c, init, train_split, valid, o, [&](TrainingEvent& e) {
    steps.push_back(e.record.step);
    if (e.record.step == 30) {
      snapshot = e.snapshot();
    }
  });
  EXPECT_EQ(planned_steps(o, 240), 90);
  EXPECT_EQ(r.steps_per_epoch, 15);
  EXPECT_EQ(r.steps, 90);
  EXPECT_EQ(steps, (std::vector<std::int64_t>{15, 30, 45, 60, 75, 90}));
  ASSERT_EQ(r.trajectory.size(), 6U);
  EXPECT_DOUBLE_EQ(r.trajectory[1].epoch, 2.0);
  const Metrics before = evaluate(c, init, valid);
  const Metrics after = r.trajectory.back().validation;
  EXPECT_LT(after.loss, 0.5 * before.loss);
  EXPECT_GT(after.accuracy, 0.9);
  EXPECT_NEAR(evaluate(c, r.final_parameters, valid).loss, after.loss, 1e-6);
  // The snapshot is a detached copy taken at step 30: neither the start nor the end.
  ASSERT_EQ(snapshot.size(), init.size());
  EXPECT_FALSE(snapshot.at("classifier.weight").requires_grad());
  EXPECT_FALSE(same_state(snapshot, init));
  EXPECT_FALSE(same_state(snapshot, r.final_parameters));
  EXPECT_NEAR(evaluate(c, snapshot, valid).loss, r.trajectory[1].validation.loss, 1e-6);
  // The initial parameters are not modified.
  EXPECT_TRUE(same_state(init, initial_parameters(c, nullptr, 4)));

  // Same seeds, same result, bit for bit; another batch order, another result.
  const TrainResult again = train(c, init, train_split, valid, o);
  EXPECT_TRUE(same_state(again.final_parameters, r.final_parameters));
  o.seed = 4;
  const TrainResult other = train(c, init, train_split, valid, o);
  EXPECT_FALSE(same_state(other.final_parameters, r.final_parameters));
}

TEST_F(SupersenseModel, CallbackStopsMaxStepsAndFrozenLayers) {
  const ModelConfig c = small_config();
  const bomf::StateDict init = initial_parameters(c, nullptr, 4);
  const EncodedSplit train_split = synthetic_split(100, 8, "train");
  const EncodedSplit valid = synthetic_split(30, 9, "validation");
  TrainOptions o;
  o.batch_size = 10;
  o.epochs = 3;
  o.eval_every = 4;
  o.evaluate_initial = true;
  const TrainResult stopped =
      train(c, init, train_split, valid, o, [](TrainingEvent& e) { e.stop = e.record.step >= 8; });
  EXPECT_TRUE(stopped.stopped_by_callback);
  EXPECT_EQ(stopped.steps, 8);
  ASSERT_EQ(stopped.trajectory.size(), 3U);  // steps 0, 4, 8
  EXPECT_EQ(stopped.trajectory.front().step, 0);
  EXPECT_TRUE(std::isnan(stopped.trajectory.front().train_loss));

  o.evaluate_initial = false;
  o.max_steps = 7;
  o.eval_every = 0;  // per epoch (10 steps): only the final step 7 is recorded
  o.frozen_layers = 1;
  std::int64_t progress_calls = 0, progress_total = 0;
  o.on_step = [&](std::int64_t step, std::int64_t total) {
    EXPECT_EQ(step, ++progress_calls);
    progress_total = total;
  };
  const TrainResult frozen = train(c, init, train_split, valid, o);
  EXPECT_EQ(progress_calls, 7);
  EXPECT_EQ(progress_total, 7);
  EXPECT_EQ(planned_steps(o, 100), 7);
  EXPECT_EQ(frozen.steps, 7);
  ASSERT_EQ(frozen.trajectory.size(), 1U);
  EXPECT_EQ(frozen.trajectory.front().step, 7);
  for (const auto& [name, tensor] : init) {
    const bool unchanged = at::equal(tensor, frozen.final_parameters.at(name));
    EXPECT_EQ(unchanged, is_frozen(name, 1)) << name;
  }
  EXPECT_TRUE(is_frozen("embedding.weight", 1));
  EXPECT_TRUE(is_frozen("layers.0.ln1.weight", 1));
  EXPECT_FALSE(is_frozen("layers.1.ln1.weight", 1));
  EXPECT_TRUE(is_frozen("layers.1.ln1.weight", 2));
  EXPECT_FALSE(is_frozen("classifier.weight", 2));
  EXPECT_FALSE(is_frozen("embedding.weight", 0));

  o.frozen_layers = 3;  // more than the model has
  EXPECT_THROW((void)train(c, init, train_split, valid, o), bomf::invalid_argument);
  o.frozen_layers = 0;
  o.learning_rate = -1;
  EXPECT_THROW((void)train(c, init, train_split, valid, o), bomf::invalid_argument);
}

}  // namespace
}  // namespace supersense
