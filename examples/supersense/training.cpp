// supersense/training.cpp — AdamW fine-tuning loop, evaluation, loss gradient (training.hpp).
#include "training.hpp"

#include <ATen/core/Reduction.h>
#include <ATen/core/grad_mode.h>
#include <ATen/ops/cross_entropy_loss.h>
#include <ATen/ops/from_blob.h>
#include <ATen/ops/zeros_like.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <utility>

#include "bomf/core/error.hpp"
#include "random.hpp"

namespace supersense {

using bomf::detail::require;

void TrainOptions::validate() const {
  constexpr const char* where = "supersense::TrainOptions";
  require(std::isfinite(learning_rate) && learning_rate > 0, where, "learning_rate is ",
          learning_rate, ", expected a positive number");
  require(batch_size >= 1, where, "batch_size is ", batch_size, ", expected at least 1");
  require(epochs >= 1, where, "epochs is ", epochs, ", expected at least 1");
  require(max_steps >= 0, where, "max_steps is ", max_steps, ", expected ≥ 0 (0: no limit)");
  require(std::isfinite(weight_decay) && weight_decay >= 0, where, "weight_decay is ", weight_decay,
          ", expected ≥ 0");
  require(beta1 >= 0 && beta1 < 1, where, "beta1 is ", beta1, ", expected [0, 1)");
  require(beta2 >= 0 && beta2 < 1, where, "beta2 is ", beta2, ", expected [0, 1)");
  require(epsilon > 0, where, "epsilon is ", epsilon, ", expected > 0");
  require(warmup_fraction >= 0 && warmup_fraction < 1, where, "warmup_fraction is ",
          warmup_fraction, ", expected [0, 1)");
  require(final_lr_fraction >= 0 && final_lr_fraction <= 1, where, "final_lr_fraction is ",
          final_lr_fraction, ", expected [0, 1]");
  require(std::isfinite(max_grad_norm) && max_grad_norm >= 0, where, "max_grad_norm is ",
          max_grad_norm, ", expected ≥ 0 (0: no clipping)");
  require(frozen_layers >= 0, where, "frozen_layers is ", frozen_layers, ", expected ≥ 0");
  require(eval_every >= 0, where, "eval_every is ", eval_every, ", expected ≥ 0 (0: per epoch)");
  require(eval_batch_size >= 1, where, "eval_batch_size is ", eval_batch_size,
          ", expected at least 1");
  require(bucket_batches >= 0, where, "bucket_batches is ", bucket_batches,
          ", expected ≥ 0 (0: no length bucketing)");
}

at::Tensor tokens_tensor(const EncodedSplit& split) {
  // from_blob does not copy; clone() does, so the result owns its memory.
  return at::from_blob(const_cast<std::int64_t*>(split.tokens.data()),
                       {split.size(), split.seq_len}, at::kLong)
      .clone();
}

at::Tensor labels_tensor(const EncodedSplit& split) {
  return at::from_blob(const_cast<std::int64_t*>(split.labels.data()), {split.size()}, at::kLong)
      .clone();
}

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void check_split(const ModelConfig& config, const EncodedSplit& split, const char* where) {
  require(split.size() > 0, where, "the ", split.name, " split is empty");
  require(split.seq_len >= 1 && split.seq_len <= config.seq_len, where, "the ", split.name,
          " split has seq_len ", split.seq_len, ", expected 1..", config.seq_len);
  require(static_cast<std::int64_t>(split.tokens.size()) == split.size() * split.seq_len, where,
          "the ", split.name, " split holds ", split.tokens.size(), " token ids, expected ",
          split.size() * split.seq_len);
  require(split.lengths.size() == split.labels.size(), where, "the ", split.name, " split has ",
          split.lengths.size(), " lengths for ", split.labels.size(), " labels");
}

/// The rows `rows[0..count)` of a split's token tensor, cut to the longest of them, and their
/// labels. (Positions past a row's length are padding: masked as attention keys and left out
/// of the pooling, so cutting them changes nothing but the cost.)
std::pair<at::Tensor, at::Tensor> gather_batch(const at::Tensor& tokens, const at::Tensor& labels,
                                               const EncodedSplit& split, const std::int64_t* rows,
                                               std::int64_t count) {
  std::int64_t longest = 1;
  for (std::int64_t i = 0; i < count; ++i) {
    longest = std::max(longest, split.lengths[static_cast<std::size_t>(rows[i])]);
  }
  // from_blob views `rows` without copying; index_select copies before `rows` can change.
  const at::Tensor index = at::from_blob(const_cast<std::int64_t*>(rows), {count}, at::kLong);
  return {tokens.index_select(0, index).narrow(1, 0, longest).contiguous(),
          labels.index_select(0, index)};
}

/// Row indices of `split` sorted by length (stable): evaluation batches of similar length.
std::vector<std::int64_t> rows_by_length(const EncodedSplit& split) {
  std::vector<std::int64_t> rows(static_cast<std::size_t>(split.size()));
  std::iota(rows.begin(), rows.end(), std::int64_t{0});
  std::stable_sort(rows.begin(), rows.end(), [&](std::int64_t a, std::int64_t b) {
    return split.lengths[static_cast<std::size_t>(a)] < split.lengths[static_cast<std::size_t>(b)];
  });
  return rows;
}

/// Per-step learning rate (step t is 0-based) of the warm-up + constant/linear schedule.
double learning_rate_at(const TrainOptions& o, std::int64_t t, std::int64_t total,
                        std::int64_t warmup) {
  if (t < warmup) {
    return o.learning_rate * static_cast<double>(t + 1) / static_cast<double>(warmup);
  }
  if (o.schedule == LrSchedule::constant || total <= warmup) {
    return o.learning_rate;
  }
  const double remaining = static_cast<double>(total - t) / static_cast<double>(total - warmup);
  return o.learning_rate * (o.final_lr_fraction + (1.0 - o.final_lr_fraction) * remaining);
}

/// A trainable tensor with its AdamW state.
struct AdamSlot {
  at::Tensor param, m, v;
  bool decay = false;
};

}  // namespace

