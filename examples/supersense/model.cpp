// supersense/model.cpp — initialization and forward pass of the classifier (see model.hpp).
#include "model.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/from_blob.h>
#include <ATen/ops/gelu.h>
#include <ATen/ops/layer_norm.h>
#include <ATen/ops/linear.h>
#include <ATen/ops/matmul.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/softmax.h>
#include <ATen/ops/zeros.h>

#include <cmath>
#include <vector>

#include "bomf/core/error.hpp"

namespace supersense {

using bomf::detail::require;

void ModelConfig::validate() const {
  constexpr const char* where = "supersense::ModelConfig";
  require(vocab_size >= 2, where, "vocab_size is ", vocab_size, ", expected at least 2");
  require(seq_len >= 1, where, "seq_len is ", seq_len, ", expected at least 1");
  require(heads >= 1, where, "heads is ", heads, ", expected at least 1");
  require(width >= 1 && width % heads == 0, where, "width is ", width,
          ", expected a positive multiple of heads = ", heads);
  require(layers >= 1, where, "layers is ", layers, ", expected at least 1");
  require(ffn_width >= 1, where, "ffn_width is ", ffn_width, ", expected at least 1");
  require(num_classes >= 2, where, "num_classes is ", num_classes, ", expected at least 2");
  require(std::isfinite(embedding_rms) && embedding_rms > 0, where, "embedding_rms is ",
          embedding_rms, ", expected a positive number");
  require(std::isfinite(unknown_std) && unknown_std >= 0, where, "unknown_std is ", unknown_std,
          ", expected a non-negative number");
  require(std::isfinite(init_std) && init_std > 0, where, "init_std is ", init_std,
          ", expected a positive number");
}

namespace {

std::string layer_name(std::int64_t l, const char* rest) {
  return "layers." + std::to_string(l) + "." + rest;
}

/// `rows` × `cols` (rows ≤ cols) with orthonormal rows: modified Gram–Schmidt, in double, on a
/// Gaussian matrix drawn from `gen`.
std::vector<double> orthonormal_rows(std::int64_t rows, std::int64_t cols, at::Generator& gen) {
  const at::Tensor gaussian =
      at::empty({rows, cols}, at::TensorOptions().dtype(at::kDouble)).normal_(0.0, 1.0, gen);
  const double* g = gaussian.data_ptr<double>();
  std::vector<double> q(g, g + rows * cols);
  for (std::int64_t i = 0; i < rows; ++i) {
    double* qi = q.data() + i * cols;
    for (std::int64_t j = 0; j < i; ++j) {
      const double* qj = q.data() + j * cols;
      double dot = 0;
      for (std::int64_t k = 0; k < cols; ++k) {
        dot += qi[k] * qj[k];
      }
      for (std::int64_t k = 0; k < cols; ++k) {
        qi[k] -= dot * qj[k];
      }
    }
    double norm = 0;
    for (std::int64_t k = 0; k < cols; ++k) {
      norm += qi[k] * qi[k];
    }
    norm = std::sqrt(norm);
    for (std::int64_t k = 0; k < cols; ++k) {
      qi[k] /= norm;
    }
  }
  return q;
}

at::Tensor normal(at::IntArrayRef shape, double std, at::Generator& gen) {
  return at::empty(shape, at::kFloat).normal_(0.0, std, gen);
}

const at::Tensor& param(const bomf::StateDict& params, const std::string& name) {
  const at::Tensor* t = params.find(name);
  require(t != nullptr, "supersense::forward_logits", "the parameters have no tensor '", name, "'");
  return *t;
}

}  // namespace

bomf::StateDict initial_parameters(const ModelConfig& config, const WordVectors* glove,
                                   std::uint64_t seed) {
  config.validate();
  constexpr const char* where = "supersense::initial_parameters";
  const std::int64_t V = config.vocab_size, D = config.width, F = config.ffn_width;
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);

