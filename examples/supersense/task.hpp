// supersense/task.hpp — the flagship example's task in one object: data, embeddings, model.
//
// `SupersenseTask` loads WordNet noun glosses (wordnet.hpp), builds the 12-class supersense data
// set (dataset.hpp), reads the GloVe vectors of its vocabulary (glove.hpp, cached) and
// initializes the "pre-trained" classifier (model.hpp); `train` and `evaluate` (training.hpp)
// then run on it. This is the surface the BOMF workflow (stage 1 hyperparameter search, the
// fine-tuning run that yields the fusion members, stage 2 fusion and the baselines) calls.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

#include "bomf/fusion/state_dict.hpp"
#include "dataset.hpp"
#include "glove.hpp"
#include "model.hpp"
#include "training.hpp"
#include "wordnet.hpp"

namespace supersense {

/// Which split of the data set (`decision` is empty unless DatasetOptions::decision_size > 0).
enum class Split { train, validation, test, decision };

/// Everything `SupersenseTask` needs to load.
struct TaskOptions {
  DatasetOptions data;  ///< split sizes, vocabulary, sequence length
  /// Architecture; vocab_size, seq_len and num_classes are taken from the data set.
  ModelConfig model;
  std::string wordnet_path = kDefaultWordNetNounPath;
  std::string data_dir;         ///< GloVe JSON and cache; empty: default_data_dir()
  std::uint64_t init_seed = 0;  ///< seed of the initial ("pre-trained") parameters
  bool use_glove = true;        ///< false: random token embeddings (an ablation)

  /// The smoke-test sizes: 1500 / 300 / 500 examples (other fields unchanged).
  static TaskOptions smoke();
};

/// What loading cost and found.
struct LoadReport {
  std::int64_t synsets = 0;      ///< noun synsets parsed
  double parse_seconds = 0;      ///< reading data.noun
  double dataset_seconds = 0;    ///< tokenizing, splitting, encoding
  double embedding_seconds = 0;  ///< GloVe (cache hit or JSON scan) + initialization
  GloveSource glove_source = GloveSource::cache;
  std::int64_t glove_found = 0;  ///< vocabulary words with a GloVe vector
};

/// The loaded task. Immutable after construction; `train`/`evaluate` are const and may be called
/// any number of times (not concurrently: libtorch's thread pool is shared).
class SupersenseTask {
 public:
  /// Loads and builds everything. Throws `bomf::io_error` when data.noun or the GloVe JSON is
  /// missing (the message names scripts/fetch-data.sh) or malformed, `bomf::invalid_argument` for
  /// invalid options. Cost: ~1 s with a warm GloVe cache, ~1.5 s more to build the cache.
  explicit SupersenseTask(const TaskOptions& options);

  [[nodiscard]] const TaskOptions& options() const noexcept { return options_; }
  [[nodiscard]] const SupersenseDataset& data() const noexcept { return data_; }
  [[nodiscard]] const EncodedSplit& split(Split which) const noexcept;
  [[nodiscard]] const ModelConfig& model_config() const noexcept { return config_; }
  [[nodiscard]] const WordVectors& word_vectors() const noexcept { return vectors_; }
  /// The initial parameters every fine-tuning run starts from (the "pre-trained" model).
  [[nodiscard]] const bomf::StateDict& initial_parameters() const noexcept { return initial_; }
  [[nodiscard]] const LoadReport& load_report() const noexcept { return report_; }

  /// Fine-tunes from `initial_parameters()` on the train split, evaluating on validation (see
  /// supersense::train).
  [[nodiscard]] TrainResult train(const TrainOptions& options,
                                  const TrainingCallback& callback = {}) const;
  /// Metrics of `params` on a split (see supersense::evaluate). Throws `bomf::invalid_argument`
  /// for an empty split (the decision split when DatasetOptions::decision_size is 0).
  [[nodiscard]] Metrics evaluate(const bomf::StateDict& params, Split which,
                                 std::int64_t batch_size = 128) const;
  /// The task's metric, which every search and baseline maximizes: macro-F1 for a multi-class
  /// task, the positive class's F1 for a one-vs-rest task (0 when that class is absent from both
  /// labels and predictions).
  [[nodiscard]] double metric(const Metrics& m) const;
  /// Its name: "macro_f1", or "f1_<supersense>" (e.g. "f1_noun.food") for one-vs-rest.
  [[nodiscard]] std::string metric_name() const;
  /// Mean validation cross-entropy with its autograd graph (see supersense::loss_tensor).
  [[nodiscard]] at::Tensor validation_loss_tensor(const bomf::StateDict& params) const;
  /// Mean validation cross-entropy and ∇_w (see supersense::loss_and_gradient).
  double validation_loss_and_gradient(const bomf::StateDict& params,
                                      bomf::StateDict& gradient) const;

  /// Identifies data, vocabulary, model and initialization (for journal headers): e.g.
  /// "supersense v1 classes=12 split=6000/1000/2000@20240917 vocab=9873:1a2b… seq=32 …".
  [[nodiscard]] std::string fingerprint() const;

 private:
  TaskOptions options_;
  SupersenseDataset data_;
  ModelConfig config_;
  WordVectors vectors_;
  bomf::StateDict initial_;
  LoadReport report_;
};

/// The name of a split ("train", "validation", "test").
[[nodiscard]] const char* split_name(Split which) noexcept;

/// What of the task's input data is missing: "" when WordNet's data.noun
/// (`options.wordnet_path`) is readable and, when `options.use_glove`, the GloVe JSON is under
/// the data directory (`options.data_dir`, or default_data_dir() when empty); else one sentence
/// naming the missing file(s) and scripts/fetch-data.sh. Lets a program (or a test) tell "no
/// data here" apart from a real failure before loading anything. Cost: two stat calls.
[[nodiscard]] std::string missing_data(const TaskOptions& options);

}  // namespace supersense
