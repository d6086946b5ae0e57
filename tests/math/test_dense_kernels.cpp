// Tests of bomf/math/detail/dense_kernels.hpp: the matrix-product update (every flag, every
// shape class: packed tiles, partial tiles, left-over rows, the matrix-vector path) against a
// naive loop with the same summation order, bit for bit; the Cholesky factor, the triangular
// inverse and C − s²A⁻¹ against Eigen at 1e-13; failure on an indefinite matrix; and the generic
// and AVX2 builds giving bit-identical results.
#include <gtest/gtest.h>

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <cstring>
#include <random>
#include <vector>

#include "bomf/math/detail/dense_kernels.hpp"
#include "bomf/math/simd.hpp"

namespace {

using bomf::detail::kDenseAdd;
using bomf::detail::kDenseLowerA;
using bomf::detail::kDenseTransB;

Eigen::MatrixXd random_matrix(Eigen::Index rows, Eigen::Index cols, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  Eigen::MatrixXd a(rows, cols);
  for (Eigen::Index i = 0; i < a.size(); ++i) {
    a(i) = normal(rng);
  }
  return a;
}

Eigen::MatrixXd random_spd(Eigen::Index n, std::uint64_t seed) {
  const Eigen::MatrixXd b = random_matrix(n, n, seed);
  return b * b.transpose() / static_cast<double>(n) + 0.05 * Eigen::MatrixXd::Identity(n, n);
}

// The reference: C(i, j) ∓= A(i, t) op(B)(t, j) term by term in increasing t (zeros of a lower
// triangular A included: they change no value).
template <int kOp>
Eigen::MatrixXd naive_update(const Eigen::MatrixXd& A, const Eigen::MatrixXd& B,
                             Eigen::MatrixXd C) {
  for (Eigen::Index j = 0; j < C.cols(); ++j) {
    for (Eigen::Index i = 0; i < C.rows(); ++i) {
      double c = C(i, j);
      for (Eigen::Index t = 0; t < A.cols(); ++t) {
        const double b = (kOp & kDenseTransB) != 0 ? B(j, t) : B(t, j);
        c = (kOp & kDenseAdd) != 0 ? c + A(i, t) * b : c - A(i, t) * b;
      }
      C(i, j) = c;
    }
  }
  return C;
}

template <int kOp>
void check_update(Eigen::Index m, Eigen::Index n, Eigen::Index k, bomf::simd::Path path) {
  Eigen::MatrixXd A = random_matrix(m, k, 1);
  if ((kOp & kDenseLowerA) != 0) {
    A = A.triangularView<Eigen::Lower>();
  }
  const Eigen::MatrixXd B =
      (kOp & kDenseTransB) != 0 ? random_matrix(n, k, 2) : random_matrix(k, n, 2);
  const Eigen::MatrixXd C0 = random_matrix(m, n, 3);
  Eigen::MatrixXd C = C0;
  std::vector<double> scratch(static_cast<std::size_t>(bomf::detail::dense_scratch_size(k)));
  bomf::simd::force_path(path);
  bomf::detail::matrix_update<kOp>(m, n, k, A.data(), m, B.data(), B.rows(), C.data(), m,
                                   scratch.data());
  bomf::simd::reset_path();
  const Eigen::MatrixXd expected = naive_update<kOp>(A, B, C0);
  EXPECT_EQ(
      std::memcmp(C.data(), expected.data(), sizeof(double) * static_cast<std::size_t>(m * n)), 0)
      << "op " << kOp << ", " << m << " × " << n << " × " << k;
}

TEST(DenseKernels, UpdateEqualsTheTermByTermSumForEveryShapeAndFlag) {
  for (const auto path : {bomf::simd::Path::generic, bomf::simd::Path::avx2}) {
    for (const Eigen::Index m : {1, 3, 8, 13, 37}) {
      for (const Eigen::Index n : {1, 2, 4, 7, 70}) {
        for (const Eigen::Index k : {1, 5, 20, 37}) {
          check_update<0>(m, n, k, path);
          check_update<kDenseAdd>(m, n, k, path);
          check_update<kDenseTransB>(m, n, k, path);
          check_update<kDenseTransB | kDenseAdd>(m, n, k, path);
          if (k == m) {
            check_update<kDenseAdd | kDenseLowerA>(m, n, k, path);
          }
        }
      }
    }
  }
}

TEST(DenseKernels, CholeskyInverseAndInverseUpdateMatchEigen) {
  for (const Eigen::Index n : {1, 2, 15, 16, 17, 33, 90, 131}) {
    const Eigen::MatrixXd a = random_spd(n, static_cast<std::uint64_t>(n));
    Eigen::MatrixXd l = a;
    Eigen::VectorXd scratch(bomf::detail::dense_inverse_scratch_size(n));
    ASSERT_TRUE(bomf::detail::cholesky_in_place(n, l.data(), n, scratch.data())) << n;
    const Eigen::MatrixXd lower = l.triangularView<Eigen::Lower>();
    const Eigen::LLT<Eigen::MatrixXd> llt(a);
    const Eigen::MatrixXd l_ref = llt.matrixL();
    EXPECT_LT((lower - l_ref).norm(), 1e-13 * l_ref.norm()) << n;
    Eigen::MatrixXd x(n, n);
    bomf::detail::triangular_inverse(n, lower.data(), n, x.data(), scratch.data());
    const Eigen::MatrixXd x_ref =
        l_ref.triangularView<Eigen::Lower>().solve(Eigen::MatrixXd::Identity(n, n));
    EXPECT_LT((x - x_ref).norm(), 1e-12 * x_ref.norm()) << n;
    EXPECT_TRUE((x.triangularView<Eigen::StrictlyUpper>().toDenseMatrix().array() == 0.0).all());
    // C − s² A⁻¹ on the lower triangle.
    const double s = 0.7;
    Eigen::MatrixXd c = random_matrix(n, n, 5);
    const Eigen::MatrixXd c0 = c;
    bomf::detail::subtract_scaled_inverse(n, x.data(), s, c.data(), n, scratch.data());
    const Eigen::MatrixXd expected = c0 - s * s * llt.solve(Eigen::MatrixXd::Identity(n, n));
    const Eigen::MatrixXd got_lower = c.triangularView<Eigen::Lower>();
    const Eigen::MatrixXd expected_lower = expected.triangularView<Eigen::Lower>();
    EXPECT_LT((got_lower - expected_lower).norm(), 1e-12 * expected_lower.norm()) << n;
  }
}

TEST(DenseKernels, CholeskyReportsANonPositivePivot) {
  for (const Eigen::Index n : {3, 40}) {
    Eigen::MatrixXd a = random_spd(n, 9);
    a(n - 1, n - 1) = -1.0;
    Eigen::VectorXd scratch(bomf::detail::dense_scratch_size(n));
    EXPECT_FALSE(bomf::detail::cholesky_in_place(n, a.data(), n, scratch.data()));
    Eigen::MatrixXd b = random_spd(n, 10);
    b(1, 1) = std::numeric_limits<double>::quiet_NaN();
    EXPECT_FALSE(bomf::detail::cholesky_in_place(n, b.data(), n, scratch.data()));
  }
}

TEST(DenseKernels, Avx2BuildIsBitIdenticalToTheGenericBuild) {
  if (!bomf::simd::avx2_available()) {
    GTEST_SKIP() << "no AVX2 on this CPU";
  }
  for (const Eigen::Index n : {7, 64, 97}) {
    const Eigen::MatrixXd a = random_spd(n, 11);
    Eigen::MatrixXd results[2];
    int p = 0;
    for (const auto path : {bomf::simd::Path::generic, bomf::simd::Path::avx2}) {
      bomf::simd::force_path(path);
      Eigen::MatrixXd l = a;
      Eigen::VectorXd scratch(bomf::detail::dense_inverse_scratch_size(n));
      ASSERT_TRUE(bomf::detail::cholesky_in_place(n, l.data(), n, scratch.data()));
      l = l.triangularView<Eigen::Lower>();
      Eigen::MatrixXd x(n, n);
      bomf::detail::triangular_inverse(n, l.data(), n, x.data(), scratch.data());
      Eigen::MatrixXd c = Eigen::MatrixXd::Identity(n, n);
      bomf::detail::subtract_scaled_inverse(n, x.data(), 0.3, c.data(), n, scratch.data());
      results[p] = Eigen::MatrixXd(n, 3 * n);
      results[p] << l, x, c.triangularView<Eigen::Lower>().toDenseMatrix();
      ++p;
    }
    bomf::simd::reset_path();
    EXPECT_EQ(std::memcmp(results[0].data(), results[1].data(),
                          sizeof(double) * static_cast<std::size_t>(results[0].size())),
              0)
        << n;
  }
}

}  // namespace
