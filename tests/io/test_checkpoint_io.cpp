// Safetensors files (single, sharded, memory-mapped), libtorch archives and streaming fusion.
#include <ATen/ops/isfinite.h>
#include <ATen/ops/sum.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "../fusion/fusion_test_util.hpp"
#include "bomf/core/error.hpp"
#include "bomf/fusion/streaming.hpp"
#include "bomf/fusion/weight_fuser.hpp"
#include "bomf/io/safetensors.hpp"
#include "bomf/io/safetensors_writer.hpp"
#include "bomf/io/torch_archive.hpp"
#include "support/error_message.hpp"

namespace bomf {
namespace {

namespace fs = std::filesystem;

/// A fresh temporary directory per test, removed afterwards.
class CheckpointIo : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ =
        fs::temp_directory_path() / ("bomf_io_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  fs::path dir_;
};

StateDict every_dtype() {
  StateDict sd;
  sd.insert("f32", test::random_tensor({4, 7}, at::kFloat, 1));
  sd.insert("bf16", test::random_tensor({9}, at::kBFloat16, 2));
  sd.insert("f16", test::random_tensor({3, 1, 2}, at::kHalf, 3));
  sd.insert("f64", test::random_tensor({5}, at::kDouble, 4));
  sd.insert("i64", test::random_tensor({6}, at::kLong, 5));
  sd.insert("i32", test::random_tensor({2, 2}, at::kInt, 6));
  sd.insert("i16", test::random_tensor({3}, at::kShort, 7));
  sd.insert("i8", test::random_tensor({3}, at::kChar, 8));
  sd.insert("u8", test::random_tensor({5}, at::kByte, 9));
  sd.insert("bool", test::random_tensor({4}, at::kFloat, 10) > 0);
  sd.insert("scalar", test::random_tensor({}, at::kFloat, 11));
  sd.insert("empty", test::random_tensor({0, 3}, at::kFloat, 12));
  return sd;
}

std::vector<SafetensorsTensorInfo> layout_of_for_test(const StateDict& sd) {
  std::vector<SafetensorsTensorInfo> out;
  for (const auto& [name, tensor] : sd) {
    out.push_back({name, safetensors_dtype_of(tensor.scalar_type()),
                   std::vector<std::int64_t>(tensor.sizes().begin(), tensor.sizes().end()), 0, 0});
  }
  return out;
}

void expect_equal(const StateDict& a, const StateDict& b) {
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t k = 0; k < a.size(); ++k) {
    EXPECT_EQ(a[k].first, b[k].first);
    EXPECT_EQ(a[k].second.scalar_type(), b[k].second.scalar_type()) << a[k].first;
    EXPECT_TRUE(a[k].second.equal(b[k].second)) << a[k].first;
  }
}

TEST_F(CheckpointIo, SafetensorsRoundTripOfEveryDtype) {
  const StateDict original = every_dtype();
  save_safetensors(path("m.safetensors"), original, {{"format", "pt"}});
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1)
      << "a temporary file was left behind";
  expect_equal(load_safetensors(path("m.safetensors")), original);
  const SafetensorsCheckpoint checkpoint(path("m.safetensors"));
  EXPECT_EQ(checkpoint.metadata().at("format"), "pt");
  EXPECT_EQ(checkpoint.num_shards(), 1u);
  expect_equal(checkpoint.state_dict(), original);  // zero-copy views
}

TEST_F(CheckpointIo, NonContiguousTensorsAreWrittenRowMajor) {
  const at::Tensor t = test::random_tensor({3, 5}, at::kFloat, 1).t();
  save_safetensors(path("t.safetensors"), StateDict{{"t", t}});
  EXPECT_TRUE(load_safetensors(path("t.safetensors")).at("t").equal(t));
}

TEST_F(CheckpointIo, MappedViewsArePrivateAndOutliveTheCheckpoint) {
  save_safetensors(path("m.safetensors"), every_dtype());
  at::Tensor view;
  {
    const SafetensorsCheckpoint checkpoint(path("m.safetensors"));
    view = checkpoint.tensor("f32");
    at::Tensor copy = checkpoint.tensor("f32", /*copy=*/true);
    EXPECT_TRUE(view.equal(copy));
  }
  view.fill_(42.0);  // the mapping is alive and copy-on-write
  EXPECT_TRUE(load_safetensors(path("m.safetensors")).at("f32").equal(every_dtype().at("f32")));
}