std::vector<double> class_f1(const std::vector<std::int64_t>& labels,
                             const std::vector<std::int64_t>& predictions, int num_classes) {
  constexpr const char* where = "supersense::class_f1";
  require(labels.size() == predictions.size(), where, "'labels' has ", labels.size(),
          " entries and 'predictions' ", predictions.size(), ", expected equal lengths");
  require(!labels.empty(), where, "'labels' is empty");
  require(num_classes >= 1, where, "argument 'num_classes' is ", num_classes, ", expected ≥ 1");
  const auto C = static_cast<std::size_t>(num_classes);
  std::vector<std::int64_t> tp(C, 0), fp(C, 0), fn(C, 0);
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const std::int64_t y = labels[i], p = predictions[i];
    require(y >= 0 && y < num_classes, where, "labels[", i, "] is ", y, ", expected 0..",
            num_classes - 1);
    require(p >= 0 && p < num_classes, where, "predictions[", i, "] is ", p, ", expected 0..",
            num_classes - 1);
    if (y == p) {
      ++tp[static_cast<std::size_t>(y)];
    } else {
      ++fn[static_cast<std::size_t>(y)];
      ++fp[static_cast<std::size_t>(p)];
    }
  }
  std::vector<double> f1(C, std::numeric_limits<double>::quiet_NaN());
  for (std::size_t c = 0; c < C; ++c) {
    const std::int64_t denominator = 2 * tp[c] + fp[c] + fn[c];
    if (denominator > 0) {
      f1[c] = 2.0 * static_cast<double>(tp[c]) / static_cast<double>(denominator);
    }
  }
  return f1;
}

namespace {

/// The mean of the non-NaN entries of per-class F1 values (at least one is present).
double mean_of_present(const std::vector<double>& f1) {
  double sum = 0;
  int present = 0;
  for (const double f : f1) {
    if (!std::isnan(f)) {
      sum += f;
      ++present;
    }
  }
  return sum / present;
}

}  // namespace

