// supersense/dataset.cpp — tokenization, vocabulary, stratified split (see dataset.hpp).
#include "dataset.hpp"

#include <algorithm>
#include <limits>
#include <map>
#include <numeric>
#include <random>
#include <utility>

#include "bomf/core/error.hpp"
#include "random.hpp"

namespace supersense {

using bomf::detail::require;

void DatasetOptions::validate() const {
  constexpr const char* where = "supersense::DatasetOptions";
  require(num_classes >= 2 && num_classes <= 26, where, "num_classes is ", num_classes,
          ", expected 2..26 noun supersenses");
  require(train_size >= num_classes, where, "train_size is ", train_size,
          ", expected at least num_classes = ", num_classes);
  require(validation_size >= num_classes, where, "validation_size is ", validation_size,
          ", expected at least num_classes = ", num_classes);
  require(test_size >= num_classes, where, "test_size is ", test_size,
          ", expected at least num_classes = ", num_classes);
  require(decision_size == 0 || decision_size >= num_classes, where, "decision_size is ",
          decision_size,
          ", expected 0 (no decision split) or at least num_classes = ", num_classes);
  require(one_vs_rest.empty() || std::find(kNounSupersenses.begin(), kNounSupersenses.end(),
                                           one_vs_rest) != kNounSupersenses.end(),
          where, "one_vs_rest is '", one_vs_rest,
          "', expected \"\" or a noun supersense name such as \"noun.food\"");
  require(max_vocab >= 3, where, "max_vocab is ", max_vocab,
          ", expected at least 3 (<pad>, <unk> and one word)");
  require(min_count >= 1, where, "min_count is ", min_count, ", expected at least 1");
  require(seq_len >= 1, where, "seq_len is ", seq_len, ", expected at least 1");
}

// ---------------------------------------------------------------------------------------------
// Vocabulary
// ---------------------------------------------------------------------------------------------

Vocabulary::Vocabulary() : Vocabulary(std::vector<std::string>{}) {}

Vocabulary::Vocabulary(const std::vector<std::string>& words) {
  words_.reserve(words.size() + 2);
  words_.emplace_back("<pad>");
  words_.emplace_back("<unk>");
  index_.emplace("<pad>", kPad);
  index_.emplace("<unk>", kUnk);
  for (const std::string& w : words) {
    require(!w.empty(), "supersense::Vocabulary", "word ", words_.size(), " is empty");
    const bool fresh = index_.emplace(w, static_cast<std::int64_t>(words_.size())).second;
    require(fresh, "supersense::Vocabulary", "word '", w,
            "' appears twice or is spelled like a special token");
    words_.push_back(w);
  }
}

std::int64_t Vocabulary::id(std::string_view word) const {
  const auto it = index_.find(std::string(word));
  return it == index_.end() ? kUnk : it->second;
}

const std::string& Vocabulary::word(std::int64_t id) const {
  require(id >= 0 && id < size(), "supersense::Vocabulary::word", "argument 'id' is ", id,
          ", expected 0..", size() - 1);
  return words_[static_cast<std::size_t>(id)];
}

std::uint64_t Vocabulary::hash() const noexcept {
  std::uint64_t h = 14695981039346656037ULL;  // FNV-1a offset basis
  auto mix = [&h](unsigned char byte) {
    h ^= byte;
    h *= 1099511628211ULL;
  };
  for (const std::string& w : words_) {
    for (const char c : w) {
      mix(static_cast<unsigned char>(c));
    }
    mix(0);  // separator: {"ab","c"} and {"a","bc"} differ
  }
  return h;
}

// ---------------------------------------------------------------------------------------------
// Text
// ---------------------------------------------------------------------------------------------

std::string gloss_text(std::string_view gloss, bool keep_examples) {
  if (keep_examples) {
    return std::string(gloss);
  }
  std::string out;
  out.reserve(gloss.size());
  bool quoted = false;
  for (const char c : gloss) {
    if (c == '"') {
      quoted = !quoted;
    } else if (!quoted) {
      out.push_back(c);
    }
  }
  return out;
}

std::vector<std::string> tokenize(std::string_view text) {
  std::vector<std::string> tokens;
  std::string current;
  for (const char c : text) {
    const bool digit = c >= '0' && c <= '9';
    const bool lower = c >= 'a' && c <= 'z';
    const bool upper = c >= 'A' && c <= 'Z';
    if (digit || lower) {
      current.push_back(c);
    } else if (upper) {
      current.push_back(static_cast<char>(c - 'A' + 'a'));
    } else if (!current.empty()) {
      tokens.push_back(std::move(current));
      current.clear();
    }
  }
  if (!current.empty()) {
    tokens.push_back(std::move(current));
  }
  return tokens;
}

Vocabulary build_vocabulary(const std::vector<std::vector<std::string>>& documents,
                            std::int64_t max_size, std::int64_t min_count) {
  require(max_size >= 3, "supersense::build_vocabulary", "argument 'max_size' is ", max_size,
          ", expected at least 3");
  require(min_count >= 1, "supersense::build_vocabulary", "argument 'min_count' is ", min_count,
          ", expected at least 1");
  std::map<std::string, std::int64_t> counts;  // ordered: the tie-break below is alphabetical
  for (const auto& doc : documents) {
    for (const std::string& t : doc) {
      ++counts[t];
    }
  }
  std::vector<std::pair<std::string, std::int64_t>> ranked;
  for (auto& [word, count] : counts) {
    if (count >= min_count && word != "<pad>" && word != "<unk>") {
      ranked.emplace_back(word, count);
    }
  }
  std::stable_sort(ranked.begin(), ranked.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  const auto keep = std::min<std::size_t>(ranked.size(), static_cast<std::size_t>(max_size - 2));
  std::vector<std::string> words;
  words.reserve(keep);
  for (std::size_t i = 0; i < keep; ++i) {
    words.push_back(std::move(ranked[i].first));
  }
  return Vocabulary(words);
}

// ---------------------------------------------------------------------------------------------
// Split
// ---------------------------------------------------------------------------------------------

std::vector<std::int64_t> proportional_allocation(const std::vector<std::int64_t>& counts,
                                                  std::int64_t total) {
  constexpr const char* where = "supersense::proportional_allocation";
  require(!counts.empty(), where, "argument 'counts' is empty");
  require(total >= 0, where, "argument 'total' is ", total, ", expected ≥ 0");
  std::int64_t sum = 0;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    require(counts[i] >= 0, where, "counts[", i, "] is ", counts[i], ", expected ≥ 0");
    sum += counts[i];
  }
  require(sum > 0, where, "argument 'counts' sums to 0, expected a positive total");
  const std::int64_t largest = *std::max_element(counts.begin(), counts.end());
  require(total <= std::numeric_limits<std::int64_t>::max() / largest, where, "argument 'total' (",
          total, ") times the largest count (", largest, ") overflows 64 bits");
  std::vector<std::int64_t> share(counts.size());
  std::vector<std::int64_t> remainder(counts.size());  // (counts·total) mod sum, exact
  std::int64_t assigned = 0;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    const std::int64_t product = counts[i] * total;  // no overflow: checked above
    share[i] = product / sum;
    remainder[i] = product % sum;
    assigned += share[i];
  }
  std::vector<std::size_t> order(counts.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return remainder[a] > remainder[b]; });
  for (std::size_t k = 0; assigned < total; ++k) {
    ++share[order[k]];
    ++assigned;
  }
  return share;
}

