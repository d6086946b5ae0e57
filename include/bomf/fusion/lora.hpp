// bomf/fusion/lora.hpp — fusing low-rank adapters (LoRA) two ways: factor averaging (as BOMF
// does) and the exact merge of the weight updates.
#pragma once

#include <ATen/core/Tensor.h>

#include <Eigen/Core>
#include <vector>

namespace bomf {

/// One LoRA adapter of a linear layer with weight W (out × in): the update is
/// ΔW = scale · B A with A (r × in), B (out × r), scale = α / r (Hu et al., "LoRA: Low-Rank
/// Adaptation of Large Language Models", ICLR 2022).
struct LoraAdapter {
  at::Tensor a;        ///< r × in, floating, on the CPU
  at::Tensor b;        ///< out × r, same dtype as `a`
  double scale = 1.0;  ///< α / r
};

/// Factor averaging, as BOMF fuses LoRA fine-tuned members (Jang et al., NeurIPS 2024, §4):
/// Ā = Σ_i δ_i A_i and B̄ = Σ_i δ_i B_i, each through the single-pass fusion kernel in the
/// adapters' dtype; the scale is kept. The merged update scale · B̄ Ā equals
/// Σ_i Σ_j δ_i δ_j scale · B_i A_j — it contains cross terms B_i A_j (i ≠ j), so it is NOT the
/// average of the members' updates; it keeps the rank r and the adapter form, and is what the
/// paper's search evaluates. Requires equal ranks, shapes, dtypes and scales; throws
/// `bomf::invalid_argument` naming the adapter and both shapes otherwise, or for a `delta`
/// that is not finite of length N. Cost: O(N · r · (in + out)).
[[nodiscard]] LoraAdapter fuse_lora_factors(const std::vector<LoraAdapter>& adapters,
                                            const Eigen::Ref<const Eigen::VectorXd>& delta);

/// The exact fused update ΔW(δ) = Σ_i δ_i · scale_i · B_i A_i (out × in), computed in fp32 (fp64
/// when any adapter is fp64; the result has the accumulation dtype): the same function of δ as
/// fusing the merged full weights W + ΔW_i.
/// Ranks and scales may differ between adapters; `in`/`out` must agree. Throws
/// `bomf::invalid_argument` on mismatched shapes or a bad `delta`. Cost: O(N · r · out · in).
[[nodiscard]] at::Tensor lora_delta_exact(const std::vector<LoraAdapter>& adapters,
                                          const Eigen::Ref<const Eigen::VectorXd>& delta);

/// W + ΔW(δ) (exact merge, see `lora_delta_exact`) in `base`'s dtype, accumulated in fp32 (fp64
/// when `base` or any adapter is fp64, so an fp64 weight is never rounded through fp32). `base`
/// is an out × in floating tensor (f32, bf16, f16, f64) on the CPU; throws
/// `bomf::invalid_argument` naming 'base' otherwise, and on the adapter checks above.
[[nodiscard]] at::Tensor merge_lora_exact(const at::Tensor& base,
                                          const std::vector<LoraAdapter>& adapters,
                                          const Eigen::Ref<const Eigen::VectorXd>& delta);

/// W + scale · B A for one adapter (e.g. the output of `fuse_lora_factors`), in `base`'s
/// dtype, accumulated as in `merge_lora_exact` (fp64 when `base` or the adapter is fp64).
[[nodiscard]] at::Tensor merge_lora(const at::Tensor& base, const LoraAdapter& adapter);

}  // namespace bomf