  // Token embeddings: random rows for unknown words, projected GloVe rows for the others.
  at::Tensor embedding = normal({V, D}, config.unknown_std, gen);
  embedding[0].zero_();  // <pad>
  if (glove != nullptr) {
    require(glove->num_words() == V, where, "argument 'glove' has ", glove->num_words(),
            " words, expected vocab_size = ", V);
    const std::int64_t G = glove->dimensions;
    require(G >= 1 && G <= D, where, "argument 'glove' has ", G,
            "-dimensional vectors, expected 1..width = ", D);
    const std::vector<double> q = orthonormal_rows(G, D, gen);
    std::vector<double> projected(static_cast<std::size_t>(D));
    double sum_squares = 0;
    std::int64_t found = 0;
    for (std::int64_t w = 0; w < V; ++w) {
      if (glove->found[static_cast<std::size_t>(w)] == 0) {
        continue;
      }
      const float* g = glove->values.data() + w * G;
      for (std::int64_t k = 0; k < G; ++k) {
        sum_squares += static_cast<double>(g[k]) * g[k];  // Q is an isometry: same norm
      }
      ++found;
    }
    if (found > 0 && sum_squares > 0) {
      const double scale =
          config.embedding_rms / std::sqrt(sum_squares / static_cast<double>(found * D));
      float* e = embedding.data_ptr<float>();
      for (std::int64_t w = 0; w < V; ++w) {
        if (glove->found[static_cast<std::size_t>(w)] == 0) {
          continue;
        }
        const float* g = glove->values.data() + w * G;
        std::fill(projected.begin(), projected.end(), 0.0);
        for (std::int64_t k = 0; k < G; ++k) {
          const double gk = g[k];
          const double* qk = q.data() + k * D;
          for (std::int64_t j = 0; j < D; ++j) {
            projected[static_cast<std::size_t>(j)] += gk * qk[j];
          }
        }
        for (std::int64_t j = 0; j < D; ++j) {
          e[w * D + j] = static_cast<float>(scale * projected[static_cast<std::size_t>(j)]);
        }
      }
    }
  }

  const double out_std = config.init_std / std::sqrt(2.0 * static_cast<double>(config.layers));
  const auto zeros = [](std::int64_t n) { return at::zeros({n}, at::kFloat); };
  const auto ones = [](std::int64_t n) { return at::ones({n}, at::kFloat); };

  bomf::StateDict params;
  params.insert("embedding.weight", embedding);
  params.insert("position.weight", normal({config.seq_len, D}, config.init_std, gen));
  for (std::int64_t l = 0; l < config.layers; ++l) {
    params.insert(layer_name(l, "ln1.weight"), ones(D));
    params.insert(layer_name(l, "ln1.bias"), zeros(D));
    params.insert(layer_name(l, "attn.in_proj.weight"), normal({3 * D, D}, config.init_std, gen));
    params.insert(layer_name(l, "attn.in_proj.bias"), zeros(3 * D));
    params.insert(layer_name(l, "attn.out_proj.weight"), normal({D, D}, out_std, gen));
    params.insert(layer_name(l, "attn.out_proj.bias"), zeros(D));
    params.insert(layer_name(l, "ln2.weight"), ones(D));
    params.insert(layer_name(l, "ln2.bias"), zeros(D));
    params.insert(layer_name(l, "ffn.fc1.weight"), normal({F, D}, config.init_std, gen));
    params.insert(layer_name(l, "ffn.fc1.bias"), zeros(F));
    params.insert(layer_name(l, "ffn.fc2.weight"), normal({D, F}, out_std, gen));
    params.insert(layer_name(l, "ffn.fc2.bias"), zeros(D));
  }
  params.insert("final_ln.weight", ones(D));
  params.insert("final_ln.bias", zeros(D));
  params.insert("classifier.weight", normal({config.num_classes, D}, config.init_std, gen));
  params.insert("classifier.bias", zeros(config.num_classes));
  return params;
}

