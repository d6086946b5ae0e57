// bomf/drivers/member_selection.hpp — which checkpoints of a training run become fusion members.
//
// BOMF collects its fusion members from ONE training trajectory, the run with the best
// hyperparameters λ* (paper §4.1 and Algorithm 1, lines 12–18): "we start gathering fusion members
// after 50% of the training epochs are completed … we proceed to uniformly sample 15 members
// throughout the remaining training epochs". Appendix A.3 describes the same policy relative to
// the convergence point B* of the trajectory (the step of its best validation metric, Algorithm 1
// line 11): members between 0.5·B* and 2.0·B*, about 15 of them.
//
// The rule implemented here covers both readings:
//
//   anchor A   = `anchor_step` when given (e.g. B*; any step 0 … 2^50, so a B* of 0 — the best
//                point was the initial model — gives the window [0, 0], which holds at most the
//                initial model, hence an error naming the anchor, never a silent fallback to T),
//                else the run's total number of steps T;
//   window     = [ceil(start_fraction·A), min(T, floor(end_fraction·A))]  (∩ [1, T] when every
//                step is available), with a relative tolerance of 1e-9 on the products so that
//                e.g. 0.3·10 counts as 3;
//   eligible   = the available steps inside the window (every step 1 … T by default, or the steps
//                the caller lists, e.g. those at which checkpoints are saved);
//   members    = `count` of the m eligible steps, evenly spaced by rank: the first and the last
//                eligible step, and in between the eligible step of rank round(i·(m−1)/(count−1)),
//                i = 0 … count−1, rounding to the nearest rank with ties toward the earlier step.
//                When the eligible steps are equally spaced (every step, every k-th step) the
//                members are therefore evenly spaced in steps as well.
//   too few    = when fewer than `count` (but at least 2) steps are eligible, ALL eligible steps
//                are returned (the result is shorter than `count`); fewer than 2 eligible steps is
//                an error, since fusion needs at least two members.
//
// Defaults: count 15, start 0.5, end 1.0, anchor T — paper §4.1. For the appendix variant use
// end_fraction = 2.0 and anchor_step = B* (HyperparameterSearchResult::best_step).
//
// Example: T = 1000 with the defaults gives 500, 536, 571, 607, 643, 679, 714, 750, 786, 821, 857,
// 893, 929, 964, 1000.
//
// Steps are integers: step s is the model after s optimizer updates; step 0 is the initial
// (pre-trained) model and is never among the steps planned by `select_member_steps(T, …)`.
#pragma once

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "bomf/core/error.hpp"

namespace bomf {

/// The member policy (see the file comment for the exact rule). Defaults: paper §4.1.
struct MemberSelectionOptions {
  /// Number of members wanted (2 … 1000). The paper uses about 15.
  int count = 15;
  /// First eligible step as a fraction of the anchor (≥ 0): 0.5 = "after 50% of training".
  double start_fraction = 0.5;
  /// Last eligible step as a fraction of the anchor (> start_fraction), clipped to the run's
  /// total steps: 1.0 = up to the end of training (§4.1); 2.0 with the anchor B* (App. A.3).
  double end_fraction = 1.0;

