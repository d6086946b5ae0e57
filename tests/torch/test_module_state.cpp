// snapshot / load_state_dict of a libtorch module: PyTorch's names and order (checked against a
// state_dict written by Python's torch.save for the same architecture), deep copies, and the
// strict checks.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>

#include "bomf/core/error.hpp"
#include "bomf/io/torch_archive.hpp"
#include "bomf/torch/module_state.hpp"
#include "support/error_message.hpp"

namespace bomf {
namespace {

// The architecture of tests/data/torch_save/make_fixtures.py's Model, registered in the same
// order as its Python __init__.
struct BlockImpl : torch::nn::Module {
  BlockImpl() {
    register_module("embed", torch::nn::Embedding(5, 3));
    register_module("layers",
                    torch::nn::ModuleList(torch::nn::Linear(3, 4), torch::nn::Linear(4, 4)));
    register_module("norm", torch::nn::BatchNorm1d(4));
  }
};

struct ModelImpl : torch::nn::Module {
  ModelImpl() {
    register_module("encoder", std::make_shared<BlockImpl>());
    register_module("head", torch::nn::Linear(4, 2));
    register_buffer("position_ids", torch::arange(6, torch::kLong).reshape({1, 6}));
  }
};

const std::string kFixture = std::string(BOMF_TEST_DATA_DIR) + "/torch_save/module_fp32.pt";

TEST(ModuleState, SnapshotNamesAndOrderAreThoseOfPythonsStateDict) {
  ModelImpl model;
  const StateDict python = load_torch_state_dict(kFixture);
  const StateDict ours = snapshot(model);
  ASSERT_EQ(ours.size(), python.size());
  for (std::size_t k = 0; k < ours.size(); ++k) {
    EXPECT_EQ(ours[k].first, python[k].first) << k;
    EXPECT_EQ(ours[k].second.sizes(), python[k].second.sizes()) << ours[k].first;
    EXPECT_EQ(ours[k].second.scalar_type(), python[k].second.scalar_type()) << ours[k].first;
  }
}

TEST(ModuleState, LoadingPythonsWeightsThenSnapshottingGivesThemBack) {
  ModelImpl model;
  const StateDict python = load_torch_state_dict(kFixture);
  load_state_dict(model, python);
  const StateDict ours = snapshot(model);
  for (std::size_t k = 0; k < ours.size(); ++k) {
    EXPECT_TRUE(ours[k].second.equal(python[k].second)) << ours[k].first;
  }
  // A deep copy: training on does not change it.
  {
    torch::NoGradGuard no_grad;
    for (auto& p : model.parameters()) {
      p.add_(1.0);
    }
  }
  EXPECT_TRUE(ours.at("head.weight").equal(python.at("head.weight")));
  EXPECT_FALSE(snapshot(model).at("head.weight").equal(python.at("head.weight")));
  EXPECT_FALSE(ours.at("head.weight").requires_grad());
}

TEST(ModuleState, StrictLoadingNamesWhatIsMissingUnexpectedOrMisshapen) {
  ModelImpl model;
  const StateDict before = snapshot(model);
  StateDict missing;
  StateDict extra = before;
  extra.insert("encoder.extra", torch::zeros({1}));
  StateDict misshapen;
  for (const auto& [name, tensor] : before) {
    if (name != "head.bias") {
      missing.insert(name, tensor);
    }
    misshapen.insert(name, name == "head.weight" ? torch::zeros({3, 3}) : tensor.add(1));
  }
  EXPECT_NE(test::error_message([&] { load_state_dict(model, missing); }).find("'head.bias'"),
            std::string::npos);
  EXPECT_NE(test::error_message([&] { load_state_dict(model, extra); }).find("'encoder.extra'"),
            std::string::npos);
  EXPECT_NE(test::error_message([&] {
              load_state_dict(model, misshapen);
            }).find("entry 'head.weight' has shape [3, 3], the module's has shape [2, 4]"),
            std::string::npos);
  const StateDict after = snapshot(model);  // nothing was copied by the refused loads
  for (std::size_t k = 0; k < after.size(); ++k) {
    EXPECT_TRUE(after[k].second.equal(before[k].second)) << after[k].first;
  }
  load_state_dict(model, missing, /*strict=*/false);  // copies the common entries
  load_state_dict(model, extra, /*strict=*/false);
}

TEST(ModuleState, ValuesAreConvertedToTheModulesDtype) {
  ModelImpl model;
  const StateDict bf16 =
      load_torch_state_dict(std::string(BOMF_TEST_DATA_DIR) + "/torch_save/module_bf16.pt");
  load_state_dict(model, bf16);
  EXPECT_EQ(snapshot(model).at("head.weight").scalar_type(), torch::kFloat);
  EXPECT_TRUE(snapshot(model).at("head.weight").equal(bf16.at("head.weight").to(torch::kFloat)));
}

}  // namespace
}  // namespace bomf
