// cli/peft.hpp — PEFT LoRA adapter directories as fusion members.
//
// A PEFT adapter directory (what `PeftModel.save_pretrained(dir)` writes, checked against the
// PEFT sources: peft/utils/save_and_load.py, peft/tuners/lora/{config,layer,model}.py, and
// peft/utils/other.py for `get_pattern_key`) holds
//  * adapter_config.json — the LoraConfig: "peft_type": "LORA", "r", "lora_alpha",
//    "use_rslora", "rank_pattern" and "alpha_pattern" (per-module overrides of r and
//    lora_alpha, keyed by module-name patterns), "target_modules", "use_dora", "lora_bias",
//    "base_model_name_or_path", ...;
//  * adapter_model.safetensors (or, from older PEFT, adapter_model.bin written by torch.save) —
//    the adapter's tensors, with the adapter name removed from the keys:
//    `base_model.model.<module>.lora_A.weight` (r × in; a convolution's r × in × kh × kw),
//    `base_model.model.<module>.lora_B.weight` (out × r; out × r × 1 × 1), embeddings'
//    `...lora_embedding_A` (r × vocabulary) and `...lora_embedding_B` (dim × r), and any
//    `modules_to_save` tensors (a classifier head) under their own names.
// A module's update is ΔW = scale · B A with scale = lora_alpha / r, or lora_alpha / √r with
// use_rslora, where r and lora_alpha are the module's entries of rank_pattern / alpha_pattern
// when a pattern matches its name (Python's `re.match(rf"(.*\.)?({key})$", name)`).
#pragma once

#include <ATen/core/Tensor.h>

#include <Eigen/Core>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bomf/fusion/state_dict.hpp"
#include "bomf/fusion/weight_fuser.hpp"

namespace bomf::cli {

/// The LoRA settings of one adapter_config.json.
struct PeftLoraConfig {
  nlohmann::json raw;  ///< the whole file, written back (edited) with fused adapters
  int r = 0;
  double lora_alpha = 0;
  bool use_rslora = false;
  bool use_dora = false;
  bool lora_bias = false;
  std::string base_model;  ///< "base_model_name_or_path" (may be empty)
  std::vector<std::pair<std::string, int>> rank_pattern;      ///< in file order
  std::vector<std::pair<std::string, double>> alpha_pattern;  ///< in file order

  /// The rank and alpha PEFT gives module `module` (its name in the base model, without the
  /// "base_model.model." prefix), and the resulting scale.
  [[nodiscard]] int rank_of(const std::string& module) const;
  [[nodiscard]] double alpha_of(const std::string& module) const;
  [[nodiscard]] double scale_of(const std::string& module) const;
};

/// Parses the text of an adapter_config.json (`source` names it in messages). Throws
/// `bomf::io_error` for text that is not a JSON object, a "peft_type" other than "LORA", a
/// missing or non-positive "r", a missing or non-finite "lora_alpha", or patterns of the wrong
/// type.
[[nodiscard]] PeftLoraConfig parse_peft_config(const std::string& text, const std::string& source);

/// True when `directory` holds adapter_config.json.
[[nodiscard]] bool is_peft_adapter_directory(const std::string& directory);

/// The weights file of an adapter directory: adapter_model.safetensors, else adapter_model.bin;
/// throws `bomf::io_error` when there is neither.
[[nodiscard]] std::string peft_weights_file(const std::string& directory);

/// How LoRA members are fused.
enum class LoraFusionMode {
  /// The paper's (Jang et al., NeurIPS 2024, §4): Ā = Σ δ_i A_i and B̄ = Σ δ_i B_i, each
  /// averaged separately; the adapter keeps rank r and its config. Needs the same scale for
  /// each module in every member.
  factors,
  /// Exactly Σ_i δ_i s_i B_i A_i: an adapter of rank Σ_i r_i whose A stacks the members' A_i
  /// (rows) and whose B puts δ_i s_i B_i side by side (columns), with lora_alpha = rank and no
  /// rsLoRA so that its own scale is 1. PEFT loads it as any adapter; it is exact up to the
  /// rounding of δ_i s_i B_i to the adapter's dtype. Ranks and scales may differ between
  /// members.
  exact,
};

/// One member adapter, loaded.
struct PeftAdapter {
  std::string directory;
  PeftLoraConfig config;
  StateDict tensors;
};

/// Loads an adapter directory (config and weights, fully into memory: adapters are small).
[[nodiscard]] PeftAdapter load_peft_adapter(const std::string& directory);

/// Checks that `adapters` can be fused with `mode` (same base model, no DoRA, matching tensor
/// names, shapes and dtypes — up to the rank for `exact` —, ranks that agree with the configs,
/// equal scales for `factors`, no lora_bias for `exact`). Throws `bomf::invalid_argument`
/// naming the module, the members and what differs.
void check_peft_adapters(const std::vector<PeftAdapter>& adapters, LoraFusionMode mode);

/// The fused adapter for `delta` (checked like `check_peft_adapters`): its tensors and its
/// adapter_config.json contents. Tensors other than LoRA factors (e.g. modules_to_save) are
/// fused linearly, Σ δ_i w_i, in both modes. `options` as for `WeightFuser`: the dtype of the
/// fused floating tensors (empty: the members'), the member whose integer tensors are copied,
/// whether δ must be on the simplex (checked in both modes).
struct FusedPeftAdapter {
  StateDict tensors;
  nlohmann::json config;
};
[[nodiscard]] FusedPeftAdapter fuse_peft_adapters(const std::vector<PeftAdapter>& adapters,
                                                  const Eigen::Ref<const Eigen::VectorXd>& delta,
                                                  LoraFusionMode mode,
                                                  const FusionOptions& options = {});

}  // namespace bomf::cli
