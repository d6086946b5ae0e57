// bomf/gp/detail/mll_kernels.hpp — the pairwise passes of the marginal-likelihood fit in packs of
// 2 or 4 doubles (bomf/math/simd.hpp): the kernel matrix K_ij = s·κ(r²_ij) with the profile
// κ′(r²_ij) kept for the gradient, and the gradient's contraction Σ_ij W_ij ∂K_ij/∂log ℓ_k.
//
// Both passes run down each column j with lanes over rows i, 16 rows at a time, reading the
// scaled inputs dimension-major (row i of dimension k at k·stride + i). Every lane computes its
// value by the same operations in the same order (r² summed over k; the contraction's lane sums
// over columns, then a fixed reduction tree), so the generic and AVX2 builds give bit-identical
// results. Cost O(n² d) each, plus n²/2 kernel profiles.
#pragma once

#include <Eigen/Core>
#include <cstring>

#include "bomf/gp/kernel_traits.hpp"
#include "bomf/math/simd.hpp"

namespace bomf::detail {

/// Lanes processed together by the pair passes: 16 rows i at a time (8 packs of two or 4 packs of
/// four), so that the sums they carry form independent dependency chains. Sums across lanes use
/// this fixed grouping, whatever the pack width.
inline constexpr int kMllBlock = 16;

/// The scaled inputs z = x ⊘ ℓ of n points in d dimensions, dimension-major: row i of dimension
/// k at k·stride + i, stride = n + kMllBlock, zero padded (a block starting at any row < n stays
/// inside).
struct MllScaledInputs {
  Eigen::Index n = 0;
  Eigen::Index d = 0;
  Eigen::Index stride = 0;
  Eigen::VectorXd zt;

