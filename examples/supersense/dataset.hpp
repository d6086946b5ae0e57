// supersense/dataset.hpp — the supersense classification data set built from WordNet glosses.
//
// Task: given the gloss (definition) of a noun synset, predict its supersense (lexicographer
// file), restricted to the `num_classes` most frequent noun supersenses. With the defaults: the 12
// classes noun.act, .animal, .artifact, .attribute, .cognition, .communication, .group,
// .location, .person, .plant, .state, .substance (68,833 synsets, class shares 16.8% … 3.8%),
// split into 6000 train / 1000 validation / 2000 test examples.
//
// Choices (all deterministic, documented in README.md):
//  * Text: the gloss's definition only — the quoted usage examples ("he ran the store") are cut:
//    only some glosses have them, and keeping them did not improve validation accuracy (0.770
//    with, 0.784 without, 4 epochs); `DatasetOptions::keep_examples` keeps them.
//  * Tokens: ASCII-lowercased maximal runs of [a-z0-9]; every other byte separates tokens
//    ("hand-to-hand" → hand, to, hand; "person's" → person, s). Matches GloVe's lowercase
//    vocabulary for ordinary words.
//  * Split: stratified by class with a fixed seed (`split_seed`, independent of the training
//    seed, so every training seed sees the same test set); per-class counts by the
//    largest-remainder rule on the class shares. Synsets whose text has no token are dropped
//    before splitting.
//  * Vocabulary: from the training split only — the `max_vocab − 2` most frequent tokens with at
//    least `min_count` occurrences (ties broken alphabetically), after id 0 = "<pad>" and
//    1 = "<unk>".
//  * Encoding: the first `seq_len` tokens, right-padded with <pad>; unknown words → <unk>.
// libtorch-free.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "wordnet.hpp"

namespace supersense {

/// How to build the data set. Defaults: the full mode of the flagship example.
struct DatasetOptions {
  int num_classes = 12;                 ///< keep this many most frequent supersenses (2..26)
  std::int64_t train_size = 6000;       ///< examples in the training split (≥ num_classes)
  std::int64_t validation_size = 1000;  ///< examples in the validation split (≥ num_classes)
  std::int64_t test_size = 2000;        ///< examples in the test split (≥ num_classes)
  /// Examples in the decision split (0 = none, else ≥ num_classes): held out from training, from
  /// the validation split every search looks at and from the test split, drawn after them (so
  /// train/validation/test do not change with it); for decisions ABOUT a method (which default
  /// to ship) that the test split must not make.
  std::int64_t decision_size = 0;
  /// "" = classify among the kept supersenses. A kept supersense's name (e.g. "noun.food"): a
  /// binary task instead, label 1 = that supersense, 0 = every other kept supersense ("rest");
  /// the splits are still stratified by the original supersenses.
  std::string one_vs_rest;
  std::uint64_t split_seed = 20240917;  ///< seed of the stratified split (fixed across runs)
  std::int64_t max_vocab = 10000;       ///< vocabulary size cap, including <pad> and <unk> (≥ 3)
  std::int64_t min_count = 1;  ///< minimum training-split count of a vocabulary word (≥ 1)
  std::int64_t seq_len = 32;   ///< tokens per example after truncation/padding (≥ 1)
  bool keep_examples = false;  ///< keep the quoted usage examples of the glosses

  /// Throws `bomf::invalid_argument` naming the first field outside its range.
  void validate() const;
};

/// A word-level vocabulary: id → word and word → id. Ids 0 and 1 are <pad> and <unk>.
class Vocabulary {
 public:
  static constexpr std::int64_t kPad = 0;
  static constexpr std::int64_t kUnk = 1;

  /// Only "<pad>" and "<unk>".
  Vocabulary();
  /// "<pad>", "<unk>", then `words` in order. Throws `bomf::invalid_argument` for a duplicate or
  /// empty word, or one spelled like a special token.
  explicit Vocabulary(const std::vector<std::string>& words);

  /// The id of `word`, or kUnk.
  [[nodiscard]] std::int64_t id(std::string_view word) const;
  /// The word with id `id` (0 ≤ id < size()); throws `bomf::invalid_argument` otherwise.
  [[nodiscard]] const std::string& word(std::int64_t id) const;
  /// Number of ids, including the two special tokens.
  [[nodiscard]] std::int64_t size() const noexcept {
    return static_cast<std::int64_t>(words_.size());
  }
  /// All words by id.
  [[nodiscard]] const std::vector<std::string>& words() const noexcept { return words_; }
  /// A 64-bit FNV-1a hash of the words in id order (keys the embedding cache).
  [[nodiscard]] std::uint64_t hash() const noexcept;