double macro_f1(const std::vector<std::int64_t>& labels,
                const std::vector<std::int64_t>& predictions, int num_classes) {
  return mean_of_present(class_f1(labels, predictions, num_classes));
}

Metrics evaluate(const ModelConfig& config, const bomf::StateDict& params,
                 const EncodedSplit& split, std::int64_t batch_size) {
  constexpr const char* where = "supersense::evaluate";
  check_split(config, split, where);
  require(batch_size >= 1, where, "argument 'batch_size' is ", batch_size, ", expected at least 1");
  const c10::InferenceMode guard;
  const at::Tensor tokens = tokens_tensor(split);
  const at::Tensor labels = labels_tensor(split);
  const std::vector<std::int64_t> rows = rows_by_length(split);
  const std::int64_t n = split.size();
  double loss_sum = 0;
  std::vector<std::int64_t> predictions(static_cast<std::size_t>(n));
  for (std::int64_t start = 0; start < n; start += batch_size) {
    const std::int64_t count = std::min(batch_size, n - start);
    const auto [x, y] = gather_batch(tokens, labels, split, rows.data() + start, count);
    const at::Tensor logits = forward_logits(config, params, x);
    loss_sum += at::cross_entropy_loss(logits, y, {}, at::Reduction::Sum).item<double>();
    const at::Tensor predicted = logits.argmax(1).contiguous();
    const std::int64_t* p = predicted.data_ptr<std::int64_t>();
    for (std::int64_t i = 0; i < count; ++i) {
      predictions[static_cast<std::size_t>(rows[static_cast<std::size_t>(start + i)])] = p[i];
    }
  }
  Metrics m;
  m.examples = n;
  m.loss = loss_sum / static_cast<double>(n);
  std::int64_t correct = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    correct +=
        predictions[static_cast<std::size_t>(i)] == split.labels[static_cast<std::size_t>(i)];
  }
  m.accuracy = static_cast<double>(correct) / static_cast<double>(n);
  m.class_f1 = class_f1(split.labels, predictions, static_cast<int>(config.num_classes));
  m.macro_f1 = mean_of_present(m.class_f1);
  return m;
}

at::Tensor loss_tensor(const ModelConfig& config, const bomf::StateDict& params,
                       const EncodedSplit& split, std::int64_t batch_size) {
  constexpr const char* where = "supersense::loss_tensor";
  check_split(config, split, where);
  require(batch_size >= 1, where, "argument 'batch_size' is ", batch_size, ", expected at least 1");
  const at::Tensor tokens = tokens_tensor(split);
  const at::Tensor labels = labels_tensor(split);
  const std::vector<std::int64_t> rows = rows_by_length(split);
  const std::int64_t n = split.size();
  at::Tensor total;
  for (std::int64_t start = 0; start < n; start += batch_size) {
    const std::int64_t count = std::min(batch_size, n - start);
    const auto [x, y] = gather_batch(tokens, labels, split, rows.data() + start, count);
    const at::Tensor part =
        at::cross_entropy_loss(forward_logits(config, params, x), y, {}, at::Reduction::Sum);
    total = total.defined() ? total.add(part) : part;
  }
  return total.div(static_cast<double>(n));
}

