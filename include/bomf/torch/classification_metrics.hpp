// bomf/torch/classification_metrics.hpp — accuracy and F1 scores of classification logits, the
// metrics a fusion problem typically reports besides the validation loss.
//
// Predictions are the arg-max class of each row of `logits` (at::argmax: the first maximal
// entry; a NaN counts as the maximum, as in PyTorch). The F1 scores follow scikit-learn's
// `f1_score(labels, predictions, zero_division=0)`: F1_c = 2·TP_c / (2·TP_c + FP_c + FN_c), and
// 0 where that denominator is 0.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace bomf {

/// The fraction of rows whose arg-max class equals the label. `logits` is N × C floating
/// (N ≥ 1, C ≥ 2), `labels` N integers in [0, C), both on the CPU or both on one device.
/// Throws `bomf::invalid_argument` naming the argument for other shapes, dtypes or label
/// values. Cost: one pass over the logits.
[[nodiscard]] double accuracy(const at::Tensor& logits, const at::Tensor& labels);

/// F1 of class `positive_class` against all others: scikit-learn's
/// `f1_score(labels, predictions, pos_label=positive_class, average='binary', zero_division=0)`
/// when C = 2, and the one-vs-rest F1 of that class for C > 2. 0 when the class occurs in
/// neither the labels nor the predictions. Arguments as `accuracy`; `positive_class` in [0, C).
[[nodiscard]] double binary_f1(const at::Tensor& logits, const at::Tensor& labels,
                               std::int64_t positive_class = 1);

/// The unweighted mean of the per-class F1 over the classes that occur in the labels or the
/// predictions — scikit-learn's `f1_score(labels, predictions, average='macro',
/// zero_division=0)` with its default `labels=None`. A class that occurs in neither does not
/// count (it is not averaged in as 0: that would be `labels=range(C)`); a class that occurs in
/// only one of them has F1 = 0. Arguments as `accuracy`.
[[nodiscard]] double macro_f1(const at::Tensor& logits, const at::Tensor& labels);

}  // namespace bomf
