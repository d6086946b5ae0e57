// supersense/model.hpp — a small transformer encoder classifier, written functionally.
//
// The model is a pure function of a parameter state dict: `forward_logits(config, params,
// tokens)`. There is no nn::Module; the parameters live in a `bomf::StateDict`, the unit of
// BOMF's weight fusion, so a fused dict w(δ) = Σ δ_i w_i is evaluated directly (no copy into a
// module), and gradients with respect to δ (Learned SWA) flow through the same code.
//
// Architecture (pre-LayerNorm transformer encoder, no dropout):
//
//   x = E[tokens] + P[0:T]                               B×T×D   (D = width)
//   for l in 0..L−1:
//     x = x + MHA_l(LN(x), key padding mask)              H heads of D/H, softmax(QKᵀ/√(D/H))V
//     x = x + W2_l GELU(W1_l LN(x) + b1_l) + b2_l          FFN width F
//   z = mean over non-pad positions of LN_final(x)         B×D
//   logits = W_c z + b_c                                   B×C
//
// Parameter names (each a float32 tensor; shapes with V = vocab_size, T = seq_len):
//   embedding.weight V×D, position.weight T×D,
//   layers.<l>.ln1.{weight,bias} D, layers.<l>.attn.in_proj.weight 3D×D, ….in_proj.bias 3D,
//   layers.<l>.attn.out_proj.weight D×D, ….out_proj.bias D, layers.<l>.ln2.{weight,bias} D,
//   layers.<l>.ffn.fc1.weight F×D, ….fc1.bias F, layers.<l>.ffn.fc2.weight D×F, ….fc2.bias D,
//   final_ln.{weight,bias} D, classifier.weight C×D, classifier.bias C.
//
// Pre-trained component: GloVe 100-d vectors initialize the token embeddings through a fixed
// isometric projection R^100 → R^D (a seeded random matrix with orthonormal rows, folded into the
// trainable V×D table at initialization; see `initial_parameters`). Compile cost: this header
// includes only <ATen/core/Tensor.h>.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

#include "bomf/fusion/state_dict.hpp"
#include "glove.hpp"

namespace supersense {

/// Architecture of the classifier. Defaults: the flagship example (≈ 1.7M parameters for a
/// 10k vocabulary, of which 1.28M in the embedding table).
struct ModelConfig {
  std::int64_t vocab_size = 0;    ///< V ≥ 2 (ids 0 = <pad>, 1 = <unk>); set from the vocabulary
  std::int64_t seq_len = 32;      ///< T, maximum tokens per example
  std::int64_t width = 128;       ///< D, multiple of heads
  std::int64_t heads = 4;         ///< H
  std::int64_t layers = 2;        ///< L ≥ 1
  std::int64_t ffn_width = 512;   ///< F
  std::int64_t num_classes = 12;  ///< C ≥ 2
  /// Root-mean-square of the entries of GloVe-initialized embedding rows after projection.
  double embedding_rms = 1.0;
  /// Standard deviation of rows of words without a GloVe vector (<unk> included; <pad> is 0).
  double unknown_std = 0.1;
  /// Standard deviation of positional embeddings and of the linear layers' weights (the
  /// output projections of each block are further scaled by 1/√(2L), as GPT-2).
  double init_std = 0.02;

  /// Throws `bomf::invalid_argument` naming the first field out of range.
  void validate() const;
};

/// Freshly initialized parameters (names and shapes in the file comment), deterministic given
/// `seed` (an explicit CPU generator; the global torch seed is not touched). Embedding rows of
/// words with a GloVe vector: g·Q·s, with Q a seeded 100×D matrix with orthonormal rows (QR of a
/// Gaussian matrix) and s chosen so that these rows have RMS `embedding_rms`; other rows
/// N(0, unknown_std²); <pad> zero. `glove` may be null (all rows random) or must have
/// `num_words() == vocab_size` and dimensions ≤ width. LayerNorms start at (1, 0), biases at 0.
/// Throws `bomf::invalid_argument` for an invalid config or mismatching `glove`.
[[nodiscard]] bomf::StateDict initial_parameters(const ModelConfig& config,
                                                 const WordVectors* glove, std::uint64_t seed);

/// Class logits, B×C float32, for `tokens`, a B×T' int64 tensor of token ids (T' ≤ seq_len,
/// right-padded with 0). Differentiable with respect to every parameter tensor that requires
/// grad. Rows with no non-pad token give logits = classifier.bias. Throws
/// `bomf::invalid_argument` for a missing parameter or wrong shapes; ids outside 0..V−1 make
/// libtorch throw (c10::Error). Cost: O(B·T·D·(3D + D + 2F) + B·H·T²·D/H) multiply-adds per layer.
[[nodiscard]] at::Tensor forward_logits(const ModelConfig& config, const bomf::StateDict& params,
                                        const at::Tensor& tokens);

/// True when parameter `name` is frozen by freezing the first `frozen_layers` layers: for
/// frozen_layers ≥ 1 the embedding and position tables and layers 0..frozen_layers−1; nothing
/// for 0. (Freezing the embeddings with the first layer spares the backward pass through them.)
[[nodiscard]] bool is_frozen(const std::string& name, int frozen_layers);

/// Total number of elements of the tensors in `params`.
[[nodiscard]] std::int64_t count_parameters(const bomf::StateDict& params);

/// A deep copy: every tensor detached and cloned (what a snapshot of a training run stores).
[[nodiscard]] bomf::StateDict clone_state_dict(const bomf::StateDict& params);

}  // namespace supersense