  template <class DerivedX, class DerivedL>
  void assign(const Eigen::MatrixBase<DerivedX>& x,
              const Eigen::MatrixBase<DerivedL>& lengthscales) {
    n = x.rows();
    d = x.cols();
    stride = n + kMllBlock;
    zt.setZero(d * stride);
    for (Eigen::Index k = 0; k < d; ++k) {
      const double inv = 1.0 / lengthscales(k);
      for (Eigen::Index i = 0; i < n; ++i) {
        zt(k * stride + i) = x(i, k) * inv;
      }
    }
  }
};

/// Lower triangle of K_ij = s·κ(r²_ij) into `a` (n × n, column-major data, diagonal included:
/// s·κ(0)); with `profile` non-null, κ′(r²_ij) at (i, j) for i > j (its upper part untouched).
/// `column` is scratch of 2·stride doubles. r²_ij is summed over k in order, lane by lane.
template <class Kernel, class V>
BOMF_SIMD_INLINE void mll_kernel_matrix_packed(const MllScaledInputs& in, double outputscale,
                                               double* a, double* profile, double* column) {
  constexpr int L = simd::pack_traits<V>::lanes;
  constexpr int P = kMllBlock / L;
  const Eigen::Index n = in.n;
  const Eigen::Index stride = in.stride;
  const double* zt = in.zt.data();
  double* slope = column + stride;
  for (Eigen::Index j = 0; j < n; ++j) {
    for (Eigen::Index i = j; i < n; i += kMllBlock) {
      V r2[P] = {};
      for (Eigen::Index k = 0; k < in.d; ++k) {
        const double* row = zt + k * stride;
        const double zj = row[j];
        for (int p = 0; p < P; ++p) {
          V zi;
          simd::load(zi, row + i + p * L);
          const V diff = zi - zj;
          r2[p] += diff * diff;
        }
      }
      for (int p = 0; p < P; ++p) {
        V derivative;
        kernel_value_and_derivative_packed<Kernel>(r2[p], derivative);
        simd::store(column + (i - j) + p * L, r2[p]);
        simd::store(slope + (i - j) + p * L, derivative);
      }
    }
    double* a_col = a + j * n;
    for (Eigen::Index i = j; i < n; ++i) {
      a_col[i] = outputscale * column[i - j];
    }
    if (profile != nullptr) {
      double* p_col = profile + j * n;
      for (Eigen::Index i = j + 1; i < n; ++i) {
        p_col[i] = slope[i - j];
      }
    }
  }
}

/// Σ_{i,j} W_ij ∂K_ij/∂log ℓ_k for every k into `grad` (d entries) and Σ_ij W_ij K_ij into
/// `weighted_k`, for the symmetric `w` (lower triangle read), the kernel matrix `a` and the
/// profile of mll_kernel_matrix_packed (lower triangles read); ∂K_ij/∂log ℓ_k = s κ′(r²_ij) ·
/// (−2)(z_ki − z_kj)². `scratch` holds
/// stride + kMllBlock·d doubles. Each dimension's sum runs over pairs in kMllBlock lanes (lane of
/// pair (i, j): (i − j − 1) mod kMllBlock), reduced in a fixed tree at the end.
template <class Kernel, class V>
BOMF_SIMD_INLINE void mll_contraction_packed(const MllScaledInputs& in, double outputscale,
                                             const double* w, const double* a,
                                             const double* profile, double* grad,
                                             double& weighted_k, double* scratch) {
  constexpr int L = simd::pack_traits<V>::lanes;
  constexpr int P = kMllBlock / L;
  const Eigen::Index n = in.n;
  const Eigen::Index d = in.d;
  const Eigen::Index stride = in.stride;
  const double* zt = in.zt.data();
  double* coef = scratch;            // stride: c_i of the current column j, zero padded
  double* lanes = scratch + stride;  // d × kMllBlock lane sums
  for (Eigen::Index t = 0; t < d * kMllBlock; ++t) {
    lanes[t] = 0.0;
  }
  for (Eigen::Index t = 0; t < stride; ++t) {
    coef[t] = 0.0;
  }
  double wk = 0.0;
  for (Eigen::Index j = 0; j < n; ++j) {
    wk += w[j * n + j];
  }
  wk *= outputscale * Kernel::value(0.0);
  for (Eigen::Index j = 0; j + 1 < n; ++j) {
    const Eigen::Index first = j + 1;
    for (Eigen::Index i = first; i < n; ++i) {
      const double wij = 2.0 * w[j * n + i];
      wk += wij * a[j * n + i];
      coef[i - first] = wij * outputscale * profile[j * n + i] * -2.0;
    }
    const Eigen::Index count = n - first;
    for (Eigen::Index t = count; t < count + kMllBlock; ++t) {
      coef[t] = 0.0;  // the last block's lanes beyond n add 0 · (finite)² = 0
    }
    for (Eigen::Index k = 0; k < d; ++k) {
      const double* row = zt + k * stride + first;
      const double zj = zt[k * stride + j];
      V acc[P];
      for (int p = 0; p < P; ++p) {
        simd::load(acc[p], lanes + k * kMllBlock + p * L);
      }
      for (Eigen::Index i = 0; i < count; i += kMllBlock) {
        for (int p = 0; p < P; ++p) {
          V zi;
          V c;
          simd::load(zi, row + i + p * L);
          simd::load(c, coef + i + p * L);
          const V diff = zi - zj;
          acc[p] += c * (diff * diff);
        }
      }
      for (int p = 0; p < P; ++p) {
        simd::store(lanes + k * kMllBlock + p * L, acc[p]);
      }
    }
  }
  for (Eigen::Index k = 0; k < d; ++k) {
    const double* l = lanes + k * kMllBlock;
    double sum = 0.0;
    for (int q = 0; q < kMllBlock; q += 4) {
      sum += (l[q] + l[q + 1]) + (l[q + 2] + l[q + 3]);
    }
    grad[k] = sum;
  }
  weighted_k = wk;
}

template <class Kernel>
inline void mll_kernel_matrix_generic(const MllScaledInputs& in, double outputscale, double* a,
                                      double* profile, double* column) {
  mll_kernel_matrix_packed<Kernel, simd::pack2>(in, outputscale, a, profile, column);
}

template <class Kernel>
inline void mll_contraction_generic(const MllScaledInputs& in, double outputscale, const double* w,
                                    const double* a, const double* profile, double* grad,
                                    double& weighted_k, double* scratch) {
  mll_contraction_packed<Kernel, simd::pack2>(in, outputscale, w, a, profile, grad, weighted_k,
                                              scratch);
}

#if BOMF_SIMD_X86
template <class Kernel>
__attribute__((target("avx2"))) inline void mll_kernel_matrix_avx2(const MllScaledInputs& in,
                                                                   double outputscale, double* a,
                                                                   double* profile,
                                                                   double* column) {
  mll_kernel_matrix_packed<Kernel, simd::pack4>(in, outputscale, a, profile, column);
}

template <class Kernel>
__attribute__((target("avx2"))) inline void mll_contraction_avx2(
    const MllScaledInputs& in, double outputscale, const double* w, const double* a,
    const double* profile, double* grad, double& weighted_k, double* scratch) {
  mll_contraction_packed<Kernel, simd::pack4>(in, outputscale, w, a, profile, grad, weighted_k,
                                              scratch);
}
#endif

/// Dispatches mll_kernel_matrix_packed to the build simd::path() selects (same results).
template <class Kernel>
void mll_kernel_matrix(const MllScaledInputs& in, double outputscale, double* a, double* profile,
                       double* column) {
#if BOMF_SIMD_X86
  if (simd::path() == simd::Path::avx2) {
    mll_kernel_matrix_avx2<Kernel>(in, outputscale, a, profile, column);
    return;
  }
#endif
  mll_kernel_matrix_generic<Kernel>(in, outputscale, a, profile, column);
}

/// Dispatches mll_contraction_packed to the build simd::path() selects (same results).
template <class Kernel>
void mll_contraction(const MllScaledInputs& in, double outputscale, const double* w,
                     const double* a, const double* profile, double* grad, double& weighted_k,
                     double* scratch) {
#if BOMF_SIMD_X86
  if (simd::path() == simd::Path::avx2) {
    mll_contraction_avx2<Kernel>(in, outputscale, w, a, profile, grad, weighted_k, scratch);
    return;
  }
#endif
  mll_contraction_generic<Kernel>(in, outputscale, w, a, profile, grad, weighted_k, scratch);
}

}  // namespace bomf::detail
