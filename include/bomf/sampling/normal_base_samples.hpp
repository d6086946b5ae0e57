// bomf/sampling/normal_base_samples.hpp — quasi-Monte-Carlo N(0, I) base samples.
#pragma once

#include <Eigen/Core>
#include <cstdint>

#include "bomf/core/error.hpp"
#include "bomf/math/normal.hpp"
#include "bomf/sampling/sobol_sequence.hpp"

namespace bomf {

/// Quasi-Monte-Carlo standard normal samples: the first `num_samples` points of the scrambled
/// Sobol sequence in `dim` dimensions (SobolSequence, seeded with `seed`) mapped coordinate-wise
/// through the normal quantile Φ⁻¹ (the inverse-transform method of BoTorch's
/// `draw_sobol_normal_samples` / `SobolQMCNormalSampler`). Returns a num_samples × dim matrix,
/// row s being sample s. Fixed base samples make a Monte-Carlo acquisition function a
/// deterministic, smooth function of the candidates (sample average approximation; Balandat et
/// al. 2020, "BoTorch", NeurIPS). For qLogNEHVI with q candidates, n baseline points and m
/// outcomes, draw dim = (n + q)·m and view each row as an (n + q) × m array, as BoTorch's sampler
/// does. Column j depends on (seed, j) only (SobolSequence's prefix property): the first d′
/// columns for dimension d equal the samples for dimension d′, so qLogNEHVI's baseline columns
/// (n·m) are the same whatever q. The uniform points lie strictly inside (0, 1), so every sample
/// is finite (|z| ≤ 6.3).
/// Use a power of two for num_samples to keep the Sobol balance properties.
/// Cost: O(num_samples · dim) quantiles (Boost.Math erfc⁻¹).
/// \throws bomf::invalid_argument when num_samples < 0 or dim is outside [1, 3667].
inline Eigen::MatrixXd sobol_normal_samples(Eigen::Index num_samples, int dim, std::uint64_t seed) {
  detail::require(num_samples >= 0, "bomf::sobol_normal_samples", "argument 'num_samples' is ",
                  num_samples, ", expected ≥ 0");
  SobolSequence sobol(dim, seed, true);
  Eigen::MatrixXd samples = sobol.draw(num_samples);
  for (Eigen::Index j = 0; j < samples.cols(); ++j) {
    for (Eigen::Index i = 0; i < samples.rows(); ++i) {
      samples(i, j) = normal_quantile(samples(i, j));
    }
  }
  return samples;
}

}  // namespace bomf