namespace {

/// Tokenized example before encoding.
struct RawExample {
  std::vector<std::string> tokens;
  std::int64_t label = 0;
  std::uint32_t offset = 0;
};

EncodedSplit encode(std::string name, const std::vector<const RawExample*>& examples,
                    const Vocabulary& vocabulary, std::int64_t seq_len) {
  EncodedSplit split;
  split.name = std::move(name);
  split.seq_len = seq_len;
  split.tokens.assign(examples.size() * static_cast<std::size_t>(seq_len), Vocabulary::kPad);
  split.labels.reserve(examples.size());
  split.lengths.reserve(examples.size());
  split.synset_offsets.reserve(examples.size());
  for (std::size_t i = 0; i < examples.size(); ++i) {
    const RawExample& ex = *examples[i];
    const std::size_t n = std::min(ex.tokens.size(), static_cast<std::size_t>(seq_len));
    if (ex.tokens.size() > n) {
      ++split.truncated_examples;
    }
    for (std::size_t t = 0; t < n; ++t) {
      const std::int64_t id = vocabulary.id(ex.tokens[t]);
      split.tokens[i * static_cast<std::size_t>(seq_len) + t] = id;
      ++(id == Vocabulary::kUnk ? split.unknown_tokens : split.known_tokens);
    }
    split.labels.push_back(ex.label);
    split.lengths.push_back(static_cast<std::int64_t>(n));
    split.synset_offsets.push_back(ex.offset);
  }
  return split;
}

}  // namespace

