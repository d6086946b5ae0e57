// supersense/training.hpp — fine-tuning with AdamW, evaluation, and the loss gradient.
//
// `train` fine-tunes the classifier of model.hpp from given initial parameters and records a
// trajectory: every `eval_every` optimizer steps it evaluates the validation split (loss,
// accuracy, macro-F1) and calls a callback that may snapshot the parameters (the checkpoints
// BOMF fuses) or stop the run. `evaluate` scores any parameter dict on any split;
// `loss_tensor` / `loss_and_gradient` give the differentiable validation loss (Learned SWA).
// Everything is deterministic given the seeds and the libtorch thread count.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "bomf/fusion/state_dict.hpp"
#include "dataset.hpp"
#include "model.hpp"

namespace supersense {

/// Learning-rate schedule after the linear warm-up.
enum class LrSchedule {
  constant,  ///< stays at learning_rate
  linear,    ///< decays linearly to final_lr_fraction · learning_rate at the last step
};

/// Hyperparameters of one fine-tuning run. Defaults: the example's full-mode setting.
struct TrainOptions {
  double learning_rate = 1e-3;   ///< AdamW step size (peak of the schedule), > 0
  std::int64_t batch_size = 32;  ///< examples per step (the last batch of an epoch may be short)
  std::int64_t epochs = 4;       ///< passes over the training split, ≥ 1
  std::int64_t max_steps = 0;    ///< if > 0, stop after this many steps (a cheap proxy run)
  double weight_decay = 0.01;    ///< AdamW decoupled decay, on weight matrices only
  double beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8;  ///< AdamW moments
  double warmup_fraction = 0.06;  ///< fraction of the steps with linearly rising rate, [0, 1)
  LrSchedule schedule = LrSchedule::linear;
  double final_lr_fraction = 0.0;  ///< end of the linear decay, as a fraction of the peak
  double max_grad_norm = 1.0;      ///< clip the global gradient norm to this (0: no clipping)
  int frozen_layers = 0;           ///< freeze embeddings + the first k layers (see is_frozen)
  std::uint64_t seed = 0;          ///< batch order (the initial parameters carry their own seed)
  /// Length bucketing: each epoch's shuffled order is cut into pools of `bucket_batches` batches,
  /// each pool is sorted by length before it is cut into batches, and the batches are shuffled.
  /// Batches then hold glosses of similar length and are cut to their longest row (~2.5× fewer
  /// positions than padding to seq_len). 0: plain shuffled batches (also cut to their longest).
  std::int64_t bucket_batches = 50;
  std::int64_t eval_every = 0;         ///< evaluate every this many steps; 0: at each epoch's end
  bool evaluate_initial = false;       ///< also evaluate (and call back) at step 0
  std::int64_t eval_batch_size = 128;  ///< examples per forward pass during evaluation
  /// Called after every optimizer step with (steps done, total steps), e.g. for a progress bar.
  std::function<void(std::int64_t, std::int64_t)> on_step;
  /// Called after every optimizer step with (steps done, the live parameters), before any
  /// evaluation at that step: e.g. to copy the fusion members at their planned steps
  /// (`clone_state_dict`) without evaluating there. Must not modify the parameters.
  std::function<void(std::int64_t, const bomf::StateDict&)> after_step;

  /// Throws `bomf::invalid_argument` naming the first field out of range.
  void validate() const;
};

/// Validation/test metrics of a model on one split.
struct Metrics {
  double loss = 0;      ///< mean cross-entropy (nats)
  double accuracy = 0;  ///< fraction of correct predictions
  double macro_f1 = 0;  ///< unweighted mean of per-class F1 (see `macro_f1`)
  std::int64_t examples = 0;
  /// F1 of each class (see `class_f1`; NaN for a class absent from labels and predictions).
  std::vector<double> class_f1;
};

/// One point of a training trajectory.
struct EvalRecord {
  std::int64_t step = 0;     ///< optimizer steps done
  double epoch = 0;          ///< step / steps_per_epoch
  double learning_rate = 0;  ///< rate used by the last step (0 at step 0)
  double train_loss = 0;     ///< mean training loss of the steps since the previous record
  Metrics validation;
  double elapsed_seconds = 0;  ///< wall clock since the start of `train`, evaluations included
};

/// What the callback sees at each evaluation. `parameters` are the live tensors of the run (do
/// not modify them); `snapshot()` returns a detached deep copy. Set `stop` to end the run after
/// this evaluation.
struct TrainingEvent {
  const EvalRecord& record;
  const bomf::StateDict& parameters;
  bool stop = false;