TEST_F(CheckpointIo, ShardedRoundTripAndIndexFormat) {
  const StateDict original = every_dtype();
  const std::string index = save_sharded_safetensors(dir_.string(), original, 64);
  EXPECT_EQ(index, path("model.safetensors.index.json"));
  const SafetensorsCheckpoint checkpoint(index);
  EXPECT_GT(checkpoint.num_shards(), 2u);
  const StateDict loaded = load_safetensors(index);
  ASSERT_EQ(loaded.size(), original.size());
  for (const auto& [name, tensor] : original) {
    EXPECT_TRUE(loaded.at(name).equal(tensor)) << name;
  }
  std::ifstream in(index);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("\"total_size\""), std::string::npos);
  EXPECT_NE(text.find("model-00001-of-"), std::string::npos);
}

TEST_F(CheckpointIo, AnEmptyStateDictRoundTripsSingleAndSharded) {
  save_safetensors(path("empty.safetensors"), StateDict{}, {{"format", "pt"}});
  const SafetensorsCheckpoint single(path("empty.safetensors"));
  EXPECT_EQ(single.names().size(), 0u);
  EXPECT_EQ(single.metadata().at("format"), "pt");
  const std::string index = save_sharded_safetensors(dir_.string(), StateDict{}, 64);
  const SafetensorsCheckpoint sharded(index);  // {"weight_map": {}}: no shard is opened
  EXPECT_EQ(sharded.names().size(), 0u);
  EXPECT_EQ(sharded.num_shards(), 0u);
  EXPECT_TRUE(sharded.metadata().empty());
  EXPECT_EQ(load_safetensors(index).size(), 0u);
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

TEST_F(CheckpointIo, MalformedIndexesAreRejected) {
  save_safetensors(path("a.safetensors"),
                   StateDict{{"w", test::random_tensor({2}, at::kFloat, 1)}});
  write_text(path("ok.json"), R"({"weight_map": {"w": "a.safetensors"}})");
  EXPECT_EQ(load_safetensors(path("ok.json")).size(), 1u);
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"not JSON", "{"},
      {"no weight_map", R"({"metadata": {}})"},
      {"non-string shard", R"({"weight_map": {"w": 3}})"},
      {"path traversal", R"({"weight_map": {"w": "../a.safetensors"}})"},
      {"missing shard file", R"({"weight_map": {"w": "b.safetensors"}})"},
      {"tensor not in shard", R"({"weight_map": {"v": "a.safetensors"}})"},
  };
  for (const auto& [what, text] : bad) {
    write_text(path("bad.json"), text);
    EXPECT_THROW(SafetensorsCheckpoint(path("bad.json")), io_error) << what;
  }
}

TEST_F(CheckpointIo, MalformedFilesOnDiskAreIoErrors) {
  save_safetensors(path("m.safetensors"), every_dtype());
  const auto size = fs::file_size(path("m.safetensors"));
  fs::copy_file(path("m.safetensors"), path("cut.safetensors"));
  fs::resize_file(path("cut.safetensors"), size - 3);
  EXPECT_THROW(SafetensorsCheckpoint(path("cut.safetensors")), io_error);
  EXPECT_THROW(SafetensorsCheckpoint(path("missing.safetensors")), io_error);
  EXPECT_THROW(SafetensorsCheckpoint(dir_.string()), io_error);
  write_text(path("empty.safetensors"), "");
  EXPECT_THROW(SafetensorsCheckpoint(path("empty.safetensors")), io_error);
}

TEST_F(CheckpointIo, DtypesWithoutALibtorchTypeAreReportedOnAccess) {
  SafetensorsWriter writer(path("u16.safetensors"),
                           {SafetensorsTensorInfo{"u", SafetensorsDtype::U16, {2}, 0, 0}});
  const unsigned char bytes[4] = {1, 0, 2, 0};
  writer.write(0, bytes, 4);
  writer.finish();
  const SafetensorsCheckpoint checkpoint(path("u16.safetensors"));
  EXPECT_EQ(checkpoint.info("u").nbytes(), 4u);
  EXPECT_THROW((void)checkpoint.tensor("u"), io_error);
  EXPECT_THROW((void)checkpoint.tensor("nope"), invalid_argument);
}

TEST_F(CheckpointIo, UnfinishedWriterLeavesNoFile) {
  {
    SafetensorsWriter writer(path("x.safetensors"),
                             {SafetensorsTensorInfo{"u", SafetensorsDtype::F32, {2}, 0, 0}});
    EXPECT_THROW(writer.write(0, "abc", 3), invalid_argument);
    EXPECT_THROW(writer.finish(), io_error);  // "u" never written
  }
  EXPECT_FALSE(fs::exists(path("x.safetensors")));
  EXPECT_TRUE(fs::is_empty(dir_)) << "the temporary file was left behind";
}

