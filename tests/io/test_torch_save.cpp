// load_torch_state_dict on files written by Python's torch.save: the committed fixtures of
// tests/data/torch_save (made by make_fixtures.py with PyTorch 1.13), and — when Debian's
// python3-torch is importable — fresh files written by that script during the test.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include <ATen/ops/arange.h>
#include <ATen/ops/zeros.h>

#include "bomf/core/error.hpp"
#include "bomf/io/torch_archive.hpp"
#include "io/torch_pickle.hpp"
#include "support/error_message.hpp"

namespace bomf {
namespace {

namespace fs = std::filesystem;

const std::string kFixtures = std::string(BOMF_TEST_DATA_DIR) + "/torch_save";

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

std::string dtype_name(at::ScalarType type) {
  switch (type) {
    case at::kFloat:
      return "float32";
    case at::kDouble:
      return "float64";
    case at::kHalf:
      return "float16";
    case at::kBFloat16:
      return "bfloat16";
    case at::kLong:
      return "int64";
    case at::kInt:
      return "int32";
    case at::kShort:
      return "int16";
    case at::kChar:
      return "int8";
    case at::kByte:
      return "uint8";
    case at::kBool:
      return "bool";
    default:
      return "other";
  }
}

/// Every entry of `expected` (name, dtype, shape, values) matches the loaded state dict, in order.
void expect_matches(const StateDict& loaded, const nlohmann::json& expected,
                    const std::string& file) {
  ASSERT_EQ(loaded.size(), expected.size()) << file;
  for (std::size_t k = 0; k < loaded.size(); ++k) {
    const auto& entry = expected[k];
    const auto& [name, tensor] = loaded[k];
    SCOPED_TRACE(file + ": " + name);
    EXPECT_EQ(name, entry["name"].get<std::string>());
    EXPECT_EQ(dtype_name(tensor.scalar_type()), entry["dtype"].get<std::string>());
    EXPECT_EQ(std::vector<std::int64_t>(tensor.sizes().begin(), tensor.sizes().end()),
              entry["shape"].get<std::vector<std::int64_t>>());
    const auto& values = entry["values"];
    ASSERT_EQ(static_cast<std::size_t>(tensor.numel()), values.size());
    const at::Tensor flat = tensor.contiguous().reshape({-1});
    if (tensor.is_floating_point()) {
      const at::Tensor wide = flat.to(at::kDouble);
      for (std::int64_t i = 0; i < wide.numel(); ++i) {
        EXPECT_EQ(wide.data_ptr<double>()[i], values[static_cast<std::size_t>(i)].get<double>())
            << "element " << i;
      }
    } else {
      const at::Tensor wide = flat.to(at::kLong);
      for (std::int64_t i = 0; i < wide.numel(); ++i) {
        EXPECT_EQ(wide.data_ptr<std::int64_t>()[i],
                  values[static_cast<std::size_t>(i)].get<std::int64_t>())
            << "element " << i;
      }
    }
  }
}

void check_directory(const std::string& directory) {
  const nlohmann::json expected = read_json(directory + "/expected.json");
  for (const auto& [file, entries] : expected["readable"].items()) {
    StateDict loaded;
    ASSERT_NO_THROW(loaded = load_torch_state_dict(directory + "/" + file)) << file;
    expect_matches(loaded, entries, file);
  }
  for (const auto& [file, message] : expected["refused"].items()) {
    const std::string what =
        test::error_message<io_error>([&] { (void)load_torch_state_dict(directory + "/" + file); });
    EXPECT_NE(what.find(message.get<std::string>()), std::string::npos) << file << ": " << what;
    EXPECT_NE(what.find(file), std::string::npos) << "the message names the file: " << what;
  }
}

TEST(TorchSave, CommittedFixturesWrittenByPythonLoad) {
  check_directory(kFixtures);
}

TEST(TorchSave, OrderedDictStateDictKeepsModuleOrderAndNestedNames) {
  const StateDict sd = load_torch_state_dict(kFixtures + "/module_fp32.pt");
  ASSERT_GE(sd.size(), 3u);
  EXPECT_EQ(sd[0].first, "position_ids");
  EXPECT_EQ(sd[0].second.scalar_type(), at::kLong);
  EXPECT_TRUE(sd.contains("encoder.layers.1.weight"));
  EXPECT_EQ(sd.at("encoder.norm.num_batches_tracked").scalar_type(), at::kLong);
  EXPECT_EQ(sd.at("encoder.norm.num_batches_tracked").item<std::int64_t>(), 1);
}

TEST(TorchSave, ViewsOfOneStorageShareItAsInPython) {
  const StateDict sd = load_torch_state_dict(kFixtures + "/plain_dict.pt");
  const at::Tensor& base = sd.at("base");
  const at::Tensor& transposed = sd.at("transposed");
  EXPECT_TRUE(transposed.equal(base.t()));
  EXPECT_FALSE(transposed.is_contiguous());
  EXPECT_EQ(sd.at("row").data_ptr(), static_cast<char*>(base.data_ptr()) + 4 * sizeof(float));
}

/// True when Debian's Python has PyTorch (python3-torch); the tests that need it skip otherwise.
bool python_has_torch() {
  return std::system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") == 0;
}

/// A fresh directory for this test process.
fs::path fresh_directory(const std::string& stem) {
  const fs::path dir = fs::temp_directory_path() / (stem + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

TEST(TorchSave, FreshFilesFromThisMachinesPythonLoad) {
  if (!python_has_torch()) {
    GTEST_SKIP() << "/usr/bin/python3 cannot import torch (python3-torch not installed)";
  }
  const fs::path out = fresh_directory("bomf_torch_save_");
  const std::string command = "/usr/bin/python3 '" + kFixtures + "/make_fixtures.py' --out '" +
                              out.string() + "' >/dev/null 2>&1";
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  check_directory(out.string());
  fs::remove_all(out);
}

// save_torch_state_dict says Python's torch.load returns the same names, order and tensors.
TEST(TorchSave, PythonLoadsWhatSaveTorchStateDictWrites) {
  if (!python_has_torch()) {
    GTEST_SKIP() << "/usr/bin/python3 cannot import torch (python3-torch not installed)";
  }
  const fs::path dir = fresh_directory("bomf_torch_load_");
  StateDict sd;
  sd.insert("layer.weight", at::arange(6, at::kFloat).reshape({2, 3}).div(4));
  sd.insert("layer.bias", at::arange(2, at::kBFloat16));
  sd.insert("steps", at::arange(3, at::kLong).mul(7));
  sd.insert("mask", at::arange(4, at::kInt).remainder(2).to(at::kBool));
  const std::string file = (dir / "bomf.pt").string();
  save_torch_state_dict(file, sd);
  const std::string script =
      "import sys, torch\n"
      "d = torch.load(sys.argv[1])\n"
      "for k, v in d.items():\n"
      "    print(k, str(v.dtype).replace('torch.', ''), list(v.shape), "
      "v.double().reshape(-1).tolist())\n";
  const std::string out_file = (dir / "out.txt").string();
  const std::string command =
      "/usr/bin/python3 -c \"" + script + "\" '" + file + "' > '" + out_file + "' 2>&1";
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  std::ifstream in(out_file);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text,
            "layer.weight float32 [2, 3] [0.0, 0.25, 0.5, 0.75, 1.0, 1.25]\n"
            "layer.bias bfloat16 [2] [0.0, 1.0]\n"
            "steps int64 [3] [0.0, 7.0, 14.0]\n"
            "mask bool [4] [0.0, 1.0, 0.0, 1.0]\n");
  fs::remove_all(dir);
}

TEST(TorchSave, NonRegularFilesAreRefusedWithoutBlocking) {
  const fs::path dir = fresh_directory("bomf_torch_fifo_");
  const std::string fifo = (dir / "model.pt").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const std::string what =
      test::error_message<io_error>([&] { (void)load_torch_state_dict(fifo); });
  EXPECT_NE(what.find("FIFO"), std::string::npos) << what;
  EXPECT_NE(what.find("expected a regular file"), std::string::npos) << what;
  fs::remove_all(dir);
}

// The pickle interpreter on hostile input: every truncation and many byte flips of a real
// data.pkl end in an io_error (or a valid result), never a crash or a hang.
TEST(TorchSave, MalformedPicklesAreIoErrors) {
  // data.pkl of module_fp32.pt, extracted by hand from the zip (stored, not compressed).
  std::ifstream in(kFixtures + "/module_fp32.pt", std::ios::binary);
  const std::string zip((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto begin = zip.find("\x80\x02", 0);
  const auto end = zip.find(".PK", begin);
  ASSERT_NE(begin, std::string::npos);
  ASSERT_NE(end, std::string::npos);
  const std::string pickle = zip.substr(begin, end + 1 - begin);
  const detail::TorchStorageLoader storage = [](const std::string& key, at::ScalarType dtype,
                                                std::int64_t numel) {
    if (numel > 4096) {  // a flipped length byte: the archive would have no such record
      throw io_error("storage '" + key + "' is too large for this test");
    }
    return at::zeros({numel}, at::TensorOptions().dtype(dtype));
  };
  const auto result = detail::unpickle_state_dict(pickle, storage, "x");
  ASSERT_TRUE(result.state_dict.has_value());
  for (std::size_t cut = 0; cut < pickle.size(); ++cut) {
    EXPECT_THROW((void)detail::unpickle_state_dict(pickle.substr(0, cut), storage, "x"), io_error)
        << cut;
  }
  for (std::size_t i = 0; i < pickle.size(); ++i) {
    for (const char flip : {'\x00', '\xff', 'R', 'b', '(', 'Q'}) {
      std::string bad = pickle;
      bad[i] = flip;
      try {
        (void)detail::unpickle_state_dict(bad, storage, "x");
      } catch (const io_error&) {
      } catch (const invalid_argument&) {  // e.g. a duplicate name in the StateDict
      }
    }
  }
}

}  // namespace
}  // namespace bomf
