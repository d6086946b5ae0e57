#include <gtest/gtest.h>

#include <functional>
#include <limits>
#include <string>

#include "bomf/core/checks.hpp"
#include "bomf/version.hpp"
#include "support/error_message.hpp"

namespace {

std::string message_of(const std::function<void()>& f) {
  return bomf::test::error_message<bomf::invalid_argument>(f);
}

TEST(Checks, FiniteMatrixPasses) {
  Eigen::MatrixXd x = Eigen::MatrixXd::Random(4, 3);
  EXPECT_NO_THROW(bomf::detail::require_finite(x, "f", "x"));
}

TEST(Checks, NonFiniteEntryIsNamedByRowAndColumn) {
  Eigen::MatrixXd x = Eigen::MatrixXd::Zero(4, 3);
  x(2, 1) = std::numeric_limits<double>::quiet_NaN();
  const std::string msg =
      message_of([&] { bomf::detail::require_finite(x, "bomf::fit", "train_X"); });
  EXPECT_NE(msg.find("bomf::fit"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'train_X'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("row 2, column 1"), std::string::npos) << msg;
  x(2, 1) = 0.0;
  x(3, 2) = -std::numeric_limits<double>::infinity();
  EXPECT_NE(message_of([&] { bomf::detail::require_finite(x, "g", "y"); }).find("row 3, column 2"),
            std::string::npos);
}

TEST(Checks, ShapeMismatchStatesBothShapes) {
  Eigen::MatrixXd x(4, 3);
  EXPECT_NO_THROW(bomf::detail::require_shape(x, 4, -1, "f", "x"));
  EXPECT_NO_THROW(bomf::detail::require_shape(x, -1, 3, "f", "x"));
  const std::string msg = message_of([&] { bomf::detail::require_shape(x, -1, 2, "f", "x"); });
  EXPECT_NE(msg.find("4×3"), std::string::npos) << msg;
  EXPECT_NE(msg.find("expected any×2"), std::string::npos) << msg;
}

TEST(Checks, InvalidArgumentIsAStandardInvalidArgument) {
  EXPECT_THROW(bomf::detail::require(false, "f", "bad"), std::invalid_argument);
  EXPECT_NO_THROW(bomf::detail::require(true, "f", "fine"));
}

TEST(Version, MacrosAgree) {
  EXPECT_EQ(BOMF_VERSION,
            BOMF_VERSION_MAJOR * 10000 + BOMF_VERSION_MINOR * 100 + BOMF_VERSION_PATCH);
  EXPECT_FALSE(std::string(BOMF_VERSION_STRING).empty());
}

}  // namespace
