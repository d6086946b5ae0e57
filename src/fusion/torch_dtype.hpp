// Private helpers: mapping libtorch scalar types to the fusion kernels' dtypes, and messages.
#pragma once

#include <ATen/core/Tensor.h>

#include <Eigen/Core>
#include <cmath>
#include <optional>
#include <sstream>
#include <string>

#include "bomf/core/error.hpp"
#include "bomf/fusion/fuse_kernel.hpp"

namespace bomf::detail {

/// The kernel dtype of a floating libtorch type, or nothing for other types.
inline std::optional<FusionDtype> fusion_dtype_of(at::ScalarType type) {
  switch (type) {
    case at::kFloat:
      return FusionDtype::f32;
    case at::kBFloat16:
      return FusionDtype::bf16;
    case at::kHalf:
      return FusionDtype::f16;
    case at::kDouble:
      return FusionDtype::f64;
    default:
      return std::nullopt;
  }
}

/// "shape [3, 4] and dtype Float"
inline std::string describe(const at::Tensor& tensor) {
  std::ostringstream out;
  out << "shape " << tensor.sizes() << " and dtype " << tensor.scalar_type();
  return out.str();
}

/// Throws `bomf::invalid_argument` (from `where`) unless `delta` has length `n` and finite
/// entries, and lies on the simplex when `simplex`. Allocates only when it throws.
inline void check_fusion_delta(const Eigen::Ref<const Eigen::VectorXd>& delta, std::size_t n,
                               bool simplex, const char* where) {
  require(delta.size() == static_cast<Eigen::Index>(n), where, "argument 'delta' has length ",
          delta.size(), ", expected ", n, " (one coefficient per member)");
  for (Eigen::Index i = 0; i < delta.size(); ++i) {
    if (!std::isfinite(delta[i])) {
      throw_invalid_argument(where, "argument 'delta' has a non-finite entry ", delta[i],
                             " at index ", i);
    }
  }
  if (simplex) {
    const bool on_simplex = (delta.array() >= 0.0).all() && std::abs(delta.sum() - 1.0) <= 1e-6;
    require(on_simplex, where, "argument 'delta' sums to ", delta.sum(), " with minimum ",
            delta.minCoeff(), ", expected a point of the simplex (δ_i ≥ 0, Σ δ_i = 1)");
  }
}

}  // namespace bomf::detail
