#include "bomf/fusion/lora.hpp"

#include <ATen/ops/empty.h>
#include <ATen/ops/zeros.h>

#include <cmath>
#include <optional>

#include "bomf/core/error.hpp"
#include "bomf/fusion/fuse_kernel.hpp"
#include "fusion/torch_dtype.hpp"

namespace bomf {
namespace {

void check_delta(const char* where, std::size_t n, const Eigen::Ref<const Eigen::VectorXd>& delta) {
  detail::require(n >= 1, where, "argument 'adapters' is empty, expected at least one adapter");
  detail::require(delta.size() == static_cast<Eigen::Index>(n), where,
                  "argument 'delta' has length ", delta.size(), ", expected ", n,
                  " (one coefficient per adapter)");
  for (Eigen::Index i = 0; i < delta.size(); ++i) {
    detail::require(std::isfinite(delta[i]), where, "argument 'delta' has a non-finite entry ",
                    delta[i], " at index ", i);
  }
}

void check_adapter(const char* where, const LoraAdapter& adapter, std::size_t i) {
  detail::require(adapter.a.defined() && adapter.b.defined(), where, "adapter ", i,
                  " has an undefined factor");
  detail::require(
      adapter.a.dim() == 2 && adapter.b.dim() == 2 && adapter.b.size(1) == adapter.a.size(0), where,
      "adapter ", i, " has A with shape ", adapter.a.sizes(), " and B with shape ",
      adapter.b.sizes(), ", expected r × in and out × r");
  detail::require(adapter.a.scalar_type() == adapter.b.scalar_type() &&
                      detail::fusion_dtype_of(adapter.a.scalar_type()).has_value(),
                  where, "adapter ", i, " has factors of dtype ", adapter.a.scalar_type(), " and ",
                  adapter.b.scalar_type(), ", expected one floating dtype");
  detail::require(adapter.a.device().is_cpu() && adapter.b.device().is_cpu(), where, "adapter ", i,
                  " is not on the CPU");
  detail::require(std::isfinite(adapter.scale), where, "adapter ", i, " has scale ", adapter.scale);
}

/// Σ_i δ_i X_i through the kernel (one rounding into `out_type`, by default the factors'), for
/// same-shaped contiguous floating tensors of one dtype.
at::Tensor fuse_factor(const std::vector<at::Tensor>& factors, const double* delta,
                       std::optional<at::ScalarType> out_type = {}) {
  std::vector<const void*> pointers;
  for (const auto& f : factors) {
    pointers.push_back(f.data_ptr());
  }
  const at::ScalarType in_type = factors[0].scalar_type();
  at::Tensor out =
      at::empty(factors[0].sizes(), factors[0].options().dtype(out_type.value_or(in_type)));
  fuse_buffers(pointers.data(), pointers.size(), delta, *detail::fusion_dtype_of(in_type),
               out.data_ptr(), *detail::fusion_dtype_of(out.scalar_type()),
               static_cast<std::size_t>(out.numel()));
  return out;
}

}  // namespace

LoraAdapter fuse_lora_factors(const std::vector<LoraAdapter>& adapters,
                              const Eigen::Ref<const Eigen::VectorXd>& delta) {
  constexpr const char* kWhere = "bomf::fuse_lora_factors";
  check_delta(kWhere, adapters.size(), delta);
  std::vector<at::Tensor> as;
  std::vector<at::Tensor> bs;
  for (std::size_t i = 0; i < adapters.size(); ++i) {
    check_adapter(kWhere, adapters[i], i);
    const LoraAdapter& first = adapters[0];
    detail::require(adapters[i].a.sizes() == first.a.sizes() &&
                        adapters[i].b.sizes() == first.b.sizes() &&
                        adapters[i].a.scalar_type() == first.a.scalar_type(),
                    kWhere, "adapter ", i, " has A ", detail::describe(adapters[i].a), ", B ",
                    detail::describe(adapters[i].b), "; adapter 0 has A ",
                    detail::describe(first.a), ", B ", detail::describe(first.b),
                    " (factor averaging needs equal ranks; use lora_delta_exact otherwise)");
    detail::require(adapters[i].scale == first.scale, kWhere, "adapter ", i, " has scale ",
                    adapters[i].scale, ", adapter 0 has ", first.scale,
                    " (factor averaging needs equal scales; use lora_delta_exact otherwise)");
    as.push_back(adapters[i].a.contiguous());
    bs.push_back(adapters[i].b.contiguous());
  }
  return LoraAdapter{fuse_factor(as, delta.data()), fuse_factor(bs, delta.data()),
                     adapters[0].scale};
}

namespace {

void check_exact(const char* where, const std::vector<LoraAdapter>& adapters,
                 const Eigen::Ref<const Eigen::VectorXd>& delta) {
  check_delta(where, adapters.size(), delta);
  for (std::size_t i = 0; i < adapters.size(); ++i) {
    check_adapter(where, adapters[i], i);
    detail::require(adapters[i].a.size(1) == adapters[0].a.size(1) &&
                        adapters[i].b.size(0) == adapters[0].b.size(0),
                    where, "adapter ", i, " maps ", adapters[i].a.size(1), " → ",
                    adapters[i].b.size(0), " features, adapter 0 maps ", adapters[0].a.size(1),
                    " → ", adapters[0].b.size(0));
  }
}

bool any_double(const std::vector<LoraAdapter>& adapters) {
  for (const auto& adapter : adapters) {
    if (adapter.a.scalar_type() == at::kDouble) {
      return true;
    }
  }
  return false;
}

/// Σ_i δ_i · scale_i · B_i A_i accumulated in `acc` (checked adapters).
at::Tensor exact_update(const std::vector<LoraAdapter>& adapters,
                        const Eigen::Ref<const Eigen::VectorXd>& delta, at::ScalarType acc) {
  at::Tensor sum =
      at::zeros({adapters[0].b.size(0), adapters[0].a.size(1)}, adapters[0].a.options().dtype(acc));
  for (std::size_t i = 0; i < adapters.size(); ++i) {
    const double weight = delta[static_cast<Eigen::Index>(i)] * adapters[i].scale;
    sum.addmm_(adapters[i].b.to(acc), adapters[i].a.to(acc), /*beta=*/1.0, /*alpha=*/weight);
  }
  return sum;
}

}  // namespace

at::Tensor lora_delta_exact(const std::vector<LoraAdapter>& adapters,
                            const Eigen::Ref<const Eigen::VectorXd>& delta) {
  check_exact("bomf::lora_delta_exact", adapters, delta);
  return exact_update(adapters, delta, any_double(adapters) ? at::kDouble : at::kFloat);
}

at::Tensor merge_lora_exact(const at::Tensor& base, const std::vector<LoraAdapter>& adapters,
                            const Eigen::Ref<const Eigen::VectorXd>& delta) {
  constexpr const char* kWhere = "bomf::merge_lora_exact";
  check_exact(kWhere, adapters, delta);
  const std::vector<std::int64_t> expected = {adapters[0].b.size(0), adapters[0].a.size(1)};
  detail::require(base.defined() && base.sizes() == at::IntArrayRef(expected), kWhere,
                  "argument 'base' has shape ",
                  base.defined() ? detail::describe(base) : std::string("(undefined)"),
                  ", expected ", at::IntArrayRef(expected), " (out × in of the adapters)");
  detail::require(detail::fusion_dtype_of(base.scalar_type()).has_value() && base.device().is_cpu(),
                  kWhere, "argument 'base' is ", detail::describe(base),
                  ", expected a floating tensor (f32, bf16, f16, f64) on the CPU");
  // fp64 when the base or any adapter is fp64: an fp64 base is never rounded through fp32.
  const at::ScalarType acc =
      base.scalar_type() == at::kDouble || any_double(adapters) ? at::kDouble : at::kFloat;
  at::Tensor merged = exact_update(adapters, delta, acc);
  merged.add_(base.to(acc));
  if (acc == at::kDouble && base.scalar_type() != at::kDouble) {
    // fp64 → 16-bit or fp32 in one correct rounding (the kernel's store), not through fp32.
    const double one = 1.0;
    return fuse_factor({merged.contiguous()}, &one, base.scalar_type());
  }
  return merged.to(base.scalar_type());
}

at::Tensor merge_lora(const at::Tensor& base, const LoraAdapter& adapter) {
  return merge_lora_exact(base, {adapter}, Eigen::VectorXd::Ones(1));
}

}  // namespace bomf