SupersenseDataset build_dataset(const std::vector<NounSynset>& synsets,
                                const DatasetOptions& options) {
  options.validate();
  constexpr const char* where = "supersense::build_dataset";

  // The num_classes most frequent lexicographer files (ties: lower file number first).
  std::map<int, std::int64_t> per_file;
  for (const NounSynset& s : synsets) {
    ++per_file[s.lex_filenum];
  }
  require(static_cast<int>(per_file.size()) >= options.num_classes, where, "the synsets span ",
          per_file.size(), " supersenses, expected at least num_classes = ", options.num_classes);
  std::vector<std::pair<int, std::int64_t>> files(per_file.begin(), per_file.end());
  std::stable_sort(files.begin(), files.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  files.resize(static_cast<std::size_t>(options.num_classes));
  std::sort(files.begin(), files.end());  // class index order: ascending file number

  // Strata: the kept supersenses, in file order. Labels: the stratum, or for a one-vs-rest
  // task 1 for the positive supersense and 0 for the rest.
  SupersenseDataset data;
  std::map<int, std::size_t> stratum_of_file;
  std::vector<std::string> stratum_names;
  for (const auto& [file, count] : files) {
    stratum_of_file.emplace(file, stratum_names.size());
    stratum_names.emplace_back(noun_supersense_name(file));
  }
  int positive_file = -1;
  if (!options.one_vs_rest.empty()) {
    for (const auto& [file, stratum] : stratum_of_file) {
      if (stratum_names[stratum] == options.one_vs_rest) {
        positive_file = file;
      }
    }
    require(positive_file >= 0, where, "one_vs_rest is '", options.one_vs_rest,
            "', which is not among the ", options.num_classes,
            " most frequent supersenses kept (raise num_classes)");
    data.class_lex_filenums = {-1, positive_file};
    data.class_names = {"rest", options.one_vs_rest};
  } else {
    for (const auto& [file, count] : files) {
      data.class_lex_filenums.push_back(file);
      data.class_names.emplace_back(noun_supersense_name(file));
    }
  }
  data.class_pool_counts.assign(data.class_names.size(), 0);

  // Tokenize the pool, grouped by stratum (in file order: deterministic).
  const std::size_t num_strata = stratum_names.size();
  std::vector<std::vector<RawExample>> pool(num_strata);
  for (const NounSynset& s : synsets) {
    const auto it = stratum_of_file.find(s.lex_filenum);
    if (it == stratum_of_file.end()) {
      continue;
    }
    const std::int64_t label = positive_file >= 0 ? (s.lex_filenum == positive_file ? 1 : 0)
                                                  : static_cast<std::int64_t>(it->second);
    RawExample ex{tokenize(gloss_text(s.gloss, options.keep_examples)), label, s.offset};
    if (ex.tokens.empty()) {
      ++data.dropped_empty;
      continue;
    }
    ++data.class_pool_counts[static_cast<std::size_t>(label)];
    pool[it->second].push_back(std::move(ex));
  }
  std::vector<std::int64_t> stratum_counts;
  for (const auto& examples : pool) {
    stratum_counts.push_back(static_cast<std::int64_t>(examples.size()));
  }

  // Stratified split: per-stratum quotas for each split, taken from a seeded permutation in the
  // order train, validation, test, decision.
  const auto train_q = proportional_allocation(stratum_counts, options.train_size);
  const auto valid_q = proportional_allocation(stratum_counts, options.validation_size);
  const auto test_q = proportional_allocation(stratum_counts, options.test_size);
  const auto decision_q = proportional_allocation(stratum_counts, options.decision_size);
  std::mt19937_64 rng(options.split_seed);
  std::vector<const RawExample*> train, validation, test, decision;
  for (std::size_t c = 0; c < num_strata; ++c) {
    const std::int64_t need = train_q[c] + valid_q[c] + test_q[c] + decision_q[c];
    require(need <= stratum_counts[c], where, "supersense ", stratum_names[c], " has ",
            stratum_counts[c], " synsets, the splits need ", need,
            " (reduce train_size/validation_size/test_size/decision_size)");
    std::vector<std::size_t> order(pool[c].size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    shuffle_in_place(order, rng);
    std::size_t next = 0;
    auto take = [&](std::vector<const RawExample*>& split, std::int64_t count) {
      for (std::int64_t k = 0; k < count; ++k) {
        split.push_back(&pool[c][order[next++]]);
      }
    };
    take(train, train_q[c]);
    take(validation, valid_q[c]);
    take(test, test_q[c]);
    take(decision, decision_q[c]);
  }
  // Interleave the classes (the order of evaluation batches; training reshuffles anyway). The
  // decision split is shuffled last, so the other splits do not depend on its size.
  shuffle_in_place(train, rng);
  shuffle_in_place(validation, rng);
  shuffle_in_place(test, rng);
  shuffle_in_place(decision, rng);

  std::vector<std::vector<std::string>> train_docs;
  train_docs.reserve(train.size());
  for (const RawExample* ex : train) {
    train_docs.push_back(ex->tokens);
  }
  data.vocabulary = build_vocabulary(train_docs, options.max_vocab, options.min_count);
  data.train = encode("train", train, data.vocabulary, options.seq_len);
  data.validation = encode("validation", validation, data.vocabulary, options.seq_len);
  data.test = encode("test", test, data.vocabulary, options.seq_len);
  data.decision = encode("decision", decision, data.vocabulary, options.seq_len);
  return data;
}

}  // namespace supersense
