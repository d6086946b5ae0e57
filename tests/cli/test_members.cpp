// Members of the bomf program: format detection, PEFT LoRA adapters (both fusion modes, against
// the float64 numbers make_fixtures.py computed with numpy, and against bomf/fusion/lora.hpp),
// torch.save members, and `bomf fuse` on adapter directories.
#include <ATen/ops/zeros.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bomf/core/error.hpp"
#include "bomf/fusion/lora.hpp"
#include "bomf/io/safetensors.hpp"
#include "bomf/io/torch_archive.hpp"
#include "cli/arguments.hpp"
#include "cli/members.hpp"
#include "cli/peft.hpp"
#include "cli_test_util.hpp"
#include "support/error_message.hpp"

namespace bomf::cli {
namespace {

namespace fs = std::filesystem;
using test::q;

const std::string kPeft = std::string(BOMF_TEST_DATA_DIR) + "/peft";
const std::string kTorchSave = std::string(BOMF_TEST_DATA_DIR) + "/torch_save";

nlohmann::json read_json(const std::string& path) {
  return nlohmann::json::parse(test::read_bytes(path));
}

/// `tensor` (any float dtype) against row-major float64 `values`, to a relative tolerance.
void expect_close(const at::Tensor& tensor, const nlohmann::json& values, double tolerance,
                  const std::string& what) {
  const at::Tensor flat = tensor.contiguous().to(at::kDouble).reshape({-1});
  ASSERT_EQ(static_cast<std::size_t>(flat.numel()), values.size()) << what;
  for (std::int64_t i = 0; i < flat.numel(); ++i) {
    const double want = values[static_cast<std::size_t>(i)].get<double>();
    EXPECT_NEAR(flat.data_ptr<double>()[i], want, tolerance * (1 + std::abs(want)))
        << what << " element " << i;
  }
}

Eigen::VectorXd delta_of(const nlohmann::json& expected) {
  const auto d = expected["delta"].get<std::vector<double>>();
  return Eigen::Map<const Eigen::VectorXd>(d.data(), static_cast<Eigen::Index>(d.size()));
}

class PeftMembers : public test::ScratchDirectory {
 protected:
  /// The fixture directory `fixtures` (committed, or written fresh by Python) checked through
  /// `Members::write_fused` in both modes.
  void check_fixtures(const std::string& fixtures) {
    const nlohmann::json expected = read_json(fixtures + "/expected.json");
    const Eigen::VectorXd delta = delta_of(expected);
    const auto member = [&](const char* name) { return fixtures + "/" + name; };

    // Factors (the paper's): every tensor, A and B included, is Σ δ_i w_i.
    MemberOptions factors;
    const Members same({member("member_1"), member("member_2"), member("member_3")}, factors);
    EXPECT_EQ(same.format(), MemberFormat::peft_adapter);
    same.write_fused(delta, path("factors"));
    const StateDict fused = load_safetensors(path("factors/adapter_model.safetensors"));
    for (const auto& [key, values] : expected["same"]["factors"].items()) {
      expect_close(fused.at(key), values, 1e-6, key);
    }
    for (const auto& [key, values] : expected["same"]["linear"].items()) {
      expect_close(fused.at(key), values, 1e-6, key);
    }
    EXPECT_EQ(read_json(path("factors/adapter_config.json")),
              read_json(member("member_1") + "/adapter_config.json"));
    // ... which is fuse_lora_factors of bomf/fusion/lora.hpp, bit for bit.
    std::vector<LoraAdapter> q_proj;
    for (const char* name : {"member_1", "member_2", "member_3"}) {
      const PeftAdapter adapter = load_peft_adapter(member(name));
      q_proj.push_back({adapter.tensors.at("base_model.model.model.layers.0.q_proj.lora_A.weight"),
                        adapter.tensors.at("base_model.model.model.layers.0.q_proj.lora_B.weight"),
                        adapter.config.scale_of("model.layers.0.q_proj")});
    }
    const LoraAdapter reference = fuse_lora_factors(q_proj, delta);
    EXPECT_TRUE(
        fused.at("base_model.model.model.layers.0.q_proj.lora_A.weight").equal(reference.a));
    EXPECT_TRUE(
        fused.at("base_model.model.model.layers.0.q_proj.lora_B.weight").equal(reference.b));

    // Exact: members of different ranks and scales (rsLoRA); B'A' at scale 1 is Σ δ_i s_i B_i A_i.
    MemberOptions exact;
    exact.lora = LoraFusionMode::exact;
    const std::vector<std::string> mixed_paths = {member("member_1"), member("member_2"),
                                                  member("rslora_member")};
    const Members mixed(mixed_paths, exact);
    mixed.write_fused(delta, path("exact"));
    const StateDict out = load_safetensors(path("exact/adapter_model.safetensors"));
    const PeftLoraConfig config = parse_peft_config(
        test::read_bytes(path("exact/adapter_config.json")), "exact/adapter_config.json");
    EXPECT_EQ(config.r, 2 + 2 + 4);
    EXPECT_FALSE(config.use_rslora);
    for (const auto& [module, update] : expected["mixed"]["exact_update"].items()) {
      const at::Tensor& a = out.at(update["a"].get<std::string>());
      const at::Tensor& b = out.at(update["b"].get<std::string>());
      EXPECT_EQ(a.size(0), config.rank_of(module)) << module;  // PEFT will read the right rank
      EXPECT_DOUBLE_EQ(config.scale_of(module), 1.0) << module;
      expect_close(b.to(at::kDouble).matmul(a.to(at::kDouble)), update["values"], 1e-5, module);
    }
    for (const auto& [key, values] : expected["mixed"]["linear"].items()) {
      expect_close(out.at(key), values, 1e-6, key);
    }
    // The exact update is lora_delta_exact of bomf/fusion/lora.hpp.
    std::vector<LoraAdapter> v_proj;
    for (const auto& p : mixed_paths) {
      const PeftAdapter adapter = load_peft_adapter(p);
      v_proj.push_back({adapter.tensors.at("base_model.model.model.layers.0.v_proj.lora_A.weight"),
                        adapter.tensors.at("base_model.model.model.layers.0.v_proj.lora_B.weight"),
                        adapter.config.scale_of("model.layers.0.v_proj")});
    }
    const at::Tensor library = lora_delta_exact(v_proj, delta);
    const at::Tensor ours =
        out.at("base_model.model.model.layers.0.v_proj.lora_B.weight")
            .matmul(out.at("base_model.model.model.layers.0.v_proj.lora_A.weight"));
    EXPECT_TRUE(ours.allclose(library.to(ours.scalar_type()), 1e-5, 1e-5));

    // Factor averaging of members with different scales is refused, naming the module.
    const std::string what = test::error_message([&] { (void)Members(mixed_paths, factors); });
    EXPECT_NE(what.find("averaging the factors needs equal ranks and scales"), std::string::npos)
        << what;
  }
};

TEST_F(PeftMembers, ConfigScalesFollowPeftsPatternRules) {
  const PeftAdapter one = load_peft_adapter(kPeft + "/member_1");
  EXPECT_EQ(one.config.r, 2);
  EXPECT_EQ(one.config.rank_of("model.layers.0.v_proj"), 3);  // "v_proj" matches the suffix
  EXPECT_EQ(one.config.alpha_of("model.layers.0.v_proj"), 1.5);
  EXPECT_EQ(one.config.scale_of("model.layers.0.v_proj"), 0.5);
  EXPECT_EQ(one.config.scale_of("model.layers.0.q_proj"), 2.0);
  EXPECT_EQ(one.config.rank_of("model.layers.0.xv_proj"), 2);  // not a module-name match
  const PeftAdapter rs = load_peft_adapter(kPeft + "/rslora_member");
  EXPECT_EQ(rs.config.scale_of("model.layers.0.q_proj"), 4.0 / 2.0);  // α / √r
  EXPECT_EQ(load_peft_adapter(kPeft + "/member_3").tensors.size(), one.tensors.size());  // .bin
}

TEST_F(PeftMembers, CommittedFixturesFuseAsNumpyComputed) {
  check_fixtures(kPeft);
}

TEST_F(PeftMembers, FreshFixturesFromThisMachinesPython) {
  if (std::system("/usr/bin/python3 -c 'import torch, numpy' >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "/usr/bin/python3 cannot import torch and numpy";
  }
  const std::string command = "/usr/bin/python3 " + q(kPeft + "/make_fixtures.py") + " --out " +
                              q(path("fresh")) + " >/dev/null 2>&1";
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  check_fixtures(path("fresh"));
}

TEST_F(PeftMembers, RefusalsNameTheProblem) {
  const std::string dora = test::error_message([&] {
    (void)Members({kPeft + "/member_1", kPeft + "/dora_member"});
  });
  EXPECT_NE(dora.find("DoRA"), std::string::npos) << dora;
  const Members members({kPeft + "/member_1", kPeft + "/member_2"});
  const std::string inside = test::error_message<usage_error>(
      [&] { members.write_fused(Eigen::Vector2d(0.5, 0.5), kPeft + "/member_1"); });
  EXPECT_NE(inside.find("member file"), std::string::npos) << inside;
  MemberOptions simplex;
  simplex.fusion.require_simplex = true;
  const Members on_simplex({kPeft + "/member_1", kPeft + "/member_2"}, simplex);
  const std::string off =
      test::error_message([&] { on_simplex.write_fused(Eigen::Vector2d(2.0, -1.0), path("off")); });
  EXPECT_NE(off.find("not on the simplex"), std::string::npos) << off;
  EXPECT_FALSE(fs::exists(path("off")));
  const std::vector<std::pair<std::string, std::string>> configs = {
      {"[]", "not a JSON object"},
      {R"({"peft_type": "IA3", "r": 2, "lora_alpha": 4})", "fuses LoRA adapters only"},
      {R"({"peft_type": "LORA", "lora_alpha": 4})", "\"r\" is missing"},
      {R"({"r": 0, "lora_alpha": 4})", "\"r\" is 0"},
      {R"({"r": 2, "lora_alpha": "4"})", "\"lora_alpha\" is \"4\""},
      {R"({"r": 2, "lora_alpha": 4, "use_rslora": 1})", "\"use_rslora\" is 1"},
      {R"({"r": 2, "lora_alpha": 4, "rank_pattern": {"q": 1.5}})", "rank 1.5"},
      {R"({"r": 2, "lora_alpha": 4, "rank_pattern": {"(": 3}})", "not a regular expression"},
  };
  for (const auto& [text, needle] : configs) {
    const std::string what =
        test::error_message<io_error>([&] { (void)parse_peft_config(text, "c.json"); });
    EXPECT_NE(what.find(needle), std::string::npos) << text << " → " << what;
  }
}

TEST_F(PeftMembers, BomfFuseWritesAnAdapterDirectoryAndLeavesTheMembersAlone) {
  fs::copy(kPeft, dir_ / "peft", fs::copy_options::recursive);
  const auto before = test::snapshot(dir_ / "peft");
  const auto run = test::run_bomf("fuse -q --lora-fusion exact -c 0.2,0.3,0.5 -o " +
                                  q(path("fused")) + " " + q(path("peft/member_1")) + " " +
                                  q(path("peft/member_2")) + " " + q(path("peft/rslora_member")));
  ASSERT_EQ(run.status(), 0) << run.err();
  EXPECT_TRUE(fs::exists(path("fused/adapter_model.safetensors")));
  EXPECT_TRUE(fs::exists(path("fused/adapter_config.json")));
  EXPECT_EQ(test::snapshot(dir_ / "peft"), before);
  const auto refused = test::run_bomf("fuse -q --uniform -o " + q(path("peft/member_2")) + " " +
                                      q(path("peft/member_1")) + " " + q(path("peft/member_2")));
  EXPECT_EQ(refused.status(), 2) << refused.err();
  EXPECT_EQ(test::snapshot(dir_ / "peft"), before);
}

class MemberFormats : public test::ScratchDirectory {};

TEST_F(MemberFormats, AreDetectedAndStrangeFilesRefused) {
  save_safetensors(path("a.safetensors"), StateDict{{"w", at::zeros({2})}});
  const std::string index =
      save_sharded_safetensors(dir_.string(), StateDict{{"w", at::zeros({2})}}, 64);
  EXPECT_EQ(detect_member_format(path("a.safetensors")), MemberFormat::safetensors);
  EXPECT_EQ(detect_member_format(index), MemberFormat::sharded_safetensors);
  EXPECT_EQ(detect_member_format(kPeft + "/member_1"), MemberFormat::peft_adapter);
  EXPECT_EQ(detect_member_format(kTorchSave + "/module_fp32.pt"), MemberFormat::torch_state_dict);
  EXPECT_EQ(detect_member_format(kTorchSave + "/legacy.pt"), MemberFormat::torch_state_dict);
  const std::string legacy = test::error_message<io_error>([&] {
    (void)Members({kTorchSave + "/legacy.pt", kTorchSave + "/legacy.pt"});
  });
  EXPECT_NE(legacy.find("legacy torch.save format"), std::string::npos) << legacy;
  EXPECT_THROW((void)detect_member_format(dir_.string()), io_error);  // no adapter_config.json
  EXPECT_THROW((void)detect_member_format(path("missing")), io_error);
  ASSERT_EQ(::mkfifo(path("fifo").c_str(), 0600), 0);
  const std::string fifo =
      test::error_message<io_error>([&] { (void)detect_member_format(path("fifo")); });
  EXPECT_NE(fifo.find("FIFO"), std::string::npos) << fifo;
}

TEST_F(MemberFormats, TorchSaveMembersFromPython) {
  const Members members({kTorchSave + "/module_fp32.pt", kTorchSave + "/module_fp32.pt"});
  EXPECT_EQ(members.output_name(), "fused.pt");
  members.write_fused(Eigen::Vector2d(0.5, 0.5), path("fused.pt"));
  const StateDict in = load_torch_state_dict(kTorchSave + "/module_fp32.pt");
  const StateDict out = load_torch_state_dict(path("fused.pt"));
  ASSERT_EQ(out.size(), in.size());
  for (std::size_t k = 0; k < in.size(); ++k) {
    EXPECT_EQ(out[k].first, in[k].first);
    EXPECT_TRUE(out[k].second.equal(in[k].second)) << in[k].first;  // w / 2 + w / 2 = w
  }
}

}  // namespace
}  // namespace bomf::cli