  /// Empty when valid, else a message naming the first invalid field, its value and what was
  /// expected.
  [[nodiscard]] std::string validate() const {
    if (count < 2 || count > 1000) {
      return detail::concat("count is ", count,
                            ", expected 2 … 1000 (fusion needs at least two members)");
    }
    if (!std::isfinite(start_fraction) || start_fraction < 0.0) {
      return detail::concat("start_fraction is ", start_fraction, ", expected finite and >= 0");
    }
    if (!std::isfinite(end_fraction) || !(end_fraction > start_fraction)) {
      return detail::concat("end_fraction is ", end_fraction,
                            ", expected finite and > start_fraction (", start_fraction, ")");
    }
    return {};
  }
};

/// The range of steps from which members are chosen: [first, last] (inclusive).
struct MemberWindow {
  long long first = 0;
  long long last = 0;
};

/// The largest total number of steps accepted (2^50), so that all step arithmetic is exact.
constexpr long long max_training_steps = 1LL << 50;

namespace detail {

inline void check_member_arguments(long long total_steps, const MemberSelectionOptions& options,
                                   std::optional<long long> anchor_step, const char* where) {
  const std::string error = options.validate();
  require(error.empty(), where, "invalid options: ", error);
  require(total_steps >= 1 && total_steps <= max_training_steps, where,
          "argument 'total_steps' is ", total_steps, ", expected 1 … 2^50");
  require(!anchor_step || (*anchor_step >= 0 && *anchor_step <= max_training_steps), where,
          "argument 'anchor_step' is ", anchor_step.value_or(0),
          ", expected a step in 0 … 2^50 (or no value: the run's total steps)");
}

/// " (anchor step A)" for an explicit anchor, "" otherwise: for the window messages.
inline std::string anchor_note(std::optional<long long> anchor_step) {
  return anchor_step ? concat(" (anchor step ", *anchor_step, ")") : std::string();
}

/// ceil(x) (floor when `up` is false) of a non-negative x, forgiving a relative rounding error of
/// 1e-9 so that products such as 0.3·10 = 3.0000000000000004 land on the intended integer.
inline long long tolerant_round(double x, bool up) {
  const double tolerance = 1e-9 * std::max(1.0, std::abs(x));
  const double r = up ? std::ceil(x - tolerance) : std::floor(x + tolerance);
  return static_cast<long long>(std::min(r, static_cast<double>(max_training_steps) * 4.0));
}

/// Rank of member i of `count` among m eligible steps: round(i·(m−1)/(count−1)), ties down.
inline long long member_rank(long long i, long long m, long long count) {
  const long long d = count - 1;
  const long long q = i * (m - 1);  // ≤ 999 · 2^50 < 2^63
  long long rank = q / d;
  const long long r = q % d;
  if (2 * r > d) {
    ++rank;
  }
  return rank;
}

}  // namespace detail

/// The window of eligible steps of a run of `total_steps` steps: first = ceil(start_fraction·A),
/// last = min(total_steps, floor(end_fraction·A)), A = anchor_step (no value = total_steps). The
/// window may be empty (first > last), e.g. when the anchor is tiny. \b Cost: O(1).
/// Throws bomf::invalid_argument for invalid options, total_steps outside 1 … 2^50 or an anchor
/// outside 0 … 2^50.
[[nodiscard]] inline MemberWindow member_window(long long total_steps,
                                                const MemberSelectionOptions& options = {},
                                                std::optional<long long> anchor_step = {}) {
  detail::check_member_arguments(total_steps, options, anchor_step, "bomf::member_window");
  const double anchor = static_cast<double>(anchor_step.value_or(total_steps));
  MemberWindow w;
  w.first = detail::tolerant_round(options.start_fraction * anchor, /*up=*/true);
  w.last = std::min(total_steps, detail::tolerant_round(options.end_fraction * anchor, false));
  return w;
}

/// The member steps of a run of `total_steps` steps in which every step 1 … total_steps can be
/// kept (a training loop that snapshots the weights when the step is planned): min(count, m)
/// steps, sorted, evenly spaced over the m eligible steps (file comment). Exact integer
/// arithmetic; deterministic. \b Cost: O(count).
/// Throws bomf::invalid_argument for invalid options or arguments, or when fewer than 2 steps are
/// eligible (the message gives the window).
[[nodiscard]] inline std::vector<long long> select_member_steps(
    long long total_steps, const MemberSelectionOptions& options = {},
    std::optional<long long> anchor_step = {}) {
  constexpr const char* where = "bomf::select_member_steps";
  MemberWindow w = member_window(total_steps, options, anchor_step);
  w.first = std::max(w.first, 1LL);
  const long long m = w.last >= w.first ? w.last - w.first + 1 : 0;
  detail::require(m >= 2, where, "only ", m, " step(s) lie in the member window [", w.first, ", ",
                  w.last, "] of a run of ", total_steps, " steps", detail::anchor_note(anchor_step),
                  ", expected at least 2 (lower start_fraction, raise end_fraction or the "
                  "anchor step)");
  std::vector<long long> steps;
  if (m <= options.count) {
    steps.reserve(static_cast<std::size_t>(m));
    for (long long s = w.first; s <= w.last; ++s) {
      steps.push_back(s);
    }
    return steps;
  }
  steps.reserve(static_cast<std::size_t>(options.count));
  for (long long i = 0; i < options.count; ++i) {
    steps.push_back(w.first + detail::member_rank(i, m, options.count));
  }
  return steps;
}

/// The member steps among `available_steps` (strictly increasing, each in 0 … total_steps; e.g.
/// the steps at which checkpoints were saved, or the points of a trajectory): the available steps
/// inside the window, thinned to `count` evenly spaced by rank (file comment); all of them when
/// fewer than `count` are eligible. With available_steps = {1, …, T} the result equals
/// select_member_steps(T, options, anchor_step). \b Cost: O(|available_steps|).
/// Throws bomf::invalid_argument for unsorted, duplicated or out-of-range steps (naming the
/// position), invalid options, or fewer than 2 eligible steps.
[[nodiscard]] inline std::vector<long long> select_member_steps(
    const std::vector<long long>& available_steps, long long total_steps,
    const MemberSelectionOptions& options = {}, std::optional<long long> anchor_step = {}) {
  constexpr const char* where = "bomf::select_member_steps";
  const MemberWindow w = member_window(total_steps, options, anchor_step);
  std::vector<long long> eligible;
  for (std::size_t i = 0; i < available_steps.size(); ++i) {
    const long long s = available_steps[i];
    detail::require(s >= 0 && s <= total_steps, where, "available_steps[", i, "] is ", s,
                    ", expected a step in 0 … total_steps (", total_steps, ")");
    detail::require(i == 0 || s > available_steps[i - 1], where, "available_steps[", i, "] is ", s,
                    " after ", i == 0 ? 0 : available_steps[i - 1],
                    ", expected strictly increasing steps");
    if (s >= w.first && s <= w.last) {
      eligible.push_back(s);
    }
  }
  const auto m = static_cast<long long>(eligible.size());
  detail::require(m >= 2, where, "only ", m, " of the ", available_steps.size(),
                  " available steps lie in the member window [", w.first, ", ", w.last,
                  "] of a run of ", total_steps, " steps", detail::anchor_note(anchor_step),
                  ", expected at least 2 (keep more checkpoints, or widen the window)");
  if (m <= options.count) {
    return eligible;
  }
  std::vector<long long> steps;
  steps.reserve(static_cast<std::size_t>(options.count));
  for (long long i = 0; i < options.count; ++i) {
    steps.push_back(eligible[static_cast<std::size_t>(detail::member_rank(i, m, options.count))]);
  }
  return steps;
}

}  // namespace bomf