// The writers once used the fixed temporary name <path>.tmp: an input so named was truncated
// while being read, an unrelated file was overwritten and removed, and two writers of one path
// shared it.
TEST_F(CheckpointIo, WritersUseAFreshTemporaryAndLeaveOtherFilesAlone) {
  write_text(path("m.safetensors.tmp"), "not ours");
  write_text(path("m.pt.tmp"), "not ours either");
  write_text(path("model.safetensors.index.json.tmp"), "nor this");
  const StateDict sd = every_dtype();
  SafetensorsWriter first(path("m.safetensors"), layout_of_for_test(sd));
  SafetensorsWriter second(path("m.safetensors"), layout_of_for_test(sd));
  for (std::size_t k = 0; k < sd.size(); ++k) {
    const at::Tensor t = sd[k].second.contiguous();
    first.write(k, t.data_ptr(), t.nbytes());
    second.write(k, t.data_ptr(), t.nbytes());
  }
  first.finish();
  second.finish();
  expect_equal(load_safetensors(path("m.safetensors")), sd);
  save_torch_state_dict(path("m.pt"), sd);
  save_torch_archive(path("m.archive"), StateDict{{"w", sd.at("f32")}});
  (void)save_sharded_safetensors(dir_.string(), sd, 64);
  std::ifstream in(path("m.safetensors.tmp"));
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), "not ours");
  std::ifstream in2(path("m.pt.tmp"));
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in2), {}), "not ours either");
  std::ifstream in3(path("model.safetensors.index.json.tmp"));
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in3), {}), "nor this");
  for (const auto& entry : fs::directory_iterator(dir_)) {
    EXPECT_EQ(entry.path().filename().string().find(".bomf-"), std::string::npos)
        << "left behind: " << entry.path();
  }
}

TEST_F(CheckpointIo, AnInputNamedLikeAnOldTemporaryIsOnlyRead) {
  const StateDict a = test::random_state_dict(at::kFloat, 1);
  const StateDict b = test::random_state_dict(at::kFloat, 2);
  save_safetensors(path("fused.safetensors.tmp"), a);
  save_safetensors(path("b.safetensors"), b);
  std::ifstream in(path("fused.safetensors.tmp"), std::ios::binary);
  const std::string before(std::istreambuf_iterator<char>(in), {});
  const Eigen::Vector2d delta(0.25, 0.75);
  fuse_safetensors_files({path("fused.safetensors.tmp"), path("b.safetensors")}, delta,
                         path("fused.safetensors"));
  std::ifstream again(path("fused.safetensors.tmp"), std::ios::binary);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(again), {}), before);
  expect_equal(load_safetensors(path("fused.safetensors")), fuse_state_dicts({a, b}, delta));
}

TEST_F(CheckpointIo, StreamingFusionRefusesAnOutputThatIsAnInput) {
  const StateDict a = test::random_state_dict(at::kFloat, 1);
  save_safetensors(path("a.safetensors"), a);
  save_safetensors(path("b.safetensors"), test::random_state_dict(at::kFloat, 2));
  fs::create_symlink(path("a.safetensors"), path("link.safetensors"));
  fs::create_hard_link(path("b.safetensors"), path("hard.safetensors"));
  fs::create_directories(dir_ / "sharded");
  const std::string index = save_sharded_safetensors((dir_ / "sharded").string(), a, 4096);
  std::string shard;
  for (const auto& entry : fs::directory_iterator(dir_ / "sharded")) {
    if (entry.path().extension() == ".safetensors") {
      shard = entry.path().string();
    }
  }
  ASSERT_FALSE(shard.empty());
  const auto before = fs::file_size(path("a.safetensors"));
  const Eigen::Vector2d delta(0.5, 0.5);
  const std::vector<std::string> inputs = {path("a.safetensors"), path("b.safetensors")};
  for (const auto& output :
       {path("a.safetensors"), path("link.safetensors"), path("hard.safetensors")}) {
    const std::string what =
        test::error_message([&] { fuse_safetensors_files(inputs, delta, output); });
    EXPECT_NE(what.find("is the same file as input"), std::string::npos) << output << ": " << what;
  }
  const std::string sharded = test::error_message([&] {
    fuse_safetensors_files({index, path("b.safetensors")}, delta, shard);
  });
  EXPECT_NE(sharded.find("is the same file as input 1 of"), std::string::npos) << sharded;
  EXPECT_EQ(fs::file_size(path("a.safetensors")), before);
  expect_equal(load_safetensors(path("a.safetensors")), a);
}