  [[nodiscard]] bomf::StateDict snapshot() const { return clone_state_dict(parameters); }
};

using TrainingCallback = std::function<void(TrainingEvent&)>;

/// The outcome of `train`.
struct TrainResult {
  std::vector<EvalRecord> trajectory;
  bomf::StateDict final_parameters;  ///< detached copies after the last step
  std::int64_t steps = 0;
  std::int64_t steps_per_epoch = 0;
  bool stopped_by_callback = false;
  double train_seconds = 0;       ///< forward/backward/update time
  double evaluation_seconds = 0;  ///< time inside validation evaluations
  double total_seconds = 0;
};

/// Steps a run of `options` makes on `train_size` examples if no callback stops it:
/// min(epochs · ⌈train_size / batch_size⌉, max_steps if > 0). Throws like `TrainOptions::validate`.
[[nodiscard]] std::int64_t planned_steps(const TrainOptions& options, std::int64_t train_size);

/// Fine-tunes from `initial` (not modified; copied) on `train_split` with AdamW (decoupled weight
/// decay, Loshchilov & Hutter 2019) and the schedule of `options`, evaluating on
/// `validation_split` every `eval_every` steps and after the last step (once per step count).
/// Batch order: a Fisher–Yates shuffle per epoch from std::mt19937_64(options.seed), then length
/// bucketing (see `TrainOptions::bucket_batches`). Throws
/// `bomf::invalid_argument` for invalid options, an empty split, or a split whose seq_len exceeds
/// the config's; exceptions from the callback propagate. Cost per step: one forward and backward
/// pass over batch_size examples (frozen layers are skipped by the backward pass).
[[nodiscard]] TrainResult train(const ModelConfig& config, const bomf::StateDict& initial,
                                const EncodedSplit& train_split,
                                const EncodedSplit& validation_split, const TrainOptions& options,
                                const TrainingCallback& callback = {});

/// Loss, accuracy and macro-F1 of `params` on `split` (no gradient; the examples sorted by length
/// and cut into batches of `batch_size`, each cut to its longest row). Throws
/// `bomf::invalid_argument` for an empty or inconsistent split or batch_size < 1. Cost: one
/// forward pass over the split (about Σ lengths positions).
[[nodiscard]] Metrics evaluate(const ModelConfig& config, const bomf::StateDict& params,
                               const EncodedSplit& split, std::int64_t batch_size = 128);

/// Mean cross-entropy of `params` on `split` as a 0-dim tensor that keeps the autograd graph
/// of the whole split (batched like `evaluate`): call `.backward()` to get gradients in every
/// parameter that requires grad — e.g. the coefficients δ of a fused dict Σ δ_i w_i.
[[nodiscard]] at::Tensor loss_tensor(const ModelConfig& config, const bomf::StateDict& params,
                                     const EncodedSplit& split, std::int64_t batch_size = 128);

/// Mean cross-entropy of `params` on `split` and its gradient ∇_w with respect to every tensor
/// (returned in `gradient`, same names and shapes). Works in batches (memory of one batch's
/// graph); `params` are not modified and need not require grad. For fused weights
/// w(δ) = Σ_i δ_i w_i, ∂loss/∂δ_i = Σ_tensors ⟨gradient, w_i⟩.
double loss_and_gradient(const ModelConfig& config, const bomf::StateDict& params,
                         const EncodedSplit& split, bomf::StateDict& gradient,
                         std::int64_t batch_size = 128);

/// F1_c = 2·TP_c / (2·TP_c + FP_c + FN_c) of each class c = 0..num_classes−1; NaN for a class
/// that occurs in neither `labels` nor `predictions`. Throws `bomf::invalid_argument` for
/// different lengths, an empty input, or a value outside 0..num_classes−1.
[[nodiscard]] std::vector<double> class_f1(const std::vector<std::int64_t>& labels,
                                           const std::vector<std::int64_t>& predictions,
                                           int num_classes);

/// Macro-averaged F1 over classes 0..num_classes−1: the mean of `class_f1` over every class that
/// occurs in `labels` or `predictions` (classes that occur in neither are left out, as
/// scikit-learn does). Throws like `class_f1`.
[[nodiscard]] double macro_f1(const std::vector<std::int64_t>& labels,
                              const std::vector<std::int64_t>& predictions, int num_classes);

/// The token ids of `split` as a size × seq_len int64 tensor and its labels (copies).
[[nodiscard]] at::Tensor tokens_tensor(const EncodedSplit& split);
[[nodiscard]] at::Tensor labels_tensor(const EncodedSplit& split);

}  // namespace supersense