at::Tensor forward_logits(const ModelConfig& config, const bomf::StateDict& params,
                          const at::Tensor& tokens) {
  constexpr const char* where = "supersense::forward_logits";
  require(tokens.dim() == 2 && tokens.scalar_type() == at::kLong, where,
          "argument 'tokens' must be a B×T int64 tensor, got ", tokens.dim(), " dimensions of ",
          tokens.scalar_type());
  const std::int64_t B = tokens.size(0), T = tokens.size(1);
  const std::int64_t D = config.width, H = config.heads, Dh = D / H;
  require(T >= 1 && T <= config.seq_len, where, "argument 'tokens' has ", T,
          " positions, expected 1..seq_len = ", config.seq_len);

  const at::Tensor& embedding = param(params, "embedding.weight");
  require(embedding.dim() == 2 && embedding.size(1) == D, where, "embedding.weight has shape ",
          embedding.sizes(), ", expected V×", D);
  const at::Tensor present = tokens.ne(0);  // B×T
  const at::Tensor key_bias =               // B×1×1×T: −1e9 on padding
      at::zeros({B, 1, 1, T}, at::kFloat)
          .masked_fill(present.logical_not().view({B, 1, 1, T}), -1e9);
  at::Tensor x = embedding.index_select(0, tokens.reshape({-1}))
                     .view({B, T, D})
                     .add(param(params, "position.weight").narrow(0, 0, T));

  const double scale = 1.0 / std::sqrt(static_cast<double>(Dh));
  for (std::int64_t l = 0; l < config.layers; ++l) {
    const auto p = [&](const char* rest) -> const at::Tensor& {
      return param(params, layer_name(l, rest));
    };
    // Self-attention.
    at::Tensor h = at::layer_norm(x, {D}, p("ln1.weight"), p("ln1.bias"));
    const at::Tensor qkv = at::linear(h, p("attn.in_proj.weight"), p("attn.in_proj.bias"))
                               .view({B, T, 3, H, Dh})
                               .permute({2, 0, 3, 1, 4});  // 3×B×H×T×Dh
    const at::Tensor q = qkv.select(0, 0), k = qkv.select(0, 1), v = qkv.select(0, 2);
    const at::Tensor attention =
        at::softmax(at::matmul(q, k.transpose(-2, -1)).mul(scale).add(key_bias), -1);
    const at::Tensor context = at::matmul(attention, v).transpose(1, 2).reshape({B, T, D});
    x = x.add(at::linear(context, p("attn.out_proj.weight"), p("attn.out_proj.bias")));
    // Feed-forward.
    h = at::layer_norm(x, {D}, p("ln2.weight"), p("ln2.bias"));
    h = at::gelu(at::linear(h, p("ffn.fc1.weight"), p("ffn.fc1.bias")));
    x = x.add(at::linear(h, p("ffn.fc2.weight"), p("ffn.fc2.bias")));
  }
  x = at::layer_norm(x, {D}, param(params, "final_ln.weight"), param(params, "final_ln.bias"));
  const at::Tensor mask = present.to(at::kFloat).unsqueeze(-1);  // B×T×1
  const at::Tensor pooled = x.mul(mask).sum(1).div(mask.sum(1).clamp_min(1.0));
  return at::linear(pooled, param(params, "classifier.weight"), param(params, "classifier.bias"));
}

bool is_frozen(const std::string& name, int frozen_layers) {
  if (frozen_layers <= 0) {
    return false;
  }
  if (name.rfind("embedding.", 0) == 0 || name.rfind("position.", 0) == 0) {
    return true;
  }
  if (name.rfind("layers.", 0) == 0) {
    const std::size_t dot = name.find('.', 7);
    const int layer = std::stoi(name.substr(7, dot - 7));
    return layer < frozen_layers;
  }
  return false;
}

std::int64_t count_parameters(const bomf::StateDict& params) {
  std::int64_t n = 0;
  for (const auto& [name, tensor] : params) {
    n += tensor.numel();
  }
  return n;
}

bomf::StateDict clone_state_dict(const bomf::StateDict& params) {
  bomf::StateDict copy;
  for (const auto& [name, tensor] : params) {
    copy.insert(name, tensor.detach().clone());
  }
  return copy;
}

}  // namespace supersense