TEST_F(CheckpointIo, NonRegularInputsAreRefusedWithoutBlocking) {
  ASSERT_EQ(::mkfifo(path("pipe.safetensors").c_str(), 0600), 0);
  ASSERT_EQ(::mkfifo(path("pipe.json").c_str(), 0600), 0);
  for (const auto& file : {path("pipe.safetensors"), path("pipe.json")}) {
    const std::string what =
        test::error_message<io_error>([&] { SafetensorsCheckpoint checkpoint(file); });
    EXPECT_NE(what.find("is a FIFO (named pipe), expected a regular file"), std::string::npos)
        << what;
  }
  const std::string device =
      test::error_message<io_error>([&] { SafetensorsCheckpoint checkpoint("/dev/null"); });
  EXPECT_NE(device.find("character device"), std::string::npos) << device;
}

TEST_F(CheckpointIo, TorchPickleAndArchiveRoundTrips) {
  const StateDict original = every_dtype();
  save_torch_state_dict(path("m.pt"), original);
  expect_equal(load_torch_state_dict(path("m.pt")), original);
  StateDict params;
  params.insert("layer.weight", test::random_tensor({3, 2}, at::kFloat, 1));
  params.insert("layer.bias", test::random_tensor({3}, at::kFloat, 2));
  params.insert("steps", test::random_tensor({1}, at::kLong, 3));
  save_torch_archive(path("m.archive"), params);
  const StateDict loaded = load_torch_state_dict(path("m.archive"));
  ASSERT_EQ(loaded.size(), params.size());
  for (const auto& [name, tensor] : params) {
    EXPECT_TRUE(loaded.at(name).equal(tensor)) << name;
  }
  write_text(path("garbage.pt"), "definitely not a checkpoint");
  EXPECT_THROW((void)load_torch_state_dict(path("garbage.pt")), io_error);
  EXPECT_THROW((void)load_torch_state_dict(path("missing.pt")), io_error);
}

std::vector<StateDict> streaming_members(at::ScalarType dtype) {
  std::vector<StateDict> members;
  for (std::uint32_t i = 0; i < 4; ++i) {
    members.push_back(test::random_state_dict(dtype, i + 20));
  }
  return members;
}

TEST_F(CheckpointIo, StreamingFusionEqualsInMemoryFusion) {
  for (at::ScalarType dtype : {at::kFloat, at::kBFloat16, at::kHalf}) {
    const auto members = streaming_members(dtype);
    std::vector<std::string> files;
    for (std::size_t i = 0; i < members.size(); ++i) {
      files.push_back(path("m" + std::to_string(i) + ".safetensors"));
      save_safetensors(files.back(), members[i]);
    }
    const Eigen::Vector4d delta(0.1, 0.4, -0.2, 0.7);
    for (std::optional<at::ScalarType> out :
         {std::optional<at::ScalarType>{}, std::optional<at::ScalarType>{at::kFloat}}) {
      StreamingFusionOptions options;
      options.fusion.output_dtype = out;
      options.fusion.copy_non_floating_from = 1;
      options.chunk_elements = 1000;  // several chunks per large tensor
      options.metadata = {{"fused_by", "bomf"}};
      std::vector<std::string> progress;
      std::uint64_t last_done = 0;
      std::uint64_t last_total = 0;
      options.progress = [&](std::uint64_t done, std::uint64_t total, const std::string& name) {
        EXPECT_LE(done, total);
        last_done = done;
        last_total = total;
        progress.push_back(name);
      };
      EXPECT_TRUE(fuse_safetensors_files(files, delta, path("fused.safetensors"), options).empty())
          << "every fused value is finite";
      EXPECT_EQ(progress.size(), members[0].size());
      // Progress counts output bytes: it ends at the size of the output's data section.
      const SafetensorsCheckpoint written(path("fused.safetensors"));
      std::uint64_t data_bytes = 0;
      for (const auto& name : written.names()) {
        data_bytes += written.info(name).nbytes();
      }
      EXPECT_EQ(last_done, data_bytes);
      EXPECT_EQ(last_total, data_bytes);
      const StateDict streamed = load_safetensors(path("fused.safetensors"));
      const StateDict in_memory = WeightFuser(members, options.fusion).fuse(delta);
      expect_equal(streamed, in_memory);
      EXPECT_EQ(SafetensorsCheckpoint(path("fused.safetensors")).metadata().at("fused_by"), "bomf");
    }
  }
}

