// accuracy, binary_f1 and macro_f1 against numbers computed by hand and by numpy
// (tests/data/classification, made by make_fixture.py).
#include <ATen/ops/tensor.h>
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "bomf/core/error.hpp"
#include "bomf/torch/classification_metrics.hpp"

namespace bomf {
namespace {

at::Tensor logits_of(const std::vector<std::vector<float>>& rows) {
  std::vector<float> flat;
  for (const auto& row : rows) {
    flat.insert(flat.end(), row.begin(), row.end());
  }
  return at::tensor(flat).reshape({static_cast<std::int64_t>(rows.size()), -1});
}

TEST(ClassificationMetrics, ByHand) {
  // predictions 0, 1, 0, 2 for labels 0, 2, 0, 2: class 0 F1 = 1, class 1 F1 = 0 (predicted,
  // never true), class 2 F1 = 2·1 / (2·1 + 0 + 1) = 2/3; class 3 occurs nowhere.
  const at::Tensor logits =
      logits_of({{2, 1, 0, -9}, {0, 3, 1, -9}, {1, 0, 0.5, -9}, {0, 0, 5, -9}});
  const at::Tensor labels = at::tensor(std::vector<std::int64_t>{0, 2, 0, 2});
  EXPECT_DOUBLE_EQ(accuracy(logits, labels), 0.75);
  EXPECT_DOUBLE_EQ(binary_f1(logits, labels, 2), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(binary_f1(logits, labels, 1), 0.0);
  EXPECT_DOUBLE_EQ(binary_f1(logits, labels, 3), 0.0);  // 0/0 → 0 (zero_division=0)
  EXPECT_DOUBLE_EQ(macro_f1(logits, labels), (1.0 + 0.0 + 2.0 / 3.0) / 3.0);  // not / 4
  // Binary with the default positive class 1.
  const at::Tensor two = logits_of({{0, 1}, {1, 0}, {0, 1}, {0, 1}});
  const at::Tensor y = at::tensor(std::vector<std::int32_t>{1, 1, 0, 1});
  EXPECT_DOUBLE_EQ(binary_f1(two, y), 2.0 * 2 / (2.0 * 2 + 1 + 1));
  EXPECT_DOUBLE_EQ(binary_f1(two, y, 0), 0.0);
}

TEST(ClassificationMetrics, AgreeWithNumpy) {
  std::ifstream in(std::string(BOMF_TEST_DATA_DIR) + "/classification/classification_metrics.json");
  const auto data = nlohmann::json::parse(in);
  for (const auto& c : data["cases"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    const at::Tensor logits = logits_of(c["logits"].get<std::vector<std::vector<float>>>());
    const at::Tensor labels = at::tensor(c["labels"].get<std::vector<std::int64_t>>());
    EXPECT_NEAR(accuracy(logits, labels), c["accuracy"].get<double>(), 1e-15);
    EXPECT_NEAR(macro_f1(logits, labels), c["macro_f1"].get<double>(), 1e-15);
    const auto f1 = c["binary_f1"].get<std::vector<double>>();
    for (std::size_t p = 0; p < f1.size(); ++p) {
      EXPECT_NEAR(binary_f1(logits, labels, static_cast<std::int64_t>(p)), f1[p], 1e-15) << p;
    }
  }
}

TEST(ClassificationMetrics, BadArgumentsAreNamed) {
  const at::Tensor logits = logits_of({{0, 1}, {1, 0}});
  const at::Tensor labels = at::tensor(std::vector<std::int64_t>{0, 1});
  EXPECT_THROW((void)accuracy(logits.reshape({-1}), labels), invalid_argument);
  EXPECT_THROW((void)accuracy(logits, labels.narrow(0, 0, 1)), invalid_argument);
  EXPECT_THROW((void)accuracy(logits, at::tensor(std::vector<std::int64_t>{0, 2})),
               invalid_argument);
  EXPECT_THROW((void)accuracy(logits, at::tensor(std::vector<float>{0, 1})), invalid_argument);
  EXPECT_THROW((void)accuracy(logits.narrow(1, 0, 1), labels), invalid_argument);
  EXPECT_THROW((void)accuracy(logits.narrow(0, 0, 0), labels.narrow(0, 0, 0)), invalid_argument);
  EXPECT_THROW((void)binary_f1(logits, labels, 2), invalid_argument);
  EXPECT_THROW((void)macro_f1(logits.to(at::kLong), labels), invalid_argument);
}

}  // namespace
}  // namespace bomf