double loss_and_gradient(const ModelConfig& config, const bomf::StateDict& params,
                         const EncodedSplit& split, bomf::StateDict& gradient,
                         std::int64_t batch_size) {
  constexpr const char* where = "supersense::loss_and_gradient";
  check_split(config, split, where);
  require(batch_size >= 1, where, "argument 'batch_size' is ", batch_size, ", expected at least 1");
  const at::AutoGradMode enable_grad(true);
  bomf::StateDict leaves;  // share storage with `params`, but are fresh autograd leaves
  for (const auto& [name, tensor] : params) {
    leaves.insert(name, tensor.detach().requires_grad_(tensor.is_floating_point()));
  }
  const at::Tensor tokens = tokens_tensor(split);
  const at::Tensor labels = labels_tensor(split);
  const std::vector<std::int64_t> rows = rows_by_length(split);
  const std::int64_t n = split.size();
  double loss = 0;
  for (std::int64_t start = 0; start < n; start += batch_size) {
    const std::int64_t count = std::min(batch_size, n - start);
    const auto [x, y] = gather_batch(tokens, labels, split, rows.data() + start, count);
    const at::Tensor part =
        at::cross_entropy_loss(forward_logits(config, leaves, x), y, {}, at::Reduction::Sum)
            .div(static_cast<double>(n));
    part.backward();
    loss += part.item<double>();
  }
  gradient = bomf::StateDict();
  for (const auto& [name, leaf] : leaves) {
    const at::Tensor& g = leaf.grad();
    gradient.insert(name, g.defined() ? g.detach() : at::zeros_like(leaf));
  }
  return loss;
}

std::int64_t planned_steps(const TrainOptions& options, std::int64_t train_size) {
  options.validate();
  require(train_size >= 1, "supersense::planned_steps", "argument 'train_size' is ", train_size,
          ", expected at least 1");
  const std::int64_t per_epoch = (train_size + options.batch_size - 1) / options.batch_size;
  const std::int64_t steps = options.epochs * per_epoch;
  return options.max_steps > 0 ? std::min(steps, options.max_steps) : steps;
}