 private:
  std::vector<std::string> words_;
  std::unordered_map<std::string, std::int64_t> index_;
};

/// One split, encoded: `tokens` is size × seq_len row-major (int64 ids, right-padded with
/// Vocabulary::kPad, at least one non-pad token per row); `labels` holds class indices
/// 0..num_classes−1; `lengths` the number of leading non-pad ids of each row (batches are cut to
/// their longest row, which skips most padding: glosses average ~12 tokens).
struct EncodedSplit {
  std::string name;  ///< "train", "validation" or "test"
  std::int64_t seq_len = 0;
  std::vector<std::int64_t> tokens;
  std::vector<std::int64_t> labels;
  std::vector<std::int64_t> lengths;          ///< non-pad tokens of each example, 1..seq_len
  std::vector<std::uint32_t> synset_offsets;  ///< provenance: data.noun offset of each example
  std::int64_t unknown_tokens = 0;            ///< non-pad positions holding <unk>
  std::int64_t known_tokens = 0;              ///< non-pad positions holding a vocabulary word
  std::int64_t truncated_examples = 0;        ///< examples longer than seq_len (cut)

  /// Number of examples.
  [[nodiscard]] std::int64_t size() const noexcept {
    return static_cast<std::int64_t>(labels.size());
  }
  /// Fraction of non-pad tokens that are <unk>.
  [[nodiscard]] double unknown_rate() const noexcept {
    const std::int64_t all = unknown_tokens + known_tokens;
    return all == 0 ? 0.0 : static_cast<double>(unknown_tokens) / static_cast<double>(all);
  }
};

/// The classification data set: classes, vocabulary and the encoded splits.
struct SupersenseDataset {
  /// Class index → lexicographer file (ascending); a one-vs-rest task: {−1 (the rest), the file
  /// of the positive supersense}.
  std::vector<int> class_lex_filenums;
  std::vector<std::string> class_names;         ///< "noun.animal", …; one-vs-rest: {"rest", name}
  std::vector<std::int64_t> class_pool_counts;  ///< class index → synsets available
  std::int64_t dropped_empty = 0;               ///< synsets of kept classes whose text had no token
  Vocabulary vocabulary;
  EncodedSplit train, validation, test;
  EncodedSplit decision;  ///< empty unless DatasetOptions::decision_size > 0

  /// True for a one-vs-rest (binary) task: class 1 is the positive supersense.
  [[nodiscard]] bool one_vs_rest() const noexcept {
    return !class_lex_filenums.empty() && class_lex_filenums.front() < 0;
  }

  [[nodiscard]] int num_classes() const noexcept {
    return static_cast<int>(class_lex_filenums.size());
  }
};

/// The text of `gloss` used as input: with `keep_examples` false, every double-quoted span (and an
/// unmatched quote's tail) is removed, so "a fight; \"they had a fight\"" → "a fight; ".
[[nodiscard]] std::string gloss_text(std::string_view gloss, bool keep_examples);

/// Tokens of `text`: ASCII-lowercased maximal runs of [A-Za-z0-9].
[[nodiscard]] std::vector<std::string> tokenize(std::string_view text);

/// The vocabulary of `documents` (token lists): the `max_size − 2` most frequent tokens with
/// count ≥ `min_count`, most frequent first, ties alphabetical. Throws `bomf::invalid_argument`
/// for max_size < 3 or min_count < 1.
[[nodiscard]] Vocabulary build_vocabulary(const std::vector<std::vector<std::string>>& documents,
                                          std::int64_t max_size, std::int64_t min_count);

/// Splits `total` among groups in proportion to `counts` (largest-remainder rule, ties to the
/// lower index): the result sums to `total` exactly. Throws `bomf::invalid_argument` when the
/// counts are empty, negative or all zero, or `total` < 0.
[[nodiscard]] std::vector<std::int64_t> proportional_allocation(
    const std::vector<std::int64_t>& counts, std::int64_t total);

/// Builds the data set from parsed synsets (see the file comment for every step). Throws
/// `bomf::invalid_argument` for invalid options, fewer than `num_classes` supersenses present, or
/// splits that need more synsets of a class than exist. Cost: linear in the number of synsets.
[[nodiscard]] SupersenseDataset build_dataset(const std::vector<NounSynset>& synsets,
                                              const DatasetOptions& options);

}  // namespace supersense
