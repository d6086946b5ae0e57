// bomf/math/detail/dense_kernels.hpp — the dense linear algebra of the GP fit and of qLogNEHVI's
// pruning, on packs of 2 or 4 doubles (bomf/math/simd.hpp): a matrix-product update, and on top
// of it the Cholesky factorization, the inverse from a Cholesky factor and the triangular product
// that turns base samples into posterior samples.
//
// Why not Eigen: bomf compiles for the baseline x86-64 (SSE2), so Eigen's products run on packs
// of two; these kernels also have an AVX2 build chosen at run time (simd::path()), about twice
// as fast. Determinism: every output entry is its initial value updated by one product term at a
// time, in increasing order of the summation index (c ← c − a·b, never a reassociated sum), in
// both builds and whatever the blocking; so the generic and AVX2 builds give bit-identical
// results (tests/gp/test_dense_kernels.cpp). No fused multiply-add.
//
// All matrices are column-major with a leading dimension (ld ≥ rows). Sizes here are those of a
// GP fit (n ≤ a few thousand): the operands stay in L2 cache, so nothing is packed.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cmath>

#include "bomf/math/simd.hpp"

namespace bomf::detail {

/// Rows per register tile of dense_update: 2 packs. Columns: 4.
inline constexpr int kDenseTileCols = 4;
/// Row groups of a lower-triangular A (kDenseLowerA): a multiple of every tile's rows.
inline constexpr Eigen::Index kDenseRowGroup = 2 * simd::max_lanes;
/// Most columns of op(B) dense_update packs at once (its scratch: kDensePanel·k doubles).
inline constexpr Eigen::Index kDensePanel = 64;

/// How dense_update combines (flags, or-ed): C ← C − A·op(B) by default, C + A·op(B) with
/// kDenseAdd; op(B) = Bᵀ with kDenseTransB; with kDenseLowerA, A is lower triangular (A(i, t) = 0
/// for t > i) and row i takes the terms t < min(k, 8·(⌊i/8⌋ + 1)) only: the zero terms skipped
/// change no value, and the set kept is the same for every pack width (so even the sign of an
/// exactly-zero sum is).
inline constexpr int kDenseTransB = 1;
inline constexpr int kDenseAdd = 2;
inline constexpr int kDenseLowerA = 4;

template <bool kAdd, class V>
BOMF_SIMD_INLINE void dense_accumulate(V& c, const V& a, double b) {
  if constexpr (kAdd) {
    c = c + a * b;
  } else {
    c = c - a * b;
  }
}

template <bool kAdd>
BOMF_SIMD_INLINE void dense_accumulate(double& c, double a, double b) {
  if constexpr (kAdd) {
    c = c + a * b;
  } else {
    c = c - a * b;
  }
}

/// The register tile of dense_update: 2 packs of rows × NR columns (NR ≤ kDenseTileCols), A
/// packed row-tile-major (A[p·L + t·2L] holds rows p·L … of column t), B packed
/// column-tile-major (B[j + t·kDenseTileCols] is column j at t).
template <class V, int NR, bool kAdd>
BOMF_SIMD_INLINE void dense_tile_update(Eigen::Index k, const double* A, const double* B, double* C,
                                        Eigen::Index ldc) {
  constexpr int L = simd::pack_traits<V>::lanes;
  V c0[NR];
  V c1[NR];
  for (int j = 0; j < NR; ++j) {
    simd::load(c0[j], C + j * ldc);
    simd::load(c1[j], C + j * ldc + L);
  }
  for (Eigen::Index t = 0; t < k; ++t) {
    V a0;
    V a1;
    simd::load(a0, A + t * 2 * L);
    simd::load(a1, A + t * 2 * L + L);
    for (int j = 0; j < NR; ++j) {
      const double b = B[j + t * kDenseTileCols];
      dense_accumulate<kAdd>(c0[j], a0, b);
      dense_accumulate<kAdd>(c1[j], a1, b);
    }
  }
  for (int j = 0; j < NR; ++j) {
    simd::store(C + j * ldc, c0[j]);
    simd::store(C + j * ldc + L, c1[j]);
  }
}

/// C (m × n) ← C ∓ A (m × k) · op(B) as `kOp` says, op(B) = B (k × n) or Bᵀ (B: n × k). Each
/// entry is updated term by term in increasing t (see the file comment): whatever m, n and the
/// pack width, an entry's result is the same. With n < kDenseTileCols the columns are updated
/// directly (no packing: a matrix-vector product); otherwise A and op(B) are copied to `scratch`
/// by tiles first ((kDensePanel + 2·max_lanes)·k doubles).
template <class V, int kOp>
BOMF_SIMD_INLINE void dense_update(Eigen::Index m, Eigen::Index n, Eigen::Index k, const double* A,
                                   Eigen::Index lda, const double* B, Eigen::Index ldb, double* C,
                                   Eigen::Index ldc, double* scratch) {
  constexpr int L = simd::pack_traits<V>::lanes;
  constexpr int R = 2 * L;
  constexpr int NR = kDenseTileCols;
  constexpr bool kAdd = (kOp & kDenseAdd) != 0;
  constexpr bool kTransB = (kOp & kDenseTransB) != 0;
  constexpr bool kLowerA = (kOp & kDenseLowerA) != 0;
  if (m <= 0 || n <= 0 || k <= 0) {
    return;
  }
  auto b_at = [&](Eigen::Index t, Eigen::Index j) {
    return kTransB ? B[j + t * ldb] : B[t + j * ldb];
  };
  const Eigen::Index m_vec = m / R * R;
  if (n < NR) {
    // Column by column: c(i) ∓= A(i, t) b(t) for t in order, rows in packs (the rows of a
    // lower-triangular A start at t).
    for (Eigen::Index j = 0; j < n; ++j) {
      double* cj = C + j * ldc;
      for (Eigen::Index t = 0; t < k; ++t) {
        const double b = b_at(t, j);
        const double* at = A + t * lda;
        Eigen::Index i = kLowerA ? t / kDenseRowGroup * kDenseRowGroup : 0;
        for (; i + L <= m; i += L) {
          V a;
          V c;
          simd::load(a, at + i);
          simd::load(c, cj + i);
          dense_accumulate<kAdd>(c, a, b);
          simd::store(cj + i, c);
        }
        for (; i < m; ++i) {
          dense_accumulate<kAdd>(cj[i], at[i], b);
        }
      }
    }
    return;
  }
  double* packed_a = scratch;
  double* packed_b = scratch + R * k;
  for (Eigen::Index j0 = 0; j0 < n; j0 += kDensePanel) {
    const Eigen::Index nb = std::min(kDensePanel, n - j0);
    // op(B)'s columns j0 … j0 + nb − 1 by tiles of NR: tile q, column j, index t at
    // q·NR·k + t·NR + j.
    for (Eigen::Index q = 0; q * NR < nb; ++q) {
      const Eigen::Index cols = std::min<Eigen::Index>(NR, nb - q * NR);
      double* dst = packed_b + q * NR * k;
      for (Eigen::Index t = 0; t < k; ++t) {
        for (Eigen::Index j = 0; j < cols; ++j) {
          dst[t * NR + j] = b_at(t, j0 + q * NR + j);
        }
      }
    }
    for (Eigen::Index i = 0; i < m_vec; i += R) {
      // A(i.., t) = 0 beyond the row group's end.
      const Eigen::Index kk = kLowerA ? std::min(k, (i / kDenseRowGroup + 1) * kDenseRowGroup) : k;
      for (Eigen::Index t = 0; t < kk; ++t) {
        for (int r = 0; r < R; ++r) {
          packed_a[t * R + r] = A[i + r + t * lda];
        }
      }
      Eigen::Index q = 0;
      for (; (q + 1) * NR <= nb; ++q) {
        dense_tile_update<V, NR, kAdd>(kk, packed_a, packed_b + q * NR * k,
                                       C + i + (j0 + q * NR) * ldc, ldc);
      }
      for (Eigen::Index j = q * NR; j < nb; ++j) {
        // Columns of a partial tile, one at a time (packed with stride NR).
        const double* bj = packed_b + q * NR * k + (j - q * NR);
        double* cj = C + i + (j0 + j) * ldc;
        V c0;
        V c1;
        simd::load(c0, cj);
        simd::load(c1, cj + L);
        for (Eigen::Index t = 0; t < kk; ++t) {
          V a0;
          V a1;
          simd::load(a0, packed_a + t * R);
          simd::load(a1, packed_a + t * R + L);
          const double b = bj[t * NR];
          dense_accumulate<kAdd>(c0, a0, b);
          dense_accumulate<kAdd>(c1, a1, b);
        }
        simd::store(cj, c0);
        simd::store(cj + L, c1);
      }
    }
  }
  // Remaining rows, entry by entry in the same order.
  for (Eigen::Index jj = 0; jj < n; ++jj) {
    for (Eigen::Index i = m_vec; i < m; ++i) {
      double c = C[i + jj * ldc];
      const Eigen::Index kk = kLowerA ? std::min(k, (i / kDenseRowGroup + 1) * kDenseRowGroup) : k;
      for (Eigen::Index t = 0; t < kk; ++t) {
        dense_accumulate<kAdd>(c, A[i + t * lda], b_at(t, jj));
      }
      C[i + jj * ldc] = c;
    }
  }
}

/// Block size of the blocked factorizations below.
inline constexpr Eigen::Index kDenseBlock = 16;

/// Doubles of scratch the factorizations below need for n × n operands.
inline Eigen::Index dense_scratch_size(Eigen::Index n) {
  return (kDensePanel + 2 * simd::max_lanes) * std::max<Eigen::Index>(n, 1);
}

/// In-place lower Cholesky factor of the symmetric positive-definite `a` (n × n, lower triangle
/// read and overwritten; the strictly upper part of its diagonal blocks gets unspecified values),
/// left-looking by blocks of
/// kDenseBlock columns: A(j:, J) −= L(j:, 0:j) L(J, 0:j)ᵀ, then the diagonal block is factored
/// and the panel below solved, both column by column. `scratch`: dense_scratch_size(n) doubles.
/// Returns false (a is then partly overwritten) when a pivot is not positive and finite.
template <class V>
BOMF_SIMD_INLINE bool dense_cholesky(Eigen::Index n, double* a, Eigen::Index lda, double* scratch) {
  constexpr int L = simd::pack_traits<V>::lanes;
  for (Eigen::Index j = 0; j < n; j += kDenseBlock) {
    const Eigen::Index w = std::min(kDenseBlock, n - j);
    // A(j:, J) −= L(j:, 0:j) · L(J, 0:j)ᵀ.
    dense_update<V, kDenseTransB>(n - j, w, j, a + j, lda, a + j, lda, a + j + j * lda, lda,
                                  scratch);
    // Column by column inside the block: a(c:, c) −= Σ_{t<c} a(c:, t) a(c, t), then scale.
    for (Eigen::Index c = j; c < j + w; ++c) {
      double* col = a + c * lda;
      for (Eigen::Index t = j; t < c; ++t) {
        const double f = a[c + t * lda];
        const double* src = a + t * lda;
        Eigen::Index i = c;
        for (; i + L <= n; i += L) {
          V x;
          V y;
          simd::load(x, col + i);
          simd::load(y, src + i);
          x = x - y * f;
          simd::store(col + i, x);
        }
        for (; i < n; ++i) {
          col[i] = col[i] - src[i] * f;
        }
      }
      const double pivot = col[c];
      if (!(pivot > 0.0) || !std::isfinite(pivot)) {
        return false;
      }
      const double diag = std::sqrt(pivot);
      col[c] = diag;
      for (Eigen::Index i = c + 1; i < n; ++i) {
        col[i] = col[i] / diag;
      }
    }
  }
  return true;
}

/// X ← L⁻¹ for the lower triangular `l` (n × n, lower triangle read): `x` (n × n, ld n) gets L⁻¹
/// in its lower triangle and zeros above. By blocks of kDenseBlock: the diagonal blocks are
/// inverted by substitution, then block column J from the top, X(I, J) = −X_II Σ_{J≤K<I} L(I, K)
/// X(K, J). `scratch`: dense_scratch_size(n) + 2·kDenseBlock·(n + kDenseBlock) doubles.
/// Cost n³/6 multiply-adds.
template <class V>
BOMF_SIMD_INLINE void dense_triangular_inverse(Eigen::Index n, const double* l, Eigen::Index ldl,
                                               double* x, double* scratch) {
  constexpr Eigen::Index b = kDenseBlock;
  double* negated = scratch;            // −X_II of every diagonal block, b × b each (ld b)
  double* sum = negated + b * (n + b);  // b × b: −Σ L(I, K) X(K, J)
  double* update = sum + b * (n + b);   // dense_update's own scratch
  for (Eigen::Index t = 0; t < n * n; ++t) {
    x[t] = 0.0;
  }
  for (Eigen::Index i0 = 0; i0 < n; i0 += b) {
    const Eigen::Index w = std::min(b, n - i0);
    for (Eigen::Index c = 0; c < w; ++c) {
      double* col = x + (i0 + c) * n + i0;  // X(i0 + r, i0 + c) at col[r]
      col[c] = 1.0 / l[(i0 + c) + (i0 + c) * ldl];
      for (Eigen::Index r = c + 1; r < w; ++r) {
        double acc = 0.0;
        for (Eigen::Index q = c; q < r; ++q) {
          acc = acc - l[(i0 + r) + (i0 + q) * ldl] * col[q];
        }
        col[r] = acc / l[(i0 + r) + (i0 + r) * ldl];
      }
    }
    double* neg = negated + i0 * b;
    for (Eigen::Index c = 0; c < b; ++c) {
      for (Eigen::Index r = 0; r < b; ++r) {
        neg[r + c * b] = (r < w && c < w) ? -x[(i0 + r) + (i0 + c) * n] : 0.0;
      }
    }
  }
  for (Eigen::Index j0 = 0; j0 < n; j0 += b) {
    const Eigen::Index w = std::min(b, n - j0);
    for (Eigen::Index i0 = j0 + b; i0 < n; i0 += b) {
      const Eigen::Index h = std::min(b, n - i0);
      for (Eigen::Index t = 0; t < b * w; ++t) {
        sum[t] = 0.0;
      }
      dense_update<V, 0>(h, w, i0 - j0, l + i0 + j0 * ldl, ldl, x + j0 + j0 * n, n, sum, b, update);
      dense_update<V, 0>(h, w, h, negated + i0 * b, b, sum, b, x + i0 + j0 * n, n, update);
    }
  }
}

/// C ← C − s²·A⁻¹ on the lower triangle of `c` (n × n, ld ldc; the diagonal blocks' strictly
/// upper parts get their symmetric counterparts too, the rest above is untouched), for A = L Lᵀ
/// given X = L⁻¹
/// (`x`, n × n lower with zeros above, ld n): A⁻¹ = Xᵀ X, so C(i, j) −= Σ_{t ≥ i} (s X(t, i))
/// (s X(t, j)), by blocks skipping the zero triangle. `scratch`: n² + dense_scratch_size(n)
/// doubles. Cost n³/6 multiply-adds.
template <class V>
BOMF_SIMD_INLINE void dense_subtract_scaled_inverse(Eigen::Index n, const double* x, double scale,
                                                    double* c, Eigen::Index ldc, double* scratch) {
  constexpr Eigen::Index b = kDenseBlock;
  double* u = scratch;  // s Xᵀ, upper triangular: u(i, t) = s X(t, i)
  double* update = scratch + n * n;
  for (Eigen::Index i = 0; i < n; ++i) {
    for (Eigen::Index t = 0; t < n; ++t) {
      u[i + t * n] = scale * x[t + i * n];
    }
  }
  for (Eigen::Index j0 = 0; j0 < n; j0 += b) {
    const Eigen::Index w = std::min(b, n - j0);
    for (Eigen::Index i0 = j0; i0 < n; i0 += b) {
      const Eigen::Index h = std::min(b, n - i0);
      // Rows i0 … of U vanish before column i0: the sum starts there (exactly).
      dense_update<V, kDenseTransB>(h, w, n - i0, u + i0 + i0 * n, n, u + j0 + i0 * n, n,
                                    c + i0 + j0 * ldc, ldc, update);
    }
  }
}

/// Doubles of scratch cholesky_in_place, triangular_inverse and subtract_scaled_inverse need for
/// n × n operands.
inline Eigen::Index dense_inverse_scratch_size(Eigen::Index n) {
  return std::max(n * n, 2 * kDenseBlock * (n + kDenseBlock)) + dense_scratch_size(n);
}

inline bool cholesky_in_place_generic(Eigen::Index n, double* a, Eigen::Index lda,
                                      double* scratch) {
  return dense_cholesky<simd::pack2>(n, a, lda, scratch);
}
inline void triangular_inverse_generic(Eigen::Index n, const double* l, Eigen::Index ldl, double* x,
                                       double* scratch) {
  dense_triangular_inverse<simd::pack2>(n, l, ldl, x, scratch);
}
inline void subtract_scaled_inverse_generic(Eigen::Index n, const double* x, double scale,
                                            double* c, Eigen::Index ldc, double* scratch) {
  dense_subtract_scaled_inverse<simd::pack2>(n, x, scale, c, ldc, scratch);
}
template <int kOp>
inline void matrix_update_generic(Eigen::Index m, Eigen::Index n, Eigen::Index k, const double* A,
                                  Eigen::Index lda, const double* B, Eigen::Index ldb, double* C,
                                  Eigen::Index ldc, double* scratch) {
  dense_update<simd::pack2, kOp>(m, n, k, A, lda, B, ldb, C, ldc, scratch);
}

#if BOMF_SIMD_X86
__attribute__((target("avx2"))) inline bool cholesky_in_place_avx2(Eigen::Index n, double* a,
                                                                   Eigen::Index lda,
                                                                   double* scratch) {
  return dense_cholesky<simd::pack4>(n, a, lda, scratch);
}
__attribute__((target("avx2"))) inline void triangular_inverse_avx2(Eigen::Index n, const double* l,
                                                                    Eigen::Index ldl, double* x,
                                                                    double* scratch) {
  dense_triangular_inverse<simd::pack4>(n, l, ldl, x, scratch);
}
__attribute__((target("avx2"))) inline void subtract_scaled_inverse_avx2(
    Eigen::Index n, const double* x, double scale, double* c, Eigen::Index ldc, double* scratch) {
  dense_subtract_scaled_inverse<simd::pack4>(n, x, scale, c, ldc, scratch);
}
template <int kOp>
__attribute__((target("avx2"))) inline void matrix_update_avx2(Eigen::Index m, Eigen::Index n,
                                                               Eigen::Index k, const double* A,
                                                               Eigen::Index lda, const double* B,
                                                               Eigen::Index ldb, double* C,
                                                               Eigen::Index ldc, double* scratch) {
  dense_update<simd::pack4, kOp>(m, n, k, A, lda, B, ldb, C, ldc, scratch);
}
#endif

/// dense_cholesky on the build simd::path() selects (the same result on every build).
inline bool cholesky_in_place(Eigen::Index n, double* a, Eigen::Index lda, double* scratch) {
#if BOMF_SIMD_X86
  if (simd::path() == simd::Path::avx2) {
    return cholesky_in_place_avx2(n, a, lda, scratch);
  }
#endif
  return cholesky_in_place_generic(n, a, lda, scratch);
}

/// dense_triangular_inverse on the build simd::path() selects.
inline void triangular_inverse(Eigen::Index n, const double* l, Eigen::Index ldl, double* x,
                               double* scratch) {
#if BOMF_SIMD_X86
  if (simd::path() == simd::Path::avx2) {
    triangular_inverse_avx2(n, l, ldl, x, scratch);
    return;
  }
#endif
  triangular_inverse_generic(n, l, ldl, x, scratch);
}

/// dense_subtract_scaled_inverse on the build simd::path() selects.
inline void subtract_scaled_inverse(Eigen::Index n, const double* x, double scale, double* c,
                                    Eigen::Index ldc, double* scratch) {
#if BOMF_SIMD_X86
  if (simd::path() == simd::Path::avx2) {
    subtract_scaled_inverse_avx2(n, x, scale, c, ldc, scratch);
    return;
  }
#endif
  subtract_scaled_inverse_generic(n, x, scale, c, ldc, scratch);
}

/// dense_update (C ← C ∓ A·op(B), see kDenseAdd) on the build simd::path() selects; `scratch`:
/// dense_scratch_size(k) doubles.
template <int kOp>
void matrix_update(Eigen::Index m, Eigen::Index n, Eigen::Index k, const double* A,
                   Eigen::Index lda, const double* B, Eigen::Index ldb, double* C, Eigen::Index ldc,
                   double* scratch) {
#if BOMF_SIMD_X86
  if (simd::path() == simd::Path::avx2) {
    matrix_update_avx2<kOp>(m, n, k, A, lda, B, ldb, C, ldc, scratch);
    return;
  }
#endif
  matrix_update_generic<kOp>(m, n, k, A, lda, B, ldb, C, ldc, scratch);
}

}  // namespace bomf::detail
