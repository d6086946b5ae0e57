// Tests of the libtorch-free part of the supersense task: WordNet parsing, text processing,
// vocabulary, stratified split.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "bomf/core/error.hpp"
#include "dataset.hpp"
#include "random.hpp"
#include "wordnet.hpp"

namespace supersense {
namespace {

// Real lines of WordNet 3.0 data.noun (pointer lists shortened where noted, counts adjusted).
const char* const kEntity =
    "00001740 03 n 01 entity 0 003 ~ 00001930 n 0000 ~ 00002137 n 0000 ~ 04424418 n 0000 | that "
    "which is perceived or known or inferred to have its own distinct existence (living or "
    "nonliving)  ";
const char* const kAbstraction =
    "00002137 03 n 02 abstraction 0 abstract_entity 0 002 @ 00001740 n 0000 + 00692347 v 0101 | "
    "a general concept formed by extracting common features from specific examples  ";

TEST(WordNet, ParsesASynsetLine) {
  const NounSynset s = parse_noun_synset_line(kEntity, 30);
  EXPECT_EQ(s.offset, 1740U);
  EXPECT_EQ(s.lex_filenum, 3);
  EXPECT_EQ(s.gloss,
            "that which is perceived or known or inferred to have its own distinct existence "
            "(living or nonliving)");
  const NounSynset a = parse_noun_synset_line(kAbstraction, 31);
  EXPECT_EQ(a.offset, 2137U);
  EXPECT_EQ(a.gloss,
            "a general concept formed by extracting common features from specific examples");
}

TEST(WordNet, WordCountIsHexadecimal) {
  // 0b = 11 words; a decimal reading would stop after 'b' fails, or misalign the pointers.
  std::string line = "00000001 05 n 0b";
  for (int i = 0; i < 11; ++i) {
    line += " w" + std::to_string(i) + " 0";
  }
  line += " 001 @ 00000002 n 0000 | an animal; \"an example\"";
  const NounSynset s = parse_noun_synset_line(line, 1);
  EXPECT_EQ(s.lex_filenum, 5);
  EXPECT_EQ(s.gloss, "an animal; \"an example\"");
}

TEST(WordNet, RejectsMalformedLinesNamingTheLine) {
  const std::vector<std::string> bad = {
      "00001740 03 n 01 entity 0 003 ~ 00001930 n 0000 | too few pointers",
      "00001740 03 n 01 entity 0 000 x | no bar where expected",
      "00001740 03 v 01 run 0 000 | not a noun",
      "00001740 44 n 01 entity 0 000 | bad lexicographer file",
      "0000x740 03 n 01 entity 0 000 | bad offset",
      "00001740 03 n",
  };
  for (const std::string& line : bad) {
    try {
      (void)parse_noun_synset_line(line, 77);
      ADD_FAILURE() << "accepted: " << line;
    } catch (const bomf::io_error& e) {
      EXPECT_NE(std::string(e.what()).find("line 77"), std::string::npos) << e.what();
    }
  }
}

TEST(WordNet, StreamSkipsTheLicenceHeaderAndHandlesCrlf) {
  std::istringstream in(std::string("  1 This software and database is being provided\n"
                                    "  2 Princeton University\n") +
                        kEntity + "\r\n\n" + kAbstraction + "\n");
  const auto synsets = parse_noun_synsets(in, "test");
  ASSERT_EQ(synsets.size(), 2U);
  EXPECT_EQ(synsets[1].offset, 2137U);
  std::istringstream broken(std::string(kEntity) + "\n00000001 03 n 01 x\n");
  try {
    (void)parse_noun_synsets(broken, "broken.noun");
    ADD_FAILURE() << "accepted a truncated line";
  } catch (const bomf::io_error& e) {
    EXPECT_NE(std::string(e.what()).find("broken.noun"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("line 2"), std::string::npos);
  }
  EXPECT_THROW((void)read_noun_synsets("/nonexistent/data.noun"), bomf::io_error);
}

TEST(WordNet, SupersenseNames) {
  EXPECT_EQ(noun_supersense_name(3), "noun.Tops");
  EXPECT_EQ(noun_supersense_name(5), "noun.animal");
  EXPECT_EQ(noun_supersense_name(18), "noun.person");
  EXPECT_EQ(noun_supersense_name(28), "noun.time");
  EXPECT_THROW((void)noun_supersense_name(2), bomf::invalid_argument);
  EXPECT_THROW((void)noun_supersense_name(29), bomf::invalid_argument);
}

TEST(Text, GlossTextDropsQuotedExamples) {
  EXPECT_EQ(gloss_text("a fight; \"they had a fight\"; \"a second\"", false), "a fight; ; ");
  EXPECT_EQ(gloss_text("an unmatched \"quote runs to the end", false), "an unmatched ");
  EXPECT_EQ(gloss_text("a fight; \"they had a fight\"", true), "a fight; \"they had a fight\"");
}

TEST(Text, TokenizeLowercasesAndSplitsOnNonAlphanumerics) {
  EXPECT_EQ(tokenize("Hand-to-hand (law) person's 3D-printer, U.S.A."),
            (std::vector<std::string>{"hand", "to", "hand", "law", "person", "s", "3d", "printer",
                                      "u", "s", "a"}));
  EXPECT_TRUE(tokenize(" ;-- ").empty());
  EXPECT_EQ(tokenize("caf\xc3\xa9 x"), (std::vector<std::string>{"caf", "x"}));
}

TEST(Vocabulary, MostFrequentFirstTiesAlphabeticalCapped) {
  const std::vector<std::vector<std::string>> docs = {
      {"b", "a", "c", "a"}, {"c", "d", "a"}, {"e", "b", "b"}};
  // counts: a 3, b 3, c 2, d 1, e 1
  const Vocabulary v = build_vocabulary(docs, 5, 1);
  EXPECT_EQ(v.words(), (std::vector<std::string>{"<pad>", "<unk>", "a", "b", "c"}));
  EXPECT_EQ(v.id("a"), 2);
  EXPECT_EQ(v.id("d"), Vocabulary::kUnk);
  EXPECT_EQ(v.word(4), "c");
  EXPECT_THROW((void)v.word(5), bomf::invalid_argument);
  const Vocabulary frequent = build_vocabulary(docs, 100, 2);
  EXPECT_EQ(frequent.size(), 5);         // a, b, c have count ≥ 2
  EXPECT_EQ(v.hash(), frequent.hash());  // same words
  EXPECT_NE(v.hash(), Vocabulary({"a", "b"}).hash());
  EXPECT_NE(Vocabulary({"ab", "c"}).hash(), Vocabulary({"a", "bc"}).hash());
  EXPECT_THROW((void)Vocabulary({"x", "x"}), bomf::invalid_argument);
  EXPECT_THROW((void)build_vocabulary(docs, 2, 1), bomf::invalid_argument);
}

TEST(Split, ProportionalAllocationSumsExactlyAndFollowsShares) {
  const std::vector<std::int64_t> counts = {11587, 11087, 8030, 7509, 6650, 5607,
                                            3544,  3209,  3039, 2983, 2964, 2624};
  for (const std::int64_t total : {0, 1, 12, 300, 1000, 6000}) {
    const auto share = proportional_allocation(counts, total);
    std::int64_t sum = 0;
    for (std::size_t i = 0; i < counts.size(); ++i) {
      sum += share[i];
      const double exact = static_cast<double>(counts[i]) * static_cast<double>(total) / 68833.0;
      EXPECT_LT(std::abs(static_cast<double>(share[i]) - exact), 1.0) << "total " << total;
    }
    EXPECT_EQ(sum, total);
  }
  EXPECT_EQ(proportional_allocation({1, 1, 1}, 2), (std::vector<std::int64_t>{1, 1, 0}));
  EXPECT_THROW((void)proportional_allocation({0, 0}, 3), bomf::invalid_argument);
  EXPECT_THROW((void)proportional_allocation({}, 3), bomf::invalid_argument);
  EXPECT_THROW((void)proportional_allocation({1, -1}, 3), bomf::invalid_argument);
}

TEST(Random, ShuffleIsAPermutationAndDependsOnTheSeed) {
  std::vector<int> a(100), b(100);
  for (int i = 0; i < 100; ++i) {
    a[i] = b[i] = i;
  }
  std::mt19937_64 r1(7), r2(7), r3(8);
  shuffle_in_place(a, r1);
  shuffle_in_place(b, r2);
  EXPECT_EQ(a, b);
  std::vector<int> c = b;
  shuffle_in_place(c, r3);
  EXPECT_NE(b, c);
  std::sort(c.begin(), c.end());
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(c[i], i);
  }
  std::mt19937_64 r(1);
  std::vector<int> hits(3, 0);
  for (int i = 0; i < 3000; ++i) {
    ++hits[uniform_below(r, 3)];
  }
  for (const int h : hits) {
    EXPECT_GT(h, 850);
  }
}

/// Synthetic synsets: `per_class[c]` synsets of lexicographer file files[c], glosses made of
/// a class word, a shared word and a unique word.
std::vector<NounSynset> synthetic(const std::vector<int>& files,
                                  const std::vector<int>& per_class) {
  std::vector<NounSynset> out;
  std::uint32_t offset = 0;
  for (std::size_t c = 0; c < files.size(); ++c) {
    for (int i = 0; i < per_class[c]; ++i) {
      out.push_back({offset++, files[c],
                     "Class" + std::to_string(files[c]) + " thing u" + std::to_string(offset) +
                         "; \"quoted example\""});
    }
  }
  out.push_back({offset++, files[0], "\"only an example\""});  // no token without examples
  return out;
}

/// Four classes, 300 / 100 / 200 examples, sequences of 4 tokens.
DatasetOptions four_class_options() {
  DatasetOptions o;
  o.num_classes = 4;
  o.train_size = 300;
  o.validation_size = 100;
  o.test_size = 200;
  o.seq_len = 4;
  return o;
}

TEST(Dataset, StratifiedSeededSplitWithoutOverlap) {
  const std::vector<int> files = {5, 6, 18, 20, 4};
  const std::vector<int> per_class = {400, 300, 200, 100, 50};  // file 4 is the rarest: dropped
  DatasetOptions o = four_class_options();
  const auto synsets = synthetic(files, per_class);
  const SupersenseDataset d = build_dataset(synsets, o);
  EXPECT_EQ(d.class_lex_filenums, (std::vector<int>{5, 6, 18, 20}));
  EXPECT_EQ(d.class_names[2], "noun.person");
  EXPECT_EQ(d.class_pool_counts, (std::vector<std::int64_t>{400, 300, 200, 100}));
  EXPECT_EQ(d.dropped_empty, 1);
  EXPECT_EQ(d.train.size(), 300);
  EXPECT_EQ(d.validation.size(), 100);
  EXPECT_EQ(d.test.size(), 200);
  // Stratified: class counts proportional to 4:3:2:1.
  std::map<std::int64_t, int> train_counts;
  for (const auto y : d.train.labels) {
    ++train_counts[y];
  }
  EXPECT_EQ(train_counts[0], 120);
  EXPECT_EQ(train_counts[3], 30);
  // Disjoint splits.
  std::set<std::uint32_t> seen;
  for (const auto* s : {&d.train, &d.validation, &d.test}) {
    for (const auto off : s->synset_offsets) {
      EXPECT_TRUE(seen.insert(off).second) << "synset " << off << " in two splits";
    }
  }
  // Encoding: 3 tokens (classN, thing, uK), padded to 4; unique words of other splits → <unk>.
  for (std::int64_t i = 0; i < d.test.size(); ++i) {
    EXPECT_EQ(d.test.lengths[static_cast<std::size_t>(i)], 3);
    EXPECT_EQ(d.test.tokens[static_cast<std::size_t>(i * 4 + 2)], Vocabulary::kUnk);
    EXPECT_EQ(d.test.tokens[static_cast<std::size_t>(i * 4 + 3)], Vocabulary::kPad);
  }
  EXPECT_NEAR(d.test.unknown_rate(), 1.0 / 3.0, 1e-12);
  EXPECT_EQ(d.train.unknown_tokens, 0);
  EXPECT_EQ(d.vocabulary.id("quoted"), Vocabulary::kUnk);  // examples were dropped
  EXPECT_NE(d.vocabulary.id("thing"), Vocabulary::kUnk);

  // Deterministic given the split seed; another seed gives another split.
  const SupersenseDataset again = build_dataset(synsets, o);
  EXPECT_EQ(again.train.synset_offsets, d.train.synset_offsets);
  EXPECT_EQ(again.test.tokens, d.test.tokens);
  o.split_seed += 1;
  const SupersenseDataset other = build_dataset(synsets, o);
  EXPECT_NE(other.train.synset_offsets, d.train.synset_offsets);

  o.keep_examples = true;
  const SupersenseDataset with_examples = build_dataset(synsets, o);
  EXPECT_EQ(with_examples.dropped_empty, 0);
  EXPECT_NE(with_examples.vocabulary.id("quoted"), Vocabulary::kUnk);
  EXPECT_EQ(with_examples.train.truncated_examples, 300);  // 5 tokens > seq_len 4
}

TEST(Dataset, DecisionSplitIsHeldOutAndLeavesTheOtherSplitsUnchanged) {
  const std::vector<int> files = {5, 6, 18, 20};
  const auto synsets = synthetic(files, {400, 300, 200, 100});
  DatasetOptions o = four_class_options();
  const SupersenseDataset without = build_dataset(synsets, o);
  EXPECT_EQ(without.decision.size(), 0);
  EXPECT_EQ(without.decision.name, "decision");
  o.decision_size = 100;
  const SupersenseDataset with = build_dataset(synsets, o);
  // Train, validation and test are the same synsets in the same order.
  EXPECT_EQ(with.train.synset_offsets, without.train.synset_offsets);
  EXPECT_EQ(with.validation.synset_offsets, without.validation.synset_offsets);
  EXPECT_EQ(with.test.synset_offsets, without.test.synset_offsets);
  EXPECT_EQ(with.vocabulary.words(), without.vocabulary.words());
  // The decision split: its own synsets, stratified (4:3:2:1).
  ASSERT_EQ(with.decision.size(), 100);
  std::set<std::uint32_t> seen;
  for (const auto* s : {&with.train, &with.validation, &with.test, &with.decision}) {
    for (const auto off : s->synset_offsets) {
      EXPECT_TRUE(seen.insert(off).second) << "synset " << off << " in two splits";
    }
  }
  std::map<std::int64_t, int> counts;
  for (const auto y : with.decision.labels) {
    ++counts[y];
  }
  EXPECT_EQ(counts[0], 40);
  EXPECT_EQ(counts[3], 10);

  o.decision_size = 3;  // fewer than num_classes
  EXPECT_THROW((void)build_dataset(synsets, o), bomf::invalid_argument);
  o.train_size = 700;  // noun.plant (100 synsets) would need 70 + 10 + 20 + 10
  o.decision_size = 100;
  EXPECT_THROW((void)build_dataset(synsets, o), bomf::invalid_argument);
}

TEST(Dataset, OneVsRestRelabelsTheKeptSupersensesStratifiedByTheOriginalOnes) {
  const std::vector<int> files = {5, 6, 18, 20};  // animal, artifact, person, plant
  const auto synsets = synthetic(files, {400, 300, 200, 100});
  DatasetOptions o = four_class_options();
  const SupersenseDataset multi = build_dataset(synsets, o);
  EXPECT_FALSE(multi.one_vs_rest());
  o.one_vs_rest = "noun.plant";
  const SupersenseDataset d = build_dataset(synsets, o);
  EXPECT_TRUE(d.one_vs_rest());
  EXPECT_EQ(d.num_classes(), 2);
  EXPECT_EQ(d.class_names, (std::vector<std::string>{"rest", "noun.plant"}));
  EXPECT_EQ(d.class_lex_filenums, (std::vector<int>{-1, 20}));
  EXPECT_EQ(d.class_pool_counts, (std::vector<std::int64_t>{900, 100}));
  // The same synsets as the multi-class split; labels 1 exactly where the supersense was plant.
  EXPECT_EQ(d.train.synset_offsets, multi.train.synset_offsets);
  for (std::size_t i = 0; i < d.test.labels.size(); ++i) {
    EXPECT_EQ(d.test.labels[i], multi.test.labels[i] == 3 ? 1 : 0);
  }
  std::int64_t positives = 0;
  for (const auto y : d.train.labels) {
    positives += y;
  }
  EXPECT_EQ(positives, 30);  // 10 % of 300, stratified

  o.one_vs_rest = "noun.food";  // a supersense, but not among the kept ones
  EXPECT_THROW((void)build_dataset(synsets, o), bomf::invalid_argument);
  o.one_vs_rest = "food";  // not a supersense name
  EXPECT_THROW(o.validate(), bomf::invalid_argument);
}

TEST(Dataset, RejectsImpossibleRequests) {
  const auto synsets = synthetic({5, 6}, {30, 20});
  DatasetOptions o;
  o.num_classes = 2;
  o.train_size = 40;
  o.validation_size = 10;
  o.test_size = 10;  // 60 > 50 synsets
  EXPECT_THROW((void)build_dataset(synsets, o), bomf::invalid_argument);
  o.num_classes = 3;
  o.train_size = 10;
  EXPECT_THROW((void)build_dataset(synsets, o), bomf::invalid_argument);
  o.num_classes = 2;
  o.seq_len = 0;
  EXPECT_THROW((void)build_dataset(synsets, o), bomf::invalid_argument);
}

TEST(Dataset, RealWordNetWhenInstalled) {
  std::ifstream probe(kDefaultWordNetNounPath);
  if (!probe) {
    GTEST_SKIP() << "wordnet-base is not installed (scripts/fetch-data.sh)";
  }
  const auto synsets = read_noun_synsets(kDefaultWordNetNounPath);
  EXPECT_EQ(synsets.size(), 82115U);  // WordNet 3.0
  DatasetOptions o;
  const SupersenseDataset d = build_dataset(synsets, o);
  std::int64_t pool = 0;
  for (const auto c : d.class_pool_counts) {
    pool += c;
  }
  EXPECT_GT(pool, 68000);
  EXPECT_EQ(d.class_names.front(), "noun.act");
  EXPECT_EQ(d.vocabulary.size(), 10000);
  EXPECT_LT(d.validation.unknown_rate(), 0.2);

  // The study's tasks: all 26 supersenses with a decision split, and noun.food against the rest
  // on the same synsets.
  o.num_classes = 26;
  o.decision_size = 1000;
  const SupersenseDataset all = build_dataset(synsets, o);
  EXPECT_EQ(all.num_classes(), 26);
  EXPECT_EQ(all.decision.size(), 1000);
  o.one_vs_rest = "noun.food";
  const SupersenseDataset food = build_dataset(synsets, o);
  EXPECT_EQ(food.validation.synset_offsets, all.validation.synset_offsets);
  std::int64_t positives = 0;
  for (const auto y : food.validation.labels) {
    positives += y;
  }
  EXPECT_EQ(positives, 31);  // 3.1 % of 1000
}

}  // namespace
}  // namespace supersense