// Coefficients whose sums overflow (or an output dtype too narrow for them) make NaN or ±∞: the
// file is written, and the tensors that hold them are returned with their counts, equal to
// libtorch's count on the written file, for every output dtype and across chunks.
TEST_F(CheckpointIo, StreamingFusionReportsTheTensorsWithNonFiniteValues) {
  const auto members = streaming_members(at::kFloat);
  std::vector<std::string> files;
  for (std::size_t i = 0; i < members.size(); ++i) {
    files.push_back(path("m" + std::to_string(i) + ".safetensors"));
    save_safetensors(files.back(), members[i]);
  }
  for (const auto& [out, scale] : {std::pair<at::ScalarType, double>{at::kFloat, 1e38},
                                   {at::kHalf, 1e5},
                                   {at::kBFloat16, 1e38},
                                   {at::kDouble, 1e308}}) {
    StreamingFusionOptions options;
    options.fusion.output_dtype = out;
    options.chunk_elements = 1000;
    const Eigen::Vector4d delta = Eigen::Vector4d(0.1, 0.4, -0.2, 0.7) * scale;
    const std::vector<NonFiniteTensor> reported =
        fuse_safetensors_files(files, delta, path("fused.safetensors"), options);
    const StateDict written = load_safetensors(path("fused.safetensors"));
    std::vector<NonFiniteTensor> expected;
    for (std::size_t k = 0; k < written.size(); ++k) {
      const at::Tensor& t = written[k].second;
      if (t.is_floating_point()) {
        const auto count = (~at::isfinite(t)).sum().item<std::int64_t>();
        if (count > 0) {
          expected.push_back({written[k].first, static_cast<std::uint64_t>(count)});
        }
      }
    }
    ASSERT_FALSE(expected.empty()) << "the coefficients overflow " << out;
    ASSERT_EQ(reported.size(), expected.size()) << out;
    for (std::size_t i = 0; i < expected.size(); ++i) {
      EXPECT_EQ(reported[i].name, expected[i].name) << out;
      EXPECT_EQ(reported[i].count, expected[i].count) << out << " " << expected[i].name;
    }
  }
}

TEST_F(CheckpointIo, StreamingFusionReadsShardedInputs) {
  const auto members = streaming_members(at::kFloat);
  fs::create_directories(dir_ / "a");
  const std::string sharded = save_sharded_safetensors((dir_ / "a").string(), members[0], 4096);
  save_safetensors(path("b.safetensors"), members[1]);
  const Eigen::Vector2d delta(0.25, 0.75);
  fuse_safetensors_files({sharded, path("b.safetensors")}, delta, path("f.safetensors"));
  const StateDict fused = load_safetensors(path("f.safetensors"));
  const StateDict expected = WeightFuser({members[0], members[1]}).fuse(delta);
  for (const auto& [name, tensor] : expected) {
    EXPECT_TRUE(fused.at(name).equal(tensor)) << name;
  }
}

TEST_F(CheckpointIo, StreamingFusionChecksInputsBeforeWriting) {
  const auto members = streaming_members(at::kFloat);
  save_safetensors(path("a.safetensors"), members[0]);
  StateDict other = members[1];
  other.at("layer.0.bias") = test::random_tensor({66}, at::kFloat, 1);
  save_safetensors(path("b.safetensors"), other);
  try {
    fuse_safetensors_files({path("a.safetensors"), path("b.safetensors")},
                           Eigen::Vector2d(0.5, 0.5), path("out.safetensors"));
    ADD_FAILURE() << "expected an error";
  } catch (const invalid_argument& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("layer.0.bias"), std::string::npos) << what;
    EXPECT_NE(what.find("[65]"), std::string::npos) << what;
    EXPECT_NE(what.find("[66]"), std::string::npos) << what;
  }
  EXPECT_FALSE(fs::exists(path("out.safetensors")));
  EXPECT_THROW(fuse_safetensors_files({path("a.safetensors")}, Eigen::Vector2d(0.5, 0.5),
                                      path("out.safetensors")),
               invalid_argument);
  EXPECT_THROW(fuse_safetensors_files({}, Eigen::VectorXd(0), path("out.safetensors")),
               invalid_argument);
}

}  // namespace
}  // namespace bomf
