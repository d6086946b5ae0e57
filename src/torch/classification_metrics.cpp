#include "bomf/torch/classification_metrics.hpp"

#include <ATen/ops/argmax.h>

#include <vector>

#include "bomf/core/error.hpp"

namespace bomf {
namespace {

/// Per-class counts of (true positives, false positives, false negatives).
struct Confusion {
  std::vector<std::int64_t> tp, fp, fn;
  std::int64_t correct = 0;
  std::int64_t n = 0;

  [[nodiscard]] double f1(std::size_t c) const {
    const std::int64_t denominator = 2 * tp[c] + fp[c] + fn[c];
    return denominator == 0 ? 0.0
                            : 2.0 * static_cast<double>(tp[c]) / static_cast<double>(denominator);
  }
};

Confusion confusion(const at::Tensor& logits, const at::Tensor& labels, const char* where) {
  detail::require(logits.defined() && logits.dim() == 2, where, "argument 'logits' has ",
                  logits.defined() ? logits.dim() : 0, " dimensions, expected N × C");
  detail::require(logits.is_floating_point(), where, "argument 'logits' has dtype ",
                  logits.scalar_type(), ", expected a floating dtype");
  const std::int64_t n = logits.size(0);
  const std::int64_t classes = logits.size(1);
  detail::require(n >= 1, where, "argument 'logits' has no row, expected N ≥ 1");
  detail::require(classes >= 2, where, "argument 'logits' has ", classes,
                  " column(s), expected C ≥ 2 classes");
  detail::require(labels.defined() && labels.dim() == 1 && labels.size(0) == n, where,
                  "argument 'labels' has shape ",
                  labels.defined() ? labels.sizes() : at::IntArrayRef{}, ", expected [", n,
                  "] (one label per row of 'logits')");
  detail::require(at::isIntegralType(labels.scalar_type(), /*includeBool=*/false), where,
                  "argument 'labels' has dtype ", labels.scalar_type(), ", expected integers");
  const at::Tensor predicted = at::argmax(logits, 1).to(at::kCPU).to(at::kLong).contiguous();
  const at::Tensor truth = labels.to(at::kCPU).to(at::kLong).contiguous();
  const auto* p = predicted.data_ptr<std::int64_t>();
  const auto* y = truth.data_ptr<std::int64_t>();
  const auto c = static_cast<std::size_t>(classes);
  Confusion out{std::vector<std::int64_t>(c), std::vector<std::int64_t>(c),
                std::vector<std::int64_t>(c), 0, n};
  for (std::int64_t i = 0; i < n; ++i) {
    detail::require(y[i] >= 0 && y[i] < classes, where, "labels[", i, "] is ", y[i],
                    ", expected a class in [0, ", classes, ")");
    const auto yi = static_cast<std::size_t>(y[i]);
    const auto pi = static_cast<std::size_t>(p[i]);
    if (yi == pi) {
      ++out.tp[yi];
      ++out.correct;
    } else {
      ++out.fn[yi];
      ++out.fp[pi];
    }
  }
  return out;
}

}  // namespace

double accuracy(const at::Tensor& logits, const at::Tensor& labels) {
  const Confusion c = confusion(logits, labels, "bomf::accuracy");
  return static_cast<double>(c.correct) / static_cast<double>(c.n);
}

double binary_f1(const at::Tensor& logits, const at::Tensor& labels, std::int64_t positive_class) {
  const Confusion c = confusion(logits, labels, "bomf::binary_f1");
  const auto classes = static_cast<std::int64_t>(c.tp.size());
  detail::require(positive_class >= 0 && positive_class < classes, "bomf::binary_f1",
                  "argument 'positive_class' is ", positive_class, ", expected a class in [0, ",
                  classes, ")");
  return c.f1(static_cast<std::size_t>(positive_class));
}

double macro_f1(const at::Tensor& logits, const at::Tensor& labels) {
  const Confusion c = confusion(logits, labels, "bomf::macro_f1");
  double sum = 0;
  int present = 0;
  for (std::size_t k = 0; k < c.tp.size(); ++k) {
    if (c.tp[k] + c.fp[k] + c.fn[k] > 0) {  // occurs in the labels or the predictions
      sum += c.f1(k);
      ++present;
    }
  }
  return sum / present;  // present ≥ 1: N ≥ 1 rows each have a label
}

}  // namespace bomf
