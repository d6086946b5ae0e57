// Tests of bomf/math/erfcx.hpp and bomf/math/normal.hpp against 50-digit mpmath values.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "bomf/math/erfcx.hpp"
#include "bomf/math/normal.hpp"
#include "support/reference.hpp"

namespace {

using bomf::test::close;

// Generated with mpmath 1.3 at 50 digits: erfcx(x) = mp.erfc(x) * mp.exp(x**2); the last row is
// the asymptote 1/(x√π), exact to double precision at x = 1e150.
struct ErfcxCase {
  double x;
  double expected;
};
constexpr ErfcxCase kErfcx[] = {
    {-26, 7.6577249314905683515e+293},
    {-10, 5.3762342836322708968e+43},
    {-3, 16205.988853999586625},
    {-1, 5.0089800807622834663},
    {-0.5, 1.9523604891825570933},
    {-1e-3, 1.0011293799198485917},
    {0, 1.0},
    {1e-8, 0.99999998871620842904},
    {0.1, 0.89645697996912664193},
    {0.5, 0.61569034419292587487},
    {1, 0.42758357615580700441},
    {2, 0.25539567631050574387},
    {3.5, 0.1552936556088942974},
    {5, 0.11070463773306862637},
    {8, 0.069985166200880927723},
    {11.9, 0.047245232484087669952},
    {12, 0.04685422101489376262},
    {12.5, 0.044992099001027920845},
    {20, 0.028174348741051319319},
    {50, 0.0112815362653237725},
    {300, 0.0018806214973780644895},
    {1e4, 0.000056418958072680841152},
    {1e8, 5.6418958354775625874e-9},
    {1e20, 5.6418958354775628695e-21},
    {1e150, 5.6418958354775628695e-151},
};

TEST(Erfcx, MatchesMpmathToAFewUlp) {
  for (const auto& c : kErfcx) {
    EXPECT_TRUE(close(bomf::erfcx(c.x), c.expected, 4e-16))
        << "x = " << c.x << ": " << bomf::erfcx(c.x) << " vs " << c.expected;
  }
}

TEST(Erfcx, SpecialValues) {
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(bomf::erfcx(inf), 0.0);
  EXPECT_EQ(bomf::erfcx(-inf), inf);
  EXPECT_EQ(bomf::erfcx(-27.0), inf);  // exp(729) overflows
  EXPECT_TRUE(std::isnan(bomf::erfcx(std::numeric_limits<double>::quiet_NaN())));
}

TEST(Erfcx, ContinuousAcrossTheContinuedFractionSwitch) {
  const double below = std::nextafter(12.0, 0.0);
  EXPECT_TRUE(close(bomf::erfcx(below), bomf::erfcx(12.0), 5e-16));
}

// mpmath: log(ncdf(z)) and npdf(z)/ncdf(z) at 50 digits.
struct LogCdfCase {
  double z;
  double log_cdf;
  double derivative;
};
constexpr LogCdfCase kLogCdf[] = {
    {-1e5, -5000000012.4318639983, 100000.00001},
    {-1000, -500007.82669481218431, 1000.00099999800001},
    {-40, -804.60844201375378817, 40.024968847207263723},
    {-10, -53.231285150512470578, 10.098093233962511963},
    {-1.5, -2.705944400823889807, 1.9386771666225431895},
    {-1, -1.8410216450092635058, 1.5251352761609812091},
    {-0.5, -1.1759117615936186089, 1.1410777703680644809},
    {0, -0.69314718055994530942, 0.79788456080286535588},
    {0.5, -0.36894641528865639307, 0.50916043383703348583},
    {3, -0.0013508099647481937988, 0.0044378390421256637933},
    {10, -7.619853024160526066e-24, 7.6945986267064193463e-23},
};

TEST(NormalLogCdf, MatchesMpmathInBothTails) {
  for (const auto& c : kLogCdf) {
    const bomf::ValueAndDerivative r = bomf::normal_log_cdf_with_derivative(c.z);
    EXPECT_TRUE(close(r.value, c.log_cdf, 1e-15)) << "z = " << c.z << ": " << r.value;
    EXPECT_TRUE(close(r.derivative, c.derivative, 2e-15)) << "z = " << c.z << ": " << r.derivative;
    EXPECT_EQ(bomf::normal_log_cdf(c.z), r.value);
  }
}

TEST(NormalCdf, AgreesWithPdfIntegralIdentities) {
  EXPECT_DOUBLE_EQ(bomf::normal_cdf(0.0), 0.5);
  EXPECT_DOUBLE_EQ(bomf::normal_pdf(0.0), 0.3989422804014327);
  EXPECT_DOUBLE_EQ(bomf::normal_log_pdf(1.5), std::log(bomf::normal_pdf(1.5)));
  for (double z = -8.0; z <= 8.0; z += 0.37) {
    EXPECT_NEAR(bomf::normal_cdf(z) + bomf::normal_cdf(-z), 1.0, 2e-16);
    // Central difference of Φ against φ.
    const double h = 1e-5;
    EXPECT_NEAR((bomf::normal_cdf(z + h) - bomf::normal_cdf(z - h)) / (2 * h), bomf::normal_pdf(z),
                1e-9);
  }
  // Relative accuracy in the lower tail: Φ(−30) = 4.906713927148187e-198 (mpmath).
  EXPECT_TRUE(close(bomf::normal_cdf(-30.0), 4.906713927148187e-198, 1e-14));
}

TEST(NormalQuantile, InvertsTheCdfAndCoversTheTails) {
  // Φ amplifies the quantile's own rounding by about 1 + z², hence the tolerance.
  for (double p : {1e-300, 1e-12, 0.001, 0.2, 0.5, 0.7, 0.999, 1.0 - 1e-12}) {
    const double z = bomf::normal_quantile(p);
    EXPECT_TRUE(close(bomf::normal_cdf(z), p, 5e-16 * (1.0 + z * z))) << "p = " << p;
  }
  EXPECT_EQ(bomf::normal_quantile(0.5), 0.0);
  EXPECT_TRUE(close(bomf::normal_quantile(0.975), 1.959963984540054, 1e-15));
  EXPECT_EQ(bomf::normal_quantile(0.0), -std::numeric_limits<double>::infinity());
  EXPECT_EQ(bomf::normal_quantile(1.0), std::numeric_limits<double>::infinity());
  EXPECT_THROW(bomf::normal_quantile(1.5), bomf::invalid_argument);
  EXPECT_THROW(bomf::normal_quantile(-0.1), bomf::invalid_argument);
  EXPECT_THROW(bomf::normal_quantile(std::numeric_limits<double>::quiet_NaN()),
               bomf::invalid_argument);
}

}  // namespace
