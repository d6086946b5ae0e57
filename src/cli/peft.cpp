#include "cli/peft.hpp"

#include <ATen/ops/cat.h>

#include <sys/stat.h>
#include <cmath>
#include <optional>
#include <regex>
#include <set>

#include "bomf/core/error.hpp"
#include "bomf/fusion/weight_fuser.hpp"
#include "bomf/io/safetensors.hpp"
#include "bomf/io/torch_archive.hpp"
#include "io/file_util.hpp"

namespace bomf::cli {
namespace {

constexpr const char* kCheck = "bomf::cli::check_peft_adapters";
constexpr std::string_view kPrefix = "base_model.model.";

/// A LoRA factor's key: the module it adapts and the key of the other factor.
struct Factor {
  std::string module;   ///< without the "base_model.model." prefix
  std::string partner;  ///< B's key for an A key, A's key for a B key
  bool is_a = false;
};

std::optional<Factor> factor_of(const std::string& key) {
  static const std::pair<std::string_view, std::string_view> kPairs[] = {
      {".lora_A.weight", ".lora_B.weight"}, {".lora_embedding_A", ".lora_embedding_B"}};
  for (const auto& [a, b] : kPairs) {
    for (const bool is_a : {true, false}) {
      const std::string_view mine = is_a ? a : b;
      const std::string_view other = is_a ? b : a;
      if (detail::ends_with(key, mine)) {
        Factor f;
        f.is_a = is_a;
        const std::string stem = key.substr(0, key.size() - mine.size());
        f.partner = stem + std::string(other);
        f.module = stem.rfind(kPrefix, 0) == 0 ? stem.substr(kPrefix.size()) : stem;
        return f;
      }
    }
  }
  return std::nullopt;
}

/// Python's `re.match(rf"(.*\.)?({key})$", module)` for PEFT's pattern keys.
bool pattern_matches(const std::string& key, const std::string& module) {
  return std::regex_match(module, std::regex("(.*\\.)?(" + key + ")"));
}

std::vector<std::pair<std::string, double>> read_pattern(const nlohmann::json& config,
                                                         const char* name,
                                                         const std::string& source) {
  std::vector<std::pair<std::string, double>> out;
  const auto it = config.find(name);
  if (it == config.end() || it->is_null()) {
    return out;
  }
  if (!it->is_object()) {
    throw io_error(detail::concat("PEFT config '", source, "': \"", name,
                                  "\" is not an object of module pattern → number"));
  }
  for (const auto& [key, value] : it->items()) {
    if (!value.is_number() || !std::isfinite(value.get<double>())) {
      throw io_error(detail::concat("PEFT config '", source, "': \"", name, "\" entry '", key,
                                    "' is ", value.dump(), ", expected a number"));
    }
    try {
      (void)std::regex("(.*\\.)?(" + key + ")");
    } catch (const std::regex_error&) {
      throw io_error(detail::concat("PEFT config '", source, "': \"", name, "\" key '", key,
                                    "' is not a regular expression bomf can match"));
    }
    out.emplace_back(key, value.get<double>());
  }
  return out;
}

std::string shape_text(const at::Tensor& t) {
  return detail::concat(t.sizes());
}

}  // namespace

int PeftLoraConfig::rank_of(const std::string& module) const {
  for (const auto& [key, value] : rank_pattern) {
    if (pattern_matches(key, module)) {
      return value;
    }
  }
  return r;
}

double PeftLoraConfig::alpha_of(const std::string& module) const {
  for (const auto& [key, value] : alpha_pattern) {
    if (pattern_matches(key, module)) {
      return value;
    }
  }
  return lora_alpha;
}

double PeftLoraConfig::scale_of(const std::string& module) const {
  const double rank = rank_of(module);
  return alpha_of(module) / (use_rslora ? std::sqrt(rank) : rank);
}

PeftLoraConfig parse_peft_config(const std::string& text, const std::string& source) {
  PeftLoraConfig out;
  out.raw = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  const auto fail = [&](const std::string& what) {
    throw io_error(detail::concat("PEFT config '", source, "': ", what));
  };
  if (out.raw.is_discarded() || !out.raw.is_object()) {
    fail("not a JSON object");
  }
  const nlohmann::json& c = out.raw;
  const std::string type = c.value("peft_type", std::string("LORA"));
  if (type != "LORA") {
    fail(detail::concat("\"peft_type\" is \"", type,
                        "\", bomf fuses LoRA adapters only (\"peft_type\": \"LORA\")"));
  }
  if (!c.contains("r") || !c["r"].is_number_integer() || c["r"].get<long long>() < 1 ||
      c["r"].get<long long>() > (1 << 30)) {
    fail(detail::concat("\"r\" is ", c.contains("r") ? c["r"].dump() : std::string("missing"),
                        ", expected a positive integer"));
  }
  out.r = c["r"].get<int>();
  if (!c.contains("lora_alpha") || !c["lora_alpha"].is_number() ||
      !std::isfinite(c["lora_alpha"].get<double>())) {
    fail(detail::concat("\"lora_alpha\" is ",
                        c.contains("lora_alpha") ? c["lora_alpha"].dump() : std::string("missing"),
                        ", expected a number"));
  }
  out.lora_alpha = c["lora_alpha"].get<double>();
  const auto flag = [&](const char* name) {
    const auto it = c.find(name);
    if (it == c.end() || it->is_null()) {
      return false;
    }
    if (!it->is_boolean()) {
      fail(detail::concat("\"", name, "\" is ", it->dump(), ", expected true or false"));
    }
    return it->get<bool>();
  };
  out.use_rslora = flag("use_rslora");
  out.use_dora = flag("use_dora");
  out.lora_bias = flag("lora_bias");
  if (const auto it = c.find("base_model_name_or_path"); it != c.end() && it->is_string()) {
    out.base_model = it->get<std::string>();
  }
  for (const auto& [key, rank] : read_pattern(c, "rank_pattern", source)) {
    if (rank < 1 || rank > (1 << 30) || rank != std::floor(rank)) {
      fail(detail::concat("\"rank_pattern\" gives '", key, "' rank ", rank,
                          ", expected a positive integer"));
    }
    out.rank_pattern.emplace_back(key, static_cast<int>(rank));
  }
  out.alpha_pattern = read_pattern(c, "alpha_pattern", source);
  return out;
}

bool is_peft_adapter_directory(const std::string& directory) {
  struct stat info {};
  return ::stat((directory + "/adapter_config.json").c_str(), &info) == 0;
}

std::string peft_weights_file(const std::string& directory) {
  struct stat info {};
  for (const char* name : {"adapter_model.safetensors", "adapter_model.bin"}) {
    const std::string path = directory + "/" + name;
    if (::stat(path.c_str(), &info) == 0) {
      return path;
    }
  }
  throw io_error(detail::concat("PEFT adapter '", directory,
                                "' has neither adapter_model.safetensors nor adapter_model.bin"));
}

PeftAdapter load_peft_adapter(const std::string& directory) {
  PeftAdapter out;
  out.directory = directory;
  const std::string config = directory + "/adapter_config.json";
  out.config =
      parse_peft_config(detail::read_regular_file(config, "bomf: PEFT adapter", 1 << 24), config);
  const std::string weights = peft_weights_file(directory);
  out.tensors = detail::ends_with(weights, ".bin") ? load_torch_state_dict(weights)
                                                   : load_safetensors(weights);
  return out;
}

void check_peft_adapters(const std::vector<PeftAdapter>& adapters, LoraFusionMode mode) {
  detail::require(!adapters.empty(), kCheck, "no adapter given");
  const PeftAdapter& first = adapters[0];
  for (std::size_t i = 0; i < adapters.size(); ++i) {
    const PeftAdapter& a = adapters[i];
    detail::require(!a.config.use_dora, kCheck, "adapter '", a.directory,
                    "' is a DoRA adapter (use_dora): its magnitude normalization is not linear in "
                    "A and B, and bomf does not fuse it");
    detail::require(mode != LoraFusionMode::exact || !a.config.lora_bias, kCheck, "adapter '",
                    a.directory,
                    "' has lora_bias: the exact fusion cannot carry lora_B's bias; use "
                    "--lora-fusion factors");
    detail::require(a.config.base_model.empty() || first.config.base_model.empty() ||
                        a.config.base_model == first.config.base_model,
                    kCheck, "adapter '", a.directory, "' adapts '", a.config.base_model,
                    "', adapter '", first.directory, "' adapts '", first.config.base_model,
                    "': members must adapt the same base model");
    detail::require(a.tensors.size() == first.tensors.size(), kCheck, "adapter '", a.directory,
                    "' has ", a.tensors.size(), " tensors, '", first.directory, "' has ",
                    first.tensors.size());
  }
  for (const auto& [name, reference] : first.tensors) {
    const auto factor = factor_of(name);
    if (factor) {
      detail::require(first.tensors.contains(factor->partner), kCheck, "adapter '", first.directory,
                      "' has '", name, "' but not '", factor->partner, "'");
    }
    for (std::size_t i = 0; i < adapters.size(); ++i) {
      const PeftAdapter& a = adapters[i];
      const at::Tensor* t = a.tensors.find(name);
      detail::require(t != nullptr, kCheck, "adapter '", a.directory, "' has no tensor '", name,
                      "' (present in '", first.directory, "')");
      detail::require(t->scalar_type() == reference.scalar_type(), kCheck, "tensor '", name,
                      "' has dtype ", reference.scalar_type(), " in '", first.directory, "' but ",
                      t->scalar_type(), " in '", a.directory, "'");
      bool same_shape = t->sizes() == reference.sizes();
      if (factor && mode == LoraFusionMode::exact && t->dim() == reference.dim() && t->dim() >= 2) {
        const std::int64_t rank_dim = factor->is_a ? 0 : 1;  // the rank may differ
        same_shape = true;
        for (std::int64_t d = 0; d < t->dim(); ++d) {
          same_shape = same_shape && (d == rank_dim || t->size(d) == reference.size(d));
        }
      }
      if (!same_shape && factor && mode == LoraFusionMode::factors && t->dim() >= 2 &&
          reference.dim() >= 2) {
        const std::int64_t d = factor->is_a ? 0 : 1;
        detail::throw_invalid_argument(
            kCheck, "module '", factor->module, "' has LoRA rank ", reference.size(d), " in '",
            first.directory, "' but ", t->size(d), " in '", a.directory,
            "': averaging the factors needs equal ranks and scales (use --lora-fusion exact)");
      }
      detail::require(same_shape, kCheck, "tensor '", name, "' has shape ", shape_text(reference),
                      " in '", first.directory, "' but ", shape_text(*t), " in '", a.directory,
                      "'");
      if (factor && factor->is_a) {
        const at::Tensor& b = a.tensors.at(factor->partner);
        const int rank = a.config.rank_of(factor->module);
        detail::require(t->dim() >= 2 && b.dim() >= 2 && t->size(0) == rank && b.size(1) == rank,
                        kCheck, "module '", factor->module, "' of adapter '", a.directory,
                        "' has lora A of shape ", shape_text(*t), " and B of shape ", shape_text(b),
                        ", but its adapter_config.json gives it rank ", rank);
        if (mode == LoraFusionMode::factors) {
          const double s0 = first.config.scale_of(factor->module);
          const double si = a.config.scale_of(factor->module);
          detail::require(
              std::abs(si - s0) <= 1e-12 * std::abs(s0), kCheck, "module '", factor->module,
              "' has LoRA scale ", s0, " in '", first.directory, "' but ", si, " in '", a.directory,
              "': averaging the factors needs equal ranks and scales (use --lora-fusion exact)");
        }
      }
    }
  }
}

FusedPeftAdapter fuse_peft_adapters(const std::vector<PeftAdapter>& adapters,
                                    const Eigen::Ref<const Eigen::VectorXd>& delta,
                                    LoraFusionMode mode, const FusionOptions& options) {
  check_peft_adapters(adapters, mode);
  const std::size_t n = adapters.size();
  detail::require(delta.size() == static_cast<Eigen::Index>(n), "bomf::cli::fuse_peft_adapters",
                  "argument 'delta' has length ", delta.size(), ", expected ", n,
                  " (one coefficient per adapter)");
  detail::require(delta.allFinite(), "bomf::cli::fuse_peft_adapters",
                  "argument 'delta' has a non-finite entry");
  detail::require(!options.require_simplex ||
                      ((delta.array() >= 0).all() && std::abs(delta.sum() - 1.0) <= 1e-6),
                  "bomf::cli::fuse_peft_adapters",
                  "argument 'delta' is not on the simplex (δ ≥ 0, Σ δ = 1 within 1e-6)");
  const std::optional<at::ScalarType> output_dtype = options.output_dtype;
  FusedPeftAdapter out;
  out.config = adapters[0].config.raw;
  if (mode == LoraFusionMode::factors) {
    std::vector<StateDict> members;
    for (const auto& a : adapters) {
      members.push_back(a.tensors);
    }
    out.tensors = fuse_state_dicts(members, delta, options);
    return out;
  }

  // Exact: the tensors that are not LoRA factors are fused linearly, all at once.
  std::vector<StateDict> linear(n);
  for (const auto& [name, tensor] : adapters[0].tensors) {
    if (!factor_of(name)) {
      for (std::size_t i = 0; i < n; ++i) {
        linear[i].insert(name, adapters[i].tensors.at(name));
      }
    }
  }
  const StateDict fused_linear =
      linear[0].empty() ? StateDict{} : fuse_state_dicts(linear, delta, options);
  std::map<std::string, int> fused_rank;  // module → Σ_i r_i
  for (const auto& [name, tensor] : adapters[0].tensors) {
    const auto factor = factor_of(name);
    if (!factor) {
      out.tensors.insert(name, fused_linear.at(name));
      continue;
    }
    const at::ScalarType dtype = output_dtype.value_or(tensor.scalar_type());
    std::vector<at::Tensor> parts;
    for (std::size_t i = 0; i < n; ++i) {
      const at::Tensor& t = adapters[i].tensors.at(name);
      if (factor->is_a) {
        parts.push_back(t.to(dtype));
      } else {
        // δ_i s_i B_i, computed in fp64 and rounded once to the output dtype.
        const double weight =
            delta[static_cast<Eigen::Index>(i)] * adapters[i].config.scale_of(factor->module);
        parts.push_back(t.to(at::kDouble).mul(weight).to(dtype));
      }
    }
    at::Tensor joined = at::cat(parts, factor->is_a ? 0 : 1);
    if (factor->is_a) {
      fused_rank[factor->module] = static_cast<int>(joined.size(0));
    }
    out.tensors.insert(name, std::move(joined));
  }
  int total_rank = 0;
  for (const auto& a : adapters) {
    total_rank += a.config.r;
  }
  nlohmann::json rank_pattern = nlohmann::json::object();
  nlohmann::json alpha_pattern = nlohmann::json::object();
  for (const auto& [module, rank] : fused_rank) {
    if (rank != total_rank) {
      rank_pattern[module] = rank;
      alpha_pattern[module] = rank;
    }
  }
  out.config["r"] = total_rank;
  out.config["lora_alpha"] = total_rank;  // scale = alpha / r = 1: δ_i s_i is inside B
  out.config["use_rslora"] = false;
  out.config["rank_pattern"] = std::move(rank_pattern);
  out.config["alpha_pattern"] = std::move(alpha_pattern);
  return out;
}

}  // namespace bomf::cli
