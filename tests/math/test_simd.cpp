// Tests of bomf/math/simd.hpp: the pack exp, log and log1p against libm (≤ 2 ulp over random
// arguments spanning the whole range, subnormals included), their special values, and the
// generic and AVX2 builds giving bit-identical results.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "bomf/math/simd.hpp"

namespace {

using bomf::simd::pack2;
using bomf::simd::pack4;

enum class Fn { exp, log, log1p };

template <class V>
BOMF_SIMD_INLINE void apply_all(Fn fn, const double* x, double* y, std::size_t n) {
  constexpr int L = bomf::simd::pack_traits<V>::lanes;
  for (std::size_t i = 0; i < n; i += L) {
    V v;
    bomf::simd::load(v, x + i);
    if (fn == Fn::exp) {
      bomf::simd::exp_in_place(v);
    } else if (fn == Fn::log) {
      bomf::simd::log_in_place(v);
    } else {
      bomf::simd::log1p_in_place(v);
    }
    bomf::simd::store(y + i, v);
  }
}

void apply_generic(Fn fn, const double* x, double* y, std::size_t n) {
  apply_all<pack2>(fn, x, y, n);
}

#if BOMF_SIMD_X86
__attribute__((target("avx2"))) void apply_avx2(Fn fn, const double* x, double* y, std::size_t n) {
  apply_all<pack4>(fn, x, y, n);
}
#endif

double reference(Fn fn, double x) {
  return fn == Fn::exp ? std::exp(x) : (fn == Fn::log ? std::log(x) : std::log1p(x));
}

// Arguments: random over the function's domain, plus its edges. A multiple of 4 in length.
std::vector<double> arguments(Fn fn) {
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::vector<double> x;
  for (int i = 0; i < 400000; ++i) {
    const double u = unit(rng);
    if (fn == Fn::exp) {
      x.push_back(i % 2 == 0 ? -760.0 + 1480.0 * u : -30.0 + 40.0 * u);
    } else if (fn == Fn::log) {
      const double e = -1074.0 + 2097.0 * unit(rng);
      x.push_back(i % 3 == 0 ? 1.0 + (u - 0.5) * 1e-6 : std::ldexp(1.0 + u, static_cast<int>(e)));
    } else {
      x.push_back(i % 2 == 0 ? std::ldexp(u, -60 + static_cast<int>(110.0 * unit(rng))) : u * 1e-3);
    }
  }
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  if (fn == Fn::exp) {
    x.insert(x.end(), {0.0, -0.0, 1.0, -1.0, 700.0, -700.0, 709.78, -708.39, -745.13, -745.14,
                       710.0, -746.0, inf, -inf, nan, 1e-300, -1e-300, 0.5 * std::log(2.0)});
  } else if (fn == Fn::log) {
    x.insert(x.end(),
             {1.0, 2.0, 0.5, std::sqrt(0.5), std::sqrt(2.0), 4.9e-324, 2.2250738585072014e-308,
              std::numeric_limits<double>::max(), 0.0, -0.0, -1.0, inf, -inf, nan});
  } else {
    x.insert(x.end(), {0.0, 1e-300, 4.9e-324, 1e-17, 1e-8, 1.0, 20.0, 4.85e8, std::ldexp(1.0, 51)});
  }
  while (x.size() % 4 != 0) {
    x.push_back(1.0);
  }
  return x;
}

class SimdMath : public ::testing::TestWithParam<Fn> {};

TEST_P(SimdMath, WithinTwoUlpOfLibmAndExactSpecialValues) {
  const Fn fn = GetParam();
  const std::vector<double> x = arguments(fn);
  std::vector<double> y(x.size());
  apply_generic(fn, x.data(), y.data(), x.size());
  double worst = 0.0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double r = reference(fn, x[i]);
    if (std::isnan(r)) {
      EXPECT_TRUE(std::isnan(y[i])) << "x = " << x[i];
    } else if (std::isinf(r) || r == 0.0) {
      EXPECT_EQ(y[i], r) << "x = " << x[i];
    } else {
      const double ulp =
          std::nextafter(std::abs(r), std::numeric_limits<double>::infinity()) - std::abs(r);
      const double err = std::abs(y[i] - r) / ulp;
      worst = std::max(worst, err);
      EXPECT_LE(err, 2.0) << "x = " << x[i] << ": " << y[i] << " against libm's " << r;
    }
  }
  std::printf("[ accuracy  ] worst %.2f ulp over %zu arguments\n", worst, x.size());
}

TEST_P(SimdMath, Avx2BuildIsBitIdenticalToTheGenericBuild) {
#if BOMF_SIMD_X86
  if (!bomf::simd::avx2_available()) {
    GTEST_SKIP() << "no AVX2 on this CPU";
  }
  const Fn fn = GetParam();
  const std::vector<double> x = arguments(fn);
  std::vector<double> a(x.size());
  std::vector<double> b(x.size());
  apply_generic(fn, x.data(), a.data(), x.size());
  apply_avx2(fn, x.data(), b.data(), x.size());
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(double)), 0);
#else
  GTEST_SKIP() << "not an x86 build";
#endif
}

INSTANTIATE_TEST_SUITE_P(Functions, SimdMath, ::testing::Values(Fn::exp, Fn::log, Fn::log1p));

TEST(SimdPath, ForceAndReset) {
  bomf::simd::force_path(bomf::simd::Path::generic);
  EXPECT_EQ(bomf::simd::path(), bomf::simd::Path::generic);
  bomf::simd::force_path(bomf::simd::Path::avx2);
  EXPECT_EQ(bomf::simd::path(),
            bomf::simd::avx2_available() ? bomf::simd::Path::avx2 : bomf::simd::Path::generic);
  bomf::simd::reset_path();
  EXPECT_EQ(bomf::simd::padded_size(0), 0);
  EXPECT_EQ(bomf::simd::padded_size(1), 4);
  EXPECT_EQ(bomf::simd::padded_size(8), 8);
}

}  // namespace
