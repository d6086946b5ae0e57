// Helpers shared by the fusion and I/O tests: deterministic random tensors and a
// double-precision reference for w(δ) = Σ_i δ_i w_i.
#pragma once

#include <ATen/TensorOperators.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/zeros.h>

#include <Eigen/Core>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "bomf/fusion/state_dict.hpp"

namespace bomf::test {

/// A tensor of `shape` filled with N(0, 1) draws from a seeded mt19937, stored as `dtype`
/// (integer dtypes get draws scaled by 100 and truncated).
inline at::Tensor random_tensor(std::vector<std::int64_t> shape, at::ScalarType dtype,
                                std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> normal;
  at::Tensor values = at::empty(shape, at::TensorOptions().dtype(at::kDouble));
  double* data = values.data_ptr<double>();
  const bool floating = at::isFloatingType(dtype);
  for (std::int64_t i = 0; i < values.numel(); ++i) {
    data[i] = floating ? normal(rng) : std::floor(100.0 * normal(rng));
  }
  return values.to(dtype);
}

/// A state dict with floating tensors of several sizes (including ones that are not multiples
/// of the kernel's block or vector widths) and an integer buffer.
inline StateDict random_state_dict(at::ScalarType dtype, std::uint32_t seed) {
  StateDict sd;
  sd.insert("embed.weight", random_tensor({37, 129}, dtype, seed * 7 + 1));
  sd.insert("layer.0.weight", random_tensor({64, 65}, dtype, seed * 7 + 2));
  sd.insert("layer.0.bias", random_tensor({65}, dtype, seed * 7 + 3));
  sd.insert("position_ids", random_tensor({1, 17}, at::kLong, seed * 7 + 4));
  sd.insert("scalar", random_tensor({}, dtype, seed * 7 + 5));
  sd.insert("big", random_tensor({3 * 16384 + 5}, dtype, seed * 7 + 6));  // 3 blocks + a tail
  return sd;
}

/// Σ_i δ_i w_i of one tensor, in double.
inline at::Tensor reference_fusion(const std::vector<at::Tensor>& members,
                                   const Eigen::VectorXd& delta) {
  at::Tensor sum = at::zeros(members[0].sizes(), at::TensorOptions().dtype(at::kDouble));
  for (std::size_t i = 0; i < members.size(); ++i) {
    sum.add_(members[i].to(at::kDouble), delta[static_cast<Eigen::Index>(i)]);
  }
  return sum;
}

/// Σ_i |δ_i| |w_i| in double (the scale of rounding errors in the fused sum).
inline at::Tensor reference_magnitude(const std::vector<at::Tensor>& members,
                                      const Eigen::VectorXd& delta) {
  at::Tensor sum = at::zeros(members[0].sizes(), at::TensorOptions().dtype(at::kDouble));
  for (std::size_t i = 0; i < members.size(); ++i) {
    sum.add_(members[i].to(at::kDouble).abs(), std::abs(delta[static_cast<Eigen::Index>(i)]));
  }
  return sum;
}

/// Unit roundoff of a storage dtype (half an ulp at 1).
inline double unit_roundoff(at::ScalarType dtype) {
  switch (dtype) {
    case at::kDouble:
      return 0x1.0p-53;
    case at::kFloat:
      return 0x1.0p-24;
    case at::kBFloat16:
      return 0x1.0p-8;
    case at::kHalf:
      return 0x1.0p-11;
    default:
      return 0.0;
  }
}

/// Half the smallest subnormal of a storage dtype (the absolute rounding error near zero).
inline double underflow_roundoff(at::ScalarType dtype) {
  switch (dtype) {
    case at::kHalf:
      return 0x1.0p-25;
    case at::kBFloat16:
    case at::kFloat:
      return 0x1.0p-150;
    default:
      return 0x1.0p-1074;
  }
}

/// max over elements of |out − ref| / (u_out |ref| + η_out + (N + 1) · u_acc · Σ|δ_i w_i|): the
/// error in units of the bound for one rounding to the output dtype (relative u_out, absolute
/// η_out in the subnormal range) plus accumulation of N terms in fp32 (u_acc = 2^-24; 2^-53 for
/// fp64 members). A correct kernel gives ≤ 1.
inline double error_in_bound_units(const at::Tensor& out, const std::vector<at::Tensor>& members,
                                   const Eigen::VectorXd& delta) {
  const at::Tensor ref = reference_fusion(members, delta);
  const double accumulation = members[0].scalar_type() == at::kDouble ? 0x1.0p-53 : 0x1.0p-24;
  const at::Tensor bound = ref.abs() * unit_roundoff(out.scalar_type()) +
                           underflow_roundoff(out.scalar_type()) +
                           reference_magnitude(members, delta) *
                               (accumulation * static_cast<double>(members.size() + 1));
  return ((out.to(at::kDouble) - ref).abs() / bound).max().item<double>();
}

}  // namespace bomf::test