TrainResult train(const ModelConfig& config, const bomf::StateDict& initial,
                  const EncodedSplit& train_split, const EncodedSplit& validation_split,
                  const TrainOptions& options, const TrainingCallback& callback) {
  constexpr const char* where = "supersense::train";
  config.validate();
  options.validate();
  check_split(config, train_split, where);
  check_split(config, validation_split, where);
  require(options.frozen_layers <= config.layers, where, "frozen_layers is ", options.frozen_layers,
          ", expected at most layers = ", config.layers);
  const auto start = Clock::now();
  const at::AutoGradMode enable_grad(true);

  // The run's own copy of the parameters; trainable ones get AdamW state.
  bomf::StateDict params;
  std::vector<AdamSlot> slots;
  for (const auto& [name, tensor] : initial) {
    at::Tensor p = tensor.detach().clone();
    if (p.is_floating_point() && !is_frozen(name, options.frozen_layers)) {
      p.requires_grad_(true);
      slots.push_back({p, at::zeros_like(p), at::zeros_like(p), p.dim() >= 2});
    }
    params.insert(name, p);
  }
  require(!slots.empty(), where,
          "every parameter is frozen (frozen_layers = ", options.frozen_layers, ")");

  const at::Tensor tokens = tokens_tensor(train_split);
  const at::Tensor labels = labels_tensor(train_split);
  const std::int64_t n = train_split.size();
  TrainResult result;
  result.steps_per_epoch = (n + options.batch_size - 1) / options.batch_size;
  const std::int64_t total_steps = planned_steps(options, n);
  const auto warmup =
      static_cast<std::int64_t>(options.warmup_fraction * static_cast<double>(total_steps));

  double loss_since_record = 0;
  std::int64_t steps_since_record = 0;
  double last_lr = 0;
  bool stop = false;
  auto record = [&](std::int64_t step) {
    const auto eval_start = Clock::now();
    EvalRecord r;
    r.step = step;
    r.epoch = static_cast<double>(step) / static_cast<double>(result.steps_per_epoch);
    r.learning_rate = last_lr;
    r.train_loss = steps_since_record > 0
                       ? loss_since_record / static_cast<double>(steps_since_record)
                       : std::nan("");
    r.validation = evaluate(config, params, validation_split, options.eval_batch_size);
    result.evaluation_seconds += seconds_since(eval_start);
    r.elapsed_seconds = seconds_since(start);
    result.trajectory.push_back(r);
    loss_since_record = 0;
    steps_since_record = 0;
    if (callback) {
      TrainingEvent event{result.trajectory.back(), params};
      callback(event);
      if (event.stop) {
        stop = true;
        result.stopped_by_callback = true;
      }
    }
  };

  if (options.evaluate_initial) {
    record(0);
  }
  std::mt19937_64 rng(options.seed);
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  std::vector<std::int64_t> batch_starts;
  std::int64_t step = 0;
  std::int64_t last_recorded = options.evaluate_initial ? 0 : -1;
  for (std::int64_t epoch = 0; epoch < options.epochs && step < total_steps && !stop; ++epoch) {
    std::iota(order.begin(), order.end(), std::int64_t{0});
    shuffle_in_place(order, rng);
    batch_starts.clear();
    if (options.bucket_batches > 0) {
      // Sort pools of bucket_batches · batch_size examples by length; batches never straddle
      // two pools (a pool's last batch may be short only at the end of the epoch).
      const std::int64_t pool = options.bucket_batches * options.batch_size;
      for (std::int64_t p = 0; p < n; p += pool) {
        const auto begin = order.begin() + p, end = order.begin() + std::min(n, p + pool);
        std::stable_sort(begin, end, [&](std::int64_t a, std::int64_t b) {
          return train_split.lengths[static_cast<std::size_t>(a)] <
                 train_split.lengths[static_cast<std::size_t>(b)];
        });
      }
    }
    for (std::int64_t first = 0; first < n; first += options.batch_size) {
      batch_starts.push_back(first);
    }
    if (options.bucket_batches > 0) {
      shuffle_in_place(batch_starts, rng);
    }
    for (std::size_t b = 0; b < batch_starts.size() && step < total_steps && !stop; ++b) {
      const auto step_start = Clock::now();
      const std::int64_t first = batch_starts[b];
      const std::int64_t count = std::min(options.batch_size, n - first);
      const auto [x, y] = gather_batch(tokens, labels, train_split, order.data() + first, count);
      const at::Tensor loss = at::cross_entropy_loss(forward_logits(config, params, x), y);
      loss.backward();

      const double lr = learning_rate_at(options, step, total_steps, warmup);
      {
        const at::NoGradGuard no_grad;
        double clip = 1.0;
        if (options.max_grad_norm > 0) {
          double squares = 0;
          for (const AdamSlot& s : slots) {
            squares += s.param.grad().pow(2).sum().item<double>();
          }
          const double norm = std::sqrt(squares);
          if (norm > options.max_grad_norm) {
            clip = options.max_grad_norm / (norm + 1e-6);
          }
        }
        const double t = static_cast<double>(step + 1);
        const double bias1 = 1.0 - std::pow(options.beta1, t);
        const double bias2 = 1.0 - std::pow(options.beta2, t);
        for (AdamSlot& s : slots) {
          at::Tensor g = s.param.grad();
          if (clip != 1.0) {
            g.mul_(clip);
          }
          s.m.mul_(options.beta1).add_(g, 1.0 - options.beta1);
          s.v.mul_(options.beta2).addcmul_(g, g, 1.0 - options.beta2);
          if (s.decay && options.weight_decay > 0) {
            s.param.mul_(1.0 - lr * options.weight_decay);
          }
          const at::Tensor denominator = s.v.div(bias2).sqrt_().add_(options.epsilon);
          s.param.addcdiv_(s.m, denominator, -lr / bias1);
          s.param.mutable_grad().reset();
        }
      }
      ++step;
      last_lr = lr;
      loss_since_record += loss.item<double>();
      ++steps_since_record;
      result.train_seconds += seconds_since(step_start);
      if (options.on_step) {
        options.on_step(step, total_steps);
      }
      if (options.after_step) {
        const at::NoGradGuard no_grad;
        options.after_step(step, params);
      }

      const bool at_eval = options.eval_every > 0 ? step % options.eval_every == 0
                                                  : step % result.steps_per_epoch == 0;
      if (at_eval || step == total_steps) {
        record(step);
        last_recorded = step;
      }
    }
  }
  if (last_recorded != step) {
    record(step);
  }
  result.steps = step;
  result.final_parameters = clone_state_dict(params);
  result.total_seconds = seconds_since(start);
  return result;
}

}  // namespace supersense
